"""Probes on synthetic problems with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from weightzoo.errors import ConfigError
from weightzoo.predict.metrics import kendall_tau
from weightzoo.predict.probe import PROBES, LinearProbe, build_probe


def _regression(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)) * np.array([1.0, 2.0, 0.5, 3.0, 1.0, 10.0])
    w = np.array([0.5, -1.0, 2.0, 0.0, 0.3, 0.05])
    return x, x @ w + 1.5, w


def _classes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(seed).normal(size=(n, 5))
    return x, np.array(["tanh", "relu", "gelu"])[x[:, :3].argmax(axis=1)]


@pytest.mark.parametrize("name", list(PROBES))
def test_probe_learns_a_regression(name):
    x, y, _ = _regression(600, 0)
    x_test, y_test, _ = _regression(200, 1)
    pred = build_probe(name, kind="regression").fit(x, y).predict(x_test)
    assert kendall_tau(y_test, pred) > (0.99 if name == "linear" else 0.8)


@pytest.mark.parametrize("name", list(PROBES))
def test_probe_learns_a_classification(name):
    x, y = _classes(600, 0)
    x_test, y_test = _classes(300, 1)
    pred = build_probe(name, kind="classification").fit(x, y).predict(x_test)
    assert set(pred) <= {"tanh", "relu", "gelu"}
    assert np.mean(pred == y_test) > (0.9 if name == "linear" else 0.75)


def test_ridge_recovers_the_true_weights():
    x, y, w = _regression(500, 2)
    probe = LinearProbe(kind="regression", alphas=(1e-6,)).fit(x, y)
    # coef_ acts on standardized features: divide by the scale to get raw-feature weights.
    np.testing.assert_allclose(probe.coef_[0] / probe.scale_, w, atol=1e-5)
    np.testing.assert_allclose(probe.predict(x), y, atol=1e-4)


@pytest.mark.parametrize("labels", [("a", "b"), ("tanh", "relu", "gelu")])
def test_linear_probe_arrays_reproduce_scikit_learn(labels):
    x, y3 = _classes(300, 4)
    y = y3 if len(labels) == 3 else np.where(x[:, 0] > 0.2, "a", "b")
    probe = LinearProbe(kind="classification").fit(x, y)
    z = (x - probe.mean_) / probe.scale_
    np.testing.assert_array_equal(probe.predict(x), probe.model_.predict(z))
    again = LinearProbe.from_arrays(
        probe.to_arrays(), kind="classification", classes=list(probe.classes_)
    )
    np.testing.assert_array_equal(again.predict(x), probe.predict(x))


def test_one_class_predicts_that_class():
    x, _ = _classes(40, 0)
    for name in PROBES:
        pred = build_probe(name, kind="classification").fit(x, np.full(40, "adam")).predict(x[:3])
        assert list(pred) == ["adam"] * 3


def test_bad_probe_input():
    with pytest.raises(ConfigError, match="unknown probe 'svm'"):
        build_probe("svm", kind="regression")
    with pytest.raises(ConfigError, match="NaN"):
        LinearProbe(kind="regression").fit(np.array([[np.nan], [1.0]]), np.array([0.0, 1.0]))
    probe = LinearProbe(kind="regression").fit(np.eye(3), np.arange(3.0))
    with pytest.raises(ConfigError, match="fitted on 3 features, got 2"):
        probe.predict(np.ones((1, 2)))
