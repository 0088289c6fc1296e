"""A disk that fills up during training: one line naming the file and the fix (exit 1),
the run failed with an intact checkpoint and no half-written file, listings still work,
and once space is freed a resume completes the run.

Runs on a real 4 MB tmpfs where the machine allows mounting one (CI runs as root), else
on a simulated OSError(ENOSPC) from the checkpoint writer."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
import torch

from tests.conftest import Cli, run_row, wait_for
from tests.faults.helpers import SMALL_DQN, one_line, tmpfs
from workbench import checkpoints, records
from workbench.store import Store

pytestmark = pytest.mark.usefixtures("frequent_checkpoints")

TOTAL = 3000


def fill(directory: Path) -> Path:
    """Write a file until the disk refuses another byte."""
    filler = directory / "filler"
    block = b"\xff" * 65536
    with open(filler, "wb", buffering=0) as file:
        while True:
            try:
                file.write(block)
            except OSError as err:
                assert err.errno == errno.ENOSPC
                break
        while True:  # the last partial block
            try:
                file.write(b"\xff" * 512)
            except OSError:
                break
    return filler


def test_a_full_disk_fails_the_run_in_one_line_and_resume_completes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "small-disk"
    with tmpfs(home, "4m") as mounted:
        full: list[Path] = []
        real_torch_save = torch.save

        def simulated_save(*args, **kwargs):
            if full:
                raise OSError(errno.ENOSPC, "No space left on device", str(full[0]))
            return real_torch_save(*args, **kwargs)

        if not mounted:
            monkeypatch.setattr(torch, "save", simulated_save)
        real_save_checkpoint = checkpoints.save_checkpoint
        saves: list[int] = []

        def save_checkpoint(store, run_id, agent, step):
            saves.append(step)
            if len(saves) == 2:  # the disk fills up before the second checkpoint
                full.append(fill(home) if mounted else home / "checkpoints")
            return real_save_checkpoint(store, run_id, agent, step)

        monkeypatch.setattr(checkpoints, "save_checkpoint", save_checkpoint)
        cli = Cli(home)

        result = cli("run", "dqn", "cartpole", "--steps", str(TOTAL), *SMALL_DQN, "--json")

        assert result.exit_code == 1, result.output
        line = one_line(result.output)
        assert "Traceback" not in result.output
        assert str(home) in line and "free space" in line and "runs resume 1" in line
        assert len(saves) == 2
        listing = cli("runs", "ls", "--json")  # while the disk is still full
        assert listing.exit_code == 0, listing.output
        (listed,) = json.loads(listing.stdout)
        assert listed["status"] == "failed" and listed["checkpoint_step"] == saves[0]
        run = run_row(home, 1)
        assert records.file_sha256(run.checkpoint_path) == run.checkpoint_sha256  # still loads
        assert not list((home / "checkpoints").glob("*.partial"))

        if mounted:
            full[0].unlink()
        else:
            full.clear()
        resumed = cli("runs", "resume", "1")
        assert resumed.exit_code == 0, resumed.output
        done = wait_for(
            lambda: (r := run_row(home, 1)).status not in ("queued", "running") and r, 120
        )
        assert done.status == "completed", done.error
        store = Store(home)
        steps = [step for _, step, _ in store.metrics(1, "eval/episode_return")]
        store.close()
        assert steps == list(range(500, TOTAL + 1, 500))
