"""Meta-RL agents (rl2, l2rl, snail, varibad): smoke runs on every family they support, checkpoints,
held-out evaluation, and slow learning checks on two-armed dependent bandits."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.common.returns import gae
from agents.common.seeds import EVAL_SEED_OFFSET
from agents.registry import AGENTS, META_TASKS
from envs.registry import get_task
from workbench.store import Store

META_AGENTS = ["rl2", "l2rl", "snail", "varibad"]
TINY = {"num_tasks": 8, "eval_tasks": 16, "eval_interval": 10_000}
SMALL_TASK = {
    "bandit": {"arms": 3, "pulls": 6},
    "tabular-mdp": {"episodes": 2, "episode_length": 3},
    "gridworld": {"episodes": 2, "episode_length": 3},
}


def make(agent: str, task: str, seed: int = 0, task_values=None, **overrides):
    spec, family = AGENTS[agent], get_task(task)
    extra = {"minibatches": 2} if agent != "l2rl" else {"n_steps": 4}
    config = spec.config(**(TINY | extra | overrides))
    values = task_values if task_values is not None else SMALL_TASK.get(task, {"pulls": 6})
    return spec.make(config, family, family.Params(**values), seed)


@pytest.mark.parametrize("task", META_TASKS)
@pytest.mark.parametrize("agent", META_AGENTS)
def test_every_meta_agent_runs_on_every_meta_family(agent: str, task: str) -> None:
    learner = make(agent, task)
    reports = list(learner.learn(200))
    assert reports[-1].step >= 200
    final = reports[-1].scalars
    assert "eval/meta_episode_return" in final and np.isfinite(final["train/entropy"])
    assert [r.step for r in reports] == sorted({r.step for r in reports})  # unique, increasing


@pytest.mark.parametrize("agent", META_AGENTS)
def test_checkpoint_round_trip_continues_identically(agent: str) -> None:
    first = make(agent, "bandit-dependent-easy", seed=3)
    for _ in zip(range(2), first.learn(10_000), strict=False):
        pass
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    nxt_a = next(first.learn(10_000))  # before `second` exists: torch's RNG is global
    second = make(agent, "bandit-dependent-easy", seed=3)
    second.load_state_dict(torch.load(buffer, weights_only=True))
    nxt_b = next(second.learn(10_000))
    assert nxt_a.step == nxt_b.step
    assert nxt_a.scalars == pytest.approx(nxt_b.scalars)


def test_rl2_separate_critic_keeps_value_out_of_the_policy_gru() -> None:
    learner = make("rl2", "bandit-dependent-easy", separate_critic=True, hidden_size=16)
    net = learner.net
    logits, values, state = net(torch.randn(5, 3, learner.env.observation_size))
    assert logits.shape == (5, 3, 2) and values.shape == (5, 3) and len(state) == 2
    values.sum().backward()
    assert all(p.grad is None for p in net.core.parameters())
    assert all(p.grad is not None for p in net.critic_core.parameters())
    shared = make("rl2", "bandit-dependent-easy", hidden_size=16).net
    assert shared.critic_core is None
    assert sum(p.numel() for p in net.parameters()) > sum(p.numel() for p in shared.parameters())


def test_held_out_tasks_differ_from_training_tasks() -> None:
    learner = make("rl2", "bandit", task_values={"arms": 3, "pulls": 4})
    learner.env.reset()
    train_probs = learner.env.batch.probs.copy()
    held_out = get_task("bandit").meta_batch(
        learner.task_params, 8, np.random.default_rng(learner.seed + EVAL_SEED_OFFSET)
    )
    held_out.reset()
    assert not np.allclose(train_probs, held_out.batch.probs)


def test_gae_with_lambda_one_is_the_discounted_return() -> None:
    rewards = torch.tensor([[1.0], [2.0], [3.0]])
    values = torch.tensor([[0.5], [0.1], [0.7]])
    dones = torch.tensor([[0.0], [0.0], [1.0]])
    advantages, returns = gae(rewards, values, dones, torch.zeros(1), 0.5, 1.0)
    assert returns[:, 0].tolist() == pytest.approx([1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3.0])
    assert advantages[:, 0].tolist() == pytest.approx((returns - values)[:, 0].tolist())


def test_eval_cli_refuses_incompatible_family(cli, home) -> None:
    result = cli(
        "run",
        "rl2",
        "bandit",
        "--task-set",
        "arms=3",
        "--task-set",
        "pulls=4",
        "--steps",
        "200",
        "--set",
        "num_tasks=8",
        "--set",
        "eval_tasks=8",
    )
    assert result.exit_code == 0, result.output
    rows = cli.json("eval", "1", "--tasks", "50")
    assert rows[0]["policy"] == "run 1 (rl2)" and len(rows) > 3
    for row in rows[1:]:  # paired on the same tasks: the difference of the means
        versus = row["run_minus_policy"]
        assert versus["mean"] == pytest.approx(rows[0]["mean"] - row["mean"], abs=1e-5)
        assert (versus["ci95"] is None) == row["exact"]
    assert any(row["exact"] for row in rows)
    bad = cli("eval", "1", "--task", "bandit-dependent-easy")
    assert bad.exit_code == 2 and "was trained on bandit" in bad.stderr
    assert bad.stderr.strip().count("\n") == 0


def test_init_from_starts_a_run_from_another_runs_networks(cli, home) -> None:
    tiny = ["--set", "num_tasks=8", "--set", "eval_tasks=64", "--set", "hidden_size=16"]
    task = ["rl2", "bandit-dependent-easy", "--task-set", "pulls=6"]
    first = cli.json("run", *task, "--steps", "3000", *tiny)
    assert first["status"] == "completed", first
    # Continued at a learning rate too small to move the weights, the new run must
    # evaluate exactly as its source did on the same held-out tasks.
    still = ["--set", "learning_rate=1e-12", "--set", "entropy_coef=0"]
    second = cli.json("run", *task, "--steps", "48", *tiny, *still, "--init-from", "1")
    assert second["status"] == "completed", second
    assert second["eval_return_mean"] == pytest.approx(first["eval_return_mean"], abs=1e-9)
    fresh = cli.json("run", *task, "--steps", "48", *tiny, *still)
    assert fresh["eval_return_mean"] != pytest.approx(first["eval_return_mean"], abs=1e-9)
    shown = cli("runs", "show", "2")
    assert "networks started from run 1's last checkpoint" in shown.stdout
    assert "weights of run 1" in (home / "logs" / "run-2.log").read_text()
    init_path = Path(cli.json("runs", "show", "2")["init_path"])
    assert init_path.exists()
    assert cli("runs", "rm", "2").exit_code == 0
    assert not init_path.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rl2", "bandit-dependent-easy", "--init-from", "9"], "no run with id 9"),
        (["snail", "bandit-dependent-easy", "--init-from", "1"], "trained rl2, not snail"),
        (
            ["rl2", "bandit-dependent-easy", "--set", "hidden_size=8", "--init-from", "1"],
            "networks do not fit this rl2",
        ),
        (
            [
                "rl2",
                "bandit-dependent-easy",
                "--set",
                "hidden_size=16",
                "--set",
                "separate_critic=true",
                "--init-from",
                "1",
            ],
            "networks do not fit this rl2",
        ),
        (["rl2", "bandit", "--set", "hidden_size=16", "--init-from", "1"], "do not fit"),
        (["rl2", "bandit-dependent-easy", "--init-from", "2"], "has no checkpoint yet"),
    ],
)
def test_init_from_refuses_what_cannot_start_from_it(cli, home, args, message) -> None:
    tiny = ["--set", "num_tasks=8", "--set", "eval_tasks=8", "--set", "hidden_size=16"]
    result = cli("run", "rl2", "bandit-dependent-easy", "--steps", "200", *tiny)
    assert result.exit_code == 0, result.output
    Store(home).create_run(
        agent="rl2",
        task="bandit-dependent-easy",
        config={},
        task_params={},
        seed=0,
        total_steps=10,
    )
    bad = cli("run", *args, "--steps", "100")
    assert bad.exit_code == 2 and message in bad.stderr, bad.output
    assert bad.stderr.strip().count("\n") == 0
    assert [run.id for run in Store(home).list_runs()] == [1, 2]
    assert not list((home / "checkpoints").glob("init-*"))


def test_eval_per_trial_rewards_add_up_to_the_totals(cli) -> None:
    from workbench.cli.evaluate import trial_groups

    tiny = ["--set", "num_tasks=8", "--set", "eval_tasks=8", "--set", "hidden_size=16"]
    mdp = ["--task-set", "episodes=3", "--task-set", "episode_length=4"]
    assert cli("run", "rl2", "tabular-mdp", *mdp, "--steps", "200", *tiny).exit_code == 0
    rows = cli.json("eval", "1", "--tasks", "200")
    assert {"run 1 (rl2)", "psrl", "greedy"} <= {row["policy"] for row in rows}
    for row in rows:
        assert len(row["per_trial"]) == 3
        assert sum(row["per_trial"]) == pytest.approx(row["mean"], rel=1e-6)
    shown = cli("eval", "1", "--tasks", "200", "--per-trial")
    assert shown.exit_code == 0 and "mean reward per trial" in shown.stdout
    assert [label for label, _ in trial_groups(3)] == ["1", "2", "3"]
    groups = trial_groups(100)
    assert len(groups) == 10 and groups[1][0] == "11-\n20"
    assert sorted(np.concatenate([g for _, g in groups])) == list(range(100))


@pytest.mark.parametrize("task", ["tabular-mdp", "bandit"])
def test_a_run_and_the_reference_policies_are_evaluated_on_the_same_tasks(task: str) -> None:
    """What makes `eval`'s paired differences paired: one seed, one task sample."""
    family = get_task(task)
    params = family.Params()
    played = family.meta_batch(params, 5, np.random.default_rng(7))
    played.reset()
    reference = family.batch(params, 5)
    reference.sample_tasks(np.random.default_rng(7))
    names = ("transitions", "rewards") if task == "tabular-mdp" else ("probs",)
    for name in names:
        assert np.array_equal(getattr(played.batch, name), getattr(reference, name))


def test_generalization_report_without_runs_says_how_to_make_one(cli) -> None:
    result = cli("report", "generalization")
    assert result.exit_code == 2
    assert "workbench run l2rl bandit-dependent-easy" in result.stderr


# --- learning checks -------------------------------------------------------------------------
RANDOM_20_PULLS = 10.0
"""The random policy's expected total on 20 pulls of a dependent pair (p and 1 - p)."""


def held_out_return(agent: str, steps: int, **overrides) -> tuple[float, float]:
    """Mean and 95% half-width on 2000 held-out tasks after training on 20-pull easy bandits."""
    torch.set_num_threads(1)
    learner = make(
        agent,
        "bandit-dependent-easy",
        seed=0,
        task_values={"pulls": 20},
        **(
            {
                "num_tasks": 256 if agent != "l2rl" else 32,
                "eval_tasks": 2000,
                "eval_interval": 10**9,
            }
            | overrides
        ),
    )
    final = list(learner.learn(steps))[-1].scalars
    return final["eval/meta_episode_return"], final["eval/meta_episode_return_ci95"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("agent", "steps"), [("l2rl", 400_000), ("rl2", 600_000), ("snail", 300_000)]
)
def test_meta_agent_learns_dependent_easy_bandit(agent: str, steps: int) -> None:
    """Random scores 10 of 20 pulls; win-stay/lose-shift about 16; Bayes-optimal 17.4."""
    mean, ci = held_out_return(agent, steps)
    assert mean - ci > RANDOM_20_PULLS + 4.0, (mean, ci)
