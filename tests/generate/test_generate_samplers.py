"""Samplers against closed forms: moments of KDE samples, bounds, top-k selection."""

from __future__ import annotations

import numpy as np
import pytest

from weightzoo.errors import ConfigError, WeightzooError
from weightzoo.generate.samplers import SAMPLERS, build_sampler, select_top


def _anchors(n: int = 40, d: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * np.array([1.0, 5.0, 0.2]) + np.array([0.0, -3.0, 10.0])


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_every_sampler_has_a_paper_and_samples_reproducibly(name: str) -> None:
    assert SAMPLERS[name].url.startswith("https://arxiv.org/")
    z = _anchors()
    s = build_sampler(name).fit(z)
    a = s.sample(7, np.random.default_rng(3))
    b = s.sample(7, np.random.default_rng(3))
    assert a.shape == (7, 3) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, s.sample(7, np.random.default_rng(4)))


@pytest.mark.parametrize("name", ["kde", "kde_joint"])
@pytest.mark.parametrize("bandwidth", ["scott", 0.5])
def test_kde_samples_have_the_mixture_mean_and_variance(name: str, bandwidth) -> None:
    # A Gaussian KDE is a mixture of N(x_i, h_j^2): mean = data mean,
    # variance = biased data variance + h_j^2, with h_j = factor * std_j.
    z = _anchors()
    n, d = z.shape
    s = build_sampler(name, bandwidth=bandwidth).fit(z)
    if bandwidth == "scott":
        factor = n ** (-1 / 5) if name == "kde" else n ** (-1 / (d + 4))
    else:
        factor = bandwidth
    h = factor * z.std(axis=0)
    np.testing.assert_allclose(s.h_, h, rtol=1e-12)
    x = s.sample(200_000, np.random.default_rng(0))
    se = np.sqrt((z.var(axis=0) + h**2) / len(x))
    assert np.all(np.abs(x.mean(0) - z.mean(0)) < 5 * se)
    np.testing.assert_allclose(x.var(0), z.var(axis=0) + h**2, rtol=0.02)


def test_kde_per_dimension_mixes_anchors_and_joint_kde_does_not() -> None:
    # Two anchors (0,0) and (1,1) with a tiny bandwidth: per-dimension KDE gives
    # (0,1) and (1,0) too; the joint KDE keeps each sample near one anchor.
    z = np.array([[0.0, 0.0], [1.0, 1.0]])
    rng = np.random.default_rng(0)
    per_dim = build_sampler("kde", bandwidth=1e-3).fit(z).sample(400, rng).round()
    joint = build_sampler("kde_joint", bandwidth=1e-3).fit(z).sample(400, rng).round()
    assert {tuple(r) for r in per_dim} == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert {tuple(r) for r in joint} == {(0, 0), (1, 1)}


def test_uniform_stays_in_the_box_and_fills_it() -> None:
    z = _anchors()
    lo, hi = z.min(0), z.max(0)
    x = build_sampler("uniform").fit(z).sample(20_000, np.random.default_rng(1))
    assert np.all(x >= lo) and np.all(x <= hi)
    np.testing.assert_allclose(x.mean(0), (lo + hi) / 2, atol=0.02 * (hi - lo).max())
    wide = build_sampler("uniform", margin=0.5).fit(z).sample(20_000, np.random.default_rng(1))
    assert np.all(wide >= lo - 0.5 * (hi - lo)) and (wide < lo).any()


def test_one_component_gmm_is_the_data_gaussian() -> None:
    z = _anchors(n=200)
    s = build_sampler("gmm", components=1, reg_covar=1e-6).fit(z)
    np.testing.assert_allclose(s.means_[0], z.mean(0), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(s.covariances_[0], z.var(0) + 1e-6, rtol=1e-6)
    x = s.sample(100_000, np.random.default_rng(0))
    np.testing.assert_allclose(x.var(0), z.var(0), rtol=0.02)
    assert build_sampler("gmm").fit(z[:1]).sample(3, np.random.default_rng(0)).shape == (3, 3)


def test_neighbourhood_noise_around_each_anchor_in_turn() -> None:
    z = _anchors(n=4)
    s = build_sampler("neighbourhood", sigma=0.1).fit(z)
    x = s.sample(40_000, np.random.default_rng(0))
    resid = x - z[np.arange(len(x)) % 4]
    np.testing.assert_allclose(resid.std(0), 0.1 * z.std(0), rtol=0.02)


def test_select_top_picks_exactly_the_best_fraction() -> None:
    scores = np.array([0.5, 0.9, np.nan, 0.1, 0.7, 0.9, 0.3, 0.2, 0.8, 0.6])
    np.testing.assert_array_equal(select_top(scores, 0.3), [1, 5, 8])  # floor(3.0); ties by index
    np.testing.assert_array_equal(select_top(scores, 0.25), [1, 5])  # floor(2.5)
    assert len(select_top(scores, 1.0)) == 9  # the NaN model is never selected
    with pytest.raises(WeightzooError, match="selects no model"):
        select_top(scores, 0.05)
    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(ConfigError, match="top"):
            select_top(scores, bad)


def test_bad_sampler_input_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown sampler"):
        build_sampler("vae")
    with pytest.raises(ConfigError, match="bandwidth"):
        build_sampler("kde", bandwidth=-1.0)
    with pytest.raises(ConfigError, match="at least 1"):
        build_sampler("kde").fit(_anchors()).sample(0, np.random.default_rng(0))
    with pytest.raises(WeightzooError, match="fit"):
        build_sampler("kde").sample(3, np.random.default_rng(0))
