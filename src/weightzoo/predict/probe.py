"""Probes: predictors fitted on frozen embeddings.

``linear``: ridge regression for continuous targets and multinomial logistic
regression for categorical ones, on standardized features, their
regularization chosen by cross-validation on the training rows only (the
linear probes of hyper-representations, https://arxiv.org/abs/2110.15288).

``gbt``: gradient-boosted trees, as Unterthiner et al. 2020 fit them on
per-layer weight statistics (https://arxiv.org/abs/2002.11448); scikit-learn's
histogram gradient boosting (the LightGBM algorithm) stands in for LightGBM.

A fitted linear probe is a handful of arrays (``to_arrays``) that
``LinearProbe.from_arrays`` rebuilds without pickle; its predictions always go
through those arrays, so a reloaded probe predicts exactly what the fitted one did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from weightzoo.errors import ConfigError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["PROBES", "BoostedProbe", "LinearProbe", "Probe", "build_probe", "register_probe"]

Kind = Literal["regression", "classification"]


class Probe(Protocol):
    """What the benchmark needs of a probe (scikit-learn style)."""

    def fit(self, features: np.ndarray, targets: np.ndarray) -> Self: ...

    def predict(self, features: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class ProbeEntry:
    """A registered probe: how to build it and the paper it follows."""

    name: str
    url: str
    build: Callable[..., Probe]
    saveable: bool


PROBES: dict[str, ProbeEntry] = {}


def register_probe(
    name: str, *, url: str, saveable: bool
) -> Callable[[Callable[..., Probe]], Callable[..., Probe]]:
    """Register a probe factory ``(kind=..., seed=...) -> Probe`` under ``name``."""

    def decorator(build: Callable[..., Probe]) -> Callable[..., Probe]:
        if name in PROBES:
            raise ValueError(f"probe {name!r} is already registered")
        PROBES[name] = ProbeEntry(name, url, build, saveable)
        return build

    return decorator


def build_probe(name: str, *, kind: Kind, seed: int = 0, **params: Any) -> Probe:
    """A fresh probe of that name for a regression or classification task.

    Args:
        name: a name in ``PROBES``.
        kind: ``"regression"`` or ``"classification"``.
        seed: random state.
        params: keyword parameters of the probe class.

    Raises:
        ConfigError: unknown probe name or parameter.
    """
    if name not in PROBES:
        raise ConfigError(f"probe: unknown probe {name!r}; expected one of {', '.join(PROBES)}")
    try:
        return PROBES[name].build(kind=kind, seed=seed, **params)
    except TypeError as e:
        raise ConfigError(f"probe {name!r}: {e}") from None


def _check_features(features: np.ndarray, n: int | None = None) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ConfigError(f"probe: expected features of shape (N, D), got {x.shape}")
    if n is not None and x.shape[0] != n:
        raise ConfigError(f"probe: {x.shape[0]} feature rows for {n} targets")
    if not np.isfinite(x).all():
        raise ConfigError("probe: features contain NaN or infinity")
    return x


def _logistic_cv_options(cls: type) -> dict[str, Any]:
    # scikit-learn 1.8 deprecates defaults (l1_ratios, scoring, legacy attributes) and
    # warns unless they are given; older versions do not know these arguments.
    import inspect

    wanted = {"l1_ratios": (0.0,), "scoring": "neg_log_loss", "use_legacy_attributes": False}
    known = inspect.signature(cls).parameters
    return {k: v for k, v in wanted.items() if k in known}


class LinearProbe:
    """Ridge (regression) or logistic regression (classification) on standardized features.

    Args:
        kind: ``"regression"`` or ``"classification"``.
        alphas: ridge penalties tried (efficient leave-one-out CV, ``RidgeCV``).
        cs: inverse logistic penalties tried (3-fold CV, ``LogisticRegressionCV``).
        seed: seed of the cross-validation folds.

    Attributes:
        mean_: ``(D,)`` feature means of the training rows.
        scale_: ``(D,)`` feature standard deviations (1 where constant).
        coef_: ``(K, D)`` weights on standardized features (K = 1 for a
            regression or a two-class problem).
        intercept_: ``(K,)``.
        classes_: ``(C,)`` labels of a classification, sorted.
        model_: the fitted scikit-learn estimator (on standardized features);
            predictions go through the arrays above, not through it.
    """

    def __init__(
        self,
        *,
        kind: Kind,
        alphas: tuple[float, ...] = tuple(np.logspace(-3, 3, 13)),
        cs: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0),
        seed: int = 0,
    ) -> None:
        self.kind = kind
        self.alphas = alphas
        self.cs = cs
        self.seed = seed

    def fit(self, features: np.ndarray, targets: np.ndarray) -> Self:
        """Fit on ``features`` ``(N, D)`` and ``targets`` ``(N,)``; returns self."""
        from sklearn.linear_model import LogisticRegressionCV, RidgeCV
        from sklearn.model_selection import StratifiedKFold

        y = np.asarray(targets)
        x = _check_features(features, len(y))
        self.mean_ = x.mean(axis=0)
        std = x.std(axis=0)
        self.scale_ = np.where(std > 1e-12, std, 1.0)
        z = (x - self.mean_) / self.scale_
        if self.kind == "regression":
            model = RidgeCV(alphas=np.asarray(self.alphas, dtype=float)).fit(
                z, y.astype(np.float64)
            )
            self.model_ = model
            self.coef_ = np.atleast_2d(model.coef_).astype(np.float64)
            self.intercept_ = np.atleast_1d(model.intercept_).astype(np.float64)
            self.classes_ = np.array([], dtype=str)
            return self
        self.classes_ = np.unique(y.astype(str))
        if len(self.classes_) == 1:
            # One class seen in training: the only sensible prediction is that class.
            self.coef_ = np.zeros((1, x.shape[1]))
            self.intercept_ = np.zeros(1)
            return self
        folds = min(3, int(np.unique(y, return_counts=True)[1].min()))
        cv = (
            StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.seed)
            if folds >= 2
            else None
        )
        if cv is None:
            from sklearn.linear_model import LogisticRegression

            model = LogisticRegression(C=1.0, max_iter=2000).fit(z, y.astype(str))
        else:
            model = LogisticRegressionCV(
                Cs=list(self.cs),
                cv=cv,
                max_iter=2000,
                **_logistic_cv_options(LogisticRegressionCV),
            ).fit(z, y.astype(str))
        self.model_ = model
        self.coef_ = np.atleast_2d(model.coef_).astype(np.float64)
        self.intercept_ = np.atleast_1d(model.intercept_).astype(np.float64)
        return self

    def decision(self, features: np.ndarray) -> np.ndarray:
        """``(N, K)`` linear outputs on standardized features."""
        x = _check_features(features)
        if x.shape[1] != self.mean_.shape[0]:
            raise ConfigError(f"probe: fitted on {self.mean_.shape[0]} features, got {x.shape[1]}")
        return ((x - self.mean_) / self.scale_) @ self.coef_.T + self.intercept_

    def predict(self, features: np.ndarray) -> np.ndarray:
        """``(N,)`` values (regression) or labels (classification)."""
        out = self.decision(features)
        if self.kind == "regression":
            return out[:, 0]
        if len(self.classes_) == 1:
            return np.full(out.shape[0], self.classes_[0])
        if len(self.classes_) == 2:
            # scikit-learn's binary convention: one column, positive means classes_[1].
            return self.classes_[(out[:, 0] > 0).astype(int)]
        return self.classes_[out.argmax(axis=1)]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted state as plain arrays (safetensors-friendly, no labels)."""
        return {
            "mean": self.mean_,
            "scale": self.scale_,
            "coef": self.coef_,
            "intercept": self.intercept_,
        }

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], *, kind: Kind, classes: list[str] | None = None
    ) -> LinearProbe:
        """Rebuild a fitted probe from ``to_arrays()`` and its class labels."""
        probe = cls(kind=kind)
        probe.mean_ = np.asarray(arrays["mean"], dtype=np.float64)
        probe.scale_ = np.asarray(arrays["scale"], dtype=np.float64)
        probe.coef_ = np.asarray(arrays["coef"], dtype=np.float64)
        probe.intercept_ = np.asarray(arrays["intercept"], dtype=np.float64)
        probe.classes_ = np.asarray(classes or [], dtype=str)
        return probe


def _one_openmp_thread() -> Any:
    # Histogram boosting's OpenMP threads busy-wait: on a shared or oversubscribed
    # machine a fit took 100 s with every core and 2 s with one. One thread is
    # robust everywhere and costs little on the small tables probes see.
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


class BoostedProbe:
    """Gradient-boosted trees (regression or classification).

    Args:
        kind: ``"regression"`` or ``"classification"``.
        max_iter: boosting rounds.
        learning_rate: shrinkage.
        max_leaf_nodes: leaves per tree.
        min_samples_leaf: rows per leaf, at most; capped at a tenth of the
            training rows (at least 2) so a small zoo still gets splits.
        seed: random state (used by early stopping's validation split).
    """

    def __init__(
        self,
        *,
        kind: Kind,
        max_iter: int = 300,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 20,
        seed: int = 0,
    ) -> None:
        self.kind = kind
        self.min_samples_leaf = min_samples_leaf
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.seed = seed

    def fit(self, features: np.ndarray, targets: np.ndarray) -> Self:
        """Fit on ``features`` ``(N, D)`` and ``targets`` ``(N,)``; returns self."""
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        y = np.asarray(targets)
        x = _check_features(features, len(y))
        params = {
            "max_iter": self.max_iter,
            "learning_rate": self.learning_rate,
            "max_leaf_nodes": self.max_leaf_nodes,
            "min_samples_leaf": min(self.min_samples_leaf, max(2, len(y) // 10)),
            "random_state": self.seed,
        }
        with _one_openmp_thread():
            if self.kind == "regression":
                self.model_ = HistGradientBoostingRegressor(**params).fit(x, y.astype(np.float64))
                return self
            self.classes_ = np.unique(y.astype(str))
            if len(self.classes_) == 1:
                self.model_ = None
                return self
            self.model_ = HistGradientBoostingClassifier(**params).fit(x, y.astype(str))
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        """``(N,)`` values (regression) or labels (classification)."""
        x = _check_features(features)
        if self.kind == "classification" and self.model_ is None:
            return np.full(x.shape[0], self.classes_[0])
        with _one_openmp_thread():
            return np.asarray(self.model_.predict(x))


@register_probe("linear", url="https://arxiv.org/abs/2110.15288", saveable=True)
def _linear(*, kind: Kind, seed: int = 0, **params: Any) -> LinearProbe:
    return LinearProbe(kind=kind, seed=seed, **params)


@register_probe("gbt", url="https://arxiv.org/abs/2002.11448", saveable=False)
def _gbt(*, kind: Kind, seed: int = 0, **params: Any) -> BoostedProbe:
    return BoostedProbe(kind=kind, seed=seed, **params)
