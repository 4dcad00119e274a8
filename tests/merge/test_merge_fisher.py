"""Fisher merging: the estimate against a per-example autograd loop; the merge's closed form."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from weightzoo.merge import estimate_fisher, merge_state_dicts


def _net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))


def _slow_fisher(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    total = {k: torch.zeros_like(v) for k, v in model.named_parameters()}
    for i in range(len(x)):
        model.zero_grad()
        loss = nn.functional.cross_entropy(model(x[i : i + 1]), y[i : i + 1])
        loss.backward()
        for k, p in model.named_parameters():
            total[k] += p.grad**2
    return {k: v / len(x) for k, v in total.items()}


def test_fisher_matches_per_example_loop() -> None:
    model = _net(0)
    x = torch.randn(24, 4)
    y = torch.randint(0, 3, (24,))
    fast = estimate_fisher(model, [(x[:10], y[:10]), (x[10:], y[10:])])
    slow = _slow_fisher(model, x, y)
    for k in slow:
        torch.testing.assert_close(fast[k], slow[k], rtol=1e-4, atol=1e-7)


def test_fisher_regression_targets_use_squared_error() -> None:
    model = nn.Linear(3, 1, bias=False)
    x = torch.randn(50, 3)
    y = torch.randn(50, 1)
    f = estimate_fisher(model, [(x, y)])
    # grad of 0.5 (w.x - y)^2 w.r.t. w is (w.x - y) x.
    r = (model(x) - y).detach()
    torch.testing.assert_close(f["weight"], ((r * x) ** 2).mean(0, keepdim=True))


def test_equal_fishers_give_the_plain_average() -> None:
    models = [_net(s).state_dict() for s in range(3)]
    fisher = {k: torch.rand(v.shape) + 0.5 for k, v in models[0].items()}
    out = merge_state_dicts(models, "fisher", fishers=[fisher] * 3)
    for k in out:
        torch.testing.assert_close(out[k], sum(m[k] for m in models) / 3)


def test_fisher_weighted_closed_form() -> None:
    a = {"w": torch.tensor([1.0, 2.0])}
    b = {"w": torch.tensor([3.0, -2.0])}
    fa = {"w": torch.tensor([1.0, 3.0])}
    fb = {"w": torch.tensor([3.0, 1.0])}
    out = merge_state_dicts([a, b], "fisher", fishers=[fa, fb])
    torch.testing.assert_close(out["w"], torch.tensor([(1 + 9) / 4, (6 - 2) / 4]))


def test_fisher_needs_fishers() -> None:
    with pytest.raises(ValueError, match="fishers"):
        merge_state_dicts([_net(0).state_dict()], "fisher")
