"""Transferability scores: closed forms, invariances, independent loop implementations, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.covariance import LedoitWolf
from sklearn.decomposition import PCA

from weightzoo.errors import WeightzooError
from weightzoo.select import (
    SCORES,
    SelectInputError,
    gbc,
    hscore,
    hscore_shrinkage,
    leep,
    nce,
    transrate,
)

FEATURE_SCORES = sorted(n for n, e in SCORES.items() if e.needs == "features")


def _problem(seed: int = 0, n: int = 240, d: int = 6, c: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % c
    rng.shuffle(labels)
    features = rng.normal(size=(n, d)) + rng.normal(size=(c, d))[labels] * 1.5
    return features, labels


def test_registry_entries_have_a_paper_and_an_input_kind() -> None:
    assert {"logme", "leep", "nce", "hscore", "hscore_shrinkage", "gbc", "transrate"} <= set(SCORES)
    for name, entry in SCORES.items():
        assert entry.name == name
        assert entry.url.startswith("https://")
        assert entry.needs in ("features", "source_probs", "source_labels")


@pytest.mark.parametrize("name", FEATURE_SCORES)
def test_feature_scores_ignore_sample_order_and_class_names(name: str) -> None:
    fn = SCORES[name].fn
    features, labels = _problem()
    reference = fn(features, labels)
    order = np.random.default_rng(1).permutation(len(labels))
    assert fn(features[order], labels[order]) == pytest.approx(reference, rel=1e-7, abs=1e-9)
    assert fn(features, np.array([9, 2, 5, 0])[labels]) == pytest.approx(
        reference, rel=1e-7, abs=1e-9
    )


@pytest.mark.parametrize("name", FEATURE_SCORES)
def test_feature_scores_rank_informative_features_above_noise(name: str) -> None:
    fn = SCORES[name].fn
    features, labels = _problem(seed=2)
    noise = np.random.default_rng(3).normal(size=features.shape)
    assert fn(features, labels) > fn(noise, labels)


@pytest.mark.parametrize("name", sorted(SCORES))
def test_bad_input_names_the_argument(name: str) -> None:
    entry = SCORES[name]
    features, labels = _problem(n=40)
    if entry.needs == "source_probs":
        good = np.full((40, 3), 1 / 3)
        first = "source_probs"
    elif entry.needs == "source_labels":
        good = labels.copy()
        first = "source_labels"
    else:
        good = features
        first = "features"
    fn = entry.fn
    cases = [
        (lambda: fn(good, labels[:-1]), "labels"),  # mismatched lengths
        (lambda: fn(good, np.zeros(40, dtype=int)), "labels"),  # a single class
        (lambda: fn(good, labels[:, None, None]), "labels"),  # wrong ndim
    ]
    if entry.needs != "source_labels":
        bad = good.astype(float).copy()
        bad[0, 0] = np.nan
        cases.append((lambda: fn(bad, labels), first))  # NaN
        cases.append((lambda: fn(good[0], labels), first))  # wrong ndim
    for call, arg in cases:
        with pytest.raises(SelectInputError) as info:
            call()
        assert isinstance(info.value, WeightzooError) and isinstance(info.value, ValueError)
        if arg is not None:
            assert str(info.value).startswith(f"{arg}:"), str(info.value)
    # No more samples than classes: every class would hold a single sample.
    with pytest.raises(SelectInputError, match="labels: 3 samples for 3 classes"):
        fn(good[:3], np.array([0, 1, 2]))


def test_fewer_samples_than_classes_is_refused() -> None:
    features = np.random.default_rng(0).normal(size=(3, 2))
    with pytest.raises(SelectInputError, match="3 samples for 3 classes"):
        SCORES["logme"].fn(features, np.array([0, 1, 2]))


# --- H-score ---------------------------------------------------------------------------


def test_hscore_is_invariant_to_invertible_affine_maps() -> None:
    features, labels = _problem(seed=4)
    rng = np.random.default_rng(5)
    matrix = rng.normal(size=(6, 6)) + 3 * np.eye(6)
    mapped = features @ matrix + rng.normal(size=6) * 10
    assert hscore(mapped, labels) == pytest.approx(hscore(features, labels), rel=1e-8)


@pytest.mark.parametrize("seed", range(4))
def test_hscores_lie_within_zero_and_min_d_c_minus_1(seed: int) -> None:
    rng = np.random.default_rng(seed)
    c, d = int(rng.integers(2, 7)), int(rng.integers(1, 8))
    labels = rng.integers(0, c, 200)
    labels[:c] = np.arange(c)
    separation = [0.0, 1.0, 100.0][seed % 3]
    features = rng.normal(size=(200, d)) + separation * rng.normal(size=(c, d))[labels]
    for fn in (hscore, hscore_shrinkage):
        value = fn(features, labels)
        assert -1e-12 <= value <= min(d, c - 1) + 1e-9


def test_hscore_closed_form_and_separable_limit() -> None:
    # 1-D features: H = between-class variance / total variance.
    rng = np.random.default_rng(6)
    labels = np.repeat([0, 1], 50)
    x = rng.normal(size=100) + 2.0 * labels
    means = np.array([x[labels == k].mean() for k in (0, 1)])
    between = np.mean((means[labels] - x.mean()) ** 2)
    assert hscore(x[:, None], labels) == pytest.approx(between / x.var(), rel=1e-10)
    # Nearly noiseless class means in D >= C - 1 dims: H -> C - 1.
    labels = np.arange(300) % 4
    features = np.eye(5)[labels] + 1e-4 * rng.normal(size=(300, 5))
    assert hscore(features, labels) == pytest.approx(3.0, abs=1e-4)


def test_hscore_shrinkage_matches_ledoit_wolf_estimator() -> None:
    features, labels = _problem(seed=7, n=60, d=20)
    centered = features - features.mean(axis=0)
    estimator = LedoitWolf(assume_centered=True).fit(centered)
    sample_cov = centered.T @ centered / 60
    mu = np.trace(sample_cov) / 20
    a = estimator.shrinkage_
    shrunk = (1 - a) * sample_cov + a * mu * np.eye(20)
    np.testing.assert_allclose(shrunk, estimator.covariance_, rtol=1e-10)
    means = np.stack([centered[labels == k].mean(axis=0) for k in range(4)])
    between = sum((labels == k).mean() * np.outer(means[k], means[k]) for k in range(4))
    expected = np.trace(np.linalg.inv(shrunk) @ ((1 - a) * between))
    assert hscore_shrinkage(features, labels) == pytest.approx(expected, rel=1e-8)


# --- LEEP and NCE ------------------------------------------------------------------------


def _leep_loop(theta: np.ndarray, y: np.ndarray) -> float:
    n, z = theta.shape
    classes = sorted(set(y.tolist()))
    joint = {(a, b): 0.0 for a in classes for b in range(z)}
    for i in range(n):
        for b in range(z):
            joint[(y[i], b)] += theta[i, b] / n
    total = 0.0
    for i in range(n):
        inner = 0.0
        for b in range(z):
            pz = sum(joint[(a, b)] for a in classes)
            if pz > 0:
                inner += joint[(y[i], b)] / pz * theta[i, b]
        total += np.log(inner)
    return total / n


def _nce_loop(z: np.ndarray, y: np.ndarray) -> float:
    n = len(y)
    value = 0.0
    for a in set(y.tolist()):
        for b in set(z.tolist()):
            p_ab = np.sum((y == a) & (z == b)) / n
            if p_ab > 0:
                value += p_ab * np.log(p_ab / (np.sum(z == b) / n))
    return value


def test_leep_and_nce_match_loop_implementations() -> None:
    rng = np.random.default_rng(8)
    theta = rng.dirichlet(np.ones(6) * 0.5, size=90)
    y = rng.integers(0, 3, 90)
    assert leep(theta, y) == pytest.approx(_leep_loop(theta, y), rel=1e-10)
    z = theta.argmax(axis=1)
    assert nce(z, y) == pytest.approx(_nce_loop(z, y), rel=1e-10)
    assert leep(theta, y) < 0 and nce(z, y) < 0


def test_leep_and_nce_are_zero_when_labels_are_a_function_of_the_source_prediction() -> None:
    rng = np.random.default_rng(9)
    z = rng.integers(0, 8, 200)
    z[:8] = np.arange(8)
    y = np.array([0, 0, 1, 2, 2, 2, 3, 1])[z]  # a many-to-one map of source classes
    theta = np.eye(8)[z]
    assert leep(theta, y) == pytest.approx(0.0, abs=1e-12)
    assert nce(z, y) == pytest.approx(0.0, abs=1e-12)
    # ... and strictly negative once the map is broken.
    y_noisy = y.copy()
    y_noisy[:20] = (y_noisy[:20] + 1) % 4
    assert leep(theta, y_noisy) < -1e-3 and nce(z, y_noisy) < -1e-3


def test_leep_rejects_logits() -> None:
    with pytest.raises(SelectInputError, match="source_probs"):
        leep(np.random.default_rng(0).normal(size=(10, 3)), np.arange(10) % 2)


# --- GBC and TransRate -------------------------------------------------------------------


def _gbc_loop(features: np.ndarray, labels: np.ndarray) -> float:
    f = PCA(n_components=min(64, *features.shape), svd_solver="full").fit_transform(features)
    classes = sorted(set(labels.tolist()))
    stats = {}
    for c in classes:
        rows = f[labels == c]
        stats[c] = (rows.mean(axis=0), np.maximum(rows.var(axis=0), 1e-4))
    total = 0.0
    for a in classes:
        for b in classes:
            if a == b:
                continue
            (m1, v1), (m2, v2) = stats[a], stats[b]
            s1, s2, s = np.diag(v1), np.diag(v2), np.diag((v1 + v2) / 2)
            diff = m1 - m2
            distance = diff @ np.linalg.inv(s) @ diff / 8 + 0.5 * np.log(
                np.linalg.det(s) / np.sqrt(np.linalg.det(s1) * np.linalg.det(s2))
            )
            total += np.exp(-distance)
    return -total


def test_gbc_matches_loop_implementation_and_limits() -> None:
    features, labels = _problem(seed=10, n=120, d=8, c=3)
    assert gbc(features, labels) == pytest.approx(_gbc_loop(features, labels), rel=1e-9)
    rng = np.random.default_rng(11)
    wide = rng.normal(size=(150, 80)) + 2 * rng.normal(size=(3, 80))[np.arange(150) % 3]
    assert gbc(wide, np.arange(150) % 3) == pytest.approx(
        _gbc_loop(wide, np.arange(150) % 3), rel=1e-9
    )
    # Far-apart classes: every coefficient vanishes.
    far = rng.normal(size=(90, 3)) + 1000 * np.eye(3)[np.arange(90) % 3]
    assert gbc(far, np.arange(90) % 3) == pytest.approx(0.0, abs=1e-12)


def test_transrate_matches_direct_log_determinants() -> None:
    rng = np.random.default_rng(12)
    labels = np.arange(60) % 3
    features = rng.normal(size=(60, 30)) + rng.normal(size=(3, 30))[labels]  # classes: n_c < D

    def rate(z: np.ndarray) -> float:
        n, d = z.shape
        return 0.5 * np.linalg.slogdet(np.eye(d) + z.T @ z / (n * 1e-4))[1]

    z = features - features.mean(axis=0)
    expected = rate(z) - np.mean([rate(z[labels == c]) for c in range(3)])
    assert transrate(features, labels) == pytest.approx(expected, rel=1e-9)
    rotation, _ = np.linalg.qr(rng.normal(size=(30, 30)))
    assert transrate(features @ rotation, labels) == pytest.approx(expected, rel=1e-8)
