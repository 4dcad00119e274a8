"""GBC: Gaussian Bhattacharyya coefficients between classes."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.decomposition import PCA

from weightzoo.select._validate import check_features, check_labels
from weightzoo.select.scores._registry import register_score
from weightzoo.select.scores._stats import class_means, one_hot

__all__ = ["gbc"]

# The reference implementation floors per-class variances to avoid log(0) on constant features.
_MIN_VARIANCE = 1e-4


@register_score(
    "gbc",
    url="https://arxiv.org/abs/2111.12780",
    needs="features",
    summary="minus the summed Bhattacharyya coefficients of per-class diagonal Gaussians",
)
def gbc(features: Any, labels: Any, *, pca_dims: int = 64) -> float:
    """GBC (Pándy et al., CVPR 2022), https://arxiv.org/abs/2111.12780.

    Features are reduced by PCA to ``pca_dims`` dimensions (64 in the paper;
    fewer when N or D is smaller). Each class is a Gaussian with diagonal
    covariance (the paper's choice; per-dimension variances with 1/N_c,
    floored at 1e-4 like the reference code), and ``GBC = -sum_{i != j}
    exp(-D_B(c_i, c_j))`` over ordered pairs of classes, with the
    Bhattacharyya distance ``D_B = 1/8 dmu^T S^-1 dmu + 1/2 log(det S /
    sqrt(det S_i det S_j))``, ``S = (S_i + S_j) / 2``.

    Args:
        features: (N, D) features.
        labels: (N,) class labels.
        pca_dims: dimensions kept by PCA.

    Returns:
        GBC in ``[-C (C - 1), 0]`` (higher, i.e. closer to 0, is better).

    Raises:
        SelectInputError: bad shapes, non-finite values, a single class, or
            no more samples than classes.
    """
    f = check_features(features).astype(np.float64)
    ids, num_classes = check_labels(labels, f.shape[0])
    dims = min(pca_dims, f.shape[0], f.shape[1])
    f = PCA(n_components=dims, svd_solver="full").fit_transform(f)
    means, counts = class_means(f, ids, num_classes)
    second = one_hot(ids, num_classes).T @ (f * f) / counts[:, None]
    variances = np.maximum(second - means * means, _MIN_VARIANCE)  # (C, d)

    avg = 0.5 * (variances[:, None, :] + variances[None, :, :])  # (C, C, d)
    diff = means[:, None, :] - means[None, :, :]
    log_var = np.log(variances)
    distance = 0.125 * np.sum(diff * diff / avg, axis=-1) + 0.5 * (
        np.sum(np.log(avg), axis=-1) - 0.5 * (log_var.sum(-1)[:, None] + log_var.sum(-1)[None, :])
    )
    coefficients = np.exp(-distance)
    np.fill_diagonal(coefficients, 0.0)
    return float(-coefficients.sum())
