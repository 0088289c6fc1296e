"""Study storages a workbench home remembers: the URL (without its password) of each study
created in another database, so that commands naming the study need no ``--storage``.

They are kept in ``HOME/study-storages.json`` (``{"name": "url"}``), a file that belongs
to studies: the run store knows nothing of them. Studies in the home's own database need
no entry; Optuna lists them.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

FILE_NAME = "study-storages.json"


def remembered_path(home: Path) -> Path:
    return Path(home) / FILE_NAME


def remembered(home: Path) -> dict[str, str]:
    """Name -> URL of every remembered study, sorted by name ({} when there is none)."""
    try:
        text = remembered_path(home).read_text()
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {}  # a file cut short by a crash: nothing to trust, rewritten on next change
    return {str(k): str(v) for k, v in sorted(data.items())} if isinstance(data, dict) else {}


def remember(home: Path, name: str, url: str) -> None:
    remember_all(home, {name: url})


def remember_all(home: Path, urls: Mapping[str, str], *, replace: bool = True) -> None:
    """Add (or with ``replace``, overwrite) several entries in one write; ``replace=False``
    keeps entries already there (a migration must not undo a newer choice)."""
    with _locked(home):
        known = remembered(home)
        for name, url in urls.items():
            if replace or name not in known:
                known[name] = url
        _write(home, known)


def forget(home: Path, name: str) -> None:
    with _locked(home):
        known = remembered(home)
        if known.pop(name, None) is not None:
            _write(home, known)


def _write(home: Path, urls: dict[str, str]) -> None:
    """Atomically: a reader sees the old file or the new one, never half of it."""
    path = remembered_path(home)
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{FILE_NAME}.")
    with os.fdopen(handle, "w") as file:
        json.dump(dict(sorted(urls.items())), file, indent=2)
        file.write("\n")
    os.replace(partial, path)


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    """Serialise read-modify-write between processes (POSIX advisory lock; elsewhere the
    atomic replace alone, where two simultaneous changes may lose one)."""
    Path(home).mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(Path(home) / f".{FILE_NAME}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
