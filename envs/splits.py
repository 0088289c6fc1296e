"""The context parameters of contextual families and the evaluation splits of contextual RL.

The splits follow Kirk et al. (2021, "A survey of generalisation in deep RL"), mode B, as
CARL's ``EvaluationProtocol2D`` draws them. Every varied factor ranges over the same
[context_low, context_high); three cut points, in order, divide it::

    low = context_low < lower_constraint < mid < high = context_high
    mid              = context_high - test_fraction * (context_high - context_low)
    lower_constraint = context_low + seen_fraction * (mid - context_low)

With k varied factors, the splits draw from (every interval half-open, [a, b)):

- ``train``: the training region, the box [low, mid)^k with at least one factor in
  [low, lower_constraint) (an L-shaped region); with ``train_contexts`` = N > 0, the N
  contexts drawn once from it with ``context_seed`` (training picks one at each reset).
- ``interpolation``: new contexts of the training region, never one of the N (with
  N = 0, the training distribution itself).
- ``combinatorial``: every factor in [lower_constraint, mid): values each seen in training,
  in combinations never seen. Disjoint from the training region.
- ``extrapolation-single``: one factor (drawn uniformly) in [mid, high), the others in
  [low, mid).
- ``extrapolation-all``: every factor in [mid, high).
- ``test``: the name of ``extrapolation-all`` before the splits existed (the same draws).
- ``all``: the whole box [low, high)^k.

With one varied factor there are no combinations: ``combinatorial`` and
``extrapolation-single`` are refused, and the training region is all of [low, mid)
(``seen_fraction`` is not used). ``seen_fraction`` = 1 makes the training region the whole
box [low, mid)^k, which is what runs from before the splits trained on (``FORMER``); it
leaves ``combinatorial`` empty, so that split is refused too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from envs.config import MAX_SEED, Config, ConfigError, bounded

SPLITS = (
    "train",
    "interpolation",
    "combinatorial",
    "extrapolation-single",
    "extrapolation-all",
    "test",
    "all",
)
MAX_TRAIN_CONTEXTS = 100_000


@dataclass
class ContextParams(Config):
    """Context options shared by every contextual family; subclasses add their factors.
    The splits and the values each draws from: ``envs/splits.py``."""

    resample: bool = False
    """Draw new factors from the split at every reset instead of the fixed ones."""
    split: str = "train"
    """Split to draw from when resampling: train, interpolation, combinatorial,
    extrapolation-single, extrapolation-all, test (= extrapolation-all) or all."""
    context_low: float = bounded(0.2, 0.0, low_open=True)
    """Smallest factor of the full range."""
    context_high: float = bounded(2.2, 0.0, low_open=True)
    """Largest factor of the full range."""
    test_fraction: float = bounded(0.2, 0.0, 1.0, low_open=True, high_open=True)
    """Share of the range, at its top, held out for extrapolation (above the cut "mid")."""
    seen_fraction: float = bounded(0.5, 0.0, 1.0, low_open=True)
    """Share of the training range [low, mid), at its bottom, in which every training
    context has at least one factor (Kirk's lower constraint); 1: the whole box."""
    train_contexts: int = bounded(0, 0, MAX_TRAIN_CONTEXTS)
    """Training contexts drawn once with context_seed, one picked at each reset; 0: a
    fresh draw from the training region at every reset."""
    context_seed: int = bounded(0, 0, MAX_SEED)
    """Seed of the one draw of the train_contexts training contexts."""
    varied: str = ""
    """Factors that vary, comma-separated (e.g. gravity,length); empty: every factor.
    The others keep their fixed values."""
    visible_context: bool = False
    """Append the normalised factors to the observation."""

    factor_names: ClassVar[tuple[str, ...]] = ()
    FORMER: ClassVar[dict[str, Any]] = {"seen_fraction": 1.0}
    """What a run saved before the splits existed trained with: ``train`` was the box."""

    def check(self) -> None:
        if self.split not in SPLITS:
            raise ConfigError(f"split={self.split!r} is not one of {', '.join(SPLITS)}")
        if self.context_low >= self.context_high:
            raise ConfigError(
                f"context range [{self.context_low}, {self.context_high}] is empty or inverted: "
                "context_low must be below context_high"
            )
        for name in self.factor_names:
            value = getattr(self, name)
            if value <= 0:
                raise ConfigError(f"{name}={value} must be a positive factor")
        unknown = [name for name in self._varied_names() if name not in self.factor_names]
        if unknown:
            raise ConfigError(
                f"varied={self.varied!r}: {', '.join(unknown)} is not a factor; give some of "
                f"{', '.join(self.factor_names)}",
                field="varied",
            )
        self.check_split(self.split)

    def _varied_names(self) -> list[str]:
        return [name.strip() for name in self.varied.split(",") if name.strip()]

    @property
    def varied_factors(self) -> tuple[str, ...]:
        """The factors that vary, in the family's order."""
        chosen = set(self._varied_names()) or set(self.factor_names)
        return tuple(name for name in self.factor_names if name in chosen)

    def check_split(self, split: str) -> None:
        """Refuse, in one line, a split these parameters cannot draw from."""
        if split not in SPLITS:
            raise ConfigError(f"split {split!r} is not one of {', '.join(SPLITS)}", field="split")
        k = len(self.varied_factors)
        if split in ("combinatorial", "extrapolation-single") and k < 2:
            raise ConfigError(
                f"split {split!r} needs two or more varied factors (it combines factors) and "
                f"this task varies only {', '.join(self.varied_factors)}; use train, "
                "interpolation, extrapolation-all or all",
                field="split",
            )
        if split == "combinatorial" and self.seen_fraction == 1:
            raise ConfigError(
                "split 'combinatorial' is empty with seen_fraction=1 (training covers the "
                "whole box [low, mid)); it exists for runs trained with seen_fraction below 1",
                field="split",
            )

    def defined_splits(self) -> tuple[str, ...]:
        """The splits these parameters can draw from, in ``SPLITS`` order."""
        defined = []
        for split in SPLITS:
            try:
                self.check_split(split)
            except ConfigError:
                continue
            defined.append(split)
        return tuple(defined)

    # --- the cut points ----------------------------------------------------------------
    @property
    def mid(self) -> float:
        """The cut between the training box (below) and extrapolation (from here up)."""
        low, high = self.context_low, self.context_high
        return high - self.test_fraction * (high - low)

    @property
    def lower_constraint(self) -> float:
        """Below this, on at least one factor, lie the training contexts (k >= 2)."""
        return self.context_low + self.seen_fraction * (self.mid - self.context_low)

    def split_range(self, split: str | None = None) -> tuple[float, float]:
        """[low, high) of every factor in a box split: train's box (the training region
        lies inside it), test (= extrapolation-all) or all."""
        box = {
            "train": (self.context_low, self.mid),
            "test": (self.mid, self.context_high),
            "extrapolation-all": (self.mid, self.context_high),
            "all": (self.context_low, self.context_high),
        }
        return box[split or self.split]

    # --- drawing -----------------------------------------------------------------------
    def training_contexts(self) -> np.ndarray:
        """The ``train_contexts`` training contexts ``[k, N]`` (k varied factors), the
        same for every env and run with these parameters."""
        return _training_contexts(
            self.context_seed,
            self.train_contexts,
            len(self.varied_factors),
            self.context_low,
            self._constraint(),
            self.mid,
        )

    def _constraint(self) -> float:
        """The lower constraint in force: none (mid) with one factor or seen_fraction 1."""
        return self.mid if len(self.varied_factors) < 2 else self.lower_constraint

    def draw(self, rng: np.random.Generator, count: int, split: str | None = None) -> np.ndarray:
        """``count`` contexts of the varied factors, ``[k, count]``, from ``rng``: at a
        reset, at ``count`` restarting envs. A box split draws ``uniform(low, high, (k,
        count))``, what the families drew before the splits existed."""
        split = split or self.split
        k, low, mid, high = len(self.varied_factors), self.context_low, self.mid, self.context_high
        if split == "train" and self.train_contexts:
            return self.training_contexts()[:, rng.integers(self.train_contexts, size=count)]
        if split in ("train", "interpolation"):
            excluded = self.training_contexts() if split == "interpolation" else None
            return _region(rng, k, count, low, self._constraint(), mid, excluded)
        if split == "combinatorial":
            return rng.uniform(self.lower_constraint, mid, (k, count))
        if split == "extrapolation-single":
            which = rng.integers(k, size=count)
            above = np.arange(k)[:, None] == which[None, :]
            unit = rng.random((k, count))
            lows, highs = np.where(above, mid, low), np.where(above, high, mid)
            return lows + (highs - lows) * unit
        return rng.uniform(*self.split_range(split), (k, count))

    def split_contexts(self, split: str, count: int, rng: np.random.Generator) -> np.ndarray:
        """``count`` whole contexts ``[count, factors]`` of a split for an evaluation (the
        factors not varied at their fixed values). ``train`` with N training contexts
        goes through them in order, from the first again after the N-th."""
        self.check_split(split)
        if split == "train" and self.train_contexts:
            drawn = self.training_contexts()[:, np.arange(count) % self.train_contexts]
        else:
            drawn = self.draw(rng, count, split)
        contexts = np.array([[getattr(self, n) for n in self.factor_names]] * count, dtype=float)
        for row, name in enumerate(self.varied_factors):
            contexts[:, self.factor_names.index(name)] = drawn[row]
        return contexts

    def fixed_context(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self.factor_names}

    def normalise(self, factors: np.ndarray) -> np.ndarray:
        middle = (self.context_low + self.context_high) / 2
        half = (self.context_high - self.context_low) / 2
        return ((factors - middle) / half).astype(np.float32)


def _region(
    rng: np.random.Generator,
    k: int,
    count: int,
    low: float,
    constraint: float,
    mid: float,
    excluded: np.ndarray | None = None,
) -> np.ndarray:
    """``count`` draws ``[k, count]`` uniform on the training region: the box [low, mid)^k
    where some factor lies below ``constraint``, none equal to a column of ``excluded``.
    A column that misses is drawn again (rejection keeps the draw uniform on the region);
    when nothing misses, this is the box's one draw ``uniform(low, mid, (k, count))``."""
    draws = rng.uniform(low, mid, (k, count))
    while True:
        miss = np.zeros(count, dtype=bool)
        if constraint < mid:  # else the region is the box: nothing to reject
            miss = ~(draws < constraint).any(axis=0)
        if excluded is not None and excluded.size:
            miss |= (draws.T[:, None, :] == excluded.T[None, :, :]).all(axis=2).any(axis=1)
        if not miss.any():
            return draws
        draws[:, miss] = rng.uniform(low, mid, (k, int(miss.sum())))


@lru_cache(maxsize=64)
def _training_contexts(
    seed: int, count: int, k: int, low: float, constraint: float, mid: float
) -> np.ndarray:
    contexts = _region(np.random.default_rng(seed), k, count, low, constraint, mid)
    contexts.flags.writeable = False  # shared by every caller through the cache
    return contexts
