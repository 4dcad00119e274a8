"""LogME against a brute-force evidence maximization, and its invariances."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg, optimize

from weightzoo.select import logme
from weightzoo.select.scores._evidence import maximize_evidence


def _brute_force_log_evidence(features: np.ndarray, y: np.ndarray) -> float:
    """max over (log alpha, log beta) of log N(y; 0, I/beta + F F^T/alpha) / N, by Cholesky."""
    n = features.shape[0]
    gram = features @ features.T

    def negative(params: np.ndarray) -> float:
        log_alpha, log_beta = params
        cov = np.exp(-log_beta) * np.eye(n) + np.exp(-log_alpha) * gram
        chol = linalg.cho_factor(cov, lower=True)
        logdet = 2.0 * np.sum(np.log(np.diag(chol[0])))
        quad = y @ linalg.cho_solve(chol, y)
        return 0.5 * (logdet + quad + n * np.log(2 * np.pi))

    best = None
    for start in ([0.0, 0.0], [2.0, -2.0], [-2.0, 2.0]):
        result = optimize.minimize(
            negative,
            start,
            method="Nelder-Mead",
            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000},
        )
        if best is None or result.fun < best.fun:
            best = result
    return -best.fun / n


def _features(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    # A spread spectrum, so that neither alpha nor beta sits at a boundary.
    return rng.normal(size=(n, d)) * np.geomspace(3.0, 0.1, d)


@pytest.mark.parametrize(("n", "d", "c"), [(80, 12, 3), (30, 60, 3)], ids=["N>D", "N<D"])
def test_logme_equals_brute_force_maximum(n: int, d: int, c: int) -> None:
    rng = np.random.default_rng(n + d)
    features = _features(rng, n, d)
    labels = np.arange(n) % c
    rng.shuffle(labels)
    expected = np.mean(
        [_brute_force_log_evidence(features, (labels == k).astype(float)) for k in range(c)]
    )
    assert logme(features, labels) == pytest.approx(expected, abs=1e-6)


def test_logme_regression_equals_brute_force() -> None:
    rng = np.random.default_rng(5)
    features = _features(rng, 50, 8)
    targets = features @ rng.normal(size=8) + rng.normal(size=50)
    expected = _brute_force_log_evidence(features, targets)
    assert logme(features, targets, regression=True) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(("n", "d"), [(60, 10), (25, 40)], ids=["N>D", "N<D"])
def test_logme_invariances(n: int, d: int) -> None:
    rng = np.random.default_rng(1)
    features = _features(rng, n, d)
    labels = rng.integers(0, 4, n)
    reference = logme(features, labels)
    rotation, _ = np.linalg.qr(rng.normal(size=(d, d)))
    assert logme(features @ rotation, labels) == pytest.approx(reference, abs=1e-9)
    order = rng.permutation(n)
    assert logme(features[order], labels[order]) == pytest.approx(reference, abs=1e-9)
    renamed = np.array([7, 3, 11, 5])[labels]  # a permutation of the classes, other names
    assert logme(features, renamed) == pytest.approx(reference, abs=1e-9)
    # The evidence depends on F only through F F^T: zero feature columns change nothing.
    # (The reference implementation's formula changes here when N < D.)
    padded = np.hstack([features, np.zeros((n, 2 * n))])
    assert logme(padded, labels) == pytest.approx(reference, abs=1e-8)


def test_logme_float32_and_torch_match_float64() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    features = _features(rng, 200, 16)
    labels = rng.integers(0, 5, 200)
    reference = logme(features, labels)
    assert logme(features.astype(np.float32), labels) == pytest.approx(reference, abs=1e-4)
    assert logme(torch.from_numpy(features), torch.from_numpy(labels)) == pytest.approx(
        reference, abs=1e-12
    )


def test_fixed_point_converges_to_a_stationary_point() -> None:
    # At the optimum, alpha = gamma / m^2 and beta = (N - gamma) / res hold exactly.
    rng = np.random.default_rng(3)
    targets = np.eye(4)[rng.integers(0, 4, 100)]
    features = _features(rng, 100, 20) + targets @ rng.normal(size=(4, 20))
    fit = maximize_evidence(features, targets)
    assert fit.converged
    for k in range(4):
        a, b, y = fit.alpha[k], fit.beta[k], targets[:, k]
        posterior = a * np.eye(20) + b * features.T @ features
        m = b * np.linalg.solve(posterior, features.T @ y)
        gamma = np.trace(b * features.T @ features @ np.linalg.inv(posterior))
        assert a == pytest.approx(gamma / (m @ m), rel=1e-6)
        assert b == pytest.approx((100 - gamma) / np.sum((y - features @ m) ** 2), rel=1e-6)


def test_logme_prefers_informative_features() -> None:
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, 300)
    informative = np.eye(3)[labels] * 2.0 + rng.normal(size=(300, 3))
    noise = rng.normal(size=(300, 3))
    assert logme(informative, labels) > logme(noise, labels) + 0.05


def test_logme_of_labels_the_features_cannot_explain_is_the_noise_only_evidence() -> None:
    # Features orthogonal to the (one) label column: the evidence is maximal at
    # alpha -> inf (w = 0), i.e. log N(y; 0, ||y||^2 / N I) / N in closed form.
    rng = np.random.default_rng(6)
    n = 40
    y = (np.arange(n) % 2).astype(float)
    raw = rng.normal(size=(n, 5))
    features = raw - np.outer(y, y @ raw) / (y @ y)
    fit = maximize_evidence(features, y[:, None])
    expected = -0.5 * (np.log(2 * np.pi * (y @ y) / n) + 1.0)
    assert fit.converged
    assert fit.log_evidence[0] == pytest.approx(expected, abs=1e-9)


def test_logme_of_all_zero_features_is_the_noise_only_evidence() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2, 2])
    onehot = np.eye(3)[labels]
    expected = np.mean([-0.5 * (np.log(2 * np.pi * (y @ y) / 7) + 1.0) for y in onehot.T])
    assert logme(np.zeros((7, 4)), labels) == pytest.approx(expected, abs=1e-12)
    assert logme(np.zeros((7, 20)), labels) == pytest.approx(expected, abs=1e-12)
