"""VariBAD: Bayes-adaptive deep RL via meta-learning (Zintgraf et al. 2020).

A recurrent encoder turns the meta-episode so far into a Gaussian posterior over a task
latent m; decoders predict rewards (and optionally next states) of any transition from a
sample of m; the encoder and decoders are trained on the ELBO alone, with the KL to the
previous step's posterior (agents/common/belief.py). The policy, PPO over whole
meta-episodes like RL^2's (agents/common/meta_ppo.py), reads the current state, the
time, and the posterior's mean and log-variance, detached: no policy gradient flows into
the encoder, as in the paper, so the latent is a belief, not a policy's memory.

Each update plays one meta-episode on ``num_tasks`` tasks at once, takes the PPO epochs,
then ``vae_updates`` ELBO steps, each on ``vae_tasks`` of those meta-episodes. (The
paper's code draws its ELBO batches from a buffer of past trajectories; here they come
from the batch just played: with the default 32 tasks, each step reads all of them.)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from agents.common.base import Report
from agents.common.belief import (
    REWARD_HEADS,
    BeliefEncoder,
    Posterior,
    RewardBounds,
    RewardDecoder,
    TransitionDecoder,
    Transitions,
    elbo_terms,
)
from agents.common.cadence import Ticks
from agents.common.meta_ppo import MetaPPO, MetaPPOConfig
from agents.common.sequence import play_meta_episodes
from envs.config import Config, ConfigError, bounded
from envs.gridworld import GridworldFamily, GridworldParams
from envs.registry import TASKS


@dataclass
class VariBADConfig(MetaPPOConfig):
    """The policy's PPO settings are VariBAD's gridworld ones (its
    config/gridworld/args_grid_varibad.py), with 32 tasks per update where it runs 16
    processes: measured here, updating on 128 tasks at a time learnt the gridworld about
    four times slower per env step (docs/results.md)."""

    learning_rate: float = bounded(7e-4, 0.0, 1.0, low_open=True, log=True)
    """Adam step size of the policy."""
    discount: float = bounded(0.95, 0.0, 1.0)
    """Discount of the meta-episode return (trial ends are not episode ends)."""
    entropy_coef: float = bounded(0.01, 0.0)
    """Weight of the entropy bonus."""
    num_tasks: int = bounded(32, 1, 65536)
    """Tasks (meta-episodes) played in parallel per update."""
    gae_lambda: float = bounded(0.95, 0.0, 1.0)
    """GAE lambda."""
    clip_range: float = bounded(0.05, 0.0, 1.0, low_open=True)
    """PPO's probability-ratio clip."""
    ppo_epochs: int = bounded(2, 1, 100)
    """Passes over each batch of meta-episodes."""
    latent_size: int = bounded(5, 1, 256)
    """Dimensions of the task latent m."""
    encoder_hidden: int = bounded(64, 1, 4096)
    """Units of the encoder's GRU."""
    encoder_embedding: int = bounded(40, 1, 4096)
    """Units of the encoder's input embedding (ReLU) before the GRU."""
    policy_hidden: int = bounded(32, 1, 4096)
    """Units of each of the two tanh layers of the actor and of the critic."""
    decoder_hidden: int = bounded(32, 1, 4096)
    """Units of each of the two ReLU layers of the decoders."""
    reward_heads: str = "auto"
    """What the reward decoder reads besides the latent: goal (a softmax over the states,
    the one that pays), state (one Bernoulli output per state, read at the arrival state:
    VariBAD's default gridworld decoder), action (one output per action: each arm of a
    bandit), none (an MLP of the arrival state, the action and the latent), or auto:
    action without states (bandits), goal with states and bounded rewards (the
    gridworld), none otherwise (tabular MDPs)."""
    vae_learning_rate: float = bounded(1e-3, 0.0, 1.0, low_open=True, log=True)
    """Adam step size of the encoder and decoders (learning_rate is the policy's)."""
    kl_weight: float = bounded(0.01, 0.0)
    """Weight of the KL terms in the negative ELBO (VariBAD's gridworld: 0.01)."""
    vae_updates: int = bounded(3, 0, 100)
    """ELBO gradient steps after each PPO update."""
    vae_tasks: int = bounded(32, 1, 65536)
    """Meta-episodes per ELBO step (drawn from the batch just played)."""
    elbo_steps: int = bounded(15, 0, 100_000)
    """Posteriors per meta-episode whose reconstruction terms each ELBO step computes, at
    random steps (0: all; each decodes every transition of its meta-episode)."""
    decode_transitions: bool = False
    """Also decode next states (the ELBO then predicts transitions as well as rewards)."""
    transition_weight: float = bounded(1.0, 0.0)
    """Weight of the next-state term when decode_transitions is on."""
    normalise_latent: bool = True
    """Standardise the posterior's mean and log-variance before the policy reads them, by
    running statistics of the batches played (VariBAD's norm_latent_for_policy): the
    means grow to tens as the posterior sharpens, which saturates the tanh layers."""

    def check(self) -> None:
        super().check()
        if self.reward_heads not in ("auto", *REWARD_HEADS):
            raise ConfigError(
                f"reward_heads={self.reward_heads!r} is not one of auto, {', '.join(REWARD_HEADS)}"
            )


def resolve_heads(config: VariBADConfig, state_size: int, bounds: RewardBounds) -> str:
    """The reward heads the config asks for on a task (``auto`` resolved), or a one-line
    ConfigError when they cannot read it."""
    heads = config.reward_heads
    if heads == "auto":
        heads = "action" if state_size == 0 else "goal" if bounds.bernoulli else "none"
    if heads in ("goal", "state") and state_size == 0:
        raise ConfigError(
            f"reward_heads={heads} needs a task with states; this one has none "
            "(a bandit): use --set reward_heads=action"
        )
    return heads


def task_shape(task, task_params: Config) -> tuple[int, RewardBounds]:
    """The size of a task's base observation (its states) and its reward bounds."""
    probe = task.meta_batch(task_params, 1, np.random.default_rng(0))
    bounds = RewardBounds(*task.make_env(task_params).base.reward_bounds)
    return probe.batch.observation_size, bounds


def check_run(config: VariBADConfig, task_params: Config, steps: int) -> None:
    """What the registry checks before a run is created: the reward heads fit the task."""
    for family in TASKS.values():
        if type(task_params) is family.Params:
            resolve_heads(config, *task_shape(family, task_params))
            return


class VariBADNet(nn.Module):
    """Encoder, decoders, actor and critic; ``forward`` is a sequence policy
    (agents/common/sequence.py) whose carried state is the encoder's hidden state."""

    def __init__(
        self, config: VariBADConfig, inputs: int, state_size: int, actions: int, heads: str
    ) -> None:
        super().__init__()
        c, latent = config, config.latent_size
        self.state_size = state_size
        self.encoder = BeliefEncoder(inputs, c.encoder_embedding, c.encoder_hidden, latent)
        self.reward_decoder = RewardDecoder(state_size, actions, latent, c.decoder_hidden, heads)
        self.transition_decoder = (
            TransitionDecoder(state_size, actions, latent, c.decoder_hidden)
            if c.decode_transitions
            else None
        )
        policy_inputs = state_size + 1 + 2 * latent  # state, time, mean, log-variance

        def tanh_mlp(outputs: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Linear(policy_inputs, c.policy_hidden),
                nn.Tanh(),
                nn.Linear(c.policy_hidden, c.policy_hidden),
                nn.Tanh(),
                nn.Linear(c.policy_hidden, outputs),
            )

        self.actor, self.critic = tanh_mlp(actions), tanh_mlp(1)
        self.normalise = c.normalise_latent
        self.register_buffer("latent_count", torch.zeros(()))
        self.register_buffer("latent_mean", torch.zeros(2 * latent))
        self.register_buffer("latent_var", torch.ones(2 * latent))
        nn.init.orthogonal_(self.actor[-1].weight, 0.01)
        nn.init.zeros_(self.actor[-1].bias)

    def belief_parameters(self) -> list[nn.Parameter]:
        decoders = [self.reward_decoder, self.transition_decoder]
        modules = [self.encoder, *(d for d in decoders if d is not None)]
        return [p for module in modules for p in module.parameters()]

    def policy_parameters(self) -> list[nn.Parameter]:
        return [*self.actor.parameters(), *self.critic.parameters()]

    def policy_inputs(self, inputs: torch.Tensor, posterior: Posterior) -> torch.Tensor:
        """What the actor and critic read: state, time, and the posterior, detached (and
        standardised, with ``normalise_latent``)."""
        belief = torch.cat([posterior.mean, posterior.logvar], -1).detach()
        if self.normalise:
            belief = ((belief - self.latent_mean) / (self.latent_var + 1e-8).sqrt()).clamp(-10, 10)
        return torch.cat(
            [
                inputs[..., : self.state_size],
                inputs[..., -1:],  # the time step over the horizon (envs/meta.py)
                belief,
            ],
            -1,
        )

    @torch.no_grad()
    def observe_beliefs(self, posterior: Posterior) -> None:
        """Fold a batch's posteriors into the running mean and variance (Chan et al.'s
        parallel update, as gymnasium's RunningMeanStd)."""
        belief = torch.cat([posterior.mean, posterior.logvar], -1).reshape(
            -1, self.latent_mean.numel()
        )
        count = belief.shape[0]
        mean, var = belief.mean(0), belief.var(0, unbiased=False)
        total = self.latent_count + count
        delta = mean - self.latent_mean
        self.latent_var.copy_(
            (self.latent_var * self.latent_count + var * count
             + delta.pow(2) * self.latent_count * count / total) / total
        )  # fmt: skip
        self.latent_mean.add_(delta * count / total)
        self.latent_count.copy_(total)

    def heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.actor(x), self.critic(x).squeeze(-1)

    def forward(self, inputs: torch.Tensor, state: torch.Tensor | None = None):
        posterior, state = self.encoder(inputs, state)
        return *self.heads(self.policy_inputs(inputs, posterior)), state


class VariBAD(MetaPPO):
    config: VariBADConfig
    net: VariBADNet

    def __init__(self, config: VariBADConfig, task, task_params, seed: int, device="cpu"):
        super().__init__(config, task, task_params, seed, device)
        self.optimizer = torch.optim.Adam(
            [
                {"params": self.net.policy_parameters(), "lr": config.learning_rate},
                {"params": self.net.belief_parameters(), "lr": config.vae_learning_rate},
            ],
            eps=1e-5,
        )

    def make_net(self, inputs: int, actions: int) -> nn.Module:
        states, self.bounds = task_shape(self.task, self.task_params)
        heads = resolve_heads(self.config, states, self.bounds)
        return VariBADNet(self.config, inputs, states, actions, heads)

    def update(
        self, rollout: dict[str, torch.Tensor], ticks: Ticks
    ) -> Generator[Report, None, dict[str, float]]:
        with torch.no_grad():  # the PPO epochs leave the encoder alone: read it once
            posterior, _ = self.net.encoder(rollout["obs"])
            rollout["policy_inputs"] = self.net.policy_inputs(rollout["obs"], posterior)
        scalars = yield from super().update(rollout, ticks)
        scalars.update((yield from self.train_belief(rollout, ticks)))
        self.net.observe_beliefs(posterior)  # after the update: acting and PPO saw the same
        return scalars

    def replay_policy(
        self, rollout: dict[str, torch.Tensor], idx: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net.heads(rollout["policy_inputs"][:, idx])

    def train_belief(
        self, rollout: dict[str, torch.Tensor], ticks: Ticks
    ) -> Generator[Report, None, dict[str, float]]:
        """``vae_updates`` steps on the negative ELBO of random meta-episodes of the batch."""
        cfg, net = self.config, self.net
        tasks = rollout["rewards"].shape[1]
        stats: dict[str, list[float]] = defaultdict(list)
        for _ in range(cfg.vae_updates):
            chosen = self.rng.choice(tasks, size=min(cfg.vae_tasks, tasks), replace=False)
            idx = torch.from_numpy(chosen).to(self.device)
            obs = rollout["obs"][:, idx]
            batch = Transitions(
                obs[..., : net.state_size],
                rollout["actions"][:, idx],
                rollout["rewards"][:, idx],
                rollout["arrived"][:, idx],
            )
            posterior, _ = net.encoder(obs)
            steps = posterior.mean.shape[0]
            decoded = None
            if 0 < cfg.elbo_steps < steps:
                chosen = np.sort(self.rng.choice(steps, size=cfg.elbo_steps, replace=False))
                decoded = torch.from_numpy(chosen).to(self.device)
            terms = elbo_terms(
                posterior,
                batch,
                net.reward_decoder,
                self.bounds,
                net.transition_decoder,
                decoded,
            )
            loss = (
                terms["reward"]
                + cfg.transition_weight * terms["transition"]
                + cfg.kl_weight * terms["kl"]
            )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.belief_parameters(), cfg.max_grad_norm)
            self.optimizer.step()
            for key, value in terms.items():
                stats[key].append(value.item())
            stats["elbo"].append(-loss.item())
            if ticks.due():
                yield Report(self.steps_done, {}, tick=True)
        return {f"vae/{key}": float(np.mean(values)) for key, values in stats.items()}


@torch.no_grad()
def goal_belief(
    net: VariBADNet, params: GridworldParams, tasks: int, seed: int, greedy: bool = True
) -> np.ndarray:
    """Gridworld: on ``tasks`` held-out tasks drawn with ``seed``, the share of the reward
    decoder's goal probability on the true goal once the goal has been reached, averaged
    over the rest of the meta-episode; NaN where the goal was never reached.

    A cell's goal probability is the decoder's probability, at the posterior mean, that
    staying in the cell earns the goal reward; the share normalises it over the cells.
    """
    env = GridworldFamily().meta_batch(params, tasks, np.random.default_rng(seed))
    rollout = play_meta_episodes(net, env, greedy=greedy)
    goals = torch.as_tensor(env.batch.goals, device=rollout["obs"].device)
    posterior, _ = net.encoder(rollout["obs"])  # q_t has seen the transitions before t
    steps, cells = posterior.mean.shape[0], params.size * params.size
    arrived = torch.eye(cells, device=goals.device).expand(steps, tasks, cells, cells)
    stay = torch.zeros(steps, tasks, cells, dtype=torch.long, device=goals.device)
    latent = posterior.mean[:, :, None].expand(steps, tasks, cells, posterior.mean.shape[-1])
    probability = torch.sigmoid(net.reward_decoder(arrived, stay, latent))
    share = (probability / probability.sum(-1, keepdim=True))[:, torch.arange(tasks), goals]
    on_goal = rollout["rewards"] >= params.goal_reward
    first = torch.where(on_goal.any(0), on_goal.float().argmax(0), steps)
    after = torch.arange(steps, device=goals.device)[:, None] > first[None]
    mean_after = (share * after).sum(0) / after.sum(0).clamp(min=1)
    return torch.where(after.any(0), mean_after, torch.nan).cpu().numpy()
