"""What the continual learners share: the network as a list of tensors, the reservoir
memory, and the loop over the stream with its evaluations and metrics.

A continual learner (``online-sgd``, ``er``, ``c-maml``, ``sync``, ``la-maml``) sees the
family's stream once, batch by batch (``envs/continual.py``); a step is one training
sample. Each learner's file has its ``observe(x, y)``, the update on one incoming batch;
``ContinualLearner.learn`` does the rest. After each task (and when the budget ends
inside one) it evaluates on the held-out split of every task seen so far and reports:

- ``eval/retained_accuracy``: RA, the mean of those accuracies (at the last task, the
  paper's RA); the run's evaluation return in every listing;
- ``eval/bti``: BTI, the mean over the tasks seen of (accuracy now - accuracy right after
  that task was learnt), the current task counting 0, as GEM's and La-MAML's
  ``metrics.py`` compute it; negative is forgetting;
- ``continual/task_accuracy/NN``: the accuracy on task NN (a row of the accuracy matrix),
  ``continual/tasks_learnt``, ``train/loss`` (mean over the batches since the last
  report) and what the learner adds (``extra_scalars``: its learning rates).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from agents.common.base import Report
from agents.common.cadence import Cadence, Ticks
from agents.common.checkpoint import numpy_rng_state, set_numpy_rng_state
from envs.config import Config, ConfigError, bounded
from envs.continual import CLASSES, PIXELS, ContinualFamily, ContinualParams

ACCURACY_PREFIX = "continual/task_accuracy/"
TASKS_LEARNT = "continual/tasks_learnt"


@dataclass
class ContinualConfig(Config):
    hidden_size: int = bounded(100, 1, 4096)
    """Units in each hidden layer of the MLP (La-MAML's MNIST runs: 100)."""
    hidden_layers: int = bounded(2, 1, 8)
    """Hidden ReLU layers of the MLP (La-MAML's MNIST runs: 2)."""
    glances: int = bounded(1, 1, 100)
    """Updates on each incoming batch before the next arrives (the paper's glances)."""
    grad_clip_norm: float = bounded(2.0, 0.0, low_open=True)
    """Gradients are clipped to this norm before a step (the reference code's default)."""


def init_network(config: ContinualConfig, generator: torch.Generator) -> list[torch.Tensor]:
    """[W1, b1, W2, b2, ...] of the MLP 64 -> hidden ... -> 10: Kaiming-normal weights
    (ReLU gain, fan in) and zero biases, as the reference code's Learner."""
    sizes = [PIXELS, *[config.hidden_size] * config.hidden_layers, CLASSES]
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        weight = torch.randn(fan_out, fan_in, generator=generator) * np.sqrt(2.0 / fan_in)
        params += [weight.requires_grad_(), torch.zeros(fan_out, requires_grad=True)]
    return params


def forward(params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Logits of the MLP with these parameters (leaves or look-ahead tensors)."""
    for i in range(0, len(params) - 2, 2):
        x = F.relu(F.linear(x, params[i], params[i + 1]))
    return F.linear(x, params[-2], params[-1])


class ReservoirMemory:
    """A fixed-size memory of stream samples by reservoir sampling (Vitter's algorithm R):
    after n samples each has been kept with probability capacity / n."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.x = np.zeros((capacity, PIXELS), np.float32)
        self.y = np.zeros(capacity, np.int64)
        self.seen = 0

    def __len__(self) -> int:
        return min(self.seen, self.capacity)

    def add(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> None:
        for xi, yi in zip(x, y, strict=True):
            slot = self.seen if self.seen < self.capacity else int(rng.integers(self.seen + 1))
            if slot < self.capacity:
                self.x[slot], self.y[slot] = xi, yi
            self.seen += 1

    def sample(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``count`` distinct stored samples (fewer while the memory holds fewer)."""
        picked = rng.choice(len(self), min(count, len(self)), replace=False)
        return self.x[picked], self.y[picked]

    def state(self) -> dict[str, Any]:
        x, y = torch.from_numpy(self.x.copy()), torch.from_numpy(self.y.copy())
        return {"x": x, "y": y, "seen": self.seen}

    def load(self, state: dict[str, Any]) -> None:
        self.x, self.y = state["x"].numpy().copy(), state["y"].numpy().copy()
        self.seen = int(state["seen"])


def batch_with_memory(
    memory: ReservoirMemory, count: int, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to ``count`` memory samples followed by the incoming batch, as tensors."""
    mx, my = memory.sample(count, rng)
    return torch.from_numpy(np.concatenate([mx, x])), torch.from_numpy(np.concatenate([my, y]))


def clip_(tensors: list[torch.Tensor], max_norm: float) -> None:
    """Clip the gradients of ``tensors`` together to ``max_norm`` (in place)."""
    torch.nn.utils.clip_grad_norm_(tensors, max_norm)


class ContinualLearner:
    """The loop every continual learner runs; subclasses write ``observe`` (and, when
    they keep more than the network and the memory, ``extra_state``/``load_extra``)."""

    memory_size = 0
    """Samples the learner keeps in its reservoir memory (0: none)."""

    def __init__(
        self, config: ContinualConfig, family, task_params: Config, seed: int, device: str = "cpu"
    ) -> None:
        """``device`` is accepted as every agent's is, and ignored: these networks are a few
        thousand weights trained one small batch at a time, fastest on the CPU."""
        if not isinstance(family, ContinualFamily):
            raise ConfigError(
                f"{type(self).__name__} learns continual tasks only, not {family.name}"
            )
        self.config, self.family, self.seed = config, family, seed
        self.task_params: ContinualParams = task_params  # type: ignore[assignment]
        self.tasks = family.stream(self.task_params, seed)
        generator = torch.Generator().manual_seed(seed)
        self.params = init_network(config, generator)
        self.rng = np.random.default_rng(seed)
        self.memory = ReservoirMemory(self.memory_size)
        self.steps_done = 0
        self.accuracy: list[list[float]] = []
        """Row t: accuracy on tasks 0..t when task t ended (or the budget inside it)."""
        self.losses: list[float] = []

    # --- what each learner writes -------------------------------------------------------
    def observe(self, x: np.ndarray, y: np.ndarray) -> float:
        """Learn from one incoming batch; return its training loss."""
        raise NotImplementedError

    def extra_scalars(self) -> dict[str, float]:
        return {}

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra(self, state: dict[str, Any]) -> None:
        """Take back what ``extra_state`` saved."""

    # --- the loop -----------------------------------------------------------------------
    def learn(self, total_steps: int, *, tick_seconds: float | None = None) -> Iterator[Report]:
        """One pass over the stream (or its first ``total_steps`` samples), reporting after
        every task."""
        size, batch = self.task_params.samples_per_task, self.task_params.batch_size
        total = min(total_steps, self.task_params.stream_length)
        cadence = Cadence(total, eval_interval=size, report_interval=size)
        ticks = Ticks(tick_seconds)
        while self.steps_done < total:
            before = self.steps_done
            task, offset = divmod(before, size)
            end = min(offset + batch, size, offset + total - before)
            data = self.tasks[task]
            self.losses.append(self.observe(data.x_train[offset:end], data.y_train[offset:end]))
            self.steps_done = before + end - offset
            if cadence.due(before, self.steps_done).evaluate:
                yield Report(self.steps_done, self.report(task))
            elif ticks.due():
                yield Report(self.steps_done, {}, tick=True)

    def report(self, task: int) -> dict[str, float]:
        row = self.evaluate_tasks(task + 1)
        self.accuracy.append(row)
        scalars = {
            "eval/retained_accuracy": float(np.mean(row)),
            "eval/bti": bti(self.accuracy),
            TASKS_LEARNT: float(task + 1),
            "train/loss": float(np.mean(self.losses)) if self.losses else float("nan"),
        }
        scalars.update({f"{ACCURACY_PREFIX}{j:02d}": acc for j, acc in enumerate(row)})
        scalars.update(self.extra_scalars())
        self.losses = []
        return scalars

    @torch.no_grad()
    def evaluate_tasks(self, count: int) -> list[float]:
        """Held-out accuracy on each of the first ``count`` tasks."""
        accuracies = []
        for data in self.tasks[:count]:
            logits = forward(self.params, torch.from_numpy(data.x_test))
            accuracies.append(float((logits.argmax(1).numpy() == data.y_test).mean()))
        return accuracies

    def evaluate(self, episodes: int) -> np.ndarray:
        """Accuracy on the held-out split of every task seen so far (``episodes`` unused:
        an evaluation here is the whole held-out split)."""
        seen = -(-self.steps_done // self.task_params.samples_per_task)
        return np.array(self.evaluate_tasks(max(seen, 1)))

    # --- checkpoints --------------------------------------------------------------------
    def weights(self) -> dict[str, Any]:
        return {"params": [p.detach().clone() for p in self.params]}

    def load_weights(self, state: dict[str, Any]) -> None:
        saved = state["params"]
        shapes = [tuple(p.shape) for p in self.params]
        if [tuple(p.shape) for p in saved] != shapes:
            raise RuntimeError(f"network shapes differ: this learner has {shapes}")
        with torch.no_grad():
            for p, value in zip(self.params, saved, strict=True):
                p.copy_(value)

    def state_dict(self) -> dict[str, Any]:
        return {
            **self.weights(),
            "memory": self.memory.state(),
            "rng": numpy_rng_state(self.rng),
            "steps_done": self.steps_done,
            "accuracy": [list(row) for row in self.accuracy],
            "losses": list(self.losses),
            "extra": self.extra_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.load_weights(state)
        self.memory.load(state["memory"])
        set_numpy_rng_state(self.rng, state["rng"])
        self.steps_done = int(state["steps_done"])
        self.accuracy = [list(row) for row in state["accuracy"]]
        self.losses = list(state["losses"])
        self.load_extra(state["extra"])


def bti(accuracy: list[list[float]]) -> float:
    """Backward transfer and interference of an accuracy matrix (rows: after each task):
    mean over the tasks seen of the last row's accuracy less the one when the task was
    learnt (GEM's BWT as its metrics.py computes it, the current task counting 0)."""
    last = accuracy[-1]
    return float(np.mean([last[j] - accuracy[j][j] for j in range(len(last))]))


def check_memory(name: str, size: int) -> None:
    """A learner that replays needs a memory: a one-line error for a size of 0."""
    if size < 1:
        raise ConfigError(
            f"memory_size={size}: {name} replays from its memory, so it needs at least one "
            "sample; give memory_size=1 or more (200 in the paper), or use online-sgd",
            field="memory_size",
        )
