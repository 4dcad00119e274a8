"""Bayesian feature selection with spike-and-slab priors by variational EM.

The model (Carbonetto & Stephens 2012, https://doi.org/10.1214/12-BA703, the
inference ZooD uses for its ensemble, https://arxiv.org/abs/2210.09236):
``Y = X W + E`` with E ~ N(0, noise_var), and for each feature j a switch
``gamma_j ~ Bernoulli(prior_inclusion)`` shared by all K outputs, with
``W_j ~ N(0, slab_var I_K)`` if gamma_j = 1 and ``W_j = 0`` otherwise.

E-step: coordinate ascent on the fully factorized posterior
``q(gamma_j, W_j) = phi_j N(mu_j, s_j^2 I_K)`` (or the spike with prob. 1 - phi_j).
M-step: closed-form updates of noise_var, slab_var and prior_inclusion.
The work per sweep is O(D^2 K) on the Gram matrix ``X^T X``, never O(N D).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit

__all__ = ["SpikeSlabFit", "spike_slab_vem"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpikeSlabFit:
    """Result of ``spike_slab_vem``.

    Attributes:
        inclusion_prob: (D,) posterior probability phi_j that feature j is used.
        mean: (D, K) posterior mean of W given inclusion (mu).
        noise_var: fitted noise variance.
        slab_var: fitted slab (prior weight) variance.
        prior_inclusion: fitted prior inclusion probability.
        iterations: sweeps done.
        converged: whether max |change of phi| fell below the tolerance.
    """

    inclusion_prob: np.ndarray
    mean: np.ndarray
    noise_var: float
    slab_var: float
    prior_inclusion: float
    iterations: int
    converged: bool


def spike_slab_vem(
    features: np.ndarray,
    targets: np.ndarray,
    *,
    max_iter: int = 200,
    tol: float = 1e-5,
    prior_inclusion: float | None = None,
) -> SpikeSlabFit:
    """Fit the spike-and-slab linear model by variational EM.

    Features and targets are centered here (an implicit, unpenalized bias);
    standardize features beforehand if their scales differ.

    Args:
        features: (N, D) float features.
        targets: (N, K) float targets (e.g. one-hot labels).
        max_iter: the most E+M sweeps.
        tol: stop when no inclusion probability moves more than this in a sweep.
        prior_inclusion: fix the prior inclusion probability instead of
            learning it in the M-step.

    Returns:
        The fit.
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    n, d = x.shape
    k = y.shape[1]
    gram = x.T @ x
    xty = x.T @ y
    diag = np.maximum(np.diag(gram).copy(), 1e-12)
    yy = float((y * y).sum())

    noise_var = max(yy / (n * k), 1e-12)
    slab_var = 1.0
    pi = 0.5 if prior_inclusion is None else float(prior_inclusion)
    # Clip pi away from 0 and 1: at the ends logit(pi) is infinite and no feature can move.
    pi_bounds = (1.0 / (10.0 * d), 1.0 - 1.0 / (10.0 * d))
    phi = np.full(d, 0.5)
    mu = np.zeros((d, k))
    s2 = np.ones(d)
    g_r = np.zeros((d, k))  # gram @ (phi * mu), kept current as coordinates change
    converged = False
    sweep = 0
    for sweep in range(1, max_iter + 1):  # noqa: B007  (reported)
        old_phi = phi.copy()
        s2 = noise_var / (diag + noise_var / slab_var)
        log_prior_odds = logit(pi)
        for j in range(d):
            r_old = phi[j] * mu[j]
            # x_j^T (Y - sum_{l != j} x_l r_l) = xty_j - (G r)_j + G_jj r_j
            partial = xty[j] - g_r[j] + gram[j, j] * r_old
            mu[j] = s2[j] / noise_var * partial
            log_odds = (
                log_prior_odds
                + 0.5 * k * np.log(s2[j] / slab_var)
                + 0.5 * float(mu[j] @ mu[j]) / s2[j]
            )
            phi[j] = expit(log_odds)
            delta = phi[j] * mu[j] - r_old
            if np.any(delta):
                g_r += np.outer(gram[:, j], delta)
        # M-step.
        r = phi[:, None] * mu
        second = phi * (k * s2 + (mu * mu).sum(axis=1))  # E||W_j||^2
        expected_residual = (
            yy
            - 2.0 * float((xty * r).sum())
            + float((r * g_r).sum())
            + float(np.sum(diag * (second - (r * r).sum(axis=1))))
        )
        noise_var = max(expected_residual / (n * k), 1e-12)
        slab_var = max(float(second.sum()) / (k * max(phi.sum(), 1e-12)), 1e-12)
        if prior_inclusion is None:
            pi = float(np.clip(phi.mean(), *pi_bounds))
        if np.max(np.abs(phi - old_phi)) < tol:
            converged = True
            break
    if not converged:
        logger.debug("spike-and-slab VEM: not converged after %d sweeps", sweep)
    return SpikeSlabFit(phi, mu, noise_var, slab_var, pi, sweep, converged)
