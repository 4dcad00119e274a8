"""Tasks read the right catalog column in the right type."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from weightzoo.errors import ConfigError
from weightzoo.predict.tasks import TASKS, get_task, task_targets

CATALOG = pd.DataFrame(
    {
        "model_id": ["m0", "m0", "m1"],
        "epoch": [0, 1, 1],
        "test_acc": [0.1, 0.5, 0.7],
        "gen_gap": [0.0, 0.02, -0.01],
        "activation": ["tanh", "tanh", "relu"],
        "init": ["normal", "normal", "xavier_uniform"],
        "optimizer": ["adam", "adam", "sgd"],
    }
)


@pytest.mark.parametrize("name", list(TASKS))
def test_targets_follow_the_column(name):
    task = TASKS[name]
    y = task_targets(name, CATALOG)
    if task.kind == "regression":
        assert y.dtype == np.float64
        np.testing.assert_array_equal(y, CATALOG[task.column].to_numpy(dtype=float))
    else:
        assert list(y) == list(CATALOG[task.column])


def test_only_accuracy_is_trained_with_a_sigmoid_head():
    assert [n for n, t in TASKS.items() if t.unit_interval] == ["test_acc"]


def test_bad_tasks_are_errors():
    with pytest.raises(ConfigError, match="unknown task 'nope'"):
        get_task("nope")
    with pytest.raises(ConfigError, match="no column 'gen_gap'"):
        task_targets("gen_gap", CATALOG.drop(columns="gen_gap"))
    bad = CATALOG.assign(test_acc=[0.1, np.nan, 0.2])
    with pytest.raises(ConfigError, match="1 catalog row"):
        task_targets("test_acc", bad)
