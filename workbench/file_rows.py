"""Files of a run that every machine must read (its checkpoints, its best networks, the
weights it started from), kept in the store when the store is shared (PostgreSQL): the
home that wrote a file keeps it on disk as before, and the store keeps a copy in its
``files`` table (name, run, SHA-256, bytes, schema 11), written in the transaction that
makes the file the run's checkpoint. Another machine reading the run fetches the copy
into its own home under the same name, checked against the hash. Mixed into ``Store``;
an embedded SQLite store's files are on its own disk, and this does nothing there.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from pathlib import Path

from workbench.database import Database


class FileRows:
    """Copies of a run's files in a shared store."""

    sql: Database
    home: Path
    transaction: Callable[[], AbstractContextManager[None]]

    @property
    def shared(self) -> bool:
        """Whether machines other than this one read the store (its files too)."""
        return self.sql.dialect == "postgresql"

    def put_file(self, run_id: int, path: str | Path) -> None:
        """Keep a copy of ``path`` (a file of this home) for the other machines; inside
        the caller's transaction when there is one."""
        if not self.shared:
            return
        data = Path(path).read_bytes()
        self.sql.execute(
            "INSERT INTO files (name, run_id, sha256, data) VALUES (:name, :run, :sha, :data) "
            "ON CONFLICT (name) DO UPDATE SET run_id = :run, sha256 = :sha, data = :data",
            {
                "name": Path(path).name,
                "run": run_id,
                "sha": hashlib.sha256(data).hexdigest(),
                "data": data,
            },
        )

    def local_file(self, path: str | Path) -> Path:
        """Where this machine reads a run's file: ``path`` itself when it is here, else
        the store's copy fetched into this home's checkpoints under the same name (its
        hash checked); ``path`` (missing) when neither exists."""
        path = Path(path)
        if path.exists() or not self.shared:
            return path
        row = self.sql.execute(
            "SELECT sha256, data FROM files WHERE name = :name", {"name": path.name}
        ).fetchone()
        if row is None:
            return path
        sha256, data = row[0], bytes(row[1])
        if hashlib.sha256(data).hexdigest() != sha256:
            return path  # a damaged copy is as good as none: the reader says the file is missing
        local = self.home / "checkpoints" / path.name
        partial = local.with_suffix(".fetching")
        descriptor = os.open(partial, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
        partial.replace(local)
        return local

    def drop_files(self, run_id: int) -> None:
        """Remove the store's copies of all of a run's files (the run is deleted)."""
        if self.shared:
            self.sql.execute("DELETE FROM files WHERE run_id = :run", {"run": run_id})

    def drop_step_files(self, run_id: int, keep: Iterable[str | None]) -> None:
        """Remove the store's copies of a run's checkpoint step files but ``keep``'s (its
        last and previous checkpoints), as ``checkpoints.remove_old_checkpoints`` does on
        disk; the best networks and the starting weights stay."""
        if not self.shared:
            return
        names = [Path(name).name for name in keep if name] or [""]
        self.sql.execute(
            "DELETE FROM files WHERE run_id = :run AND name LIKE :steps AND name NOT IN :keep",
            {"run": run_id, "steps": f"run-{run_id}-step-%", "keep": names},
        )
