"""The TUI in a real terminal, as a new user meets it: `make run` in tmux, launch a DQN
CartPole run from the dialog, watch its curve, quit, reopen: the run is still there and
still progressing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SESSION = f"workbench-test-{os.getpid()}"


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def screen() -> str:
    return tmux("capture-pane", "-t", SESSION, "-p")


def wait_for_screen(pattern: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = screen()
        if re.search(pattern, text):
            return text
        time.sleep(0.3)
    raise AssertionError(f"{pattern!r} never appeared; the screen was:\n{screen()}")


def progress(text: str) -> float:
    match = re.search(r"completed|running\s+([\d.]+)%", text)
    assert match, text
    return 100.0 if match.group(1) is None else float(match.group(1))


def tui_processes(home: Path) -> list[int]:
    """Pids of TUIs (not workers) started with WORKBENCH_HOME=home."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            command = (proc / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if f"WORKBENCH_HOME={home}".encode() in environ and command[-2:-1] == [
            b".venv/bin/workbench"
        ]:
            found.append(int(proc.name))
    return found


def start(home: Path) -> None:
    tmux(
        "new-session",
        "-d",
        "-s",
        SESSION,
        "-x",
        "140",
        "-y",
        "40",
        f"cd {REPO} && WORKBENCH_HOME={home} make run",
    )


@pytest.mark.slow
def test_make_run_launch_watch_quit_reopen(tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("tmux is not installed (.ci/run installs it)")
        pytest.skip("tmux is not installed; apt-get install tmux")
    home = tmp_path / "home"
    start(home)
    try:
        wait_for_screen("No runs yet")
        tmux("send-keys", "-t", SESSION, "n")
        wait_for_screen("Launch runs")
        tmux("send-keys", "-t", SESSION, "C-s")  # the defaults: dqn on cartpole, 50,000 steps
        wait_for_screen(r"launched run\(s\) 1")
        first = progress(wait_for_screen(r"running\s+[1-9][\d.]*%", 90))
        tmux("send-keys", "-t", SESSION, "Enter")
        curve = wait_for_screen(r"charts/episode_return", 30)
        assert "run 1 dqn-cartpole-1" in curve
        wait_for_screen(r"\d+\.\d┤", 30)  # the y axis has numbers: the curve has points
        tmux("send-keys", "-t", SESSION, "Escape")
        wait_for_screen(r"New run")
        tmux("send-keys", "-t", SESSION, "q")
        deadline = time.monotonic() + 10
        while tui_processes(home) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not tui_processes(home), "q did not quit the TUI"
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)  # if any
        start(home)  # reopen: the run kept training without the UI
        text = wait_for_screen(r"dqn\s+cartpole")
        assert progress(text) > first
        # Closing the terminal ends the TUI too (it used to spin on the dead terminal).
        tmux("kill-session", "-t", SESSION)
        deadline = time.monotonic() + 10
        while tui_processes(home) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not tui_processes(home), "the TUI outlived its terminal"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
        subprocess.run(
            [str(REPO / ".venv/bin/workbench"), "--home", str(home), "runs", "stop", "1"],
            capture_output=True,
        )
