"""RegMean: Gram matrices, the least-squares optimum, identities."""

from __future__ import annotations

import torch
from torch import nn

from weightzoo.merge import collect_grams, merge_state_dicts


def _net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))


def test_collect_grams_is_x_transpose_x_of_each_linear_input() -> None:
    model = _net(0)
    xs = [torch.randn(7, 5), torch.randn(3, 2, 5)]  # leading dims are flattened
    grams = collect_grams(model, xs)
    flat = torch.cat([xs[0], xs[1].reshape(-1, 5)])
    torch.testing.assert_close(grams["0.weight"], flat.T @ flat)
    hidden = torch.relu(model[0](flat)).detach()
    torch.testing.assert_close(grams["2.weight"], hidden.T @ hidden, rtol=1e-4, atol=1e-4)
    assert set(grams) == {"0.weight", "2.weight"}


def test_regmean_of_one_model_is_that_model() -> None:
    model = _net(1)
    grams = collect_grams(model, [torch.randn(30, 5)])
    out = merge_state_dicts([model.state_dict()], "regmean", grams=[grams])
    for k, v in model.state_dict().items():
        torch.testing.assert_close(out[k], v, rtol=1e-4, atol=1e-5)


def test_regmean_alpha_one_is_the_least_squares_merge() -> None:
    g = torch.Generator().manual_seed(0)
    ws = [torch.randn(3, 4, generator=g) for _ in range(2)]
    xs = [torch.randn(20, 4, generator=g), torch.randn(15, 4, generator=g) * 2]
    models = [{"w": w} for w in ws]
    grams = [{"w": x.T @ x} for x in xs]
    out = merge_state_dicts(models, "regmean", grams=grams, alpha=1.0)
    # Independent check: min_W sum_i ||X_i W^T - X_i W_i^T||^2 by lstsq on stacked rows.
    a = torch.cat(xs)
    b = torch.cat([x @ w.T for x, w in zip(xs, ws, strict=True)])
    ref = torch.linalg.lstsq(a, b).solution.T
    torch.testing.assert_close(out["w"], ref, rtol=1e-4, atol=1e-4)


def test_regmean_with_equal_diagonal_grams_is_the_average() -> None:
    models = [_net(s).state_dict() for s in range(3)]
    grams = {"0.weight": torch.eye(5) * 3, "2.weight": torch.eye(4)}
    out = merge_state_dicts(models, "regmean", grams=[grams] * 3)
    for k in out:  # biases have no Gram matrix: plain average too
        torch.testing.assert_close(out[k], sum(m[k] for m in models) / 3, rtol=1e-5, atol=1e-6)


def test_regmean_dead_input_feature_takes_the_average() -> None:
    # A feature that is zero for every model leaves its weight column undetermined
    # by the data; RegMean must stay finite and fall back to the plain average there.
    from weightzoo.merge.regmean import regmean

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(50, 6, generator=gen)
    x[:, 2] = 0
    gram = x.T @ x
    a, b = torch.randn(4, 6, generator=gen), torch.randn(4, 6, generator=gen)
    out = regmean([a, b], None, weight=[1.0, 1.0], grams=[gram, gram])
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[:, 2], (a[:, 2] + b[:, 2]) / 2, atol=1e-5, rtol=0)
    # Equal Grams: the merge is the plain average on the live features too.
    torch.testing.assert_close(out, (a + b) / 2, atol=1e-4, rtol=0)
