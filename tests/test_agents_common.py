"""The shared parts of the agents (agents/common/): the loop cadence, the seeds, and the
losses an algorithm writes out again beside the one it shares its update with."""

from __future__ import annotations

import pytest
import torch

from agents.a2c import a2c_loss
from agents.common.cadence import Cadence, crossed
from agents.common.meta_gradient import StackedDiscount
from agents.common.meta_ppo import meta_ppo_loss
from agents.common.seeds import (
    ENV_SEED_STRIDE,
    EVAL_ENV_SEED_STRIDE,
    EVAL_SEED_OFFSET,
    eval_env_seed,
    held_out_task_seed,
    train_env_seed,
)
from agents.ppo import ppo_loss
from agents.registry import AGENTS
from envs.registry import get_task


def run_loop(cadence: Cadence, increment: int) -> tuple[list[int], list[int]]:
    """The steps a loop advancing ``increment`` steps per iteration evaluates and reports at."""
    evaluated, reported = [], []
    steps = 0
    while steps < cadence.total_steps:
        before, steps = steps, steps + increment
        due = cadence.due(before, steps)
        evaluated += [steps] if due.evaluate else []
        reported += [steps] if due.report else []
    return evaluated, reported


def test_crossed_counts_multiples_in_half_open_interval() -> None:
    assert crossed(99, 100, 100) and not crossed(100, 199, 100) and crossed(150, 450, 100)


def test_cadence_fires_once_per_multiple_crossed_and_always_at_the_end() -> None:
    evaluated, reported = run_loop(Cadence(2480, eval_interval=700, report_interval=1000), 40)
    assert evaluated == [720, 1400, 2120, 2480]
    assert reported == [720, 1000, 1400, 2000, 2120, 2480]


def test_cadence_without_report_interval_reports_every_iteration() -> None:
    evaluated, reported = run_loop(Cadence(1000, eval_interval=300), 128)
    assert evaluated == [384, 640, 1024]
    assert reported == list(range(128, 1025, 128))


def test_cadence_does_nothing_before_the_first_interval_but_ends_with_both() -> None:
    cadence = Cadence(total_steps=50, eval_interval=100, report_interval=100)
    assert cadence.due(0, 10) == (False, False)
    assert cadence.due(40, 50) == (True, True)
    assert cadence.due(40, 64) == (True, True)  # past the budget: still the last iteration


def test_a_run_never_evaluates_on_an_env_seed_it_trained_on() -> None:
    for seed in range(1000):
        train = (train_env_seed(seed, 0), train_env_seed(seed, 1_000_000))
        evaluation = (eval_env_seed(seed, 0), eval_env_seed(seed, 100_000))
        assert train[1] < evaluation[0] or evaluation[1] < train[0], seed


def test_runs_with_different_seeds_train_on_different_env_seeds_in_their_first_million() -> None:
    assert ENV_SEED_STRIDE > 1_000_000 and EVAL_ENV_SEED_STRIDE > ENV_SEED_STRIDE
    assert train_env_seed(1, 0) > train_env_seed(0, 1_000_000)


def test_held_out_tasks_are_drawn_apart_from_the_training_tasks() -> None:
    assert held_out_task_seed(7) == 7 + EVAL_SEED_OFFSET != 7


def test_meta_episode_ppo_loss_is_ppos_loss_on_other_shapes() -> None:
    generator = torch.Generator().manual_seed(0)
    shape = (6, 4)
    logits = torch.randn(*shape, 3, generator=generator)
    actions = torch.randint(0, 3, shape, generator=generator)
    values, old_values, old_logp, advantages, returns = (
        torch.randn(*shape, generator=generator) for _ in range(5)
    )
    coefs = dict(clip_range=0.2, value_coef=0.5, entropy_coef=0.01)
    meta_loss, meta_parts = meta_ppo_loss(
        logits, values, actions, old_logp, advantages, returns, **coefs
    )
    flat = [x.reshape(-1, *x.shape[2:]) for x in (logits, values, actions, old_logp, old_values)]
    loss, parts = ppo_loss(*flat, advantages.reshape(-1), returns.reshape(-1), **coefs)
    assert meta_loss.item() == pytest.approx(loss.item(), rel=1e-6)
    assert meta_parts == pytest.approx({key: float(v) for key, v in parts.items()}, rel=1e-6)


def test_meta_gradient_a2c_inner_loss_is_a2cs_loss() -> None:
    """mg_a2c.py writes A2C's loss out again: without the outer value head it must be
    a2c.py's, member by member, for a learned gamma as for a fixed one."""
    family = get_task("cartpole")
    spec = AGENTS["mg-a2c"]
    configs = [
        spec.config(outer_value_head=False, entropy_coef=0.01, gae_lambda=0.9),
        spec.config(outer_value_head=False, discount=0.8, value_coef=0.3, gae_lambda=0.7),
    ]
    agent = spec.population(configs, family, family.Params(), [0, 1])
    agent.reset_envs()
    agent.draw_uniforms(16)
    batch = agent.rollouts.collect(16, agent.act)
    discount = agent.discount.value
    loss, stats = agent.inner_loss(agent.params, batch, discount)
    logits, values, _ = agent._forward(agent.params, batch, discount)

    def member_values(name: str) -> torch.Tensor:
        return torch.tensor([getattr(config, name) for config in configs])

    expected, expected_stats = a2c_loss(
        logits[:-1],
        values[:-1],
        values[-1],
        batch.data,
        discount[:, None],
        member_values("gae_lambda")[:, None],
        value_coef=member_values("value_coef"),
        entropy_coef=member_values("entropy_coef"),
    )
    assert loss.tolist() == pytest.approx(expected.tolist(), rel=1e-6)
    for key, value in expected_stats.items():
        assert stats[key].tolist() == pytest.approx(value.tolist(), rel=1e-6)
    (dloss,) = torch.autograd.grad(loss.sum(), agent.discount.eta, retain_graph=True)
    (dexpected,) = torch.autograd.grad(expected.sum(), agent.discount.eta)
    assert torch.all(dloss != 0)
    assert dloss.tolist() == pytest.approx(dexpected.tolist(), rel=1e-5)


CHECKPOINT_KEYS = {
    "dqn": "buffer evaluations optimizer q_network rng steps_done target_network",
    "meta-dqn": "baseline buffer discount episode_rng episodes evaluations gradient_steps_done "
    "optimizer q_network rng steps_done target_network",
    "a2c": "evaluations net optimizer rng steps_done",
    "mg-a2c": "discount evaluations net optimizer rng steps_done",
    "ppo": "evaluations net optimizer rng steps_done",
    "sf-gpi": "buffer episodes evaluations gram moments optimizer q_network rng steps_done "
    "target_network",
    "rl2": "evaluations net optimizer rng steps_done torch_rng",
    "l2rl": "evaluations net optimizer rng steps_done torch_rng",
    "snail": "evaluations net optimizer rng steps_done torch_rng",
    "varibad": "evaluations net optimizer rng steps_done torch_rng",
    "sac": "evaluations log_alpha networks optimizers replay rng steps_done torch_rng updates",
    "ddpg": "evaluations networks optimizers replay rng steps_done torch_rng updates",
    **{
        learner: "accuracy extra losses memory params rng steps_done"
        for learner in ("online-sgd", "er", "c-maml", "sync", "la-maml")
    },
}
"""What the stores' existing checkpoints hold: an agent that saves other keys cannot load them.
The populations (a2c, mg-a2c, ppo) act from each member's NumPy generator, so they save no
torch RNG state and ignore the one old checkpoints hold (tests/test_population_ac.py)."""
HEADS = ["0", "2", "4"]
NETWORK_KEYS = {
    "dqn": [f"{i}.{p}" for i in HEADS for p in ("weight", "bias")],
    "ppo": [
        f"{part}.{i}.{p}" for part in ("critic", "actor") for i in HEADS for p in ("weight", "bias")
    ],
    "mg-a2c": [
        f"{part}.{i}.{p}" for part in ("actor", "critic") for i in HEADS for p in ("weight", "bias")
    ],
    "rl2": [
        *(f"core.{p}_{g}_l0" for p in ("weight", "bias") for g in ("ih", "hh")),
        *(f"{head}.{p}" for head in ("policy", "value") for p in ("weight", "bias")),
    ],
}
"""Parameter names of the networks that moved to agents/common/ or are built from its layers."""


def small(name: str):
    spec = AGENTS[name]
    family = get_task(spec.tasks[0])
    extra = {"num_tasks": 8, "minibatches": 2} if name in ("rl2", "snail", "varibad") else {}
    extra |= {"num_tasks": 8} if name == "l2rl" else {}
    extra |= {"task_weights": "regressed"} if name == "sf-gpi" else {}  # balanced by default
    return spec.make(spec.config(**extra), family, family.Params(), 0)


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_checkpoints_keep_the_keys_existing_stores_hold(name: str) -> None:
    agent = small(name)
    assert sorted(agent.state_dict()) == CHECKPOINT_KEYS[name].split()
    if name in NETWORK_KEYS:
        (networks,) = agent.weights().values()
        assert sorted(networks) == sorted(NETWORK_KEYS[name])


# --- the stacked learned discount -----------------------------------------------------------
def test_stacked_discount_meta_gradient_matches_finite_differences_per_member() -> None:
    """d J'_m(theta_m - alpha_m g_m(theta_m, eta_m)) / d eta_m for two members with their
    own discount, data and inner step size, against finite differences of each alone."""
    torch.manual_seed(0)
    theta = torch.randn(2, 3)
    x, r = torch.randn(2, 16, 3), torch.randn(2, 16)
    alpha = torch.tensor([0.1, 0.3])

    def inner_grad(gamma: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        predictions = torch.einsum("pnd,pd->pn", x.to(params.dtype), params)
        loss = ((predictions - gamma[:, None] * r.to(params.dtype)) ** 2).mean(1).sum()
        return torch.autograd.grad(loss, params, create_graph=True)[0]

    def outer(params: torch.Tensor) -> torch.Tensor:
        predictions = torch.einsum("pnd,pd->pn", x.to(params.dtype), params)
        return ((predictions - 0.99 * r.to(params.dtype)) ** 2).mean(1)

    discount = StackedDiscount([0.6, 0.9], meta_learning_rate=[1e-3, 1e-2])
    start = theta.clone().requires_grad_()
    g = inner_grad(discount.value, start)
    after = (theta - alpha[:, None] * g.detach()).requires_grad_()
    v = torch.autograd.grad(outer(after).sum(), after)[0]
    eta = discount.eta.detach().clone()
    got = discount.meta_step([g], [v], alpha)

    def objective(etas: torch.Tensor) -> torch.Tensor:  # in float64: one gradient is small
        params = theta.double().requires_grad_()
        step = inner_grad(torch.sigmoid(etas.double()), params)
        return outer(theta.double() - alpha.double()[:, None] * step.detach())

    eps = 1e-3
    for member in range(2):
        shift = torch.zeros(2)
        shift[member] = eps
        expected = (objective(eta + shift) - objective(eta - shift))[member] / (2 * eps)
        assert float(got[member]) == pytest.approx(float(expected), rel=1e-2)
    moved = discount.eta.detach() - eta
    assert torch.all(torch.sign(moved) == -torch.sign(got))
    assert abs(float(moved[1])) > 5 * abs(float(moved[0]))  # each its own meta step size


def test_stacked_discount_member_continues_a_lone_adam_checkpoint() -> None:
    """A member's state is a lone run's (eta a scalar, torch.optim.Adam's state): an old
    checkpoint loads into member 1 of two and steps as torch's Adam would, leaving member 0
    alone; ``member_state`` gives it back in the same layout."""
    eta = torch.tensor(0.4, requires_grad=True)
    adam = torch.optim.Adam([eta], lr=0.05)
    for grad in (0.3, -0.2):
        eta.grad = torch.tensor(grad)
        adam.step()
    old = {"eta": eta.detach().clone(), "optimizer": adam.state_dict()}
    discount = StackedDiscount([0.5, 0.5], meta_learning_rate=[0.01, 0.05])
    discount.load_member_state(1, old)
    other = float(discount.eta.detach()[0])
    for grad in (0.7, 0.1, -0.4):
        eta.grad = torch.tensor(grad)
        adam.step()
        discount.step_members([torch.tensor([0.0, grad])], torch.tensor([False, True]))
    assert float(discount.eta.detach()[1]) == pytest.approx(float(eta.detach()), abs=1e-6)
    assert float(discount.eta.detach()[0]) == other
    state = discount.member_state(1)
    assert state["eta"].shape == ()
    assert float(state["eta"]) == pytest.approx(float(eta.detach()), abs=1e-6)
    fresh = torch.tensor(0.0, requires_grad=True)
    resumed = torch.optim.Adam([fresh], lr=0.05)
    resumed.load_state_dict(state["optimizer"])
    assert float(resumed.state_dict()["state"][0]["step"]) == 5
