"""VariBAD: the belief model's parts, the gradient split, a store-backed run that stops
and resumes, `eval --per-trial` on the gridworld, and (slow) a posterior that finds the
goal at a small scale."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.common.belief import Posterior, RewardBounds, Transitions, elbo_terms, gaussian_kl
from agents.registry import get_agent
from agents.varibad import goal_belief
from envs.gridworld import GridworldParams
from envs.registry import get_task
from workbench import runner
from workbench.store import Store

SMALL = {"num_tasks": 8, "minibatches": 2, "eval_tasks": 16, "eval_interval": 10_000}


def make(task: str = "gridworld", seed: int = 0, task_values=None, **overrides):
    spec, family = get_agent("varibad"), get_task(task)
    config = spec.config(**(SMALL | overrides))
    return spec.make(config, family, family.Params(**(task_values or {})), seed)


def test_kl_matches_torch_and_is_zero_between_equal_posteriors() -> None:
    q = Posterior(torch.randn(4, 3), torch.randn(4, 3))
    p = Posterior(torch.randn(4, 3), torch.randn(4, 3))
    expected = torch.distributions.kl_divergence(
        torch.distributions.Normal(q.mean, (0.5 * q.logvar).exp()),
        torch.distributions.Normal(p.mean, (0.5 * p.logvar).exp()),
    ).sum(-1)
    assert gaussian_kl(q, p) == pytest.approx(expected.tolist(), rel=1e-5)
    assert gaussian_kl(q, q).abs().max() < 1e-6


def test_policy_gradient_does_not_reach_the_encoder() -> None:
    agent = make()
    logits, values, _ = agent.net(torch.randn(6, 2, agent.env.observation_size))
    (logits.sum() + values.sum()).backward()
    assert all(p.grad is None for p in agent.net.belief_parameters())
    assert all(p.grad is not None for p in agent.net.actor.parameters())


def test_elbo_trains_the_encoder_and_decoder_but_not_the_policy() -> None:
    agent = make()
    reports = list(agent.learn(200))
    assert {"vae/reward", "vae/kl", "vae/elbo"} <= reports[-1].scalars.keys()
    net = agent.net
    net.zero_grad(set_to_none=True)
    obs = torch.randn(5, 3, agent.env.observation_size)
    posterior, _ = net.encoder(obs)
    batch = Transitions(
        obs[..., : net.state_size],
        torch.randint(5, (5, 3)),
        torch.rand(5, 3),
        torch.rand(5, 3, net.state_size),
    )
    terms = elbo_terms(posterior, batch, net.reward_decoder, RewardBounds(-0.1, 1.0))
    (terms["reward"] + terms["kl"]).backward()
    assert all(p.grad is not None for p in net.encoder.parameters())
    assert all(p.grad is None for p in net.policy_parameters())


def test_decoding_a_subset_of_posteriors_estimates_the_full_sum() -> None:
    torch.manual_seed(0)
    agent = make(decode_transitions=True)
    net = agent.net
    obs = torch.randn(6, 4, agent.env.observation_size)
    with torch.no_grad():
        posterior, _ = net.encoder(obs)
    fixed = Posterior(posterior.mean, torch.full_like(posterior.logvar, -30.0))  # no noise
    batch = Transitions(
        obs[..., : net.state_size],
        torch.randint(5, (6, 4)),
        torch.rand(6, 4),
        torch.rand(6, 4, net.state_size),
    )
    bounds = RewardBounds(0.0, 1.0)
    full = elbo_terms(fixed, batch, net.reward_decoder, bounds, net.transition_decoder)
    parts = [
        elbo_terms(
            fixed, batch, net.reward_decoder, bounds, net.transition_decoder, torch.tensor([t])
        )
        for t in range(6)
    ]
    for key in ("reward", "transition"):
        assert full[key].item() > 0
        assert np.mean([p[key].item() for p in parts]) == pytest.approx(full[key].item(), 1e-4)


def test_unbounded_rewards_are_decoded_as_gaussian() -> None:
    agent = make("tabular-mdp", task_values={"episodes": 2, "episode_length": 3})
    assert not agent.bounds.bernoulli
    assert make().bounds == RewardBounds(-0.1, 1.0) and make().bounds.bernoulli


def test_a_stopped_run_resumes_from_its_checkpoint(home) -> None:
    store = Store(home)
    try:
        run_id = runner.create_run(
            store,
            agent="varibad",
            task="gridworld",
            config=SMALL | {"eval_interval": 500},
            task_params={"episodes": 2, "episode_length": 4},
            seed=1,
            total_steps=1_000,
        )
        stop = runner.threading.Event()
        stop.set()  # stops at the first report, with a checkpoint
        first = runner.execute(store, run_id, stop_event=stop)
        assert first.status == "stopped" and first.checkpoint_step == 64  # 8 tasks x 8 steps
        store.requeue(run_id)  # what `workbench runs resume` does before training
        done = runner.execute(store, run_id)
        assert done.status == "completed" and done.steps_done >= 1_000
        steps = [s for key, s, _ in store.metrics(run_id) if key == "charts/meta_episode_return"]
        assert steps == list(range(64, 1025, 64))  # each update once: resumed, not redone
    finally:
        store.close()


def test_eval_per_trial_shows_the_gridworld_references(cli) -> None:
    result = cli(
        "run", "varibad", "gridworld", "--steps", "500", "--set", "num_tasks=8",
        "--set", "minibatches=2", "--set", "eval_tasks=8",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    result = cli("run", "rl2", "gridworld", "--steps", "500", "--set", "num_tasks=8")
    assert result.exit_code == 0, result.output
    rows = cli.json("eval", "1", "--tasks", "40", "--beside", "2")
    assert [row["policy"] for row in rows] == [
        "run 1 (varibad)",
        "run 2 (rl2)",
        "known-goal",
        "systematic-search",
    ]
    assert all(len(row["per_trial"]) == 4 for row in rows)
    for row in rows[1:]:  # the same tasks: paired differences are differences of means
        versus = row["run_minus_policy"]["mean"]
        assert versus == pytest.approx(rows[0]["mean"] - row["mean"], abs=1e-5)
    shown = cli("eval", "1", "--tasks", "40", "--per-trial", "--beside", "2")
    assert shown.exit_code == 0 and "systematic-search" in shown.output
    assert "run 2 (rl2)" in shown.output


@pytest.mark.slow
def test_the_posterior_finds_the_goal_on_a_small_grid() -> None:
    """A 3x3 grid (5 goal cells), 2 episodes of 6 steps: after a short training the
    decoder puts most of its goal probability on the true goal once it was reached."""
    torch.set_num_threads(1)
    values = {"size": 3, "episode_length": 6, "episodes": 2}
    agent = make(
        task_values=values, seed=0, num_tasks=128, minibatches=4, eval_interval=10**9,
        entropy_coef=0.01, gae_lambda=0.95,
    )  # fmt: skip
    before = goal_belief(agent.net, GridworldParams(**values), 500, 123, greedy=False)
    for _ in agent.learn(600_000):
        pass
    after = goal_belief(agent.net, GridworldParams(**values), 500, 123)
    reached = ~np.isnan(after)
    assert reached.mean() > 0.5
    assert np.nanmean(before) < 0.5
    confident = (after[reached] >= 0.9).mean()
    assert confident > 0.5, f"share >= 0.9 in {confident:.0%}, median {np.median(after[reached])}"


def test_goal_heads_are_one_distribution_over_the_cells() -> None:
    """reward_heads=goal: the arrival cell's logit is that of a softmax over the cells, so
    the probabilities of every cell sum to one for any latent."""
    decoder = make().net.reward_decoder
    cells = decoder.net[-1].out_features
    latent = torch.randn(3, 1, 5)
    with torch.no_grad():
        logits = decoder(torch.eye(cells)[None], torch.zeros(1, cells, dtype=torch.long), latent)
    assert logits.shape == (3, cells)
    assert torch.sigmoid(logits).sum(-1).tolist() == pytest.approx([1.0] * 3, abs=1e-4)


def test_action_heads_read_the_pulled_arm_and_state_heads_need_states(cli) -> None:
    decoder = make("bandit", reward_heads="action").net.reward_decoder
    latent = torch.randn(1, 5)
    arms = torch.arange(decoder.actions)
    with torch.no_grad():
        per_arm = decoder(torch.zeros(decoder.actions, 0), arms, latent)
        assert per_arm.tolist() == pytest.approx(decoder.net(latent)[0].tolist(), abs=1e-6)
    for heads in ("goal", "state"):  # auto picks action heads there
        result = cli("run", "varibad", "bandit", "--steps", "100", "--set", f"reward_heads={heads}")
        assert result.exit_code == 2
        assert "needs a task with states" in result.output
        assert "reward_heads=action" in result.output
    assert cli.json("runs", "ls") == []  # refused before a run was created


def test_the_policy_reads_the_posterior_standardised_by_running_statistics() -> None:
    net = make().net
    first = Posterior(3 + 5 * torch.randn(7, 4, 5), torch.randn(7, 4, 5) - 2)
    second = Posterior(3 + 5 * torch.randn(9, 4, 5), torch.randn(9, 4, 5) - 2)
    net.observe_beliefs(first)
    net.observe_beliefs(second)  # two batches fold into the statistics of both
    both = torch.cat([torch.cat([p.mean, p.logvar], -1).reshape(-1, 10) for p in (first, second)])
    assert net.latent_mean.tolist() == pytest.approx(both.mean(0).tolist(), abs=1e-4)
    assert net.latent_var.tolist() == pytest.approx(both.var(0, unbiased=False).tolist(), 1e-4)
    inputs = torch.zeros(9, 4, net.state_size + 1)
    read = net.policy_inputs(inputs, second)[..., -10:]
    assert read.mean().abs() < 0.3 and 0.7 < read.std() < 1.3
    assert {"latent_mean", "latent_var", "latent_count"} <= net.state_dict().keys()


def test_auto_heads_follow_the_task() -> None:
    assert make("bandit").net.reward_decoder.heads == "action"
    assert make().net.reward_decoder.heads == "goal"
    mdp = make("tabular-mdp", task_values={"episodes": 2, "episode_length": 3})
    assert mdp.net.reward_decoder.heads == "none"  # unbounded rewards: no one goal
