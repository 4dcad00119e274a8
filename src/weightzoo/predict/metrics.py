"""Metrics of property prediction: Kendall tau, R², accuracy.

Kendall tau is the headline number of the weight-space literature for
continuous targets (it only asks whether a predictor *ranks* networks right,
which is what choosing among them needs); R² says whether the values are right
too; accuracy is for categorical targets.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import kendalltau
from sklearn.metrics import accuracy_score, r2_score

from weightzoo.errors import ConfigError
from weightzoo.predict.tasks import Task, get_task

__all__ = ["accuracy", "kendall_tau", "r2", "score_task"]


def _pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(y_true), np.asarray(y_pred)
    if a.ndim != 1 or a.shape != b.shape:
        raise ConfigError(
            f"metrics: expected two 1-D arrays of equal length, got {a.shape} and {b.shape}"
        )
    if a.size == 0:
        raise ConfigError("metrics: no predictions to score")
    return a, b


def kendall_tau(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Kendall's tau-b between targets and predictions (ties handled as in scipy).

    Args:
        y_true: ``(N,)`` targets.
        y_pred: ``(N,)`` predictions.

    Returns:
        tau in [-1, 1]; NaN when either side is constant (no ranking to compare).
    """
    a, b = _pair(y_true, y_pred)
    if np.all(a == a[0]) or np.all(b == b[0]):
        return math.nan
    return float(kendalltau(a, b).statistic)


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` (NaN for a constant target)."""
    a, b = _pair(y_true, y_pred)
    if np.all(a == a[0]):
        return math.nan
    return float(r2_score(a.astype(np.float64), b.astype(np.float64)))


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of exact label matches."""
    a, b = _pair(y_true, y_pred)
    return float(accuracy_score(a, b))


def score_task(task: str | Task, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Every metric that applies to the task.

    Args:
        task: a task or its name.
        y_true: ``(N,)`` targets (floats, or labels for a classification).
        y_pred: ``(N,)`` predictions of the same kind.

    Returns:
        ``{"kendall_tau", "r2"}`` for a regression, ``{"accuracy"}`` for a classification.
    """
    task = get_task(task)
    if task.kind == "classification":
        return {"accuracy": accuracy(y_true, y_pred)}
    return {"kendall_tau": kendall_tau(y_true, y_pred), "r2": r2(y_true, y_pred)}
