"""What the fault tests share: a short DQN run that checkpoints often, a read-only or
small disk (mounted where the machine lets a test mount, as CI's root does), and waits."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

SMALL_DQN = [
    "--set",
    "buffer_size=2000",
    "--set",
    "learning_starts=200",
    "--set",
    "train_frequency=50",
    "--set",
    "gradient_steps=4",
    "--set",
    "batch_size=32",
    "--set",
    "hidden_size=16",
    "--set",
    "eval_interval=500",
    "--set",
    "eval_episodes=2",
]
"""A DQN that trains a few thousand CartPole steps in seconds, with small checkpoints."""


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[bool]:
    """A tmpfs of ``size`` at ``path``; yields False (nothing mounted) where not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = _mount("-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path))
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[bool]:
    """``path`` seen read-only through a bind mount (root ignores file modes, so chmod
    proves nothing as root); yields False where mounting is not allowed."""
    mounted = _mount("--bind", str(path), str(path))
    if mounted and not _mount("-o", "remount,bind,ro", str(path)):
        subprocess.run(["umount", str(path)], capture_output=True)
        mounted = False
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def one_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]
