"""A run row as the rest of the workbench sees it, and the facts about a run's process
that any reader may check (no database access here)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

STALLED_AFTER = 10.0
"""Seconds without a heartbeat after which a running run whose process still exists shows
as stalled (the store's STALE_AFTER, after which one whose process is gone is lost)."""


def default_home() -> Path:
    env = os.environ.get("WORKBENCH_HOME")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("meta-rl-workbench", appauthor=False))


@dataclass
class RunRecord:
    """One row of the runs table, with its JSON columns decoded."""

    id: int
    name: str
    agent: str
    task: str
    config: dict[str, Any]
    task_params: dict[str, Any]
    seed: int
    total_steps: int
    steps_done: int
    status: str
    pid: int | None
    host: str | None
    heartbeat: float | None
    created_at: float
    started_at: float | None
    ended_at: float | None
    error: str | None
    checkpoint_path: str | None
    checkpoint_step: int
    stop_requested: bool
    study: str | None
    trial: int | None
    summary: dict[str, Any] = field(default_factory=dict)
    init_from: int | None = None
    """The run whose weights this one started from (``workbench run --init-from``)."""
    init_path: str | None = None
    """Those weights, copied when this run was created."""
    best_checkpoint_path: str | None = None
    """The checkpoint taken at the run's best evaluation so far (schema 4)."""
    best_checkpoint_step: int | None = None
    init_checkpoint: str | None = None
    """Which checkpoint of ``init_from`` the networks came from: last or best (schema 4;
    None for runs created before it, which took the last)."""
    checkpoint_sha256: str | None = None
    """SHA-256 of the last checkpoint's file as written (schema 6; None before)."""
    previous_checkpoint_path: str | None = None
    """The checkpoint before the last, kept until a newer one is verified (schema 6)."""
    previous_checkpoint_step: int | None = None
    previous_checkpoint_sha256: str | None = None
    population: int | None = None
    """The first member's run id, shared by all members of a population (schema 7); None
    for a lone run."""
    device: str | None = None
    """Where the run trains: auto, cpu or cuda (schema 7; None before it, which is cpu)."""
    tags: list[str] = field(default_factory=list)
    """Labels a user gave the run (schema 8), sorted, each once; `runs ls --tag T` filters."""
    note: str | None = None
    """Free text a user wrote about the run (schema 8)."""
    agent_sha256: str | None = None
    """SHA-256 of a plug-in agent's source file at creation (schema 9; None for a built-in
    agent): a resume refuses when the file has changed since."""
    queue: str | None = None
    """``any``: queued for any ``workbench worker`` (``run --queue``, or retried after it
    was lost); None: trained by the process that created or resumed it (schema 10)."""
    lease_until: float | None = None
    """While a worker holds it: the Unix time its claim runs out unless renewed (schema
    10); past it, the run is lost as seen from any machine."""
    retries: int | None = None
    """Automatic retries left when the run is lost (``--retries``; schema 10)."""
    notice: str | None = field(default=None, compare=False)
    """Not a column: set by a resume that could not use the last checkpoint, saying which
    one it resumes from instead (one line for the user)."""

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RunRecord:
        values = dict(row)
        for key in ("config", "task_params", "summary"):
            values[key] = json.loads(values[key] or "{}")
        values["tags"] = json.loads(values.get("tags") or "[]")
        values["stop_requested"] = bool(values["stop_requested"])
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        values = dict(self.__dict__)
        values.pop("notice")
        return values

    def stalled_for(self, now: float | None = None) -> float | None:
        """Seconds since the heartbeat of a ``running`` run silent for over STALLED_AFTER
        seconds, else None.

        Derived, never stored: a reader turns a silent run whose process is gone into
        ``lost`` first, so a silent run still ``running`` has a process that does not
        beat (frozen by SIGSTOP, swapped out, a debugger) or runs on another machine.
        Once its process ends it is lost like any other, and resumes.
        """
        if self.status != "running" or self.heartbeat is None:
            return None
        if self.pid and self.host == socket.gethostname() and not pid_alive(self.pid):
            return None  # gone, not stalled: lost as soon as a reader can write the row
        silence = (time.time() if now is None else now) - self.heartbeat
        return silence if silence > STALLED_AFTER else None

    def shown_status(self, now: float | None = None) -> str:
        """The status as listings show it: ``stalled 67 s`` for a stalled run."""
        stalled = self.stalled_for(now)
        return self.status if stalled is None else f"stalled {stalled:.0f} s"


def agent_label(agent: str) -> str:
    """An agent as names and listings show it: a plug-in's class name (its spec, a path
    included, is the run's ``agent``), a built-in's name as it is."""
    return agent.rsplit(":", 1)[-1] if ":" in agent else agent


def file_sha256(path: Path | str) -> str | None:
    """SHA-256 of a file's bytes, or None when it cannot be read (missing, unreadable)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def checkpoint_intact(path: str | None, sha256: str | None) -> bool:
    """Whether a checkpoint file is as written: its hash matches. One recorded without a
    hash (before schema 6) is taken as it is; the worker that loads it says if it fails."""
    if not path:
        return False
    return sha256 is None or file_sha256(path) == sha256


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs (macOS): the kill probe is all we have
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
