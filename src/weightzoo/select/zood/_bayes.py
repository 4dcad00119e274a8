"""Bayesian linear regression with evidence-maximized (alpha, beta) per output column.

The model of LogME (see ``weightzoo.select.scores._evidence``), fitted on
training data and used to predict: the posterior over weights is
``N(m, A^-1)`` with ``A = alpha I + beta F^T F`` and ``m = beta A^-1 F^T y``, and
the predictive density of a new pair (f, y) is ``N(y; f^T m, 1/beta + f^T A^-1 f)``.
Everything reuses the one eigendecomposition of the training Gram matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from weightzoo.select.scores._evidence import Decomposition, decompose, maximize_evidence

__all__ = ["BayesianLinear"]

_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class BayesianLinear:
    """A fitted evidence-maximized Bayesian linear model (see the module docstring).

    Attributes:
        feature_mean: (D,) training mean subtracted from features (an implicit bias).
        target_mean: (K,) training mean of the targets.
        alpha: (K,) prior precision per column.
        beta: (K,) noise precision per column.
        weights: (D, K) posterior mean.
        log_evidence: (K,) per-sample log evidence on the training data.
    """

    feature_mean: np.ndarray
    target_mean: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    weights: np.ndarray
    log_evidence: np.ndarray
    _dec: Decomposition
    _train: np.ndarray  # centered training features, needed for N < D predictions

    @classmethod
    def fit(cls, features: np.ndarray, targets: np.ndarray) -> BayesianLinear:
        """Fit on (N, D) float features and (N, K) float64 targets."""
        feature_mean = features.mean(axis=0)
        target_mean = targets.mean(axis=0)
        f = features - feature_mean
        y = targets - target_mean
        dec = decompose(f)
        fit = maximize_evidence(f, y, dec)
        t = fit.alpha + fit.beta * dec.sigma[:, None]  # (k, K)
        scaled = fit.beta * fit.coords / t
        if dec.sample_side:
            # (alpha I + beta F^T F)^-1 F^T = F^T (alpha I + beta F F^T)^-1 (push-through identity).
            weights = f.T.astype(np.float64) @ (dec.vectors.astype(np.float64) @ scaled)
        else:
            weights = dec.vectors.astype(np.float64) @ scaled
        return cls(
            feature_mean, target_mean, fit.alpha, fit.beta, weights, fit.log_evidence, dec, f
        )

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predictive mean and variance.

        Args:
            features: (M, D) new features.

        Returns:
            ``(mean, variance)``, both (M, K).
        """
        f = (features - self.feature_mean).astype(np.float64)
        mean = f @ self.weights + self.target_mean
        sigma = self._dec.sigma
        t = self.alpha + self.beta * sigma[:, None]  # (k, K)
        if self._dec.sample_side:
            # Woodbury: f^T A^-1 f = (||f||^2 - beta sum_j (u_j^T F f)^2 / (alpha + beta sigma_j)) / alpha.
            proj = (f @ self._train.T.astype(np.float64)) @ self._dec.vectors.astype(np.float64)
            quad = ((f * f).sum(axis=1)[:, None] - (proj * proj) @ (self.beta / t)) / self.alpha
        else:
            proj = f @ self._dec.vectors.astype(np.float64)
            quad = (proj * proj) @ (1.0 / t)
        return mean, 1.0 / self.beta + np.maximum(quad, 0.0)

    def log_predictive(self, features: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Per-sample log predictive density of each target column.

        Args:
            features: (M, D) new features.
            targets: (M, K) their targets.

        Returns:
            (M, K) ``log N(y_mk; mean_mk, variance_mk)``.
        """
        mean, variance = self.predict(features)
        return -0.5 * (_LOG_2PI + np.log(variance) + (targets - mean) ** 2 / variance)
