"""Every registered dataset through ``load_dataset``: contract, determinism, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from weightzoo.data import DATASETS, DataError, SplitData, list_datasets, load_dataset
from weightzoo.errors import WeightzooError

GENERATED = list_datasets(needs_path=False)
READERS = list_datasets(needs_path=True)


def _rows(x: torch.Tensor) -> set[bytes]:
    return {row.tobytes() for row in x.flatten(1).numpy()}


def check_split_contract(data: SplitData) -> None:
    """Assert the documented dtypes, shapes, sizes and info of a SplitData."""
    for split in ("train", "val", "test"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert x.is_contiguous() and y.is_contiguous()
        assert tuple(x.shape) == (len(y), *data.input_shape)
        assert data.info["sizes"][split] == len(y)
        if len(y):
            assert 0 <= int(y.min()) and int(y.max()) < data.num_classes
            assert torch.isfinite(x).all()
    assert len(data.info["classes"]) == data.num_classes
    json.dumps(data.info)  # must be JSON-able
    for key in ("source", "split_seed", "val_fraction", "split_sha256", "normalization"):
        assert key in data.info
    assert len(data.info["normalization"]["mean"]) == data.input_shape[0]


def test_registry_lists_every_dataset():
    expected = {"mnist1d", "digits", "digits28", "shapes28", "mnist_idx", "fashion_mnist_idx"}
    expected |= {"cifar10", "svhn", "imagefolder"}
    assert expected <= set(list_datasets())
    assert list_datasets() == sorted(DATASETS)
    assert sorted(GENERATED + READERS) == list_datasets()
    assert set(READERS) >= {"mnist_idx", "fashion_mnist_idx", "cifar10", "svhn", "imagefolder"}


@pytest.mark.parametrize("name", GENERATED)
def test_generated_dataset_contract(name):
    data = load_dataset(name)
    check_split_contract(data)
    assert data.name == name
    assert data.num_classes == 10
    n_pool = data.info["sizes"]["train"] + data.info["sizes"]["val"]
    assert data.info["sizes"]["val"] == int(np.floor(0.1 * n_pool + 0.5))
    # Normalized with train statistics: train is standardized per channel.
    per_channel = data.x_train.transpose(0, 1).flatten(1)
    assert per_channel.mean(1).abs().max() < 1e-4
    assert (per_channel.std(1) - 1).abs().max() < 1e-3
    # Splits share no example (every dataset here has unique inputs).
    train, val, test = _rows(data.x_train), _rows(data.x_val), _rows(data.x_test)
    assert not (train & val) and not (train & test) and not (val & test)


@pytest.mark.parametrize("name", GENERATED)
def test_generated_dataset_is_deterministic(name):
    a = load_dataset(name, split_seed=3, val_fraction=0.2)
    b = load_dataset(name, split_seed=3, val_fraction=0.2)
    for field in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        assert torch.equal(getattr(a, field), getattr(b, field))
    assert a.info == b.info
    c = load_dataset(name, split_seed=4, val_fraction=0.2)
    assert c.info["split_sha256"] != a.info["split_sha256"]
    assert not torch.equal(a.y_val, c.y_val)


@pytest.mark.parametrize("name", GENERATED)
def test_generated_dataset_direct_builder_call(name):
    data = DATASETS[name](path=None, val_fraction=0.0, split_seed=0, num_samples=None)
    assert data.info["sizes"]["val"] == 0 and data.x_val.shape == (0, *data.input_shape)


@pytest.mark.parametrize("name", READERS)
def test_reader_without_path_says_it_never_downloads(name):
    with pytest.raises(DataError, match=f"dataset '{name}' needs a local path.*never downloads"):
        load_dataset(name)


@pytest.mark.parametrize("name", READERS)
def test_reader_on_empty_folder_names_the_path(name, tmp_path):
    with pytest.raises(DataError, match=str(tmp_path)):
        load_dataset(name, path=str(tmp_path))


@pytest.mark.parametrize("name", READERS)
def test_reader_on_missing_folder(name, tmp_path):
    with pytest.raises(DataError, match="not an existing directory"):
        load_dataset(name, path=tmp_path / "nope")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"val_fraction": -0.1}, "val_fraction"),
        ({"split_seed": -1}, "split_seed"),
        ({"split_seed": 1.5}, "split_seed"),
        ({"num_samples": 0}, "num_samples"),
        ({"num_samples": 5}, "num_samples must be >= 10"),
    ],
)
def test_bad_arguments_raise_data_error(kwargs, match):
    with pytest.raises(DataError, match=match):
        load_dataset("mnist1d", **kwargs)


def test_unknown_dataset_lists_available():
    with pytest.raises(DataError, match="unknown dataset 'nope'.*mnist1d"):
        load_dataset("nope")
    assert issubclass(DataError, ValueError) and issubclass(DataError, WeightzooError)


def test_name_is_case_insensitive():
    assert load_dataset("DIGITS", num_samples=200).name == "digits"


def test_too_few_samples_is_a_data_error():
    with pytest.raises(DataError, match="too few samples"):
        load_dataset("shapes28", num_samples=3)


def test_split_data_validates_and_has_short_repr():
    x, y = torch.zeros(4, 1, 3), torch.zeros(4, dtype=torch.int64)
    data = SplitData("t", x, y, x[:0], y[:0], x, y, num_classes=2, input_shape=[1, 3], info={})
    assert data.input_shape == (1, 3)
    assert repr(data) == (
        "SplitData(name='t', train=4, val=0, test=4, num_classes=2, input_shape=(1, 3))"
    )
    with pytest.raises(DataError, match="float32"):
        SplitData("t", x.double(), y, x, y, x, y, num_classes=2, input_shape=(1, 3))
    with pytest.raises(DataError, match="shape"):
        SplitData("t", x, y[:3], x, y, x, y, num_classes=2, input_shape=(1, 3))


def test_numpy_integers_are_accepted_and_bad_names_rejected(caplog):
    a = load_dataset("digits", split_seed=np.int64(2), num_samples=np.int32(100))
    b = load_dataset("digits", split_seed=2, num_samples=100)
    assert torch.equal(a.x_train, b.x_train) and a.info == b.info
    with pytest.raises(DataError, match="unknown dataset"):
        load_dataset(None)  # type: ignore[arg-type]
    with caplog.at_level("WARNING"):
        load_dataset("digits", path="/somewhere", num_samples=100)
    assert "ignores path" in caplog.text
