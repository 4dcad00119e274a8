"""Ranking metrics: weighted tau (Model Spider convention), Kendall tau, top-1 regret."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from weightzoo.select import (
    SelectInputError,
    evaluate_ranking,
    kendall_tau,
    top1_regret,
    weighted_tau,
)


def _weighted_tau_loop(gt: np.ndarray, sc: np.ndarray) -> float:
    """Vigna's weighted tau with hyperbolic weights on ground-truth ranks (no ties)."""
    order = np.argsort(-gt)
    rank = np.empty(len(gt), dtype=int)
    rank[order] = np.arange(len(gt))
    weight = 1.0 / (rank + 1.0)
    concordance = total = 0.0
    for i, j in itertools.combinations(range(len(gt)), 2):
        w = weight[i] + weight[j]
        concordance += w * np.sign((gt[i] - gt[j]) * (sc[i] - sc[j]))
        total += w
    return concordance / total


def test_weighted_tau_weights_pairs_by_ground_truth_rank() -> None:
    rng = np.random.default_rng(0)
    gt, sc = rng.normal(size=9), rng.normal(size=9)
    assert weighted_tau(gt, sc) == pytest.approx(_weighted_tau_loop(gt, sc), abs=1e-12)
    assert weighted_tau(gt, sc) == pytest.approx(stats.weightedtau(gt, sc, rank=None).statistic)
    # Swapping the two best models costs more than swapping the two worst.
    gt = np.arange(6.0)[::-1]
    top_swap, bottom_swap = gt.copy(), gt.copy()
    top_swap[[0, 1]] = top_swap[[1, 0]]
    bottom_swap[[4, 5]] = bottom_swap[[5, 4]]
    assert weighted_tau(gt, top_swap) < weighted_tau(gt, bottom_swap) < 1.0
    assert weighted_tau(gt, gt * 3 + 1) == pytest.approx(1.0)
    assert weighted_tau(gt, -gt) == pytest.approx(-1.0)


def test_kendall_tau_and_top1_regret() -> None:
    gt = np.array([0.7, 0.9, 0.5, 0.8])
    # pairs: (0,1)+ (0,2)+ (0,3)- (1,2)+ (1,3)+ (2,3)+ -> (5 - 1) / 6
    assert kendall_tau(gt, [3, 4, 1, 2]) == pytest.approx(4 / 6)
    assert top1_regret(gt, [3, 4, 1, 2]) == pytest.approx(0.0)
    assert top1_regret(gt, [9, 4, 1, 2]) == pytest.approx(0.2)
    assert top1_regret(gt, [1, 0, 1, 0]) == pytest.approx(0.4)  # tied top: charged the worse
    assert set(evaluate_ranking(gt, [3, 4, 1, 2])) == {"weighted_tau", "kendall_tau", "top1_regret"}


def test_ranking_bad_input() -> None:
    with pytest.raises(SelectInputError, match="^scores: has 2 entries"):
        weighted_tau([1, 2, 3], [1, 2])
    with pytest.raises(SelectInputError, match="^ground_truth: need at least 2"):
        kendall_tau([1], [1])
    with pytest.raises(SelectInputError, match="^scores: NaN"):
        top1_regret([1, 2], [np.nan, 1])
