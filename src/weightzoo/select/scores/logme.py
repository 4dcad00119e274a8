"""LogME: the log of the maximum evidence of a Bayesian linear model on the features."""

from __future__ import annotations

from typing import Any

import numpy as np

from weightzoo.select._validate import check_features, check_labels, check_targets
from weightzoo.select.scores._evidence import maximize_evidence
from weightzoo.select.scores._registry import register_score

__all__ = ["logme"]

LOGME_URL = "https://arxiv.org/abs/2102.11005"


@register_score(
    "logme",
    url=LOGME_URL,
    needs="features",
    summary="log maximum evidence of Bayesian linear regression on one-hot labels",
)
def logme(features: Any, labels: Any, regression: bool = False) -> float:
    """LogME (You et al., ICML 2021), https://arxiv.org/abs/2102.11005.

    For each target column y (one-hot class indicator, or a regression target),
    ``max_{alpha, beta} log N(y; 0, 1/beta I + 1/alpha F F^T) / N``, averaged over
    columns. alpha and beta come from MacKay's fixed-point iteration on one
    eigendecomposition of the Gram matrix, vectorized over all columns. Correct
    also when N < D (the public reference drops a ``(D - k) log alpha`` term
    there; see ``_evidence.py``). Features are used as given (no centering),
    as in the paper.

    Args:
        features: (N, D) features (numpy or torch, float32 stays float32 for
            the Gram matrix).
        labels: (N,) integer class labels, or with ``regression=True`` (N,) or
            (N, K) real targets.
        regression: treat ``labels`` as real-valued targets.

    Returns:
        The mean per-sample log evidence (higher is better).

    Raises:
        SelectInputError: bad shapes, non-finite values, a single class, or
            no more samples than classes.
    """
    f = check_features(features)
    n = f.shape[0]
    if regression:
        targets = check_targets(labels, n)
    else:
        ids, num_classes = check_labels(labels, n)
        targets = np.zeros((n, num_classes))
        targets[np.arange(n), ids] = 1.0
    return float(maximize_evidence(f, targets).log_evidence.mean())
