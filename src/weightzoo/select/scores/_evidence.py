"""Evidence maximization of Bayesian linear regression on one eigendecomposition.

The model of LogME (You et al. 2021, https://arxiv.org/abs/2102.11005) and of
ZooD's discriminability term: ``y = F w + e`` with ``w ~ N(0, 1/alpha I_D)`` and
``e ~ N(0, 1/beta I_N)``, so ``y ~ N(0, 1/beta I + 1/alpha F F^T)``. alpha and
beta are set by MacKay's fixed-point iteration, separately for every target
column, all columns at once: the only O(N D^2) work is one Gram matrix and one
symmetric eigendecomposition shared by every column.

Notation: ``sigma`` are the eigenvalues of ``F^T F`` (equivalently of ``F F^T``,
which has the same nonzero ones); ``k`` is how many are kept (D when N >= D, N
otherwise). For a target column y, ``z = V^T F^T y`` in the eigenbasis V of
``F^T F``; when N < D we also keep ``x = U^T y`` in the eigenbasis U of ``F F^T``
(``z_i^2 = sigma_i x_i^2``), which gives the residual without cancellation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Decomposition", "EvidenceFit", "decompose", "maximize_evidence"]

logger = logging.getLogger(__name__)

_TINY = 1e-300
# alpha or beta at the edge of float64 would overflow (alpha + beta sigma)^2; 1e100 is
# "infinite" here (beta sigma / alpha is then negligible for any real features).
_SMALLEST, _LARGEST = 1e-100, 1e100
_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class Decomposition:
    """One eigendecomposition of a feature matrix, shared by all target columns.

    Attributes:
        sigma: (k,) float64 eigenvalues of ``F^T F`` (clipped at 0), k = min(N, D).
        vectors: (D, D) eigenvectors of ``F^T F`` when ``sample_side`` is False,
            else (N, N) eigenvectors of ``F F^T``.
        sample_side: whether the decomposition is of ``F F^T`` (N < D).
        num_samples: N.
        num_dims: D.
    """

    sigma: np.ndarray
    vectors: np.ndarray
    sample_side: bool
    num_samples: int
    num_dims: int


def decompose(features: np.ndarray) -> Decomposition:
    """Eigendecompose the smaller Gram matrix of ``features`` (N, D).

    The Gram matrix and its eigendecomposition are computed in the features'
    dtype (float32 input stays float32: these are the O(N D^2) and O(D^3)
    steps, and the evidence only needs eigenvalues to a relative precision far
    coarser than float32's). torch is used for both because its CPU build
    links MKL, whose symmetric eigensolver is several times faster than the
    reference LAPACK paths numpy wheels may take.
    """
    n, d = features.shape
    sample_side = n < d
    f = torch.from_numpy(np.ascontiguousarray(features))
    gram = f @ f.T if sample_side else f.T @ f
    sigma, vectors = torch.linalg.eigh(gram)
    # Rounding makes the smallest eigenvalues of a PSD Gram matrix slightly negative.
    sigma = np.clip(sigma.numpy().astype(np.float64), 0.0, None)
    return Decomposition(sigma, vectors.numpy(), sample_side, n, d)


@dataclass(frozen=True)
class EvidenceFit:
    """Per-column result of the fixed-point iteration.

    Attributes:
        alpha: (K,) prior precision of the weights.
        beta: (K,) noise precision.
        log_evidence: (K,) maximized ``log p(y | F, alpha, beta) / N``.
        iterations: fixed-point steps taken (the slowest column).
        converged: whether every column met the tolerance.
        coords: (k, K) ``z = V^T F^T y`` when the decomposition is of ``F^T F``,
            ``x = U^T y`` when it is of ``F F^T`` (see the module docstring).
    """

    alpha: np.ndarray
    beta: np.ndarray
    log_evidence: np.ndarray
    iterations: int
    converged: bool
    coords: np.ndarray


def _projections(
    features: np.ndarray, targets: np.ndarray, dec: Decomposition
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """``(z^2, x^2 or None, coords)`` of every target column, each (k, K) float64."""
    if dec.sample_side:
        x = dec.vectors.T.astype(np.float64) @ targets
        x2 = x * x
        return dec.sigma[:, None] * x2, x2, x
    fty = features.T @ targets.astype(features.dtype, copy=False)
    z = dec.vectors.T @ fty
    z = z.astype(np.float64)
    return z * z, None, z


def maximize_evidence(
    features: np.ndarray,
    targets: np.ndarray,
    dec: Decomposition | None = None,
    *,
    tol: float = 1e-10,
    max_iter: int = 1000,
) -> EvidenceFit:
    """Maximize the evidence over (alpha, beta) for every column of ``targets``.

    Args:
        features: (N, D) float32 or float64.
        targets: (N, K) float64 target columns (one-hot classes or regression targets).
        dec: ``decompose(features)``, if already computed.
        tol: stop when ``log alpha`` and ``log beta`` of every column move less than this.
        max_iter: the most fixed-point steps.

    Returns:
        The fit; ``log_evidence`` is per sample (divided by N), as in LogME.
    """
    dec = decompose(features) if dec is None else dec
    n = dec.num_samples
    sigma = dec.sigma[:, None]
    z2, x2, coords = _projections(features, targets, dec)
    yy = np.einsum("nk,nk->k", targets, targets)
    outside = None if x2 is None else np.clip(yy - x2.sum(axis=0), 0.0, None)

    def stats(alpha: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, ...]:
        t = alpha + beta * sigma
        gamma = (beta * sigma / t).sum(axis=0)
        m2 = (beta * beta * z2 / (t * t)).sum(axis=0)
        if x2 is not None:
            # ||y - F m||^2 in the basis of F F^T: exact, no cancellation (the N < D case).
            res = (x2 * (alpha / t) ** 2).sum(axis=0) + outside
        else:
            # ||y||^2 - sum_i z_i^2 beta (2 alpha + beta sigma_i) / (alpha + beta sigma_i)^2,
            # the residual without forming F m (no O(N D) work per iteration); it has no
            # division by sigma, so zero eigenvalues are harmless.
            res = yy - (z2 * beta * (2.0 * alpha + beta * sigma) / (t * t)).sum(axis=0)
        return t, gamma, np.maximum(m2, _TINY), np.maximum(res, _TINY)

    num_cols = targets.shape[1]
    alpha = np.ones(num_cols)
    beta = np.ones(num_cols)
    previous = np.full(num_cols, -np.inf)
    converged = False
    steps = 0
    for steps in range(1, max_iter + 1):  # noqa: B007  (steps is reported)
        _, gamma, m2, res = stats(alpha, beta)
        # gamma = 0 only when every sigma is 0 (all-zero features): alpha then has no effect.
        new_alpha = np.where(gamma > 0, np.clip(gamma / m2, _SMALLEST, _LARGEST), alpha)
        new_beta = np.clip((n - gamma) / res, _SMALLEST, _LARGEST)
        change = np.maximum(np.abs(np.log(new_alpha / alpha)), np.abs(np.log(new_beta / beta)))
        alpha, beta = new_alpha, new_beta
        t, _, m2, res = stats(alpha, beta)
        current = _log_evidence(alpha, beta, t, m2, res, sigma, n)
        # A column whose labels the features cannot explain has its optimum at alpha -> inf
        # (w = 0): the parameters never settle there, but the evidence does, down to rounding.
        moved = np.abs(current - previous)
        settled = (change < tol) | (moved <= 1e-14 * np.maximum(1.0, np.abs(current)))
        previous = current
        if settled.all():
            converged = True
            break
    if not converged:
        logger.debug("evidence fixed point: not converged after %d steps", steps)
    return EvidenceFit(alpha, beta, previous, steps, converged, coords)


def _log_evidence(
    alpha: np.ndarray,
    beta: np.ndarray,
    t: np.ndarray,
    m2: np.ndarray,
    res: np.ndarray,
    sigma: np.ndarray,
    n: int,
) -> np.ndarray:
    """Per-sample log evidence of every column at (alpha, beta); ``t = alpha + beta sigma``."""
    k = sigma.shape[0]
    # The evidence has -1/2 sum_{i=1}^{D} log(alpha + beta sigma_i) with sigma_i = 0 for
    # i > k, i.e. an extra -(D - k)/2 log alpha when N < D. The public LogME code keeps
    # D/2 log alpha but sums only k terms, dropping that term; with it, the D/2 and
    # (D - k)/2 combine into k/2 log alpha, and the evidence depends on F only through
    # F F^T, as the marginal N(0, 1/beta I + 1/alpha F F^T) says it must.
    log_evidence = (
        0.5 * k * np.log(alpha)
        + 0.5 * n * np.log(beta)
        - 0.5 * np.log(t).sum(axis=0)
        - 0.5 * beta * res
        - 0.5 * alpha * m2
        - 0.5 * n * _LOG_2PI
    ) / n
    return log_evidence
