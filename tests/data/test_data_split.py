"""The shared split, normalization and fingerprint helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from weightzoo.data import _split
from weightzoo.data._split import (
    channel_stats,
    fingerprint,
    finish_split,
    normalize,
    proportional_subsample,
    random_holdout,
    split_rng,
    stratified_holdout,
)


def test_random_holdout_is_disjoint_cover_and_seeded():
    keep, held = random_holdout(101, 0.2, split_rng(0, "val"))
    assert len(held) == 20 and len(keep) == 81
    assert np.array_equal(np.sort(np.concatenate([keep, held])), np.arange(101))
    again, _ = random_holdout(101, 0.2, split_rng(0, "val"))
    other, _ = random_holdout(101, 0.2, split_rng(1, "val"))
    assert np.array_equal(keep, again) and not np.array_equal(keep, other)
    assert np.all(np.diff(keep) > 0) and np.all(np.diff(held) > 0)


def test_stratified_holdout_takes_each_class_share():
    labels = np.repeat(np.arange(4), [10, 20, 30, 5])
    keep, held = stratified_holdout(labels, 0.2, split_rng(0, "test"))
    assert np.bincount(labels[held]).tolist() == [2, 4, 6, 1]
    assert not set(keep) & set(held) and len(keep) + len(held) == len(labels)


def test_proportional_subsample_keeps_ratio():
    pool, test = proportional_subsample(500, 100, 60, split_rng(0, "subsample"))
    assert (len(pool), len(test)) == (50, 10)
    assert len(set(pool)) == 50 and pool.max() < 500 and test.max() < 100
    pool, test = proportional_subsample(5, 1, 100, split_rng(0, "subsample"))
    assert pool.tolist() == list(range(5)) and test.tolist() == [0]


def test_fingerprint_is_short_stable_and_sensitive():
    a = fingerprint(train=np.arange(5), val=np.arange(5, 7))
    assert a == fingerprint(val=np.arange(5, 7), train=np.arange(5))
    assert len(a) == 16 and int(a, 16) >= 0
    assert a != fingerprint(train=np.arange(5), val=np.arange(5, 8))
    assert a != fingerprint(train=np.arange(5, 7), val=np.arange(5))


def test_channel_stats_and_normalize_match_numpy(monkeypatch):
    # A tiny chunk size exercises the chunked accumulation.
    monkeypatch.setattr(_split, "_CHUNK", 3)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(10, 3, 4, 4)).astype(np.uint8)
    x[:, 2] = 7  # a constant channel must not divide by zero
    mean, std = channel_stats(x, scale=1 / 255)
    ref = x.astype(np.float64) / 255
    np.testing.assert_allclose(mean, ref.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(std[:2], ref.std(axis=(0, 2, 3))[:2])
    assert std[2] == 1.0
    out = normalize(x, mean, std, scale=1 / 255)
    assert out.dtype == torch.float32 and out.is_contiguous()
    expected = (ref - mean[None, :, None, None]) / std[None, :, None, None]
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-6)


def test_finish_split_normalizes_with_train_statistics_only():
    # Test inputs sit far from the train distribution: if they leaked into the
    # statistics, the train mean would move away from zero.
    x_pool = np.random.default_rng(0).normal(2.0, 0.5, size=(200, 1, 5)).astype(np.float32)
    x_test = np.full((50, 1, 5), 100.0, dtype=np.float32)
    y_pool, y_test = np.arange(200) % 2, np.zeros(50, dtype=np.int64)
    data = finish_split(
        "toy",
        x_pool=x_pool,
        y_pool=y_pool,
        x_test=x_test,
        y_test=y_test,
        classes=("a", "b"),
        val_fraction=0.25,
        split_seed=0,
    )
    assert abs(float(data.x_train.mean())) < 1e-5
    (mean,), (std,) = data.info["normalization"]["mean"], data.info["normalization"]["std"]
    assert mean == pytest.approx(2.0, abs=0.1) and std == pytest.approx(0.5, abs=0.05)
    assert float(data.x_test.mean()) == pytest.approx((100 - mean) / std, rel=1e-5)
    assert data.info["sizes"] == {"train": 150, "val": 50, "test": 50}
    # Val rows come from the pool and are normalized with the same statistics.
    raw_val = data.x_val.numpy().reshape(50, 1, -1) * std + mean
    nearest = np.abs(raw_val - x_pool.reshape(1, 200, -1)).max(axis=2).min(axis=1)
    assert nearest.max() < 1e-5


def test_finish_split_rejects_out_of_range_labels():
    x = np.zeros((4, 1, 2), dtype=np.float32)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\)"):
        finish_split(
            "toy",
            x_pool=x,
            y_pool=np.array([0, 1, 2, 0]),
            x_test=x,
            y_test=np.zeros(4, dtype=np.int64),
            classes=("a", "b"),
            val_fraction=0.0,
            split_seed=0,
        )
