"""TransRate: coding rate of the features minus their class-conditional coding rate."""

from __future__ import annotations

from typing import Any

import numpy as np

from weightzoo.select._validate import check_features, check_labels
from weightzoo.select.scores._registry import register_score

__all__ = ["transrate"]


def coding_rate(features: np.ndarray, eps: float) -> float:
    """``1/2 log det(I_D + Z^T Z / (n eps))`` of (n, D) features Z.

    Computed from the eigenvalues of the smaller Gram matrix (Sylvester's
    determinant identity: ``det(I + A^T A) = det(I + A A^T)``).
    """
    n, d = features.shape
    gram = features @ features.T if n < d else features.T @ features
    eig = np.clip(np.linalg.eigvalsh(gram), 0.0, None)
    return 0.5 * float(np.sum(np.log1p(eig / (n * eps))))


@register_score(
    "transrate",
    url="https://arxiv.org/abs/2106.09362",
    needs="features",
    summary="coding rate of the features minus the mean class-conditional coding rate",
)
def transrate(features: Any, labels: Any, *, eps: float = 1e-4) -> float:
    """TransRate (Huang et al., ICML 2022), https://arxiv.org/abs/2106.09362.

    ``TrR = R(Z, eps) - 1/C sum_c R(Z_c, eps)`` with the coding rate
    ``R(Z, eps) = 1/2 log det(I + Z^T Z / (n eps))`` of the centered features Z
    and of each class's subset Z_c; the scaling ``1 / (n eps)`` and the plain
    mean over classes follow the authors' published code.

    Args:
        features: (N, D) features.
        labels: (N,) class labels.
        eps: distortion (1e-4 in the paper).

    Returns:
        TransRate (higher is better).

    Raises:
        SelectInputError: bad shapes, non-finite values, a single class, or
            no more samples than classes.
    """
    f = check_features(features).astype(np.float64)
    ids, num_classes = check_labels(labels, f.shape[0])
    f = f - f.mean(axis=0)
    conditional = sum(coding_rate(f[ids == c], eps) for c in range(num_classes))
    return coding_rate(f, eps) - conditional / num_classes
