"""`workbench plot`: the figure's series (per run, or per group as a mean with a band),
TensorBoard's smoothing, the wall-time axis, PNG/SVG/PDF files of the expected size, and
bad input as one line."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest

from workbench.service import plots
from workbench.smoothing import ema
from workbench.store import Store

KEY = "eval/episode_return"


def runs_with_curves(store: Store) -> list[int]:
    """Four runs: two configs (discount 0.9, 0.99) x two seeds, at steps 100..500 and one
    report per 30 s of wall time."""
    ids = []
    for discount in (0.9, 0.99):
        for seed in (0, 1):
            run_id = store.create_run(
                agent="dqn",
                task="cartpole",
                config={"discount": discount},
                task_params={},
                seed=seed,
                total_steps=500,
                name=f"$gamma$ {discount} s{seed}",
            )
            store.claim(run_id, pid=1)
            rows = [
                (KEY, 100 * k, 10.0 * k * discount + seed, 1_700_000_000 + 30.0 * k)
                for k in range(1, 6)
            ]
            store.write_metrics(run_id, [*rows, ("other", 100, 1.0, 1.7e9)], 500)
            store.finish(run_id, "completed")
            ids.append(run_id)
    return ids


def test_one_line_per_run_smoothed_as_tensorboard_does(store: Store) -> None:
    ids = runs_with_curves(store)
    plot = plots.run_plot(store, ids, KEY, smooth=0.6)
    assert [s.label for s in plot.series] == [
        "$gamma$ 0.9 s0",
        "$gamma$ 0.9 s1",
        "$gamma$ 0.99 s0",
        "$gamma$ 0.99 s1",
    ]
    raw = [10.0 * k * 0.9 for k in range(1, 6)]
    assert plot.series[0].x == [100, 200, 300, 400, 500]
    assert plot.series[0].y == pytest.approx(ema(raw, 0.6))
    assert plot.series[0].y[0] == pytest.approx(raw[0])  # debiased: not dragged to 0


def test_group_by_config_is_the_mean_of_the_seeds_with_a_band(store: Store) -> None:
    ids = runs_with_curves(store)
    plot = plots.run_plot(store, ids, KEY, group_by="config")
    assert [s.label for s in plot.series] == ["discount=0.9 (n=2)", "discount=0.99 (n=2)"]
    first = plot.series[0]
    at_300 = int(np.argmin(np.abs(np.asarray(first.x) - 300)))
    assert first.x[at_300] == pytest.approx(300, abs=2)
    mean = 10 * first.x[at_300] / 100 * 0.9 + 0.5  # seeds 0 and 1 add 0 and 1
    assert first.y[at_300] == pytest.approx(mean)
    # one standard error of two values 1 apart: 0.5 / sqrt(2) * sqrt(2) = 0.5
    assert first.high[at_300] - first.y[at_300] == pytest.approx(0.5)
    seeds = plots.run_plot(store, ids, KEY, group_by="seed")
    assert [s.label for s in seeds.series] == ["seed 0 (n=2)", "seed 1 (n=2)"]


def test_wall_time_axis_is_time_since_the_run_began(store: Store) -> None:
    ids = runs_with_curves(store)
    plot = plots.run_plot(store, ids[:1], KEY, x="wall")
    assert plot.x_label == "wall time (minutes)"
    # from its first logged metric ("other" at 1.7e9), 30 s before the first evaluation
    assert plot.series[0].x == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.5])


@pytest.mark.parametrize("kind", ["png", "svg", "pdf"])
def test_the_figure_file_opens_with_its_size_and_series(store, tmp_path, kind) -> None:
    ids = runs_with_curves(store)
    plot = plots.run_plot(store, ids, KEY, smooth=0.9, group_by="config")
    figure = plots.draw_plot(plot)
    axes = figure.axes[0]
    assert len(axes.lines) == 2 and len(axes.collections) == 2  # lines and bands
    assert [t.get_text() for t in axes.get_legend().get_texts()] == [
        "discount=0.9 (n=2)",
        "discount=0.99 (n=2)",
    ]
    assert axes.get_xlabel() == "env steps" and KEY in axes.get_ylabel()
    width, height = plots.FIGURE_SIZE
    path = tmp_path / f"fig.{kind}"
    plots.write_plot(plot, path)
    if kind == "png":
        import matplotlib.image

        pixels = matplotlib.image.imread(path)
        assert pixels.shape[:2] == (round(height * plots.DPI), round(width * plots.DPI))
    elif kind == "svg":
        root = ElementTree.parse(path).getroot()
        assert (
            root.get("width") == f"{width * 72:g}pt" and root.get("height") == f"{height * 72:g}pt"
        )
        text = path.read_text()
        assert "discount=0.99 (n=2)" in text  # text kept as text
    else:
        data = path.read_bytes()
        assert data.startswith(b"%PDF")
        box = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
        assert box and (float(box[1]), float(box[2])) == (width * 72, height * 72)


def test_a_users_dollar_signs_are_shown_not_typeset(store: Store) -> None:
    ids = runs_with_curves(store)
    figure = plots.draw_plot(plots.run_plot(store, ids[:1], KEY))
    (text,) = figure.axes[0].get_legend().get_texts()
    assert text.get_text() == r"\$gamma\$ 0.9 s0"  # escaped: matplotlib prints it as typed


def test_plot_from_the_cli_writes_the_file(cli, store: Store, tmp_path: Path) -> None:
    ids = runs_with_curves(store)
    out = tmp_path / "fig.svg"
    args = ["plot", *map(str, ids), "--metric", KEY, "--smooth", "0.9", "--group-by", "seed"]
    result = cli(*args, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"wrote {out}: {KEY} of 4 run(s), 2 line(s)" in result.stdout
    assert out.stat().st_size > 0


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--metric", "eval/episode_retrun"], "none of these runs logged 'eval/episode_retrun'"),
        (["--metric", "zzz"], "they have eval/episode_return, other"),
        (["--metric", KEY, "--group-by", "colour"], "--group-by must be seed or config"),
        (["--metric", KEY, "--x", "time"], "--x must be step or wall"),
        (["--metric", KEY, "--smooth", "1"], "--smooth must be 0 to 0.999"),
    ],
)
def test_bad_plot_input_gets_one_line_and_exit_2(cli, store, tmp_path, args, said) -> None:
    runs_with_curves(store)
    result = cli("plot", "1", "2", *args, "--out", str(tmp_path / "fig.png"))
    assert result.exit_code == 2, result.output
    assert said in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "fig.png").exists()


def test_a_figure_path_of_another_kind_is_refused_before_reading(cli, tmp_path) -> None:
    result = cli("plot", "1", "--metric", KEY, "--out", str(tmp_path / "fig.jpg"))
    assert result.exit_code == 2
    assert "--out takes a .png, .svg or .pdf path" in result.output


def test_group_labels_name_what_tells_groups_apart() -> None:
    dqn = {"agent": "dqn", "task": "cartpole", "learning_rate": "0.001", "n_step": "3"}
    a2c = {"agent": "a2c", "task": "cartpole", "learning_rate": "0.0007", "gae_lambda": "1.0"}
    # Another agent: its name, and only the fields both have (n_step says nothing of a2c).
    assert plots._setting_labels([dqn, a2c]) == [
        "dqn on cartpole, learning_rate=0.001",
        "a2c on cartpole, learning_rate=0.0007",
    ]
    other = dict(dqn, learning_rate="0.01")
    assert plots._setting_labels([dqn, other]) == ["learning_rate=0.001", "learning_rate=0.01"]
    many = [dict(dqn, **{f"f{i}": str(v) for i in range(5)}) for v in (1, 2)]
    assert plots._setting_labels(many)[0] == "f0=1, f1=1, f2=1, …"
