"""A run's checkpoint files: saved owner-only, flushed to the disk and hashed before the
atomic rename; loaded with a damaged file said in one line; old and half-written files
removed; and the one line for a write the machine refused (disk full, read-only)."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import torch

from agents.common.base import Agent
from workbench.database import OperationalError, reason
from workbench.records import file_sha256
from workbench.store import (
    CHECKPOINTS,
    RESUMABLE,
    RunRecord,
    Store,
    StoreError,
    StoreUnusable,
    write_refused,
)


def read_checkpoint(store: Store, run: RunRecord, checkpoint: str = "last") -> dict[str, Any]:
    """The state saved in the run's last checkpoint, or the networks of its best one."""
    if checkpoint not in CHECKPOINTS:
        raise StoreError(
            f"checkpoint {checkpoint!r} is not one of {', '.join(CHECKPOINTS)}",
            field="checkpoint",
        )
    column = "checkpoint_path" if checkpoint == "last" else "best_checkpoint_path"
    for _ in range(5):
        path = getattr(run, column)
        if not path:
            break
        try:
            return load_checkpoint_file(store.local_file(path))
        except FileNotFoundError:
            # A running worker replaced that checkpoint after we read its path: read again.
            run = store.get_run(run.id)
        except DamagedCheckpoint as err:
            other = "best" if checkpoint == "last" else "last"
            raise DamagedCheckpoint(
                f"run {run.id}'s {checkpoint} checkpoint {path} {err}; use its {other} "
                f"checkpoint (--checkpoint {other}, or --init-checkpoint {other})"
                + (
                    f", or `workbench runs resume {run.id}` to go back to the previous one"
                    if checkpoint == "last" and run.status in RESUMABLE
                    else ""
                )
            ) from None
    if checkpoint == "best":
        raise StoreError(
            f"run {run.id} has no best checkpoint (no evaluation yet, or it was trained "
            "before the workbench kept one); use its last checkpoint",
            field="checkpoint",
        )
    raise StoreError(f"run {run.id} has no checkpoint yet; wait for it to train or resume it")


class DamagedCheckpoint(StoreError):
    """A checkpoint file that exists but does not load (truncated, corrupt)."""


def load_checkpoint_file(path: str | Path) -> dict[str, Any]:
    """``torch.load`` of a checkpoint (tensors and plain values only). A file that is there
    but does not load raises DamagedCheckpoint("does not load (...)") with torch's first
    line; FileNotFoundError passes through."""
    try:
        return torch.load(path, weights_only=True)
    except FileNotFoundError:
        raise
    except OSError as err:
        raise DamagedCheckpoint(f"cannot be read ({err.strerror})") from None
    except Exception as err:  # noqa: BLE001 - torch raises many kinds for a broken file
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:120]
        raise DamagedCheckpoint(f"does not load ({first}); it is damaged") from None


def save_checkpoint(store: Store, run_id: int, agent: Agent, step: int) -> tuple[Path, str]:
    """Write the agent's state to a new file named by its step (atomic rename); return it
    with the SHA-256 of what reached the disk.

    The store points at the previous files until the new one is committed, so a crash in
    between leaves a consistent pair; the one before stays as the fallback until then.
    """
    return save_state(store, run_id, agent.state_dict(), step)


def save_state(store: Store, run_id: int, state: dict[str, Any], step: int) -> tuple[Path, str]:
    """``save_checkpoint`` of a state already taken (a population member's ``member_state``)."""
    path = store.home / "checkpoints" / f"run-{run_id}-step-{step}.pt"
    return path, atomic_save(state, path)


def save_best_checkpoint(store: Store, run_id: int, agent: Agent) -> Path:
    """Write the agent's networks (``weights()``, what evaluation and --init-from read) to
    the run's one best-checkpoint file, replacing the previous best atomically."""
    return save_best_weights(store, run_id, agent.weights())


def save_best_weights(store: Store, run_id: int, weights: dict[str, Any]) -> Path:
    """``save_best_checkpoint`` of networks already taken (a member's ``member_weights``)."""
    path = store.home / "checkpoints" / f"run-{run_id}-best.pt"
    atomic_save(weights, path)
    return path


def atomic_save(state: dict[str, Any], path: Path) -> str:
    """Save to ``path.partial`` (owner-only), flush it to the disk, read it back for its
    SHA-256, then rename it over ``path``; a failed save leaves no partial file."""
    partial = path.with_suffix(".partial")
    try:
        descriptor = os.open(partial, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            try:
                torch.save(state, file)
            except RuntimeError as err:
                # torch's zip writer reports a failed write as a RuntimeError, errno lost.
                if "write" not in str(err).lower():
                    raise
                full = shutil.disk_usage(partial.parent).free < 1 << 20
                raise OSError(
                    errno.ENOSPC if full else errno.EIO, str(err).splitlines()[0], str(partial)
                ) from None
            file.flush()
            os.fsync(file.fileno())
        sha256 = file_sha256(partial)
        if sha256 is None:
            raise OSError(errno.EIO, f"cannot read back {partial}")
        os.replace(partial, path)
    except BaseException as err:
        partial.unlink(missing_ok=True)
        if isinstance(err, OSError) and err.filename is None:
            err.filename = str(partial)  # name the file in the one line the user reads
        raise
    return sha256


def remove_old_checkpoints(store: Store, run_id: int, keep: set[str | None]) -> None:
    """Remove the run's step files other than the last and the previous checkpoint (files
    written just before a crash, never committed, go here too)."""
    for old in (store.home / "checkpoints").glob(f"run-{run_id}-step-*.pt"):
        if str(old) not in keep:
            old.unlink(missing_ok=True)
    store.drop_step_files(run_id, keep)


def remove_partial_files(store: Store, run_id: int) -> None:
    """Remove half-written checkpoint files a crashed or failed save of this run left."""
    for partial in (store.home / "checkpoints").glob(f"run-{run_id}-*.partial"):
        partial.unlink(missing_ok=True)


RESERVE_NAME = ".disk-reserve"
RESERVE_BYTES = 256 * 1024
"""Room kept on the store's disk so that, when the disk fills up during training, the
run's last write (its metrics and its failed status) still fits once this is removed."""


def keep_reserve(store: Store) -> None:
    """Write the reserve file if it is missing (real bytes, not a sparse file)."""
    path = store.home / RESERVE_NAME
    if path.exists():
        return
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError:
        return  # another process writes it, or the disk refuses: training says so later
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(b"\0" * RESERVE_BYTES)
    except OSError:
        path.unlink(missing_ok=True)


def cannot_write(path: Path, err: OSError, *, then: str) -> str:
    """One line for a file the machine refused: which file, why, and what to do."""
    fix = {
        errno.ENOSPC: f"free space on the disk of {path.parent}",
        errno.EDQUOT: f"free space in your disk quota for {path.parent}",
        errno.EROFS: f"{path.parent} is on a read-only disk; pass --home DIR on a writable one",
    }.get(err.errno, f"make {path.parent} writable (or pass --home DIR)")
    return f"cannot write {path} ({err.strerror or err}); {fix}, {then}"


def environment_fault(store: Store, err: BaseException, run_id: int) -> str | None:
    """One line naming the file and the fix when a run failed because the machine refused a
    write (disk full, read-only, permissions); None for any other error."""
    then = f"then: workbench runs resume {run_id}"
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, StoreUnusable):
            return f"{cause}, {then}"
        if isinstance(cause, OSError) and cause.errno in ENVIRONMENT_ERRNOS:
            name = cause.filename or store.home / "checkpoints"
            return cannot_write(Path(name), cause, then=then)
        database_error = (sqlite3.OperationalError, *OperationalError)
        if isinstance(cause, database_error) and write_refused(cause):
            return (
                f"cannot write {store.path} ({reason(cause)}); free space on its disk or make it "
                f"writable, {then}"
            )
        cause = cause.__cause__ or cause.__context__
    return None


ENVIRONMENT_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO)
