"""Metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from weightzoo.errors import ConfigError
from weightzoo.predict.metrics import accuracy, kendall_tau, r2, score_task
from weightzoo.predict.tasks import TASKS


def test_kendall_tau_hand_computed():
    # Pairs of [1,2,3,4] vs [1,3,2,4]: 5 concordant, 1 discordant -> (5 - 1) / 6.
    assert kendall_tau(np.array([1, 2, 3, 4]), np.array([1, 3, 2, 4])) == pytest.approx(2 / 3)
    assert kendall_tau(np.array([1, 2, 3]), np.array([3, 2, 1])) == pytest.approx(-1.0)


def test_kendall_tau_b_with_ties():
    # x = [1, 1, 2], y = [1, 2, 3]: one pair tied in x, two concordant pairs;
    # tau-b = 2 / sqrt((3 - 1) * (3 - 0)).
    assert kendall_tau(np.array([1, 1, 2]), np.array([1, 2, 3])) == pytest.approx(2 / math.sqrt(6))


def test_kendall_tau_constant_is_nan():
    assert math.isnan(kendall_tau(np.array([1.0, 2.0]), np.array([0.5, 0.5])))


def test_r2_hand_computed():
    # SS_res = 1, SS_tot = 2.
    assert r2(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0])) == pytest.approx(0.5)
    assert r2(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0])) == pytest.approx(1.0)


def test_accuracy_hand_computed():
    assert accuracy(np.array(["a", "b", "c", "a"]), np.array(["a", "b", "a", "a"])) == 0.75


def test_mismatched_shapes_are_an_error():
    with pytest.raises(ConfigError, match="equal length"):
        kendall_tau(np.array([1, 2, 3]), np.array([1, 2]))


@pytest.mark.parametrize("name", list(TASKS))
def test_score_task_metrics_per_kind(name):
    task = TASKS[name]
    if task.kind == "regression":
        scores = score_task(name, np.array([0.1, 0.2, 0.3]), np.array([0.1, 0.3, 0.2]))
        assert set(scores) == {"kendall_tau", "r2"}
        assert scores["kendall_tau"] == pytest.approx(1 / 3)
    else:
        scores = score_task(name, np.array(["x", "y"]), np.array(["x", "x"]))
        assert scores == {"accuracy": 0.5}
