"""Generated datasets: MNIST-1D, digits, digits28 and shapes28."""

from __future__ import annotations

import os
import random
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from weightzoo.data import SHAPE_CLASSES, load_dataset, make_shapes


def test_mnist1d_default_sizes_and_shape():
    data = load_dataset("mnist1d")
    sizes = data.info["sizes"]
    assert sizes["train"] + sizes["val"] == 4000 and sizes["test"] == 1000
    assert (sizes["train"], sizes["val"]) == (3600, 400)
    assert data.input_shape == (1, 40) and data.x_train.shape == (3600, 1, 40)
    assert sorted(torch.unique(data.y_test).tolist()) == list(range(10))


def test_mnist1d_leaves_cwd_and_global_rng_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # The legacy global numpy RNG is exactly what mnist1d reseeds.
    np.random.seed(1234)  # noqa: NPY002
    random.seed(1234)
    np_before, py_before = np.random.get_state(), random.getstate()  # noqa: NPY002
    # A size no other test uses, so the generator really runs (no cache hit).
    data = load_dataset("mnist1d", num_samples=510)
    assert data.info["sizes"]["test"] == 102 and data.info["num_samples"] == 510
    assert os.listdir(tmp_path) == []
    np_after = np.random.get_state()  # noqa: NPY002
    assert np_before[0] == np_after[0] and np.array_equal(np_before[1], np_after[1])
    assert np_before[2:] == np_after[2:]
    assert random.getstate() == py_before
    assert os.environ.get("MPLBACKEND") and os.environ.get("MPLCONFIGDIR")


def test_mnist1d_cached_arrays_are_read_only():
    from weightzoo.data.synthetic import _mnist1d_arrays

    x, *_ = _mnist1d_arrays(None)
    with pytest.raises(ValueError, match="read-only"):
        x[0, 0, 0] = 1.0


def test_digits_test_split_is_stratified_20_percent():
    data = load_dataset("digits")
    assert data.input_shape == (1, 8, 8)
    counts = torch.bincount(data.y_test, minlength=10)
    total = counts + torch.bincount(torch.cat([data.y_train, data.y_val]), minlength=10)
    assert torch.all((counts.double() - 0.2 * total.double()).abs() <= 0.5)
    # Pixels were scaled to [0, 1] before normalization.
    (mean,), (std,) = data.info["normalization"]["mean"], data.info["normalization"]["std"]
    raw = data.x_train * std + mean
    assert float(raw.min()) > -1e-5 and float(raw.max()) < 1 + 1e-5


def test_digits_num_samples_subsamples():
    data = load_dataset("digits", num_samples=300, val_fraction=0.0)
    assert sum(data.info["sizes"].values()) == 300


def test_digits28_is_upsampled_digits():
    small, big = load_dataset("digits"), load_dataset("digits28")
    assert big.input_shape == (1, 28, 28)
    assert big.info["split_sha256"] == small.info["split_sha256"]
    assert torch.equal(big.y_test, small.y_test)
    # Downsampling the upsampled image recovers the 8x8 one approximately.
    raw_big = (
        big.x_test * big.info["normalization"]["std"][0] + big.info["normalization"]["mean"][0]
    )
    raw_small = (
        small.x_test * small.info["normalization"]["std"][0]
        + small.info["normalization"]["mean"][0]
    )
    down = torch.nn.functional.interpolate(raw_big, size=(8, 8), mode="area")
    assert float((down - raw_small).abs().mean()) < 0.1


def test_make_shapes_is_balanced_and_deterministic():
    x, y = make_shapes(1000, seed=5)
    assert x.shape == (1000, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y, minlength=10).tolist() == [100] * 10
    x2, y2 = make_shapes(1000, seed=5)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    x3, _ = make_shapes(1000, seed=6)
    assert not np.array_equal(x, x3)
    assert len(SHAPE_CLASSES) == len(set(SHAPE_CLASSES)) == 10


def test_shapes_classes_look_different():
    # Class-mean images (the noise averages out) must differ pairwise.
    x, y = make_shapes(2000, seed=0)
    means = np.stack([x[y == c].mean(axis=0) for c in range(10)]).reshape(10, -1)
    dist = np.abs(means[:, None] - means[None]).mean(axis=2)
    assert dist[~np.eye(10, dtype=bool)].min() > 0.02


def test_shapes28_sizes_and_balance():
    data = load_dataset("shapes28")
    assert data.input_shape == (1, 28, 28)
    assert sum(data.info["sizes"].values()) == 6000 and data.info["sizes"]["test"] == 1000
    assert torch.bincount(data.y_test).tolist() == [100] * 10
    pool = torch.cat([data.y_train, data.y_val])
    assert torch.bincount(pool).tolist() == [500] * 10
    assert data.info["classes"] == list(SHAPE_CLASSES)


def test_shapes28_is_learnable_by_a_linear_model():
    data = load_dataset("shapes28", num_samples=2400, val_fraction=0.0)
    assert data.info["sizes"]["train"] == 2000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LogisticRegression(max_iter=40).fit(
            data.x_train.flatten(1).numpy(), data.y_train.numpy()
        )
    accuracy = clf.score(data.x_test.flatten(1).numpy(), data.y_test.numpy())
    assert accuracy > 0.5


def test_shapes28_differs_from_digits28():
    shapes, digits = load_dataset("shapes28"), load_dataset("digits28")
    assert shapes.input_shape == digits.input_shape
    assert shapes.info["classes"] != digits.info["classes"]
    assert shapes.info["normalization"] != digits.info["normalization"]
    n = min(len(shapes.x_test), len(digits.x_test))
    assert not torch.allclose(shapes.x_test[:n], digits.x_test[:n], atol=0.1)
