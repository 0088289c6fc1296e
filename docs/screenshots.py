"""Screenshots for the README (SVG, Textual's own export) of the runs screen, a run view
and a study group's comparison, from a real workbench home:

    .venv/bin/python docs/screenshots.py --home /path/to/home --run 3 --group cartpole-a2c
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from workbench.store import Store
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.group_view import GroupView
from workbench.tui.screens.run_view import RunView

OUT = Path(__file__).parent / "screenshots"


async def shoot(home: Path, run_id: int, group: str, size: tuple[int, int]) -> None:
    app = WorkbenchApp(Store(home), refresh_seconds=3600)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(2.0)
        app.save_screenshot("runs.svg", str(OUT))
        app.push_screen(RunView(run_id))
        await pilot.pause(2.0)
        app.save_screenshot("run-view.svg", str(OUT))
        app.pop_screen()
        app.push_screen(GroupView(group, lifetimes=10))
        await pilot.pause(4.0)
        app.save_screenshot("study-compare.svg", str(OUT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--run", type=int, required=True)
    parser.add_argument("--group", required=True)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    asyncio.run(shoot(args.home, args.run, args.group, (120, 34)))


if __name__ == "__main__":
    main()
