"""The synchronous actor-critic machinery of a population (agents/common/population.py)
that A2C (agents/a2c.py), meta-gradient A2C (agents/mg_a2c.py) and PPO (agents/ppo.py)
share: the members' envs and rollouts, stacked networks built under each member's seed,
acting from each member's own generator, greedy evaluation, checkpoints per member in the
lone agent's layout, and (for the A2Cs) RMSProp and the learn loop. Each algorithm adds
its update (loss and optimiser step), and may change the network.

Member m computes what a population of one with its seed and config computes: every
tensor carries the member axis first, every sum is taken within a member, and each
member draws its randomness (action samples, minibatch orders) from its own generator.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.common import stacked
from agents.common.cadence import REPORT_INTERVAL, Cadence, Ticks
from agents.common.checkpoint import numpy_rng_state, set_numpy_rng_state
from agents.common.networks import ActorCritic, actor_critic, build_members
from agents.common.population import PopulationReport, check_members, greedy_member_returns
from agents.common.rollout import Batch, RolloutCollector
from agents.common.seeds import eval_env_seed, train_env_seed
from envs.config import MAX_STEPS, Config, bounded
from envs.family import TaskFamily

Stats = dict[str, torch.Tensor]
"""An update's scalars, ``[P]`` each; NaN where a member has none this time (e.g. no meta
step yet), and the member's report leaves the key out."""


@dataclass
class ActorCriticConfig(Config):
    """A2C's hyperparameters. Defaults are Stable-Baselines3's A2C defaults with 8
    environments, as in rl-baselines3-zoo's CartPole settings."""

    learning_rate: float = bounded(7e-4, 0.0, 1.0, low_open=True, log=True, per_member=True)
    """RMSProp step size."""
    discount: float = bounded(0.99, 0.0, 1.0, per_member=True)
    """Discount factor gamma of the returns."""
    gae_lambda: float = bounded(1.0, 0.0, 1.0, per_member=True)
    """GAE lambda (1 gives plain n-step returns)."""
    value_coef: float = bounded(0.5, 0.0, per_member=True)
    """Weight of the value loss."""
    entropy_coef: float = bounded(0.0, 0.0, per_member=True)
    """Weight of the entropy bonus."""
    max_grad_norm: float = bounded(0.5, 0.0, low_open=True, per_member=True)
    """Gradient clipping threshold (global L2 norm)."""
    num_envs: int = bounded(8, 1, 4096)
    """Environment copies stepped together."""
    rollout_steps: int = bounded(5, 1, 100_000)
    """Steps per environment between updates."""
    hidden_size: int = bounded(64, 1, 4096)
    """Units per hidden layer (two tanh layers, separate actor and critic)."""
    eval_interval: int = bounded(10_000, 1, MAX_STEPS)
    """Env steps between greedy evaluations (one is always run at the end)."""
    eval_episodes: int = bounded(20, 1, 1000)
    """Greedy episodes per evaluation."""


def sample(logits: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """Categorical samples by inverse CDF: the first action whose cumulative probability
    exceeds the uniform draw (one per row, drawn by the row's member)."""
    cdf = torch.softmax(logits, -1).cumsum(-1)
    return (cdf <= uniforms.unsqueeze(-1)).sum(-1).clamp(max=logits.shape[-1] - 1)


class ActorCriticMembers:
    """What the feed-forward actor-critic populations share, short of the update: P
    members' envs (``num_envs`` each), rollouts, generators and stacked networks."""

    config: Any

    def __init__(
        self,
        configs: Sequence[Config],
        task: TaskFamily,
        task_params: Config,
        seeds: Sequence[int],
        device: str = "cpu",
    ) -> None:
        check_members(configs)
        self.configs, self.seeds = list(configs), [int(seed) for seed in seeds]
        self.config = self.configs[0]  # for the fields every member shares
        self.task, self.task_params, self.device = task, task_params, torch.device(device)
        members = len(self.seeds)
        self.values_by_field: dict[tuple[str, torch.dtype], torch.Tensor] = {}
        self.rngs = [np.random.default_rng(seed) for seed in self.seeds]
        self.env = task.make_member_envs(task_params, self.config.num_envs, members)
        self.rollouts = RolloutCollector(self.env, members, self.device)
        obs_size = int(np.prod(self.env.single_observation_space.shape))
        actions = int(self.env.single_action_space.n)
        modules = build_members(lambda: self.make_net(obs_size, actions), self.seeds)
        self.template = modules[0]
        self.params = stacked.stack(modules, self.device)
        self.optimizer = self.make_optimizer()
        self.steps_done = 0
        self.evaluations = [0] * members
        self.uniforms = torch.zeros(0)

    def make_net(self, inputs: int, actions: int) -> nn.Module:
        return ActorCritic(inputs, actions, self.config.hidden_size)

    def make_optimizer(self) -> Any:
        raise NotImplementedError

    def member_values(self, name: str, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Each member's value of a config field, ``[P]`` on the device (made once: the
        configs do not change; callers do not write to it)."""
        if (name, dtype) not in self.values_by_field:
            values = [float(getattr(config, name)) for config in self.configs]
            self.values_by_field[name, dtype] = torch.tensor(
                values, dtype=dtype, device=self.device
            )
        return self.values_by_field[name, dtype]

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and values of every member on obs ``[P, ..., inputs]``."""
        return actor_critic(self.template, self.params, obs)

    def policy_logits(self, obs: torch.Tensor) -> torch.Tensor:
        return stacked.sequential(self.template.actor, self.params, obs, "actor.")

    def values(self, obs: torch.Tensor) -> torch.Tensor:
        return stacked.sequential(self.template.critic, self.params, obs, "critic.").squeeze(-1)

    def draw_uniforms(self, steps: int) -> None:
        """Each member's uniforms for a whole rollout, ``[T, P, n]``: one call of its own
        generator per rollout, so acting needs no loop over members."""
        draws = np.stack([rng.random((steps, self.config.num_envs)) for rng in self.rngs], 1)
        self.uniforms = torch.as_tensor(draws, dtype=torch.float32, device=self.device)

    def act(self, obs: torch.Tensor, t: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return sample(self.policy_logits(obs), self.uniforms[t]), {}

    @torch.no_grad()
    def greedy_actions(self, observations: np.ndarray) -> np.ndarray:
        """Greedy actions for ``[P * k, ...]`` observations, k per member in member order."""
        obs = torch.as_tensor(observations, dtype=torch.float32, device=self.device)
        obs = obs.reshape(len(self.seeds), -1, *obs.shape[1:])
        return self.policy_logits(obs).argmax(-1).reshape(-1).cpu().numpy()

    def evaluate(self, episodes: int) -> np.ndarray:
        """Greedy returns ``[P, episodes]``, each member on new seeds of its own."""
        self.evaluations = [count + 1 for count in self.evaluations]
        seeds = [eval_env_seed(s, k) for s, k in zip(self.seeds, self.evaluations, strict=True)]
        return greedy_member_returns(
            self.task, self.task_params, seeds, episodes, self.greedy_actions
        )

    def reset_envs(self) -> None:
        """Fresh episodes, member m's from ``train_env_seed`` of its seed (as a lone run)."""
        self.rollouts.reset([train_env_seed(seed, self.steps_done) for seed in self.seeds])

    def reports(self, step: int, stats: Stats, results: np.ndarray | None) -> PopulationReport:
        """One dict of scalars per member: an update's ``stats`` and an evaluation's."""
        columns = {key: value.tolist() for key, value in stats.items()}
        scalars: list[dict[str, float]] = []
        for member in range(len(self.seeds)):
            row = {k: v[member] for k, v in columns.items() if not np.isnan(v[member])}
            if results is not None:
                row["eval/episode_return"] = float(results[member].mean())
                row["eval/episode_return_std"] = float(results[member].std())
            scalars.append(row)
        return PopulationReport(step, scalars)

    # --- checkpoints: member m's is the lone agent's state_dict ---------------------------
    def member_state(self, member: int) -> dict[str, Any]:
        return {
            "net": stacked.member_state(self.params, member),
            "optimizer": self.optimizer.member_state(member),
            "steps_done": self.steps_done,
            "evaluations": self.evaluations[member],
            "rng": numpy_rng_state(self.rngs[member]),
        }

    def load_member_state(self, member: int, state: dict[str, Any]) -> None:
        """Take a member's state (or a lone run's checkpoint, whose torch RNG state is no
        longer needed: acting draws from the member's NumPy generator)."""
        stacked.load_member_state(self.params, member, state["net"])
        self.optimizer.load_member_state(member, state["optimizer"])
        self.steps_done = int(state["steps_done"])
        self.evaluations[member] = int(state.get("evaluations", 0))
        set_numpy_rng_state(self.rngs[member], state["rng"])

    def member_weights(self, member: int) -> dict[str, Any]:
        return {"net": stacked.member_state(self.params, member)}

    def load_member_weights(self, member: int, state: dict[str, Any]) -> None:
        stacked.load_member_state(self.params, member, state["net"])


class StackedRMSprop:
    """torch.optim.RMSprop (no momentum, not centred) over stacked parameters, with one
    learning rate per member; ``member_state`` is torch's layout for one member."""

    def __init__(
        self, params: Sequence[torch.Tensor], lr: torch.Tensor, alpha: float, eps: float
    ) -> None:
        self.params, self.lr, self.alpha, self.eps = list(params), lr, alpha, eps
        self.steps = torch.zeros(len(lr), dtype=torch.float64)
        self.square_avg = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor]) -> None:
        grads = list(grads)
        self.steps += 1
        torch._foreach_mul_(self.square_avg, self.alpha)
        torch._foreach_addcmul_(self.square_avg, grads, grads, 1 - self.alpha)
        denominators = torch._foreach_sqrt(self.square_avg)
        torch._foreach_add_(denominators, self.eps)
        updates = torch._foreach_div(grads, denominators)
        torch._foreach_mul_(updates, [stacked.member_view(-self.lr, u) for u in updates])
        torch._foreach_add_(self.params, updates)

    def member_state(self, member: int) -> dict[str, Any]:
        started = bool(self.steps[member] > 0)
        state = {
            index: {
                "step": torch.tensor(float(self.steps[member])),
                "square_avg": square[member].detach().cpu().clone(),
            }
            for index, square in enumerate(self.square_avg)
            if started
        }
        group = {
            "lr": float(self.lr[member]),
            "momentum": 0,
            "alpha": self.alpha,
            "eps": self.eps,
            "centered": False,
            "weight_decay": 0,
            "params": list(range(len(self.params))),
        }
        return {"state": state, "param_groups": [group]}

    @torch.no_grad()
    def load_member_state(self, member: int, state: dict[str, Any]) -> None:
        entries = state.get("state", {})
        self.steps[member] = 0
        for index, square in enumerate(self.square_avg):
            entry = entries.get(index, entries.get(str(index)))
            square[member] = 0.0 if entry is None else entry["square_avg"]
            self.steps[member] = 0 if entry is None else float(entry["step"])


class ActorCriticLoop(ActorCriticMembers):
    """Collects a rollout of ``rollout_steps`` steps from every member's ``num_envs`` envs
    and hands it to ``update``; subclasses write the update and may change the network."""

    config: ActorCriticConfig

    def make_optimizer(self) -> StackedRMSprop:
        lr = self.member_values("learning_rate")
        return StackedRMSprop(list(self.params.values()), lr, alpha=0.99, eps=1e-5)

    def update(self, batch: Batch) -> Stats:
        raise NotImplementedError

    def step_optimizer(self, loss: torch.Tensor) -> None:
        """Backpropagate the members' summed losses (each member's parameters see only its
        own), clip each member's gradient by its norm, and take one RMSProp step."""
        params = list(self.params.values())
        grads = torch.autograd.grad(loss, params)
        stacked.clip_grad_norm(grads, self.member_values("max_grad_norm"))
        self.optimizer.step(grads)

    def learn(
        self, total_steps: int, *, tick_seconds: float | None = None
    ) -> Iterator[PopulationReport]:
        cfg = self.config
        cadence = Cadence(total_steps, cfg.eval_interval, REPORT_INTERVAL)
        ticks = Ticks(tick_seconds)  # an update is one gradient step: ticks between them
        self.reset_envs()
        members = len(self.seeds)
        finished_sums, finished_counts = np.zeros(members), np.zeros(members, dtype=np.int64)
        while self.steps_done < total_steps:
            before = self.steps_done
            self.draw_uniforms(cfg.rollout_steps)
            batch = self.rollouts.collect(cfg.rollout_steps, self.act)
            # Every env step counts, the reset step after an episode end too: all members
            # advance alike, so they stay in lockstep.
            self.steps_done += cfg.rollout_steps * cfg.num_envs
            finished_sums += batch.finished_sums
            finished_counts += batch.finished_counts
            stats = self.update(batch)
            due = cadence.due(before, self.steps_done)
            results = self.evaluate(cfg.eval_episodes) if due.evaluate else None
            if due.report:  # the episodes finished since the last report, averaged
                with np.errstate(invalid="ignore", divide="ignore"):
                    means = finished_sums / finished_counts
                stats["charts/episode_return"] = torch.as_tensor(means)
                finished_sums[:], finished_counts[:] = 0.0, 0
                yield self.reports(self.steps_done, stats, results)
            elif ticks.due():
                yield PopulationReport(self.steps_done, [{} for _ in range(members)], tick=True)
