"""Checkpoints: RNG states in a form ``torch.load(weights_only=True)`` reads, and the
``state_dict``/``weights`` of agents made of one network and its optimiser."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def numpy_rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """A NumPy generator's state in a form torch.load(weights_only=True) accepts."""
    state = rng.bit_generator.state
    inner = state["state"]
    return {
        "bit_generator": state["bit_generator"],
        "state": str(inner["state"]),
        "inc": str(inner["inc"]),
        "has_uint32": int(state["has_uint32"]),
        "uinteger": int(state["uinteger"]),
    }


def set_numpy_rng_state(rng: np.random.Generator, saved: dict[str, Any]) -> None:
    rng.bit_generator.state = {
        "bit_generator": saved["bit_generator"],
        "state": {"state": int(saved["state"]), "inc": int(saved["inc"])},
        "has_uint32": saved["has_uint32"],
        "uinteger": saved["uinteger"],
    }


def to_cpu(state: Any) -> Any:
    """A state dict with every tensor on the CPU (checkpoints load on any machine;
    ``load_state_dict`` copies them back to where the module lives)."""
    if isinstance(state, torch.Tensor):
        return state.detach().cpu()
    if isinstance(state, dict):
        return {key: to_cpu(value) for key, value in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(to_cpu(value) for value in state)
    return state


class NetOptimizerCheckpoint:
    """``state_dict``/``load_state_dict`` for agents whose state is one ``net``, its
    ``optimizer``, the step and evaluation counters and the NumPy and torch RNGs (the
    meta-RL agents; the batched agents save each member in its lone layout themselves),
    and ``weights``/``load_weights`` for the ``net`` alone."""

    net: Any
    optimizer: Any
    steps_done: int
    evaluations: int
    rng: np.random.Generator

    def state_dict(self) -> dict[str, Any]:
        return {
            "net": to_cpu(self.net.state_dict()),
            "optimizer": to_cpu(self.optimizer.state_dict()),
            "steps_done": self.steps_done,
            "evaluations": self.evaluations,
            "rng": numpy_rng_state(self.rng),
            "torch_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.steps_done = int(state["steps_done"])
        self.evaluations = int(state.get("evaluations", 0))  # meta agents saved none before
        set_numpy_rng_state(self.rng, state["rng"])
        torch.set_rng_state(state["torch_rng"])

    def weights(self) -> dict[str, Any]:
        return {"net": to_cpu(self.net.state_dict())}

    def load_weights(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
