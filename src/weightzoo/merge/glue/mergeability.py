"""Mergeability of models: Model-GLUE's weight similarity and greedy threshold clustering.

Model-GLUE (Zhao et al. 2024, https://arxiv.org/abs/2410.05357, Sec. 3 and its
``clustering.py``) first groups a zoo by architecture, then within each
architecture by the similarity of weights: for every weight matrix, the cosine
similarity of each *column* (``F.cosine_similarity(A, B, dim=0)``, i.e. the
weights leaving one input unit), averaged over the columns and then over the
matrices; optionally of the task vectors ``A - base`` and ``B - base``. A model
joins the first cluster whose representative (its first member) is more
similar than the threshold (0.95 in the paper), else starts a new cluster.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import torch.nn.functional as F
from torch import Tensor

from weightzoo.errors import WeightzooError

__all__ = [
    "MODEL_GLUE_URL",
    "architecture_key",
    "cluster_by_mergeability",
    "mergeability",
    "mergeability_matrix",
]

MODEL_GLUE_URL = "https://arxiv.org/abs/2410.05357"

log = logging.getLogger(__name__)

Weights = Mapping[str, Tensor]


def architecture_key(weights: Weights) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Names and shapes of the tensors: models with equal keys can be merged tensor by tensor."""
    return tuple(sorted((k, tuple(v.shape)) for k, v in weights.items()))


def _matrices(a: Weights, base: Weights | None) -> list[str]:
    names = [k for k, v in a.items() if v.dim() >= 2 and v.is_floating_point()]
    if not names:
        raise WeightzooError(
            "mergeability: the models have no weight matrix (no tensor of rank >= 2)"
        )
    if base is not None:
        missing = [k for k in names if k not in base]
        if missing:
            raise WeightzooError(f"mergeability: the base model has no tensor {missing[0]!r}")
    return names


def mergeability(a: Weights, b: Weights, *, base: Weights | None = None) -> float:
    """Mean per-column cosine similarity of two models' weight matrices.

    Args:
        a: name -> tensor; only floating tensors of rank >= 2 count (convolution
            kernels are flattened to ``(out, in * k...)``).
        b: the other model, same names and shapes.
        base: when given, compare task vectors ``a - base`` and ``b - base``.

    Returns:
        A similarity in [-1, 1]; 1 for identical models.

    Raises:
        WeightzooError: names or shapes differ, or there is no matrix.
    """
    if architecture_key(a) != architecture_key(b):
        raise WeightzooError("mergeability: the models have different tensor names or shapes")
    sims = []
    for name in _matrices(a, base):
        ta, tb = a[name].double(), b[name].double()
        if base is not None:
            ta, tb = ta - base[name].double(), tb - base[name].double()
        ta, tb = ta.reshape(ta.shape[0], -1), tb.reshape(tb.shape[0], -1)
        # A zero column (no change from the base) has no direction: F.cosine_similarity
        # clamps the norm with eps and gives 0 there, which is what "unrelated" should mean.
        sims.append(float(F.cosine_similarity(ta, tb, dim=0, eps=1e-12).mean()))
    return float(np.mean(sims))


def mergeability_matrix(
    models: Mapping[str, Weights], *, base: Weights | None = None
) -> np.ndarray:
    """Pairwise ``mergeability`` of models of one architecture: ``(M, M)``, ones on the diagonal."""
    names = list(models)
    m = np.eye(len(names))
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            m[i, j] = m[j, i] = mergeability(models[names[i]], models[names[j]], base=base)
    return m


def cluster_by_mergeability(
    models: Mapping[str, Weights],
    *,
    threshold: float = 0.95,
    base: Weights | None = None,
) -> list[list[str]]:
    """Model-GLUE's clustering: by architecture, then greedy by similarity to each cluster's first member.

    Args:
        models: name -> weights, in the order models are considered (the order
            decides representatives, as in the paper's greedy pass).
        threshold: a model joins a cluster when its similarity to the
            representative is strictly above this.
        base: compare task vectors against this base (models of other
            architectures than the base's are compared raw).

    Returns:
        Clusters of model names, each in input order; clusters in order of creation.
    """
    if not models:
        raise WeightzooError("cluster: expected at least one model")
    by_arch: dict[tuple, list[str]] = {}
    for name, w in models.items():
        by_arch.setdefault(architecture_key(w), []).append(name)
    base_key = None if base is None else architecture_key(base)
    clusters: list[list[str]] = []
    for key, names in by_arch.items():
        use_base = base if key == base_key else None
        families: list[list[str]] = []
        for name in names:
            for fam in families:
                sim = mergeability(models[fam[0]], models[name], base=use_base)
                log.debug("mergeability(%s, %s) = %.4f", fam[0], name, sim)
                if sim > threshold:
                    fam.append(name)
                    break
            else:
                families.append([name])
        clusters.extend(families)
    return clusters
