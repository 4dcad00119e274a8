"""H-score and its shrinkage (Ledoit-Wolf) variant."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.covariance import ledoit_wolf

from weightzoo.select._validate import check_features, check_labels
from weightzoo.select.scores._registry import register_score
from weightzoo.select.scores._stats import class_means

__all__ = ["hscore", "hscore_shrinkage"]


def _centered_and_between(features: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Centered features (N, D) and the between-class covariance cov(E[f|y]) (D, D)."""
    f = check_features(features).astype(np.float64)
    ids, num_classes = check_labels(labels, f.shape[0])
    f = f - f.mean(axis=0)
    means, counts = class_means(f, ids, num_classes)
    weighted = means * np.sqrt(counts / f.shape[0])[:, None]
    # Same 1/N normalization as the total covariance, so cov(E[f|y]) <= cov(f)
    # (law of total variance) and the score lies in [0, min(D, C - 1)].
    return f, weighted.T @ weighted


@register_score(
    "hscore",
    url="https://ieeexplore.ieee.org/document/8803726",
    needs="features",
    summary="tr(cov(f)^-1 cov(E[f|y])), an information-theoretic transferability",
)
def hscore(features: Any, labels: Any) -> float:
    """H-score (Bao et al., ICIP 2019), https://ieeexplore.ieee.org/document/8803726.

    ``H = tr(cov(f)^+ cov(E[f | y]))``, covariances with 1/N normalization and
    a pseudo-inverse (as the reference code) for singular ``cov(f)``. With a
    nonsingular ``cov(f)`` it is invariant to invertible affine maps of the
    features and lies in ``[0, min(D, C - 1)]``.

    Args:
        features: (N, D) features.
        labels: (N,) class labels.

    Returns:
        The H-score (higher is better).

    Raises:
        SelectInputError: bad shapes, non-finite values, a single class, or
            no more samples than classes.
    """
    f, between = _centered_and_between(features, labels)
    total = f.T @ f / f.shape[0]
    return float(np.trace(np.linalg.pinv(total, hermitian=True) @ between))


@register_score(
    "hscore_shrinkage",
    url="https://arxiv.org/abs/2110.06893",
    needs="features",
    summary="H-score with a Ledoit-Wolf shrinkage covariance",
)
def hscore_shrinkage(features: Any, labels: Any) -> float:
    """Shrinkage H-score (Ibrahim et al., 2022), https://arxiv.org/abs/2110.06893.

    ``H_a = tr(cov_a(f)^-1 (1 - a) cov(E[f | y]))`` with ``cov_a`` the
    Ledoit-Wolf estimate ``(1 - a) S + a mu I`` and its shrinkage ``a`` (from
    scikit-learn), which keeps the inverse stable when D is large against N.

    Args:
        features: (N, D) features.
        labels: (N,) class labels.

    Returns:
        The shrinkage H-score (higher is better), in ``[0, min(D, C - 1)]``.

    Raises:
        SelectInputError: bad shapes, non-finite values, a single class, or
            no more samples than classes.
    """
    f, between = _centered_and_between(features, labels)
    shrunk, shrinkage = ledoit_wolf(f, assume_centered=True)
    if not np.any(shrunk):  # constant features: no information about the labels
        return 0.0
    solved = np.linalg.lstsq(shrunk, (1.0 - shrinkage) * between, rcond=None)[0]
    return float(np.trace(solved))
