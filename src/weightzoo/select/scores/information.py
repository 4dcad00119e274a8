"""Scores from the source model's predictions: LEEP and NCE."""

from __future__ import annotations

from typing import Any

import numpy as np

from weightzoo.select._validate import (
    SelectInputError,
    as_array,
    check_labels,
    check_source_probs,
)
from weightzoo.select.scores._registry import register_score

__all__ = ["leep", "nce"]


@register_score(
    "leep",
    url="https://arxiv.org/abs/2002.12462",
    needs="source_probs",
    summary="log expected empirical prediction through the source head",
)
def leep(source_probs: Any, labels: Any) -> float:
    """LEEP (Nguyen et al., ICML 2020), https://arxiv.org/abs/2002.12462.

    With theta_i the source model's class probabilities for sample i, the
    empirical joint ``P(y, z) = 1/N sum_i theta_i(z) [y_i = y]`` gives
    ``P(y | z)``, and LEEP = ``1/N sum_i log sum_z P(y_i | z) theta_i(z)``.

    Args:
        source_probs: (N, Z) softmax outputs of the source head (rows sum to 1).
        labels: (N,) target class labels.

    Returns:
        LEEP, <= 0 (higher is better); 0 when the labels are a function of a
        one-hot source prediction.

    Raises:
        SelectInputError: bad shapes, logits instead of probabilities, a single
            class, or no more samples than classes.
    """
    theta = check_source_probs(source_probs)
    n = theta.shape[0]
    ids, num_classes = check_labels(labels, n, samples_name="source_probs")
    onehot = np.zeros((n, num_classes))
    onehot[np.arange(n), ids] = 1.0
    joint = onehot.T @ theta / n  # (C, Z)
    marginal = joint.sum(axis=0)  # P(z)
    # Source classes no sample puts mass on have P(z) = 0; they contribute nothing.
    conditional = np.divide(joint, marginal, out=np.zeros_like(joint), where=marginal > 0)
    expected = np.einsum("nz,nz->n", theta, conditional[ids])
    return float(np.mean(np.log(expected)))


@register_score(
    "nce",
    url="https://arxiv.org/abs/1908.08142",
    needs="source_labels",
    summary="negative conditional entropy of target labels given source labels",
)
def nce(source_labels: Any, labels: Any) -> float:
    """NCE (Tran et al., ICCV 2019), https://arxiv.org/abs/1908.08142.

    ``NCE = -H(Y | Z) = sum_{y, z} P(y, z) log P(y | z)`` from the empirical joint
    of target labels Y and the source model's predicted labels Z.

    Args:
        source_labels: (N,) source-head predicted classes (``probs.argmax(1)``).
        labels: (N,) target class labels.

    Returns:
        NCE, <= 0 (higher is better); 0 exactly when Y is a function of Z.

    Raises:
        SelectInputError: bad shapes, a single target class, or no more samples
            than classes.
    """
    z_raw = as_array(source_labels, "source_labels")
    if z_raw.ndim != 1:
        raise SelectInputError(
            f"source_labels: expected a 1-D array of class ids, got shape {z_raw.shape}"
        )
    z_ids, num_source = check_labels(z_raw, z_raw.shape[0], "source_labels", min_classes=1)
    n = z_ids.shape[0]
    ids, num_classes = check_labels(labels, n, samples_name="source_labels")
    joint = np.zeros((num_classes, num_source))
    np.add.at(joint, (ids, z_ids), 1.0)
    joint /= n
    conditional = joint / joint.sum(axis=0, keepdims=True)  # P(y | z); every z occurs
    mask = joint > 0  # 0 log 0 = 0
    return float(np.sum(joint[mask] * np.log(conditional[mask])))
