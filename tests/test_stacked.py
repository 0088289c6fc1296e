"""Stacked layers compute each member exactly as a population of one does (bit for bit),
for the shapes the agents use: what keeps a long-running member on its lone run's path."""

from __future__ import annotations

import pytest
import torch

from agents.common import stacked


@pytest.mark.parametrize("rows", [1, 8, 40, 128, 500])
@pytest.mark.parametrize(("inputs", "outputs"), [(4, 64), (64, 64), (64, 2), (64, 1), (484, 4)])
def test_a_member_of_32_is_its_population_of_one_bit_for_bit(
    rows: int, inputs: int, outputs: int
) -> None:
    generator = torch.Generator().manual_seed(rows * 1000 + inputs + outputs)
    members = 32

    def leaves(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator).requires_grad_()

    params = {"l.weight": leaves(members, outputs, inputs), "l.bias": leaves(members, outputs)}
    x = leaves(members, rows, inputs)
    y = stacked.linear(x, params, "l")
    upstream = torch.randn(y.shape, generator=generator)
    grads = torch.autograd.grad(y, [x, params["l.weight"], params["l.bias"]], upstream)
    m = 5
    alone = {
        name: value[m : m + 1].detach().clone().requires_grad_() for name, value in params.items()
    }
    x_alone = x[m : m + 1].detach().clone().requires_grad_()
    y_alone = stacked.linear(x_alone, alone, "l")
    grads_alone = torch.autograd.grad(
        y_alone, [x_alone, alone["l.weight"], alone["l.bias"]], upstream[m : m + 1]
    )
    assert torch.equal(y[m : m + 1], y_alone)
    for together, lone in zip(grads, grads_alone, strict=True):
        assert torch.equal(together[m : m + 1], lone)


def test_member_mean_of_one_member_equals_its_slice_bit_for_bit() -> None:
    generator = torch.Generator().manual_seed(0)
    values = torch.randn(5, 32, 8, generator=generator)
    valid = (torch.rand(5, 32, 8, generator=generator) > 0.2).float()
    together = stacked.member_mean(values, valid)
    for m in (0, 13, 31):
        alone = stacked.member_mean(values[:, m : m + 1], valid[:, m : m + 1])
        assert torch.equal(together[m : m + 1], alone)
