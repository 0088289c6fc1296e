"""Continual supervised learning: a stream of classification tasks made from one dataset.

The data is scikit-learn's bundled 8x8 digits (1,797 images, ten classes, pixels 0..16,
scaled here to 0..1), so nothing is downloaded; sklearn is imported only when a stream is
built. A seed splits the images once into a training pool and a held-out split
(``test_fraction``). Task t draws ``samples_per_task`` images of the pool and applies its
own input transform to them and to the whole held-out split:

- ``digits-permuted``: a fixed random permutation of the 64 pixels per task (the digits
  analogue of MNIST Permutations, Lopez-Paz & Ranzato 2017);
- ``digits-rotated``: a fixed rotation per task, the angles evenly spaced over
  [0, 180) degrees and taken in a random order (MNIST Rotations). The image is rotated
  by nearest neighbour, so a task is a pixel map and two angles that give the same map
  are the same task: on 8x8 images that bounds how many distinct tasks there are.

A learner sees each task's samples once, in batches of ``batch_size``, task after task
(single pass), and is evaluated on the held-out split of every task seen so far.
These families have no gymnasium env: only the continual learners train on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

import numpy as np

from envs.config import Config, ConfigError, bounded
from envs.family import Task, TaskFamily

SIDE = 8
PIXELS = SIDE * SIDE
CLASSES = 10
DIGITS = 1797
"""Images in sklearn's digits; the pool sizes are checked against it without loading it."""
LEARNERS = "online-sgd, er, c-maml, sync, la-maml"


@dataclass
class ContinualParams(Config):
    num_tasks: int = bounded(20, 1, 1000)
    """Tasks in the stream, learnt one after another."""
    samples_per_task: int = bounded(1000, 10, DIGITS)
    """Training images of each task, drawn from the training pool and seen once."""
    batch_size: int = bounded(10, 1, 1000)
    """Images per incoming batch of the stream."""
    test_fraction: float = bounded(0.25, 0.05, 0.5)
    """Share of the images held out for evaluation (the same images in every task)."""

    @property
    def test_size(self) -> int:
        return round(DIGITS * self.test_fraction)

    @property
    def stream_length(self) -> int:
        """Training samples in the whole stream: the most steps a run can train."""
        return self.num_tasks * self.samples_per_task

    def check(self) -> None:
        pool = DIGITS - self.test_size
        if self.samples_per_task > pool:
            raise ConfigError(
                f"samples_per_task={self.samples_per_task} is more than the {pool} training "
                f"images left by test_fraction={self.test_fraction}; give at most {pool}",
                field="samples_per_task",
            )


@dataclass
class RotatedParams(ContinualParams):
    def check(self) -> None:
        super().check()
        most = distinct_rotations(self.num_tasks)
        if most < self.num_tasks:
            raise ConfigError(
                f"digits-rotated can make at most {most} distinct tasks on 8x8 images "
                f"(more rotations over 180 degrees repeat a pixel map); give num_tasks={most} "
                "or fewer, or use digits-permuted",
                field="num_tasks",
            )


class ContinualTask(NamedTuple):
    """One task of a stream: its training samples in stream order and its held-out split."""

    x_train: np.ndarray
    """[samples_per_task, 64] float32 in 0..1."""
    y_train: np.ndarray
    """[samples_per_task] int64 class labels."""
    x_test: np.ndarray
    y_test: np.ndarray


class ContinualFamily(TaskFamily):
    """A family of continual-learning streams; subclasses say what one task's transform is."""

    continual = True

    def make_env(self, params: Config) -> None:  # type: ignore[override]
        raise ConfigError(
            f"{self.name} is a continual supervised-learning task with no environment; "
            f"train one of the continual learners on it ({LEARNERS})"
        )

    def budget(self, params: Config, steps: int) -> int:
        return min(steps, params.stream_length)  # type: ignore[attr-defined]

    def pixel_maps(self, params: ContinualParams, rng: np.random.Generator) -> np.ndarray:
        """[num_tasks, 64] source pixel of each output pixel per task (-1: blank)."""
        raise NotImplementedError

    def sample(self, params: Config, rng: np.random.Generator) -> Task:
        """The first task of a stream drawn with ``rng``."""
        return {"pixel_map": self.pixel_maps(params, rng)[0]}

    def stream(self, params: ContinualParams, seed: int) -> list[ContinualTask]:
        """The whole stream of a run with this seed: the same tasks, samples and order for
        the same (params, seed), so a resumed run rebuilds it."""
        images, labels = load_digits()
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(images))
        test, pool = order[: params.test_size], order[params.test_size :]
        maps = self.pixel_maps(params, rng)
        tasks = []
        for pixel_map in maps:
            drawn = rng.choice(pool, params.samples_per_task, replace=False)
            tasks.append(
                ContinualTask(
                    transform(images[drawn], pixel_map),
                    labels[drawn],
                    transform(images[test], pixel_map),
                    labels[test],
                )
            )
        return tasks


class PermutedDigits(ContinualFamily):
    name = "digits-permuted"
    summary = "Continual: 8x8 digits, each task a fixed pixel permutation (single pass)."
    Params = ContinualParams

    def pixel_maps(self, params: ContinualParams, rng: np.random.Generator) -> np.ndarray:
        return np.stack([rng.permutation(PIXELS) for _ in range(params.num_tasks)])


class RotatedDigits(ContinualFamily):
    name = "digits-rotated"
    summary = "Continual: 8x8 digits, each task a fixed rotation in [0, 180) (single pass)."
    Params = RotatedParams

    def pixel_maps(self, params: ContinualParams, rng: np.random.Generator) -> np.ndarray:
        angles = np.arange(params.num_tasks) * 180.0 / params.num_tasks
        return np.stack([rotation_map(angle) for angle in rng.permutation(angles)])


def transform(images: np.ndarray, pixel_map: np.ndarray) -> np.ndarray:
    """Images [n, 64] with output pixel i taken from ``pixel_map[i]`` (blank where -1)."""
    out = images[:, np.maximum(pixel_map, 0)]
    out[:, pixel_map < 0] = 0.0
    return out


def rotation_map(degrees: float) -> np.ndarray:
    """Nearest-neighbour rotation of an 8x8 image about its centre, as a pixel map."""
    theta = np.deg2rad(degrees)
    rows, cols = np.divmod(np.arange(PIXELS), SIDE)
    centre = (SIDE - 1) / 2
    y, x = rows - centre, cols - centre
    # The source of each output pixel is the output position rotated back.
    src_x = np.cos(theta) * x + np.sin(theta) * y + centre
    src_y = -np.sin(theta) * x + np.cos(theta) * y + centre
    src_r, src_c = np.rint(src_y).astype(int), np.rint(src_x).astype(int)
    inside = (src_r >= 0) & (src_r < SIDE) & (src_c >= 0) & (src_c < SIDE)
    return np.where(inside, src_r * SIDE + src_c, -1)


@cache
def distinct_rotations(num_tasks: int) -> int:
    """The most tasks, at most ``num_tasks``, whose evenly spaced angles over [0, 180) all
    give different pixel maps. Counts above 180 (angles under a degree apart) are not
    tried: at 8x8 none of them is distinct."""
    for count in range(min(num_tasks, 180), 0, -1):
        angles = np.arange(count) * 180.0 / count
        if len({rotation_map(angle).tobytes() for angle in angles}) == count:
            return count
    return 1


@cache
def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """sklearn's bundled digits as float32 pixels in 0..1 and int64 labels."""
    from sklearn.datasets import load_digits as sklearn_digits

    data = sklearn_digits()
    return (data.data / 16.0).astype(np.float32), data.target.astype(np.int64)


CONTINUAL_FAMILIES = (PermutedDigits(), RotatedDigits())
