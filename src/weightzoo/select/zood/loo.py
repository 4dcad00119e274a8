"""ZooD's leave-one-domain-out model score: discriminability plus stability.

Dong et al., "ZooD: Exploiting Model Zoo for Out-of-Distribution
Generalization", NeurIPS 2022, https://arxiv.org/abs/2210.09236.

For one candidate model, with features of labelled samples from several
training domains: hold out each domain in turn, fit on the others, and score
the held-out domain by

* **discriminability**: the mean log predictive density of its one-hot labels
  under an evidence-maximized Bayesian linear model (the LogME model) fitted
  on the other domains, per sample and class column;
* **stability**: how likely its features are under a Gaussian fitted to the
  other domains' features (Ledoit-Wolf covariance), the paper's p(f' | f),
  measured relative to *unseen* samples of the training domains and per
  feature dimension: ``(mean_val log p(f) - mean_ref log p(f)) / D``.
  Subtracting a reference makes the value invariant to the features' scale
  (a model is not more stable because its features are small). The reference
  is cross-fitted: the training domains are cut into ``folds`` parts, each
  part is scored by the Gaussian fitted on the others, and the held-out domain
  by the same fits, so both sides are out-of-sample log-likelihoods of fits
  of the same size. An in-sample reference (scoring the training features by
  the Gaussian fitted on them) is optimistic by an amount that grows with
  D / N, so it charged high-dimensional features for overfitting as if it
  were domain shift (about -0.56 per dimension for 256-d features from 450
  samples with no shift at all); the cross-fitted value is 0 in expectation
  for no shift, whatever D is, and negative when the held-out domain drifts.

The model's score is the mean over held-out domains of
``discriminability + stability_weight * stability``; higher is better.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.covariance import LedoitWolf

from weightzoo.select._validate import SelectInputError, as_array, check_features, check_labels
from weightzoo.select.scores._stats import one_hot
from weightzoo.select.zood._bayes import BayesianLinear

__all__ = ["ZOOD_URL", "ZooDScore", "check_domains", "zood_rank", "zood_score"]

ZOOD_URL = "https://arxiv.org/abs/2210.09236"


@dataclass(frozen=True)
class ZooDScore:
    """The leave-one-domain-out score of one model.

    Attributes:
        score: mean over held-out domains of discriminability + weight * stability.
        discriminability: mean held-out log predictive density per sample and class.
        stability: mean held-out feature log-likelihood per dimension, relative
            to out-of-sample training features (cross-fitted).
        per_domain: one row per held-out domain: ``domain``, ``num_samples``,
            ``discriminability``, ``stability``, ``score``.
    """

    score: float
    discriminability: float
    stability: float
    per_domain: pd.DataFrame


def check_domains(domains: Any, num_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Check domain labels: (N,) of any hashable values, at least 2 distinct.

    Returns:
        ``(names, ids)``: the sorted distinct domains and (N,) int ids into them.

    Raises:
        SelectInputError: wrong shape or length, or a single domain.
    """
    array = as_array(domains, "domains")
    if array.ndim != 1:
        raise SelectInputError(f"domains: expected a 1-D array, got shape {array.shape}")
    if array.shape[0] != num_samples:
        raise SelectInputError(
            f"domains: has {array.shape[0]} entries but features has {num_samples} samples"
        )
    names, ids = np.unique(array, return_inverse=True)
    if len(names) < 2:
        raise SelectInputError(
            f"domains: found {len(names)} domain; leave-one-domain-out needs at least 2"
        )
    return names, ids.reshape(-1)


def _reference_folds(train: np.ndarray, train_domains: np.ndarray, folds: int) -> np.ndarray:
    """(N_train,) fold of each training sample, stratified by domain.

    Within each domain the samples are put in lexicographic order of their
    features and dealt round-robin, the deal continuing from one domain to the
    next so every fold gets at least ``N_train // folds`` samples. The folds do
    not depend on the order of the samples, and no random state is needed.
    """
    fold = np.empty(train.shape[0], dtype=np.int64)
    dealt = 0
    for d in np.unique(train_domains):
        idx = np.flatnonzero(train_domains == d)
        order = idx[np.lexsort(train[idx].T[::-1])]
        fold[order] = (dealt + np.arange(len(order))) % folds
        dealt += len(order)
    return fold


def _stability(
    train: np.ndarray, train_domains: np.ndarray, held_out: np.ndarray, folds: int
) -> float:
    """Cross-fitted relative log-likelihood per dimension (see the module docstring)."""
    fold = _reference_folds(train, train_domains, folds)
    reference_total = 0.0  # sum of the training samples' out-of-fold log-likelihoods
    held_out_mean = 0.0
    for k in range(folds):
        part = fold == k
        gaussian = LedoitWolf().fit(train[~part])
        reference_total += gaussian.score(train[part]) * part.sum()  # score(): mean log p
        held_out_mean += gaussian.score(held_out) / folds
    return float((held_out_mean - reference_total / train.shape[0]) / train.shape[1])


def zood_score(
    features: Any,
    labels: Any,
    domains: Any,
    *,
    stability_weight: float = 1.0,
    folds: int = 5,
) -> ZooDScore:
    """ZooD's leave-one-domain-out score of one model (see the module docstring).

    Args:
        features: (N, D) the model's features of every labelled sample.
        labels: (N,) class labels.
        domains: (N,) the domain of each sample (ints or strings), >= 2 domains.
        stability_weight: weight of the stability term.
        folds: parts the training domains are cut into for the stability
            term's out-of-sample reference (>= 2).

    Returns:
        The score, its two terms, and a per-domain table.

    Raises:
        SelectInputError: bad shapes, non-finite values, fewer than 2 domains
            or 2 classes, ``folds`` < 2, or a domain left out that leaves fewer
            than ``2 * folds`` training samples.
    """
    if folds < 2:
        raise SelectInputError(f"folds: expected an integer >= 2, got {folds}")
    f = check_features(features).astype(np.float64)
    ids, num_classes = check_labels(labels, f.shape[0])
    names, domain_ids = check_domains(domains, f.shape[0])
    targets = one_hot(ids, num_classes)
    rows = []
    for d, name in enumerate(names):
        name = name.item() if hasattr(name, "item") else name  # numpy scalar -> plain value
        held = domain_ids == d
        train = ~held
        if train.sum() < 2 * folds:
            raise SelectInputError(
                f"domains: leaving out {name!r} leaves {int(train.sum())} samples; "
                f"the stability term needs at least 2 * folds = {2 * folds}"
            )
        model = BayesianLinear.fit(f[train], targets[train])
        disc = float(model.log_predictive(f[held], targets[held]).mean())
        stab = _stability(f[train], domain_ids[train], f[held], folds)
        rows.append(
            {
                "domain": name,
                "num_samples": int(held.sum()),
                "discriminability": disc,
                "stability": stab,
                "score": disc + stability_weight * stab,
            }
        )
    table = pd.DataFrame(rows)
    return ZooDScore(
        score=float(table["score"].mean()),
        discriminability=float(table["discriminability"].mean()),
        stability=float(table["stability"].mean()),
        per_domain=table,
    )


def zood_rank(
    features_by_model: Mapping[str, Any],
    labels: Any,
    domains: Any,
    *,
    stability_weight: float = 1.0,
    folds: int = 5,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Score every model with ``zood_score`` and rank them.

    Args:
        features_by_model: model name -> (N, D_m) features of the same N samples.
        labels: (N,) class labels.
        domains: (N,) domain of each sample.
        stability_weight: weight of the stability term.
        folds: folds of the stability term's reference (see ``zood_score``).
        progress: called as ``progress(done, total)`` after each model.

    Returns:
        One row per model, best first: ``model``, ``score``,
        ``discriminability``, ``stability``, ``rank`` (1 = best).

    Raises:
        SelectInputError: no models, or bad input for any model (the message
            names the model).
    """
    if not features_by_model:
        raise SelectInputError("features_by_model: no models to rank")
    rows = []
    for i, (name, features) in enumerate(features_by_model.items()):
        try:
            result = zood_score(
                features, labels, domains, stability_weight=stability_weight, folds=folds
            )
        except SelectInputError as err:
            raise SelectInputError(f"model {name!r}: {err}") from err
        rows.append(
            {
                "model": name,
                "score": result.score,
                "discriminability": result.discriminability,
                "stability": result.stability,
            }
        )
        if progress is not None:
            progress(i + 1, len(features_by_model))
    table = pd.DataFrame(rows).sort_values("score", ascending=False, kind="stable")
    table["rank"] = np.arange(1, len(table) + 1)
    return table.reset_index(drop=True)
