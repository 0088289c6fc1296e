"""The discount tables of "Online Learning With Meta-Gradients in RL" (issue 14), made by
the workbench itself: for DQN on scavenger's balanced task and GPE+GPI (``sf-gpi``) on
its linear task w = (1, -1), a grid, a random and a Bayesian (TPE) search of the discount
over ``discount=0.7:0.999``, and the meta-gradient agent that learns it online; then
``workbench study compare`` re-trains each method's choice on fresh lifetimes and the
table goes into docs/results.md (between ``<!-- discount-tables:start/end -->``), beside
the seed project's numbers, with each group's figures in docs/figures/.

Every step is a ``workbench`` command (printed as it runs), on one workbench home, so an
interrupted script picks up where it stopped: a study that exists is resumed, not made
again, and ``study compare`` trains only the fresh lifetimes it lacks.

    python benchmarks/discount_tables.py --home STUDIES            # 100 lifetimes each
    python benchmarks/discount_tables.py --home STUDIES --scale small --no-write
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.readme_section import write_section  # noqa: E402

RESULTS = ROOT / "docs" / "results.md"
FIGURES = ROOT / "docs" / "figures"
SPACE = "discount=0.7:0.999"
METHODS = ("grid", "random", "bayes")
METHOD_NAMES = {"grid": "grid", "random": "random", "bayes": "Bayesian"}


@dataclass(frozen=True)
class Table:
    """One agent's comparison: its search agent and settings, its meta-gradient agent."""

    group: str
    title: str
    agent: str
    meta_agent: str | None
    """The agent that learns the discount online (None: none exists yet)."""
    task: dict[str, str]
    settings: dict[str, str]
    meta_settings: dict[str, str]
    steps: int
    why_steps: str
    seed_rows: dict[str, tuple[float, float]] = field(default_factory=dict)
    """The seed project's (discount, return) per method."""


DQN_SETTINGS = {
    # option_keyboard's DQN (run_dqn.py): epsilon 0.1, no replay beyond the last
    # transitions (here the last 80, 10 per update), no target network (refreshed every
    # step), 1-step targets, Adam 3e-4, squared error; plus 8 envs per lifetime.
    "num_envs": "8",
    "n_step": "1",
    "initial_epsilon": "0.1",
    "final_epsilon": "0.1",
    "buffer_size": "80",
    "batch_size": "10",
    "learning_starts": "80",
    "train_frequency": "10",
    "gradient_steps": "1",
    "target_update_interval": "1",
    "double_dqn": "false",
    "huber_loss": "false",
    "settle_from": "100000000",
    "max_grad_norm": "1000",
    "hidden_size": "128",
    "learning_rate": "3e-4",
    "eval_interval": "100000",
}

TABLES = (
    Table(
        group="scavenger-dqn",
        title="DQN on scavenger's balanced task",
        agent="dqn",
        meta_agent="meta-dqn",
        task={"reward": "balanced"},
        settings=DQN_SETTINGS,
        meta_settings={"discount": "0.9"},
        steps=1_000_000,
        why_steps="DQN reaches 6.6-8.4 on the balanced task at 1M steps and 5.1-7.1 at "
        "650k (docs/results.md)",
        seed_rows={"grid": (0.852, 6.8885), "random": (0.912, 6.9245), "bayes": (0.885, 7.0609)},
    ),
    Table(
        group="scavenger-sf-gpi",
        title="GPE+GPI on scavenger, w = (1, -1)",
        agent="sf-gpi",
        meta_agent="sf-gpi",
        task={"reward": "linear", "weights": "1,-1"},
        settings={},
        meta_settings={"discount": "0.8", "learn_discount": "true", "meta_interval": "4"},
        steps=310_000,
        why_steps="sf-gpi's default 300k steps of pre-training on the base tasks, which "
        "reach 3.7 on w = (1, -1), then 10k steps on the target task",
        seed_rows={"grid": (0.772, 3.711), "random": (0.997, 3.876), "bayes": (0.864, 3.923)},
    ),
)

SCALES = {
    # trials per search, meta-gradient lifetimes, fresh lifetimes per method, population
    "full": (100, 10, 20, 10),
    "small": (10, 1, 5, 5),
    "session": (4, 1, 2, 4),
}
"""``session`` is what fits beside other work in an afternoon on two cores: it shows the
pipeline and rough numbers, not the searches' quality."""


def workbench(home: Path, *args: str, capture: bool = False) -> str:
    command = [sys.executable, "-m", "workbench", "--home", str(home), *args]
    print("$ workbench " + " ".join(shlex.quote(a) for a in args), flush=True)
    done = subprocess.run(command, check=True, text=True, capture_output=capture)
    return done.stdout if capture else ""


def exists(home: Path, study: str) -> bool:
    command = [sys.executable, "-m", "workbench", "--home", str(home), "study", "show", study]
    return subprocess.run(command, capture_output=True).returncode == 0


def flags(name: str, values: dict[str, str]) -> list[str]:
    return [part for key, value in values.items() for part in (name, f"{key}={value}")]


def run_study(home: Path, table: Table, study: str, create: list[str], population: int) -> None:
    """Create and run ``study`` (resume it when it exists), ``population`` lifetimes at a
    time (a member computes what a lone lifetime does, so this sets only the speed)."""
    if exists(home, study):
        workbench(home, "study", "resume", study, "--population", str(population))
        return
    workbench(home, "study", "create", study, *create)
    workbench(home, "study", "run", study, "--population", str(population))


def run_table(home: Path, table: Table, scale: str, population: int | None) -> list[dict]:
    trials, meta_lifetimes, fresh, scale_population = SCALES[scale]
    population = population or scale_population
    common = ["--task", "scavenger", "--steps", str(table.steps), "--group", table.group]
    common += flags("--task-set", table.task)
    for method in METHODS:
        create = ["--agent", table.agent, "--method", method, "--trials", str(trials)]
        create += ["--param", SPACE, *common, *flags("--set", table.settings)]
        run_study(home, table, f"{table.group}-{method}", create, population)
    if table.meta_agent is not None:
        create = ["--agent", table.meta_agent, "--method", "meta-gradient"]
        create += ["--trials", str(meta_lifetimes), *common]
        create += flags("--set", table.settings | table.meta_settings)
        run_study(home, table, f"{table.group}-meta", create, population)
    FIGURES.mkdir(parents=True, exist_ok=True)
    figure = FIGURES / f"{table.group}.svg"
    out = workbench(
        home,
        "study",
        "compare",
        table.group,
        "--lifetimes",
        str(fresh),
        "--population",
        str(min(fresh, population)),
        "--plot",
        str(figure),
        "--json",
        capture=True,
    )
    return json.loads(out)


def markdown(table: Table, rows: list[dict], scale: str) -> str:
    lines = [
        f"### {table.title}",
        "",
        "| method | agent | discount | undiscounted return (95% CI) | lifetimes | env steps "
        "| wall time | seed: discount | seed: return |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        method = row["method"]
        seed = table.seed_rows.get(method)
        discount = "-" if row["discount"] is None else f"{row['discount']:.3f}"
        if method == "meta-gradient" and row["discount"] is not None:
            discount += " (learned)"
        ret = "-"
        if row["return_mean"] is not None:
            ret = f"{row['return_mean']:.2f} ± {row['return_ci95'] or 0:.2f}"
        lines.append(
            f"| {METHOD_NAMES.get(method, method)} | {row['agent']} | {discount} | {ret} "
            f"| {row['lifetimes']} | {row['env_steps']:,} | {row['wall_s']:.0f} s "
            f"| {seed[0] if seed else '-'} | {seed[1] if seed else '-'} |"
        )
    fresh = rows[0]["fresh_lifetimes"] if rows else 0
    if table.meta_agent is None:
        lines += ["", f"No meta-gradient row: no agent learns {table.agent}'s discount yet."]
    lines += [
        "",
        f"One lifetime is {table.steps:,} env steps for every method ({table.why_steps}); "
        f"returns are the mean over {fresh} fresh lifetimes of each method's choice "
        f"(scale `{scale}`). Figures: `docs/figures/{table.group}.svg`.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="workbench home for the studies")
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--only", choices=[t.group for t in TABLES], help="one table")
    parser.add_argument("--no-write", action="store_true", help="print, leave results.md")
    parser.add_argument(
        "--population",
        type=int,
        help="lifetimes trained together (default: the scale's); the numbers do not depend on it",
    )
    args = parser.parse_args()
    sections = []
    started = time.perf_counter()
    for table in TABLES:
        if args.only and table.group != args.only:
            continue
        rows = run_table(args.home, table, args.scale, args.population)
        sections.append(markdown(table, rows, args.scale))
        print(sections[-1], flush=True)
    body = "\n\n".join(sections)
    body += f"\n\n(Made by `python benchmarks/discount_tables.py --scale {args.scale}` in "
    body += f"{(time.perf_counter() - started) / 3600:.1f} h on this machine.)"
    if not args.no_write:
        write_section(f"discount-tables-{args.scale}", body, RESULTS)


if __name__ == "__main__":
    main()
