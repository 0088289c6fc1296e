"""The Q-learning machinery DQN (agents/dqn.py) and meta-gradient DQN (agents/meta_dqn.py)
share, for a population of P members trained as one computation (a lone run is a
population of one): their config fields, the stacked Q-networks and their targets,
epsilon-greedy acting, n-step folding into the replay buffers, double-DQN next-state
values, the TD error, target updates, checkpoints per member and the learn loop (when to
train, update the targets, evaluate and report). Each algorithm writes its own gradient
step (``train_step``) over all members at once. Their hyperparameters, and how the
defaults were chosen, are agents/common/q_config.py's.

Member m computes what a population of one with its seed and config computes: it has its
own NumPy generator (exploration and replay draws), its own network initialised under its
seed, its own replay buffer, learning rate, discount, exploration schedule, target rate and
clipping threshold, and no operation mixes members. Members advance in lockstep, so an env
step counts whether or not it was an autoreset step (gymnasium's NEXT_STEP autoreset): the
step count is then the same for every member.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.common import stacked
from agents.common.cadence import REPORT_INTERVAL, Cadence, Ticks, crossed
from agents.common.checkpoint import numpy_rng_state, set_numpy_rng_state
from agents.common.context_modes import ContextInputs, context_task_params
from agents.common.networks import build_members, mlp
from agents.common.nstep import NStepAccumulator
from agents.common.population import PopulationReport, check_members, greedy_member_returns
from agents.common.q_config import QLearningConfig
from agents.common.replay import Burst, ReplaySamples, StackedReplay
from agents.common.seeds import eval_env_seed, train_env_seed
from envs.config import Config
from envs.registry import TaskFamily


class QLearner:
    """The stacked Q-networks of a population over its members' batched envs of discrete
    actions, and everything around their update; subclasses write ``train_step``."""

    accumulator_discount: float | None = None
    """Discount folded into n-step returns as they enter the replay; None: each member's."""

    def __init__(
        self,
        configs: Sequence[QLearningConfig],
        task: TaskFamily,
        task_params: Config,
        seeds: Sequence[int],
        device: str = "cpu",
    ) -> None:
        check_members(configs, seeds)
        self.configs, self.seeds = list(configs), [int(seed) for seed in seeds]
        self.config = cfg = self.configs[0]  # the shared fields
        self.members = len(self.configs)
        self.task, self.device = task, torch.device(device)
        self.task_params = context_task_params(cfg, task_params)  # explicit: factors shown
        env = task.make_member_envs(self.task_params, cfg.num_envs, self.members)
        self.num_actions = int(env.single_action_space.n)
        size = int(np.prod(env.single_observation_space.shape))
        # How the network sees the dynamics (context modes): windows of transitions appended.
        self.inputs = ContextInputs(cfg, size, self.num_actions, self.seeds, self.device)
        self.env = self.inputs.wrap(env)
        self.observation_size = self.inputs.width
        self.rngs = [np.random.default_rng(seed) for seed in self.seeds]
        extra_inputs, outputs, cumulants = self.shapes()
        head = lambda n: mlp(n, outputs, cfg.hidden_size, cfg.hidden_layers)  # noqa: E731
        inputs = self.observation_size + extra_inputs
        networks = build_members(lambda: self.inputs.build(head, inputs), self.seeds)
        self.template = networks[0]
        self.q_params = stacked.stack(networks, self.device)
        self.parameters = self.inputs.rl_parameters(self.q_params)
        self.inputs.attach(self.q_params)
        self.target_params = {name: p.detach().clone() for name, p in self.q_params.items()}
        self.learning_rates = self.per_member("learning_rate")
        self.optimizer = stacked.StackedAdam(self.parameters, self.learning_rates)
        self.max_grad_norm = self.member_tensor(self.per_member("max_grad_norm"))
        self.tau = self.per_member("tau")
        self.exploration = [
            self.per_member(name)
            for name in ("initial_epsilon", "final_epsilon", "exploration_fraction")
        ]
        self.buffer = StackedReplay(
            self.members,
            cfg.buffer_size,
            (self.observation_size,),
            self.device,
            cumulant_size=cumulants,
        )
        discounts = self.per_member("discount")
        if self.accumulator_discount is not None:
            discounts = np.full(self.members, self.accumulator_discount)
        self.n_step = NStepAccumulator(
            self.members * cfg.num_envs, cfg.n_step, np.repeat(discounts, cfg.num_envs)
        )
        self.steps_done = 0
        self.evaluations = np.zeros(self.members, dtype=np.int64)
        self.burst: Burst | None = None

    def per_member(self, name: str) -> np.ndarray:
        """Every member's value of a config field, ``[P]``."""
        return np.array([getattr(config, name) for config in self.configs], dtype=np.float64)

    def shapes(self) -> tuple[int, int, int]:
        """(network inputs besides the observation, network outputs, length of the cumulant
        vector each replayed transition keeps): DQN's (0, a Q-value per action, 0)."""
        return 0, self.num_actions, 0

    def observe(self, *step: np.ndarray) -> None:
        """Every env step of every copy (observations, actions, rewards, done, real), for a
        subclass that keeps more than the replay."""

    def member_tensor(self, values: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(values, dtype=torch.float32, device=self.device)

    # --- acting -------------------------------------------------------------------------
    def epsilons(self, total_steps: int) -> np.ndarray:
        """Each member's exploration rate ``[P]``: linear decay, then constant."""
        initial, final, fraction = self.exploration
        if self.steps_done < self.inputs.random_steps:  # predictive: the generator policy
            return np.ones(self.members)
        decay_steps = fraction * total_steps
        safe = np.where(decay_steps == 0, 1.0, decay_steps)
        progress = np.where(decay_steps == 0, 1.0, np.minimum(1.0, self.steps_done / safe))
        return initial + progress * (final - initial)

    def q_values(self, params: stacked.Params, observations: torch.Tensor) -> torch.Tensor:
        """Q ``[P, ..., actions]`` of observations ``[P, ..., obs]``."""
        return self.inputs.forward(self.template, params, observations)

    @torch.no_grad()
    def greedy_actions(self, observations: np.ndarray) -> np.ndarray:
        """Actions of every member's observations, member by member ``[P * k, ...]``."""
        x = torch.as_tensor(observations, dtype=torch.float32, device=self.device)
        q_values = self.q_values(self.q_params, x.reshape(self.members, -1, x.shape[-1]))
        actions = q_values.argmax(dim=-1).reshape(-1).cpu().numpy()
        return self.inputs.probe_actions(observations, actions, None)  # probing: the probe's

    def act(self, observations: np.ndarray, epsilons: np.ndarray) -> np.ndarray:
        """Epsilon-greedy actions: one draw per member of ``2 * num_envs`` uniforms (which
        envs explore, and their random action), the cheapest call a generator offers; with
        a probe, ``num_envs`` more, which sample the probing policy's actions."""
        n = self.config.num_envs
        width = 3 * n if self.inputs.probe_steps else 2 * n
        draws = np.stack([rng.random(width) for rng in self.rngs])  # [P, 2n or 3n]
        explore = (draws[:, :n] < epsilons[:, None]).reshape(-1)
        actions = (draws[:, n : 2 * n] * self.num_actions).astype(np.int64).reshape(-1)
        if not explore.all():
            actions = np.where(explore, actions, self.greedy_actions(observations))
        if self.inputs.probe_steps:
            return self.inputs.probe_actions(observations, actions, draws[:, 2 * n :].reshape(-1))
        return actions

    # --- the parts of an update ----------------------------------------------------------
    def next_batch(self) -> ReplaySamples:
        """The next minibatch ``[P, batch, ...]`` of the burst (of a burst of one outside
        ``train_burst``), each member's drawn from its own buffer with its own generator."""
        if self.burst is None or self.burst.left == 0:
            self.burst = Burst(self.buffer, self.rngs, self.config.batch_size, 1)
        return self.burst.next()

    def minibatches_per_burst(self) -> int:
        """Minibatches a training burst draws (one per gradient step for DQN)."""
        return self.config.gradient_steps

    def next_state_values(self, batch: ReplaySamples) -> torch.Tensor:
        """max_a Q_target(s', a), or Q_target(s', argmax_a Q(s', a)) with double DQN."""
        next_q = self.q_values(self.target_params, batch.next_observations)
        if self.config.double_dqn:
            best = self.q_values(self.q_params, batch.next_observations).argmax(-1, keepdim=True)
            return next_q.gather(-1, best).squeeze(-1)
        return next_q.max(dim=-1).values

    def td_error(self, q_taken: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Each member's mean TD loss ``[P]`` over its minibatch ``[P, batch]``."""
        cfg = self.config
        if cfg.huber_loss and self.steps_done < cfg.settle_from:
            return nn.functional.smooth_l1_loss(q_taken, target, reduction="none").mean(-1)
        return nn.functional.mse_loss(q_taken, target, reduction="none").mean(-1)

    def gradient_step(self, loss: torch.Tensor, grads: Sequence[torch.Tensor] | None = None):
        """Clip each member's gradients of its loss (or these) and take the Adam step."""
        if grads is None:  # members' losses share no parameter: the sum's gradient is theirs
            grads = torch.autograd.grad(loss.sum(), self.parameters)
        stacked.clip_grad_norm(grads, self.max_grad_norm)
        self.optimizer.step(grads)

    def train_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One gradient step of every member; returns (TD loss, mean Q of the taken actions),
        each ``[P]``."""
        raise NotImplementedError

    def burst_scalars(self) -> list[dict[str, float]]:
        """Extra scalars per member reported after each training burst (subclasses add)."""
        return [{} for _ in range(self.members)]

    @torch.no_grad()
    def update_target(self) -> None:
        for name, target in self.target_params.items():
            tau = stacked.member_view(self.tau, target)
            target.lerp_(self.q_params[name].detach(), tau)

    def set_learning_rates(self, total_steps: int) -> None:
        """Each member's rate, annealed (``anneal_learning_rate``) and decaying to 0 from
        ``settle_from`` on, by the same factor for every member."""
        cfg = self.config
        left = max(0, total_steps - self.steps_done)  # batched envs may overshoot
        remaining = left / total_steps if cfg.anneal_learning_rate else 1.0
        if self.steps_done > cfg.settle_from:
            remaining *= left / max(1, total_steps - cfg.settle_from)
        self.optimizer.lr.copy_(torch.as_tensor(self.learning_rates * remaining))

    def train_burst(
        self, scalars: list[dict[str, float]], ticks: Ticks
    ) -> Iterator[PopulationReport]:
        """``gradient_steps`` steps of every member; ticks between them."""
        losses, q_values = [], []
        self.burst = Burst(
            self.buffer, self.rngs, self.config.batch_size, self.minibatches_per_burst()
        )
        for _ in range(self.config.gradient_steps):
            loss, q_value = self.train_step()
            losses.append(loss)
            q_values.append(q_value)
            if ticks.due():
                yield PopulationReport(self.steps_done, [{} for _ in range(self.members)], True)
        self.burst = None
        loss_means = torch.stack(losses).cpu().double().numpy().mean(axis=0)
        q_means = torch.stack(q_values).cpu().double().numpy().mean(axis=0)
        context = self.inputs.scalars(self.members)  # the dynamics losses' (probing)
        extra = [a | b for a, b in zip(self.burst_scalars(), context, strict=True)]
        for member, member_scalars in enumerate(scalars):
            member_scalars["train/td_loss"] = float(loss_means[member])
            member_scalars["train/q_values"] = float(q_means[member])
            member_scalars.update(extra[member])

    def learn(
        self, total_steps: int, *, tick_seconds: float | None = None
    ) -> Iterator[PopulationReport]:
        cfg, members, n = self.config, self.members, self.config.num_envs
        cadence = Cadence(total_steps, cfg.eval_interval, REPORT_INTERVAL)
        ticks = Ticks(tick_seconds)
        # A resumed run starts fresh episodes, seeded by where it resumes.
        observations, _ = self.env.reset([train_env_seed(s, self.steps_done) for s in self.seeds])
        self.n_step.reset()
        after_done = np.zeros(members * n, dtype=bool)  # next step only resets (NEXT_STEP)
        episode_return = np.zeros(members * n)
        episode_length = np.zeros(members * n, dtype=np.int64)
        # Until every env has filled its n-step queue once a member's replay may be empty.
        train_from = max(cfg.learning_starts, cfg.n_step * n, self.inputs.random_steps)
        while self.steps_done < total_steps:
            actions = self.act(observations, self.epsilons(total_steps))
            next_observations, rewards, terminated, truncated, _ = self.env.step(actions)
            real = ~after_done
            self.observe(observations, actions, rewards, terminated | truncated, real)
            folded = self.n_step.push(
                observations, actions, rewards, next_observations, terminated, truncated, real
            )
            if folded is not None:
                self.buffer.add(folded.envs // n, *folded[:5])
            before = self.steps_done
            self.steps_done += n
            episode_return += rewards * real
            episode_length += real
            scalars: list[dict[str, float]] = [{} for _ in range(members)]
            done = (terminated | truncated) & real
            if done.any():
                by_member = done.reshape(members, n)
                ended = by_member.sum(axis=1)
                returns = (episode_return * done).reshape(members, n).sum(axis=1)
                lengths = (episode_length * done).reshape(members, n).sum(axis=1)
                epsilons = self.epsilons(total_steps)
                for member in np.flatnonzero(ended):
                    scalars[member] |= {
                        "charts/episode_return": float(returns[member] / ended[member]),
                        "charts/episode_length": float(lengths[member] / ended[member]),
                        "charts/epsilon": float(epsilons[member]),
                    }
                episode_return[done] = 0.0
                episode_length[done] = 0
            after_done = terminated | truncated
            observations = next_observations

            if before < self.inputs.random_steps <= self.steps_done:
                yield from self.pretrain_context(scalars, ticks)
            if self.steps_done >= train_from and crossed(
                before, self.steps_done, cfg.train_frequency
            ):
                self.set_learning_rates(total_steps)
                yield from self.train_burst(scalars, ticks)
            if crossed(before, self.steps_done, cfg.target_update_interval):
                self.update_target()
            due = cadence.due(before, self.steps_done)
            if due.evaluate:
                returns = self.evaluate(cfg.eval_episodes)
                for member, member_scalars in enumerate(scalars):
                    member_scalars["eval/episode_return"] = float(returns[member].mean())
                    member_scalars["eval/episode_return_std"] = float(returns[member].std())
            if due.report or any(scalars):  # every finished episode and burst is logged
                yield PopulationReport(self.steps_done, scalars)

    def evaluate(self, episodes: int) -> np.ndarray:
        """Greedy returns ``[P, episodes]``, every member's episodes in one batch, each
        evaluation of a member on new env seeds of its own."""
        self.evaluations += 1
        seeds = [
            eval_env_seed(s, int(k)) for s, k in zip(self.seeds, self.evaluations, strict=True)
        ]
        with self.inputs.evaluating(seeds):  # probing: probes sampled, as in training
            return greedy_member_returns(
                self.task, self.task_params, seeds, episodes, self.greedy_actions, self.inputs.wrap
            )

    def pretrain_context(
        self, scalars: list[dict[str, float]], ticks: Ticks
    ) -> Iterator[PopulationReport]:
        """predictive: the dynamics loss's steps on the generator policy's transitions
        (the last hundred steps' errors logged)."""
        updates = self.config.predictive_updates
        burst = Burst(self.buffer, self.rngs, self.config.batch_size, updates)
        for _ in range(updates):
            x = burst.next().observations
            self.inputs.dynamics_step(self.template, self.q_params, x, self.max_grad_norm)
            del self.inputs.logs[:-100]
            if ticks.due():
                yield PopulationReport(self.steps_done, [{} for _ in range(self.members)], True)
        for member_scalars, errors in zip(scalars, self.inputs.scalars(self.members), strict=True):
            member_scalars.update(errors)

    # --- checkpoints: one member's, in the lone agent's layout ---------------------------
    def member_state(self, member: int) -> dict[str, Any]:
        return {
            "q_network": stacked.member_state(self.q_params, member),
            "target_network": stacked.member_state(self.target_params, member),
            "optimizer": self.optimizer.member_state(member),
            "buffer": self.buffer.member_state(member),
            "steps_done": self.steps_done,
            "evaluations": int(self.evaluations[member]),
            "rng": numpy_rng_state(self.rngs[member]),
        } | self.inputs.member_state(member)

    def load_member_state(self, member: int, state: dict[str, Any]) -> None:
        """Take a member's checkpoint (``member_state``, or a lone run's ``state_dict`` of
        before populations: its ``torch_rng`` is not needed, initialisation being over).
        Members resumed together share their step count: the last one loaded sets it."""
        stacked.load_member_state(self.q_params, member, state["q_network"])
        stacked.load_member_state(self.target_params, member, state["target_network"])
        self.optimizer.load_member_state(member, state["optimizer"])
        self.buffer.load_member_state(member, state["buffer"])
        self.steps_done = int(state["steps_done"])
        self.evaluations[member] = int(state.get("evaluations", 0))
        set_numpy_rng_state(self.rngs[member], state["rng"])
        self.inputs.load_member_state(member, state)

    def member_weights(self, member: int) -> dict[str, Any]:
        return {"q_network": stacked.member_state(self.q_params, member)}

    def load_member_weights(self, member: int, state: dict[str, Any]) -> None:
        stacked.load_member_state(self.q_params, member, state["q_network"])
        stacked.load_member_state(self.target_params, member, state["q_network"])
