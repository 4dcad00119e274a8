"""Model-GLUE: mergeability, greedy clustering, selective merging, the recipe end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from weightzoo.errors import ConfigError, WeightzooError
from weightzoo.merge.glue.mergeability import (
    cluster_by_mergeability,
    mergeability,
    mergeability_matrix,
)
from weightzoo.merge.glue.selective import selective_merge


def _slow_similarity(a: dict, b: dict, base: dict | None = None) -> float:
    """Independent reference: loops over columns with numpy."""
    sims = []
    for k in a:
        if a[k].dim() < 2:
            continue
        x, y = a[k].double().numpy(), b[k].double().numpy()
        if base is not None:
            x, y = x - base[k].double().numpy(), y - base[k].double().numpy()
        x, y = x.reshape(x.shape[0], -1), y.reshape(y.shape[0], -1)
        cols = [
            x[:, j] @ y[:, j] / (np.linalg.norm(x[:, j]) * np.linalg.norm(y[:, j]))
            for j in range(x.shape[1])
        ]
        sims.append(np.mean(cols))
    return float(np.mean(sims))


def _model(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "fc1.weight": torch.randn(6, 4, generator=g),
        "fc1.bias": torch.randn(6, generator=g),
        "conv.weight": torch.randn(3, 2, 5, generator=g),
    }


def test_mergeability_closed_forms() -> None:
    a = {"w": torch.eye(2)}
    b = {"w": torch.tensor([[1.0, 0.0], [0.0, -1.0]])}
    assert mergeability(a, b) == pytest.approx(0.0)  # columns: cos 1 and cos -1
    assert mergeability(a, {"w": 3 * torch.eye(2)}) == pytest.approx(1.0)
    # Biases (rank 1) do not count.
    assert mergeability({**a, "b": torch.ones(2)}, {**a, "b": -torch.ones(2)}) == pytest.approx(1.0)


def test_mergeability_matches_a_slow_reference() -> None:
    a, b, base = _model(0), _model(1), _model(2)
    assert mergeability(a, b) == pytest.approx(_slow_similarity(a, b), abs=1e-9)
    assert mergeability(a, b, base=base) == pytest.approx(_slow_similarity(a, b, base), abs=1e-9)
    m = mergeability_matrix({"a": a, "b": b, "c": base})
    assert m.shape == (3, 3) and np.allclose(np.diag(m), 1) and np.allclose(m, m.T)


def test_clusters_follow_families_and_architectures() -> None:
    p, q = _model(0), _model(1)

    def noisy(w: dict, s: int) -> dict:
        g = torch.Generator().manual_seed(s)
        return {k: v + 0.05 * torch.randn(v.shape, generator=g) for k, v in w.items()}

    other = {"fc1.weight": torch.randn(5, 4)}
    models = {
        "p1": noisy(p, 1),
        "q1": noisy(q, 2),
        "p2": noisy(p, 3),
        "x": other,
        "q2": noisy(q, 4),
    }
    assert cluster_by_mergeability(models, threshold=0.95) == [["p1", "p2"], ["q1", "q2"], ["x"]]
    # Everything above -1: one cluster per architecture.
    assert cluster_by_mergeability(models, threshold=-1.0) == [["p1", "q1", "p2", "q2"], ["x"]]
    with pytest.raises(WeightzooError, match="different tensor names"):
        mergeability(p, other)


def test_selective_merge_keeps_helpful_models_and_drops_harmful_ones() -> None:
    target = torch.tensor([1.0, 1.0])
    models = {
        "a": {"w": torch.tensor([1.0, 0.0])},
        "b": {"w": torch.tensor([0.0, 1.0])},
        "bad": {"w": torch.tensor([-5.0, -5.0])},
    }

    def score(w: dict) -> float:
        return -float(((w["w"] - target) ** 2).sum())

    res = selective_merge(models, score, method="linear", grid=[0.25, 0.5, 0.75])
    assert res.members == ["a", "b"]
    assert [s.accepted for s in res.steps] == [True, False]
    assert res.steps[0].coefficient == 0.5
    assert sum(res.coefficients.values()) == pytest.approx(1.0)
    # For linear merges, the result is the coefficient-weighted sum of its members.
    expected = sum(res.coefficients[m] * models[m]["w"] for m in res.members)
    torch.testing.assert_close(res.weights["w"], expected)
    assert res.score == pytest.approx(score(res.weights))


def test_running_average_without_search_is_the_plain_mean() -> None:
    models = {f"m{i}": {"w": torch.tensor([float(i), 2.0 * i])} for i in range(4)}
    res = selective_merge(models, lambda w: 0.0, coefficient_search=False)
    assert res.members == ["m0", "m1", "m2", "m3"]  # equal scores: kept (>=), input order
    torch.testing.assert_close(res.weights["w"], torch.tensor([1.5, 3.0]))
    assert all(v == pytest.approx(0.25) for v in res.coefficients.values())


def test_selective_merge_bad_grid() -> None:
    with pytest.raises(ConfigError, match="grid"):
        selective_merge({"a": {"w": torch.zeros(1)}}, lambda w: 0.0, grid=[0.0, 0.5])
