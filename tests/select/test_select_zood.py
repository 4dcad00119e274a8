"""ZooD: Bayesian linear predictive, leave-one-domain-out score, spike-and-slab VEM, ensemble."""

from __future__ import annotations

import numpy as np
import pytest

from weightzoo.select import SelectInputError
from weightzoo.select.zood import ZooDEnsemble, spike_slab_vem, top_k_models, zood_rank, zood_score
from weightzoo.select.zood._bayes import BayesianLinear


@pytest.mark.parametrize(("n", "d"), [(50, 8), (12, 30)], ids=["N>D", "N<D"])
def test_bayesian_linear_predictive_matches_explicit_posterior(n: int, d: int) -> None:
    rng = np.random.default_rng(n)
    features = rng.normal(size=(n, d)) * np.geomspace(2, 0.2, d)
    targets = np.eye(2)[np.arange(n) % 2]
    model = BayesianLinear.fit(features, targets)
    # An interior optimum (beta not running off to infinity), so the direct solve is accurate.
    assert model.beta.max() < 1e6
    new = rng.normal(size=(7, d))
    f = features - features.mean(axis=0)
    y = targets - targets.mean(axis=0)
    fn = new - features.mean(axis=0)
    mean, var = model.predict(new)
    for k in range(2):
        a, b = model.alpha[k], model.beta[k]
        precision = a * np.eye(d) + b * f.T @ f
        m = b * np.linalg.solve(precision, f.T @ y[:, k])
        np.testing.assert_allclose(mean[:, k], fn @ m + targets[:, k].mean(), rtol=1e-7, atol=1e-9)
        expected_var = 1 / b + np.einsum("md,md->m", fn, np.linalg.solve(precision, fn.T).T)
        np.testing.assert_allclose(var[:, k], expected_var, rtol=1e-7)


def _domain_problem(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 450
    labels = np.arange(n) % 3
    domains = np.repeat([0, 1, 2], n // 3)
    signal = np.eye(3)[labels] * 1.5
    invariant = np.hstack([signal, np.zeros((n, 1))]) + rng.normal(size=(n, 4))
    # Same class signal and noise, plus a per-domain offset: a model whose
    # features move when the domain changes.
    offsets = np.array([[0, 0, 0, 0], [2.5, -1.5, 1, 2], [-2, 2.5, 0, -2]], dtype=float)
    shifted = np.hstack([signal, np.zeros((n, 1))]) + rng.normal(size=(n, 4)) + offsets[domains]
    return invariant, shifted, labels, domains


def test_loo_score_prefers_domain_invariant_features() -> None:
    invariant, shifted, labels, domains = _domain_problem()
    good = zood_score(invariant, labels, domains)
    bad = zood_score(shifted, labels, domains)
    assert good.score > bad.score
    assert good.discriminability > bad.discriminability
    assert good.stability > bad.stability
    assert abs(good.stability) < 0.1  # no shift: held-out features as likely as training ones
    assert list(good.per_domain["domain"]) == [0, 1, 2]
    table = zood_rank({"shifted": shifted, "invariant": invariant}, labels, domains)
    assert list(table["model"]) == ["invariant", "shifted"]
    assert list(table["rank"]) == [1, 2]


def test_loo_score_invariances() -> None:
    invariant, _, labels, domains = _domain_problem(1)
    reference = zood_score(invariant, labels, domains)
    order = np.random.default_rng(2).permutation(len(labels))
    permuted = zood_score(
        invariant[order], labels[order], np.array(["a", "b", "c"])[domains][order]
    )
    assert permuted.score == pytest.approx(reference.score, rel=1e-9)
    # Stability is relative to the training features' own likelihood: scale-free.
    scaled = zood_score(invariant * 1000.0, labels, domains)
    assert scaled.stability == pytest.approx(reference.stability, rel=1e-6, abs=1e-9)


def test_loo_score_bad_input() -> None:
    invariant, _, labels, domains = _domain_problem()
    with pytest.raises(SelectInputError, match="^domains: found 1 domain"):
        zood_score(invariant, labels, np.zeros_like(domains))
    with pytest.raises(SelectInputError, match="^domains: has 449 entries"):
        zood_score(invariant, labels, domains[:-1])
    bad = invariant.copy()
    bad[3, 1] = np.inf
    with pytest.raises(SelectInputError, match="^model 'm': features: 1 entries are NaN"):
        zood_rank({"m": bad}, labels, domains)


def test_vem_recovers_the_informative_features() -> None:
    rng = np.random.default_rng(3)
    n, d = 600, 30
    informative = np.array([2, 7, 11, 19, 25])
    features = rng.normal(size=(n, d))
    # A redundant copy of an informative feature with noise, and a pure-noise copy elsewhere.
    labels = np.argmax(
        features[:, informative] @ rng.normal(size=(5, 4)) * 1.5 + 0.5 * rng.normal(size=(n, 4)),
        axis=1,
    )
    fit = spike_slab_vem(features, np.eye(4)[labels])
    assert fit.converged
    assert set(np.flatnonzero(fit.inclusion_prob > 0.5)) == set(informative)
    assert fit.inclusion_prob[informative].min() > 0.99
    assert np.delete(fit.inclusion_prob, informative).max() < 0.1
    # Regression: a sparse linear target, noise variance recovered.
    weights = np.zeros(d)
    weights[[1, 4]] = [2.0, -1.0]
    target = features @ weights + 0.3 * rng.normal(size=n)
    fit = spike_slab_vem(features, target[:, None])
    assert set(np.flatnonzero(fit.inclusion_prob > 0.5)) == {1, 4}
    assert fit.noise_var == pytest.approx(0.09, rel=0.2)
    np.testing.assert_allclose(fit.mean[[1, 4], 0], [2.0, -1.0], atol=0.05)


def test_ensemble_uses_the_informative_models_features() -> None:
    rng = np.random.default_rng(4)
    n = 500
    labels = rng.integers(0, 3, n)
    feats = {
        "noise": rng.normal(size=(n, 6)),
        "good": np.hstack([np.eye(3)[labels] * 2.0, np.zeros((n, 3))]) + rng.normal(size=(n, 6)),
        "weak": np.hstack([np.eye(3)[labels] * 0.5, np.zeros((n, 2))]) + rng.normal(size=(n, 5)),
    }
    ens = ZooDEnsemble(top_k=2).fit(feats, labels, scores={"good": 1.0, "weak": 0.5, "noise": 0.1})
    assert ens.models_ == ["good", "weak"]
    assert ens.inclusion_prob_.shape == (11,)
    assert ens.selected_[:3].all() and ens.inclusion_prob_[:3].min() > 0.99  # good's class dims
    assert ens.selected_.sum() <= 8
    assert ens.score(feats, labels) > 0.8
    alone = ZooDEnsemble().fit({"noise": feats["noise"]}, labels)
    assert alone.score({"noise": feats["noise"]}, labels) < 0.5
    assert top_k_models({"a": 1.0, "b": 3.0, "c": 2.0}, 2) == ["b", "c"]
    with pytest.raises(SelectInputError, match="missing model"):
        ens.predict({"good": feats["good"]})


def _in_sample_stability(features: np.ndarray, domains: np.ndarray) -> float:
    """The former reference: training features scored by the Gaussian fitted on them."""
    from sklearn.covariance import LedoitWolf

    values = []
    for d in np.unique(domains):
        train, held = features[domains != d], features[domains == d]
        gaussian = LedoitWolf().fit(train)
        values.append((gaussian.score(held) - gaussian.score(train)) / features.shape[1])
    return float(np.mean(values))


@pytest.mark.parametrize("dim", [4, 200])
def test_stability_is_zero_without_shift_whatever_the_dimension(dim: int) -> None:
    # Four "domains" drawn from one correlated Gaussian, 150 samples each (the
    # benchmark's size): no shift, so stability must be ~0 for 4 and for 200 dims.
    rng = np.random.default_rng(dim)
    mixing = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    features = rng.normal(size=(600, dim)) @ mixing
    labels = np.arange(600) % 3
    domains = np.repeat([0, 1, 2, 3], 150)
    result = zood_score(features, labels, domains)
    assert abs(result.stability) < 0.02
    if dim == 200:
        # An in-sample reference charges the Gaussian's overfitting (grows with D/N) as shift.
        assert _in_sample_stability(features, domains) < -0.05


@pytest.mark.parametrize(
    ("shift", "expected"),
    # Training domains ~ N(0, I_4); the held-out one is N(delta, I) or N(0, s^2 I).
    # Expected log p(held out) - log p(unseen training sample), per dimension:
    # -|delta|^2 / (2 D) for a mean shift, -(s^2 - 1) / 2 for a scale change.
    [("mean", -2.25 / 8), ("scale", 0.375)],
)
def test_stability_matches_the_gaussian_closed_form(shift: str, expected: float) -> None:
    rng = np.random.default_rng(5)
    n, dim = 20000, 4  # sampling error of the held-out mean: about 1.5% of the value
    features = rng.normal(size=(3 * n, dim))
    if shift == "mean":
        features[2 * n :] += np.array([1.0, -1.0, 0.5, 0.0])
    else:
        features[2 * n :] *= 0.5
    labels = np.arange(3 * n) % 2
    domains = np.repeat([0, 1, 2], n)
    table = zood_score(features, labels, domains).per_domain.set_index("domain")
    assert table.loc[2, "stability"] == pytest.approx(expected, rel=0.05)


def test_stability_folds_bad_input() -> None:
    invariant, _, labels, domains = _domain_problem()
    with pytest.raises(SelectInputError, match="^folds: expected an integer >= 2"):
        zood_score(invariant, labels, domains, folds=1)
    small = np.repeat([0, 1], [5, 3])
    with pytest.raises(SelectInputError, match="^domains: leaving out 0 leaves 3 samples"):
        zood_score(invariant[:8], np.arange(8) % 2, small, folds=2)
