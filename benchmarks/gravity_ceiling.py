"""Issue 15, done-when 2: is gravity's R² limited by the encoder or by its objective?

On cartpole's training distribution (gravity and pole length varied), plays 8 uniformly
random actions from the reset at each of N contexts and trains the context encoder's
shape (agents/common/context_modes.py: an MLP of each transition (s, a, r, s' - s), two
layers of ``--hidden`` units, ``--size`` outputs, a mean over the window) in two ways:

- supervised: a linear head on the mean predicts the normalised factors (the ceiling of
  what this encoder shape can make linearly readable);
- dynamics: the predictive mode's loss, a decoder of the last transition's s' - s (in
  units of each coordinate's root mean square change) from (s, a, z), z the mean over the
  7 transitions before it.

Then fits the linear probe of the report (least squares with an intercept) from the mean
to the true factors on the training windows and prints R² on held-out contexts.

    python benchmarks/gravity_ceiling.py [--updates 5000] [--contexts 20000] [--seed 1]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from torch import nn

from envs.registry import get_task

FACTORS = ("gravity", "length")


def windows(contexts: int, seed: int, steps: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Random-action windows ``[n, steps, 11]`` and their factors ``[n, 2]`` (the windows
    whose episode ran all ``steps``)."""
    family = get_task("cartpole")
    params = family.Params(resample=True, varied=",".join(FACTORS))
    rng = np.random.default_rng(seed)
    rows = params.split_contexts("train", contexts, rng)
    env = family.make_context_envs(params, rows)
    obs, _ = env.reset(seed=seed)
    alive, transitions = np.ones(contexts, dtype=bool), []
    for _ in range(steps):
        actions = rng.integers(2, size=contexts)
        after, rewards, terminated, truncated, _ = env.step(actions)
        one_hot = np.eye(2)[actions]
        transitions.append(np.concatenate([obs, one_hot, rewards[:, None], after - obs], 1))
        alive &= ~(terminated | truncated)
        obs = after
    env.close()
    x = np.stack(transitions, 1)[alive].astype(np.float32)
    varied = [params.factor_names.index(name) for name in FACTORS]
    return torch.from_numpy(x), torch.tensor(rows[alive][:, varied], dtype=torch.float32)


def mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
        nn.Linear(hidden, outputs),
    )  # fmt: skip


def r2(train_z, train_y, test_z, test_y) -> np.ndarray:
    """R² per factor of the least-squares probe fitted on train, scored on test."""
    with_one = lambda z: np.concatenate([z, np.ones((len(z), 1))], 1)  # noqa: E731
    weights, *_ = np.linalg.lstsq(with_one(train_z), train_y, rcond=None)
    error = ((with_one(test_z) @ weights - test_y) ** 2).sum(0)
    return 1 - error / ((test_y - test_y.mean(0)) ** 2).sum(0)


def train(kind: str, x, y, updates: int, hidden: int, size: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    flat = x.reshape(-1, x.shape[-1])
    mean, std = flat.mean(0), flat.std(0) + 1e-6
    encoder = mlp(x.shape[-1], hidden, size)
    head = nn.Linear(size, 2) if kind == "supervised" else mlp(4 + 2 + size, hidden, 4)
    optimizer = torch.optim.Adam([*encoder.parameters(), *head.parameters()], 1e-3)
    unit = x[:, -1, 7:].square().mean(0).sqrt()
    target_y = (y - y.mean(0)) / y.std(0)
    embed = lambda w: encoder((w - mean) / std).mean(1)  # noqa: E731
    for _ in range(updates):
        batch = torch.randint(0, len(x), (256,))
        if kind == "supervised":
            loss = (head(embed(x[batch])) - target_y[batch]).square().mean()
        else:
            last = x[batch, -1]
            prediction = head(torch.cat([last[:, :6], embed(x[batch, :-1])], 1))
            loss = ((prediction - last[:, 7:]) / unit).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    encoder.embed = embed
    return encoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--contexts", type=int, default=20000)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    x, y = windows(args.contexts, args.seed)
    test_x, test_y = windows(args.contexts // 10, args.seed + 1)
    for kind in ("supervised", "dynamics"):
        encoder = train(kind, x, y, args.updates, args.hidden, args.size, args.seed)
        window = slice(None) if kind == "supervised" else slice(0, -1)  # what z reads
        with torch.no_grad():
            z, test_z = encoder.embed(x[:, window]), encoder.embed(test_x[:, window])
        scores = r2(z.double().numpy(), y.double().numpy(), test_z.double().numpy(),
                    test_y.double().numpy())  # fmt: skip
        print(f"{kind:10s} {args.updates:6d} updates: R² gravity {scores[0]:.2f}, "
              f"length {scores[1]:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
