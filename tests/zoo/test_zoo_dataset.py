"""A zoo as a torch Dataset: model-level splits, items, DataLoader workers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from weightzoo import Zoo
from weightzoo.errors import ConfigError, ZooFormatError
from weightzoo.zoo import split_models


@pytest.fixture(scope="module")
def zoo(tiny_zoo: Path) -> Zoo:
    return Zoo.open(tiny_zoo)


def _flat(zoo: Zoo, mid: str, epoch: int) -> torch.Tensor:
    return torch.cat([w.reshape(-1).float() for w in zoo.weights(mid, epoch).values()])


def test_splits_are_by_model_disjoint_and_complete(zoo: Zoo) -> None:
    parts = {s: zoo.to_torch_dataset(split=s) for s in ("train", "val", "test")}
    ids = {s: set(ds.rows["model_id"]) for s, ds in parts.items()}
    assert not ids["train"] & ids["val"]
    assert not ids["train"] & ids["test"]
    assert not ids["val"] & ids["test"]
    assert ids["train"] | ids["val"] | ids["test"] == set(zoo.models())
    # (0.7, 0.15, 0.15) of 8 models, rounded.
    assert [len(ids[s]) for s in ("train", "val", "test")] == [6, 1, 1]
    # Every epoch of a model lands in its model's split.
    for ds in parts.values():
        assert len(ds) == 3 * ds.rows["model_id"].nunique()
    assert sum(len(ds) for ds in parts.values()) == len(zoo.catalog)
    assert len(zoo.to_torch_dataset(split=None)) == len(zoo.catalog)


def test_split_depends_on_seed_not_on_input_order() -> None:
    ids = [f"m{i:05d}" for i in range(40)]
    a = split_models(ids, (0.5, 0.25, 0.25), seed=0)
    assert a == split_models(list(reversed(ids)), (0.5, 0.25, 0.25), seed=0)
    assert a != split_models(ids, (0.5, 0.25, 0.25), seed=1)
    assert [len(a[s]) for s in ("train", "val", "test")] == [20, 10, 10]
    with pytest.raises(ConfigError, match="fractions"):
        split_models(ids, (0.5, 0.5, 0.5), seed=0)


def test_items_are_flattened_weights_and_targets(zoo: Zoo) -> None:
    ds = zoo.to_torch_dataset(split=None, target=["test_acc", "train_loss"])
    assert len(ds) == 24
    for i in range(len(ds)):
        row = ds.rows.iloc[i]
        x, y = ds[i]
        assert x.shape == (418,) and x.dtype == torch.float32
        assert torch.equal(x, _flat(zoo, row["model_id"], int(row["epoch"])))
        assert torch.equal(
            y, torch.tensor([row["test_acc"], row["train_loss"]], dtype=torch.float32)
        )


def test_unflattened_items_equal_weights(zoo: Zoo) -> None:
    ds = zoo.to_torch_dataset(split="test", flatten=False, epochs=[1])
    assert len(ds) == 1
    row = ds.rows.iloc[0]
    assert int(row["epoch"]) == 1
    w, y = ds[0]
    expected = zoo.weights(row["model_id"], 1)
    assert list(w) == list(expected)
    for k in expected:
        assert torch.equal(w[k], expected[k])
    assert y.shape == (1,) and y.item() == pytest.approx(row["test_acc"])


def test_bad_target_or_split_is_a_config_error(zoo: Zoo) -> None:
    with pytest.raises(ConfigError, match="no_such_column"):
        zoo.to_torch_dataset(target="no_such_column")
    with pytest.raises(ConfigError, match="split"):
        zoo.to_torch_dataset(split="holdout")


def test_dataloader_workers_yield_the_same_batches(zoo: Zoo) -> None:
    ds = zoo.to_torch_dataset(split=None)
    serial = list(DataLoader(ds, batch_size=4, num_workers=0))
    ds[0]  # open a handle in this process: it must not be sent to the workers
    parallel = list(DataLoader(ds, batch_size=4, num_workers=2))
    assert len(serial) == len(parallel) == 6
    for (xa, ya), (xb, yb) in zip(serial, parallel, strict=True):
        assert xa.shape == (4, 418)
        assert torch.equal(xa, xb)
        assert torch.equal(ya, yb)


def test_truncated_file_in_dataset_is_a_format_error(tiny_zoo: Path, tmp_path: Path) -> None:
    root = tmp_path / "zoo"
    shutil.copytree(tiny_zoo, root)
    path = root / "shards" / "s0000" / "epoch_0001.safetensors"
    path.write_bytes(path.read_bytes()[:-64])
    ds = Zoo.open(root).to_torch_dataset(split=None, epochs=[1])
    with pytest.raises(ZooFormatError, match="epoch_0001.safetensors"):
        for i in range(len(ds)):
            ds[i]
