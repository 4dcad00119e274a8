"""Class statistics shared by the feature-based scores."""

from __future__ import annotations

import numpy as np

__all__ = ["class_means", "one_hot"]


def one_hot(ids: np.ndarray, num_classes: int) -> np.ndarray:
    """(N, C) float64 indicator matrix of ``ids`` (N,) in ``[0, C)``."""
    out = np.zeros((ids.shape[0], num_classes))
    out[np.arange(ids.shape[0]), ids] = 1.0
    return out


def class_means(
    features: np.ndarray, ids: np.ndarray, num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class means and counts.

    Args:
        features: (N, D) float64.
        ids: (N,) class ids in ``[0, C)``, every class present.
        num_classes: C.

    Returns:
        ``(means, counts)``: (C, D) float64 and (C,) float64.
    """
    counts = np.bincount(ids, minlength=num_classes).astype(np.float64)
    sums = one_hot(ids, num_classes).T @ features
    return sums / counts[:, None], counts
