"""Successor features with generalised policy evaluation and improvement (Barreto et al.
2017, "Successor Features for Transfer in Reinforcement Learning"; 2020, "Fast
reinforcement learning with generalized policy updates"), for a population of members
trained as one computation (a lone run is a population of one).

A task is a weight vector w over the cumulants phi the env reports (``info["phi"]``):
r = w . phi. Each policy i of a set, one per base task w_i (``base_tasks``), has successor
features psi_i(s, a) = E[sum_t gamma^t phi_t], so its value on any task w is
Q_i^w(s, a) = psi_i(s, a) . w (generalised policy evaluation, GPE), and acting greedily on
max_i Q_i^w(s, a) is at least as good as every policy of the set (generalised policy
improvement, GPI). One network per member outputs psi for every policy and action,
``[policies, actions, d]``.

A run has two phases. Pre-training (the first ``pretrain_steps`` env steps, ``pretrain/...``
metrics): each env copy's episode acts epsilon-greedily by GPI for one base task, the tasks
taken in turn across episodes and copies, and every policy learns from the shared replay
off-policy by the TD step psi_i(s, a) <- phi + gamma * psi_i^target(s', a'_i), with
a'_i = argmax_a psi_i(s', a) . w_i picked by the online network (double DQN); truncation
bootstraps. The target task (the rest of the budget): the successor features are frozen and
the agent acts by GPI under the target w, the task's ``weights`` (``task_weights=given``)
or w-hat regressed by ridge least squares on the (phi, r) pairs of this phase
(``regressed``, starting from 0). ``eval/episode_return`` is the greedy GPI return on the
target task with the w in use, and appears only in this phase.

With ``learn_discount`` pre-training learns the discount online as meta-dqn does
(agents/common/control_discount.py: J' is the GPI policy's returns on recent episodes);
it is frozen with the SFs in the target phase, and logged as ``meta/discount``.

Acting, replay, target networks, the TD loss's form, learning rates and checkpoints are
agents/common/q_learning.py's (``QLearner``); this file is the SF network, the two phases
and the regression.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from agents.common import stacked
from agents.common.cadence import REPORT_INTERVAL, Cadence, Ticks, crossed
from agents.common.control_discount import ControlDiscount, differentiable_step
from agents.common.meta_gradient import StackedDiscount
from agents.common.population import PopulationReport, greedy_member_returns
from agents.common.q_learning import QLearner, QLearningConfig
from agents.common.replay import ReplaySamples
from agents.common.seeds import eval_env_seed, train_env_seed
from agents.common.task_weights import (
    TASK_WEIGHTS,
    check_run,
    check_task_params,
    parse_base_tasks,
    ridge_weights,
)
from envs.config import MAX_STEPS, Config, ConfigError, bounded
from envs.registry import TaskFamily


@dataclass
class SFGPIConfig(QLearningConfig):
    """GPE+GPI's hyperparameters: the Q-learning fields (DQN's machinery), plus the base
    tasks, the two phases and how the target task is known. Defaults were measured on
    scavenger (11 x 11, 10 objects, 50 steps) with w = (1, -1), four seeds, 200k steps of
    pre-training and a final evaluation of 100 greedy episodes; DQN's defaults otherwise
    (a burst of 64 gradient steps every 256 env steps). A 64-unit network reached about
    2.7 (20-episode evaluations); 128 units learned faster (2.97 against about 2.8 at 100k
    steps). With 128 units the discount decided it: 0.95 collapsed on two of four seeds
    (greedy policies standing against a wall), 0.9 ended at 3.15 (2.68-3.42), 0.85 at
    3.34, 0.8 at 3.44 (3.18-3.71; the seed's grid search's best, 0.772, is near), and
    the same networks give 8.84 on w = (1, 1) against 8.56 (0.9) and 8.78 (0.85). 300k
    steps of pre-training (all in the replay: 1.2 GB of memory per member, 36 MB saved)
    end at 3.71 (3.34-4.01) on w = (1, -1) and 9.11 (8.83-9.41) on w = (1, 1)."""

    discount: float = bounded(0.8, 0.0, 1.0, per_member=True)
    """Discount gamma of the successor features' TD target (pre-training; initial if learned)."""
    n_step: int = bounded(1, 1, 1)
    """1-step targets: the cumulants are vectors, which n-step folding does not hold."""
    buffer_size: int = bounded(300_000, 1, 10_000_000)
    """Replay buffer capacity in transitions."""
    hidden_size: int = bounded(128, 1, 4096)
    """Units per hidden layer of the successor-feature network."""
    eval_interval: int = bounded(25_000, 1, MAX_STEPS)
    """Env steps between greedy evaluations (one is always run at the end of each phase)."""
    eval_episodes: int = bounded(100, 1, 1000)
    """Greedy episodes per evaluation (all played at once, so many cost little)."""
    base_tasks: str = "1,0;0,1"
    """Weight vectors of the base tasks, one policy each: ';' between vectors, ',' within."""
    task_weights: str = "given"
    """given (the task's weights) or regressed (least squares on the target task's rewards)."""
    pretrain_steps: int = bounded(300_000, 0, MAX_STEPS)
    """Env steps of pre-training on the base tasks; the rest of the budget is the target task."""
    ridge: float = bounded(1e-3, 0.0, 1e6, per_member=True)
    """Ridge penalty lambda of the regression of w (task_weights=regressed)."""
    learn_discount: bool = False
    """Learn the discount online in pre-training by meta-gradients (meta-dqn's fields)."""
    meta_learning_rate: float = bounded(1e-3, 0.0, 1.0, low_open=True, log=True, per_member=True)
    """Adam step size of the discount's logit (learn_discount)."""
    meta_interval: int = bounded(1, 1, 1_000_000)
    """SF TD steps per meta step (learn_discount)."""
    temperature: float = bounded(1.0, 0.0, low_open=True, log=True, per_member=True)
    """Softmax temperature of the meta-objective's GPI policy, in units of its values' spread."""
    meta_batch_size: int = bounded(1024, 1, 65536)
    """Transitions of recent complete episodes per meta step (learn_discount)."""
    meta_episode_capacity: int = bounded(2048, 1, 1_000_000)
    """Latest complete-episode transitions a member keeps for the meta-objective."""

    def check(self) -> None:
        super().check()
        if self.task_weights not in TASK_WEIGHTS:
            raise ConfigError(
                f"task_weights={self.task_weights!r} is not one of {', '.join(TASK_WEIGHTS)}",
                field="task_weights",
            )
        parse_base_tasks(self.base_tasks)


class SFGPI(QLearner):
    """Successor features of a set of policies, GPE and GPI, for every member at once."""

    configs: list[SFGPIConfig]

    def __init__(
        self,
        configs: Sequence[SFGPIConfig],
        task: TaskFamily,
        task_params: Config,
        seeds: Sequence[int],
        device: str = "cpu",
    ) -> None:
        self.target_task, self.base_tasks = check_task_params(configs[0], task_params)
        self.cumulants = len(self.target_task)
        self.policies = len(self.base_tasks)
        super().__init__(configs, task, task_params, seeds, device)
        cfg = self.config
        self.discounts = self.member_tensor(self.per_member("discount"))
        self.base_weights = self.member_tensor(self.base_tasks)  # float32 on the device
        # Episodes each env copy has started: copy c's episode e acts for base task
        # (c + e) mod policies, so the base tasks take turns across episodes and copies.
        self.episodes = np.zeros(self.members * cfg.num_envs, dtype=np.int64)
        d = self.cumulants
        self.gram = np.zeros((self.members, d, d))  # sum phi phi^T of the target phase
        self.moments = np.zeros((self.members, d))  # sum phi r
        self.acting_weights = np.zeros((self.members * cfg.num_envs, d))
        self.meta: ControlDiscount | None = None  # J': GPI's returns, episodes tagged with w
        self.sf_steps = 0  # SF TD steps taken: every meta_interval-th is a meta step
        if cfg.learn_discount:
            discount = StackedDiscount(
                self.per_member("discount"), self.per_member("meta_learning_rate"), self.device
            )
            self.meta = ControlDiscount.of(self, discount, [1.0] * self.members, d, "meta_episodes")

    def shapes(self) -> tuple[int, int, int]:
        return 0, self.policies * self.num_actions * self.cumulants, self.cumulants

    # --- GPE and GPI --------------------------------------------------------------------
    def successor_features(
        self, params: stacked.Params, observations: torch.Tensor
    ) -> torch.Tensor:
        """psi ``[P, ..., policies, actions, d]`` of observations ``[P, ..., obs]``."""
        out = stacked.sequential(self.template, params, observations)
        return out.reshape(*out.shape[:-1], self.policies, self.num_actions, self.cumulants)

    def gpi_values(self, observations: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """max_i psi_i(s, .) . w ``[P, k, actions]`` of observations ``[P, k, obs]``, each
        with its own task w ``[P, k, d]`` (GPE, then the max of GPI)."""
        psi = self.successor_features(self.q_params, observations)
        return (psi * weights[:, :, None, None, :]).sum(-1).max(dim=-2).values

    @torch.no_grad()
    def gpi_actions(self, observations: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """argmax_a max_i psi_i(s, a) . w of observations ``[P * k, obs]``, each with its
        own task w ``[P * k, d]``."""
        x = torch.as_tensor(observations, dtype=torch.float32, device=self.device)
        w = torch.as_tensor(weights, dtype=torch.float32, device=self.device)
        x, w = x.reshape(self.members, -1, x.shape[-1]), w.reshape(self.members, -1, w.shape[-1])
        return self.gpi_values(x, w).argmax(dim=-1).reshape(-1).cpu().numpy()

    def greedy_actions(self, observations: np.ndarray) -> np.ndarray:
        """GPI under each env copy's current task (what ``QLearner.act`` exploits)."""
        return self.gpi_actions(observations, self.acting_weights)

    def weights_in_use(self) -> np.ndarray:
        """Each member's target task w ``[P, d]``: the task's, or w-hat by ridge least
        squares on the target phase's (phi, r) so far (0 before any data)."""
        if self.config.task_weights == "given":
            return np.tile(self.target_task, (self.members, 1))
        return ridge_weights(self.gram, self.moments, self.per_member("ridge"))

    def observe_rewards(self, members: np.ndarray, phi: np.ndarray, rewards: np.ndarray) -> None:
        """Add (phi, r) pairs ``[k, d]``, ``[k]`` of these ``members`` ``[k]`` to the
        regression's sufficient statistics."""
        np.add.at(self.gram, members, phi[:, :, None] * phi[:, None, :])
        np.add.at(self.moments, members, phi * rewards[:, None])

    # --- the TD step of every policy's successor features --------------------------------
    def train_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One TD step of every policy's psi on the member's minibatch, under the fixed or
        the learned gamma; with ``learn_discount`` every ``meta_interval``-th is also a
        meta step. Returns (SF loss, mean Q_i^{w_i} of the taken actions over the
        policies), each ``[P]``."""
        batch = self.next_batch()
        self.sf_steps += 1
        if self.meta is None or self.sf_steps % self.config.meta_interval:
            gamma = self.discounts if self.meta is None else self.meta.discount.value.detach()
            loss, q_taken = self.sf_loss(self.q_params, batch, gamma)
            self.gradient_step(loss)
            return loss.detach(), q_taken
        loss, q_taken, g = differentiable_step(
            self, lambda params: self.sf_loss(params, batch, self.meta.discount.value)
        )
        self.meta.meta_step(
            g, self.parameters, self.learning_rates, self.gpi_values, self.config.meta_batch_size
        )
        return loss.detach(), q_taken

    def sf_loss(
        self, params: stacked.Params, batch: ReplaySamples, discount: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's SF TD loss ``[P]`` with these parameters under its ``discount``
        ``[P]``, and the mean Q_i^{w_i} of the taken actions ``[P]`` (no gradient)."""
        members, size = batch.actions.shape
        shape = (members, size, self.policies, 1, self.cumulants)
        base = self.base_weights[:, None, :]  # [policies, 1, d]
        with torch.no_grad():
            next_psi = self.successor_features(self.target_params, batch.next_observations)
            chooser = next_psi
            if self.config.double_dqn:
                chooser = self.successor_features(self.q_params, batch.next_observations)
            best = (chooser * base).sum(-1).argmax(-1)  # a'_i under w_i, [P, batch, policies]
            next_taken = next_psi.gather(3, best[..., None, None].expand(shape)).squeeze(3)
        bootstrap = stacked.member_view(discount, batch.bootstrap_discounts)
        bootstrap = (bootstrap * batch.bootstrap_discounts)[..., None, None]
        target = batch.cumulants[:, :, None, :] + bootstrap * next_taken
        psi = self.successor_features(params, batch.observations)
        actions = batch.actions[:, :, None, None, None].expand(shape)
        psi_taken = psi.gather(3, actions).squeeze(3)  # [P, batch, policies, d]
        loss = self.td_error(psi_taken.reshape(members, -1), target.reshape(members, -1))
        q_taken = (psi_taken.detach() * base[:, 0]).sum(-1)
        return loss, q_taken.reshape(members, -1).mean(-1)

    def burst_scalars(self) -> list[dict[str, float]]:
        return super().burst_scalars() if self.meta is None else self.meta.burst_scalars()

    # --- the two phases -------------------------------------------------------------------
    def learn(
        self, total_steps: int, *, tick_seconds: float | None = None
    ) -> Iterator[PopulationReport]:
        cfg, members, n = self.config, self.members, self.config.num_envs
        check_run(cfg, self.task_params, total_steps)
        cadence = Cadence(total_steps, cfg.eval_interval, REPORT_INTERVAL)
        ticks = Ticks(tick_seconds)
        copies = np.arange(members * n) % n  # a copy's index within its member
        train_from = max(cfg.learning_starts, 1)
        observations: np.ndarray | None = None
        pretraining = None
        while self.steps_done < total_steps:
            if pretraining != (self.steps_done < cfg.pretrain_steps):
                # Each phase (and a resumed run) starts fresh episodes, seeded by the step.
                pretraining = self.steps_done < cfg.pretrain_steps
                seeds = [train_env_seed(s, self.steps_done) for s in self.seeds]
                observations, _ = self.env.reset(seeds)
                after_done = np.zeros(members * n, dtype=bool)  # NEXT_STEP: only a reset
                episode_return = np.zeros(members * n)
                if self.meta is not None:
                    self.meta.episodes.clear_open()
            if pretraining:
                task_index = (copies + self.episodes) % self.policies
                self.acting_weights = self.base_tasks[task_index]
                epsilons = self.epsilons(cfg.pretrain_steps)
            else:
                task_index = None
                weights = self.weights_in_use()
                self.acting_weights = np.repeat(weights, n, axis=0)
                # With w-hat still 0 every action ties: explore until a first collection.
                epsilons = np.where(weights.any(axis=1), self.epsilons(cfg.pretrain_steps), 1.0)
            actions = self.act(observations, epsilons)
            next_observations, rewards, terminated, truncated, info = self.env.step(actions)
            phi = np.asarray(info["phi"], dtype=np.float64)
            real = ~after_done
            rows = np.flatnonzero(real)
            if pretraining:
                if len(rows):  # none when every copy is at its reset step
                    ended = (terminated[rows]).astype(np.float64)
                    transitions = (observations, actions, rewards, next_observations)
                    self.buffer.add(
                        rows // n, *(x[rows] for x in transitions), 1 - ended, phi[rows]
                    )
                task_rewards = (phi * self.acting_weights).sum(axis=1)
                episode_return += task_rewards * real
            else:
                episode_return += rewards * real
                if cfg.task_weights == "regressed":
                    self.observe_rewards(rows // n, phi[rows], rewards[rows])
            before = self.steps_done
            self.steps_done += n
            scalars: list[dict[str, float]] = [{} for _ in range(members)]
            done = (terminated | truncated) & real
            if pretraining and self.meta is not None:
                self.meta.push(observations, actions, task_rewards, done, real, self.acting_weights)
            if done.any():
                self.log_episodes(scalars, done, episode_return, task_index)
                episode_return[done] = 0.0
                self.episodes[done] += 1
            after_done = terminated | truncated
            observations = next_observations

            if pretraining:
                if self.steps_done >= train_from and crossed(
                    before, self.steps_done, cfg.train_frequency
                ):
                    self.set_learning_rates(cfg.pretrain_steps)
                    yield from self.train_burst(scalars, ticks)
                    for member_scalars in scalars:
                        member_scalars["pretrain/sf_loss"] = member_scalars.pop("train/td_loss")
                        member_scalars["pretrain/q_values"] = member_scalars.pop("train/q_values")
                if crossed(before, self.steps_done, cfg.target_update_interval):
                    self.update_target()
            due = cadence.due(before, self.steps_done)
            if pretraining and (due.evaluate or self.steps_done >= cfg.pretrain_steps):
                target = np.tile(self.target_task, (members, 1))
                returns = self.evaluate(cfg.eval_episodes, target)
                for member, member_scalars in enumerate(scalars):
                    member_scalars["pretrain/target_return"] = float(returns[member].mean())
            elif not pretraining and due.evaluate:
                returns = self.evaluate(cfg.eval_episodes)
                error = np.linalg.norm(self.weights_in_use() - self.target_task, axis=1)
                for member, member_scalars in enumerate(scalars):
                    member_scalars["eval/episode_return"] = float(returns[member].mean())
                    member_scalars["eval/episode_return_std"] = float(returns[member].std())
                    if cfg.task_weights == "regressed":
                        member_scalars["target/weights_error"] = float(error[member])
            if due.report or any(scalars):
                yield PopulationReport(self.steps_done, scalars)

    def log_episodes(
        self,
        scalars: list[dict[str, float]],
        done: np.ndarray,
        episode_return: np.ndarray,
        task_index: np.ndarray | None,
    ) -> None:
        """Each member's mean return of the episodes that ended: per base task under its w
        in pre-training (``task_index``: each copy's), on the target task after (None)."""
        ended: dict[tuple[int, str], list[float]] = {}
        for copy in np.flatnonzero(done):
            key = "charts/episode_return"
            if task_index is not None:
                key = f"pretrain/return_task{task_index[copy]}"
            member = int(copy) // self.config.num_envs
            ended.setdefault((member, key), []).append(float(episode_return[copy]))
        for (member, key), returns in ended.items():
            scalars[member][key] = float(np.mean(returns))

    def evaluate(self, episodes: int, weights: np.ndarray | None = None) -> np.ndarray:
        """Greedy GPI returns ``[P, episodes]`` under each member's task ``weights`` ``[P, d]``
        (default: the target task's w in use), on new env seeds of each member's own."""
        weights = self.weights_in_use() if weights is None else weights
        tasks = np.repeat(weights, episodes, axis=0)
        self.evaluations += 1
        seeds = [
            eval_env_seed(s, int(k)) for s, k in zip(self.seeds, self.evaluations, strict=True)
        ]
        return greedy_member_returns(
            self.task,
            self.task_params,
            seeds,
            episodes,
            lambda observations: self.gpi_actions(observations, tasks),
        )

    # --- checkpoints: one member's, in the lone agent's layout ---------------------------
    def member_state(self, member: int) -> dict[str, Any]:
        """QLearner's (``q_network`` holds the SF network) plus the round-robin of base
        tasks and the regression's sufficient statistics (and, with ``learn_discount``, the
        discount, its episodes, baseline and generator); the phase follows from
        ``steps_done``."""
        n = self.config.num_envs
        state = super().member_state(member) | {
            "episodes": torch.as_tensor(self.episodes[member * n : (member + 1) * n]),
            "gram": torch.as_tensor(self.gram[member]),
            "moments": torch.as_tensor(self.moments[member]),
        }
        if self.meta is not None:
            meta = {"sf_steps": self.sf_steps, "discount": self.meta.discount.member_state(member)}
            state |= self.meta.member_state(member) | meta
        return state

    def load_member_state(self, member: int, state: dict[str, Any]) -> None:
        super().load_member_state(member, state)
        n = self.config.num_envs
        self.episodes[member * n : (member + 1) * n] = torch.as_tensor(state["episodes"]).numpy()
        self.gram[member] = torch.as_tensor(state["gram"]).numpy()
        self.moments[member] = torch.as_tensor(state["moments"]).numpy()
        if self.meta is not None:
            self.meta.load_member_state(member, state)
            self.meta.discount.load_member_state(member, state["discount"])
            self.sf_steps = int(state["sf_steps"])
