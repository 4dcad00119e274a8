"""How well a score ranks models: weighted Kendall tau, Kendall tau, top-1 regret.

Inputs are one ground-truth value per candidate model (e.g. its accuracy after
fine-tuning on the target) and one predicted score per model, higher meaning
better for both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from weightzoo.select._validate import SelectInputError, as_array

__all__ = ["RANKING_METRICS", "evaluate_ranking", "kendall_tau", "top1_regret", "weighted_tau"]


def _pair(ground_truth: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    gt = as_array(ground_truth, "ground_truth")
    sc = as_array(scores, "scores")
    for name, a in (("ground_truth", gt), ("scores", sc)):
        if a.ndim != 1:
            raise SelectInputError(
                f"{name}: expected a 1-D array (one value per model), got shape {a.shape}"
            )
        if a.dtype.kind not in "biuf":
            raise SelectInputError(f"{name}: expected real numbers, got dtype {a.dtype}")
        if not np.isfinite(a).all():
            raise SelectInputError(f"{name}: NaN or infinite values; all must be finite")
    if gt.shape != sc.shape:
        raise SelectInputError(
            f"scores: has {sc.shape[0]} entries but ground_truth has {gt.shape[0]} models"
        )
    if gt.shape[0] < 2:
        raise SelectInputError(f"ground_truth: need at least 2 models to rank, got {gt.shape[0]}")
    return gt.astype(np.float64), sc.astype(np.float64)


def weighted_tau(ground_truth: Any, scores: Any) -> float:
    """Weighted Kendall tau, the Model Spider convention.

    ``scipy.stats.weightedtau(ground_truth, scores, rank=None)``: pairs are
    weighted hyperbolically by the rank of their elements in the *ground
    truth* (best model rank 0, weight 1/(r+1)), so mistakes among the models
    that really transfer best cost most. scipy's default (``rank=True``)
    instead averages the ground-truth and score orderings, which makes the
    metric symmetric; Model Spider and the LogME/SFDA line of work use the
    ground-truth ordering, hence ``rank=None``.

    Args:
        ground_truth: (M,) fine-tuned accuracy (or any quality) of each model.
        scores: (M,) predicted score of each model.

    Returns:
        tau in [-1, 1]; 1 when the scores order the models exactly as the
        ground truth. NaN if either input is constant.

    Raises:
        SelectInputError: mismatched lengths, fewer than 2 models, non-finite values.
    """
    gt, sc = _pair(ground_truth, scores)
    return float(stats.weightedtau(gt, sc, rank=None).statistic)


def kendall_tau(ground_truth: Any, scores: Any) -> float:
    """Kendall tau-b between ground truth and scores (``scipy.stats.kendalltau``).

    Args:
        ground_truth: (M,) ground-truth quality of each model.
        scores: (M,) predicted score of each model.

    Returns:
        tau-b in [-1, 1]; NaN if either input is constant.

    Raises:
        SelectInputError: mismatched lengths, fewer than 2 models, non-finite values.
    """
    gt, sc = _pair(ground_truth, scores)
    return float(stats.kendalltau(gt, sc).statistic)


def top1_regret(ground_truth: Any, scores: Any) -> float:
    """Ground truth lost by picking the top-scored model instead of the best one.

    ``max(ground_truth) - ground_truth[argmax(scores)]``; among models tied for
    the top score, the worst one is charged (a ranking that cannot separate
    them earns no credit for luck).

    Args:
        ground_truth: (M,) ground-truth quality (e.g. accuracy) of each model.
        scores: (M,) predicted score of each model.

    Returns:
        Regret >= 0, in the units of ``ground_truth``; 0 when the top-scored
        model is a best one.

    Raises:
        SelectInputError: mismatched lengths, fewer than 2 models, non-finite values.
    """
    gt, sc = _pair(ground_truth, scores)
    chosen = gt[sc == sc.max()].min()
    return float(gt.max() - chosen)


RANKING_METRICS: dict[str, Callable[[Any, Any], float]] = {
    "weighted_tau": weighted_tau,
    "kendall_tau": kendall_tau,
    "top1_regret": top1_regret,
}


def evaluate_ranking(ground_truth: Any, scores: Any) -> dict[str, float]:
    """Every metric of ``RANKING_METRICS`` for one ranking: ``{name: value}``."""
    return {name: fn(ground_truth, scores) for name, fn in RANKING_METRICS.items()}
