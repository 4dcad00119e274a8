"""ZooD's ensemble: concatenate the top-K models' features, select features, fit a linear head.

Dong et al., NeurIPS 2022, https://arxiv.org/abs/2210.09236: the features of
the K best-ranked models are concatenated (each standardized on the training
data), a spike-and-slab linear model fitted by variational EM on the one-hot
labels gives every feature an inclusion probability, features with
probability above ``threshold`` are kept, and a multinomial logistic
regression on them is the classifier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from weightzoo.select._validate import SelectInputError, check_features, check_labels
from weightzoo.select.scores._stats import one_hot
from weightzoo.select.zood.vem import SpikeSlabFit, spike_slab_vem

__all__ = ["ZooDEnsemble", "top_k_models"]


def top_k_models(scores: Mapping[str, float], k: int) -> list[str]:
    """Names of the ``k`` highest-scored models, best first (ties keep input order).

    Raises:
        SelectInputError: ``k`` < 1 or no scores.
    """
    if k < 1 or not scores:
        raise SelectInputError(f"top_k: need k >= 1 and at least one scored model, got k={k}")
    return sorted(scores, key=lambda name: -scores[name])[:k]


class ZooDEnsemble:
    """Feature-selection ensemble of the top-K models (see the module docstring).

    Args:
        top_k: how many models to ensemble when ``fit`` gets ``scores``.
        threshold: keep features whose inclusion probability exceeds this.
        max_iter: most variational EM sweeps.
        head_c: inverse L2 strength of the logistic-regression head.
        seed: random state of the head's solver.

    Attributes (after ``fit``):
        models_: names of the ensembled models, in concatenation order.
        dims_: feature dimension of each model.
        inclusion_prob_: (sum of dims,) inclusion probability of each feature.
        selected_: (sum of dims,) bool mask of the features the head uses.
        selection_: the full ``SpikeSlabFit``.
        head_: the fitted ``sklearn.linear_model.LogisticRegression``.
        classes_: the original label values, in the head's order.
    """

    def __init__(
        self,
        *,
        top_k: int = 3,
        threshold: float = 0.5,
        max_iter: int = 200,
        head_c: float = 1.0,
        seed: int = 0,
    ) -> None:
        self.top_k = top_k
        self.threshold = threshold
        self.max_iter = max_iter
        self.head_c = head_c
        self.seed = seed

    def _stack(self, features_by_model: Mapping[str, Any], *, fitting: bool) -> np.ndarray:
        missing = [m for m in self.models_ if m not in features_by_model]
        if missing:
            raise SelectInputError(f"features_by_model: missing model(s) {', '.join(missing)}")
        blocks = []
        for name in self.models_:
            block = check_features(features_by_model[name], f"features of model {name!r}")
            if not fitting and block.shape[1] != self.dims_[len(blocks)]:
                raise SelectInputError(
                    f"features of model {name!r}: expected {self.dims_[len(blocks)]} dims, "
                    f"got {block.shape[1]}"
                )
            blocks.append(block.astype(np.float64))
        if len({b.shape[0] for b in blocks}) != 1:
            raise SelectInputError("features_by_model: models have different numbers of samples")
        stacked = np.hstack(blocks)
        if fitting:
            self.mean_ = stacked.mean(axis=0)
            # Constant features get unit scale: they stay 0 and are never selected.
            std = stacked.std(axis=0)
            self.scale_ = np.where(std > 1e-12, std, 1.0)
        return (stacked - self.mean_) / self.scale_

    def fit(
        self,
        features_by_model: Mapping[str, Any],
        labels: Any,
        scores: Mapping[str, float] | None = None,
    ) -> ZooDEnsemble:
        """Select features and fit the head.

        Args:
            features_by_model: model name -> (N, D_m) training features.
            labels: (N,) class labels.
            scores: model name -> ranking score (e.g. ``zood_rank``'s); when
                given, only the ``top_k`` best models are used, otherwise all.

        Returns:
            self.

        Raises:
            SelectInputError: no models, mismatched sample counts, bad labels.
        """
        if not features_by_model:
            raise SelectInputError("features_by_model: no models given")
        if scores is None:
            self.models_ = list(features_by_model)
        else:
            self.models_ = top_k_models(
                {m: s for m, s in scores.items() if m in features_by_model}, self.top_k
            )
        self.dims_ = [int(np.shape(features_by_model[m])[1]) for m in self.models_]
        x = self._stack(features_by_model, fitting=True)
        ids, num_classes = check_labels(labels, x.shape[0])
        self.classes_ = np.unique(np.asarray(labels))
        fit: SpikeSlabFit = spike_slab_vem(x, one_hot(ids, num_classes), max_iter=self.max_iter)
        self.selection_ = fit
        self.inclusion_prob_ = fit.inclusion_prob
        selected = fit.inclusion_prob > self.threshold
        if not selected.any():  # nothing passes: keep the single most probable feature
            selected[np.argmax(fit.inclusion_prob)] = True
        self.selected_ = selected
        self.head_ = LogisticRegression(C=self.head_c, max_iter=2000, random_state=self.seed)
        self.head_.fit(x[:, selected], ids)
        return self

    def predict_proba(self, features_by_model: Mapping[str, Any]) -> np.ndarray:
        """(M, C) class probabilities for new samples of the same models."""
        x = self._stack(features_by_model, fitting=False)
        return self.head_.predict_proba(x[:, self.selected_])

    def predict(self, features_by_model: Mapping[str, Any]) -> np.ndarray:
        """(M,) predicted labels, in the original label values."""
        return self.classes_[np.argmax(self.predict_proba(features_by_model), axis=1)]

    def score(
        self, features_by_model: Mapping[str, Any], labels: Sequence[Any] | np.ndarray
    ) -> float:
        """Accuracy on ``labels`` (N,)."""
        return float(np.mean(self.predict(features_by_model) == np.asarray(labels)))

    def selected_by_model(self) -> dict[str, int]:
        """How many features of each model the head uses."""
        bounds = np.cumsum([0, *self.dims_])
        return {
            m: int(self.selected_[bounds[i] : bounds[i + 1]].sum())
            for i, m in enumerate(self.models_)
        }
