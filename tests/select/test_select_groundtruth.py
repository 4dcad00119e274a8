"""Ground truth: fine-tuning protocols, learning-rate selection, the cached table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from select_zoo_helpers import TINY_GROUND_TRUTH, tiny_zoo

from weightzoo.errors import ConfigError
from weightzoo.select import groundtruth
from weightzoo.select.candidates import FeatureExtractor
from weightzoo.select.groundtruth import (
    brute_force_seconds,
    build_ground_truth,
    ground_truth_matrix,
    linear_probe,
    with_new_head,
)


def test_linear_probe_separates_separable_classes_and_not_random_ones() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    x = rng.normal(0, 1, (300, 5)) + 10 * np.eye(3, 5)[y]
    splits = [(x[i : i + 100], y[i : i + 100]) for i in (0, 100, 200)]
    assert linear_probe(*splits, lr=0.1, steps=100) == (1.0, 1.0)
    noise = [(rng.normal(0, 1, (100, 5)), y[i : i + 100]) for i in (0, 100, 200)]
    assert linear_probe(*noise, lr=0.1, steps=100)[1] < 0.6


def test_new_head_keeps_the_body_and_leaves_the_original_alone() -> None:
    model = tiny_zoo().load("digits/mlp16")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    new = with_new_head(model, FeatureExtractor(model).head, 5, seed=0)
    assert new.fc2.out_features == 5 and model.fc2.out_features == 10
    torch.testing.assert_close(new.fc1.weight, model.fc1.weight)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def test_matrix_picks_best_validation_lr_and_smaller_lr_on_ties() -> None:
    table = pd.DataFrame([
        # candidate, target, protocol, lr, val, test, seconds
        ("a", "t", "finetune", 0.01, 0.5, 0.9, 1.0),
        ("a", "t", "finetune", 0.001, 0.7, 0.6, 2.0),  # best val -> test 0.6
        ("b", "t", "finetune", 0.01, 0.8, 0.1, 3.0),
        ("b", "t", "finetune", 0.001, 0.8, 0.2, 4.0),  # tie -> smaller lr -> 0.2
        ("a", "t", "linear_probe", 0.1, 0.9, 0.3, 0.5),
        ("b", "t", "linear_probe", 0.1, 0.1, 0.4, 0.5),
    ], columns=["candidate", "target", "protocol", "lr", "val_acc", "test_acc", "seconds"])  # fmt: skip
    m = ground_truth_matrix(table)
    assert m.loc["t", "a"] == 0.6 and m.loc["t", "b"] == 0.2
    assert ground_truth_matrix(table, "linear_probe").loc["t"].tolist() == [0.3, 0.4]
    assert brute_force_seconds(table)["t"] == 10.0
    with pytest.raises(ConfigError, match="protocol"):
        ground_truth_matrix(table, "zero_shot")


def test_table_is_complete_cached_and_protocol_checked(monkeypatch) -> None:
    zoo = tiny_zoo()
    table = build_ground_truth(zoo, TINY_GROUND_TRUTH)
    per_pair = len(TINY_GROUND_TRUTH.probe_lrs) + len(TINY_GROUND_TRUTH.finetune_lrs)
    assert len(table) == len(zoo.names) * len(zoo.target_names) * per_pair
    assert table["test_acc"].between(0, 1).all() and (table["seconds"] > 0).all()
    assert (zoo.root / "groundtruth.json").is_file()

    def fail(*args, **kwargs):
        raise AssertionError("the cached table must be reused")

    monkeypatch.setattr(groundtruth, "finetune", fail)
    pd.testing.assert_frame_equal(build_ground_truth(zoo, TINY_GROUND_TRUTH), table)
    with pytest.raises(ConfigError, match="another protocol"):
        build_ground_truth(zoo, TINY_GROUND_TRUTH.model_copy(update={"finetune_epochs": 2}))
