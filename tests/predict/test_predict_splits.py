"""Splits by model: disjoint, complete, seeded, and every epoch of a model on one side."""

from __future__ import annotations

import pandas as pd
import pytest

from weightzoo.errors import ConfigError
from weightzoo.predict.splits import ModelSplit, split_across_zoos, split_by_model
from weightzoo.zoo.dataset import split_models


def _catalog(n_models: int, n_epochs: int) -> pd.DataFrame:
    return pd.DataFrame(
        [{"model_id": f"m{i:05d}", "epoch": e} for i in range(n_models) for e in range(n_epochs)]
    )


def test_split_by_model_is_a_partition_of_the_models():
    ids = [f"m{i:05d}" for i in range(20)]
    split = split_by_model(ids, fractions=(0.7, 0.15, 0.15), seed=3)
    parts = [set(split.train), set(split.val), set(split.test)]
    assert [len(p) for p in parts] == [14, 3, 3]
    assert set().union(*parts) == set(ids)
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])


def test_split_is_seeded_and_matches_the_torch_dataset_split():
    ids = [f"m{i:05d}" for i in range(30)]
    a = split_by_model(ids, seed=5)
    assert a == split_by_model(list(reversed(ids)), seed=5)
    assert a != split_by_model(ids, seed=6)
    assert list(a.test) == split_models(ids, (0.7, 0.15, 0.15), 5)["test"]


def test_every_epoch_of_a_model_stays_in_its_split():
    cat = _catalog(12, 4)
    split = split_by_model(cat, fractions=(0.5, 0.25, 0.25), seed=0)
    frames = {s: split.rows(cat, s) for s in ("train", "val", "test")}
    assert sum(len(f) for f in frames.values()) == len(cat)
    seen: dict[str, str] = {}
    for name, frame in frames.items():
        for mid, group in frame.groupby("model_id"):
            assert mid not in seen, f"{mid} in {seen.get(mid)} and {name}"
            seen[mid] = name
            assert sorted(group["epoch"]) == [0, 1, 2, 3]


def test_split_across_zoos_tests_on_all_of_zoo_b():
    a, b = _catalog(10, 2), _catalog(6, 3)  # zoo B reuses the ids m00000...
    split = split_across_zoos(a, b, val_fraction=0.2, seed=1)
    assert len(split.train) == 8 and len(split.val) == 2
    assert not set(split.train) & set(split.val)
    assert set(split.test) == set(b["model_id"])


def test_an_empty_split_is_an_error():
    with pytest.raises(ConfigError, match="test split empty"):
        split_by_model(["m0", "m1", "m2"], fractions=(0.8, 0.2, 0.0 + 1e-9), seed=0)
    with pytest.raises(ConfigError, match="three non-negative numbers"):
        split_by_model(["m0", "m1"], fractions=(0.5, 0.6, 0.1))


def test_a_model_in_two_splits_is_rejected():
    with pytest.raises(ConfigError, match="'m1' is in both train and test"):
        ModelSplit(("m0", "m1"), ("m2",), ("m1",))
