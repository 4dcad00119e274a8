"""Shared by every dataset: seeded splits, train-only normalization, fingerprints.

Builders hand ``finish_split`` raw arrays; everything that makes datasets
comparable (how val is carved, how inputs are normalized, what ``info`` holds)
happens here once.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from weightzoo.data.base import DataError, SplitData
from weightzoo.seeding import derive_seed

logger = logging.getLogger(__name__)

# Rows per chunk when computing statistics and normalizing: bounds the float64
# temporaries to tens of MB even for CIFAR-sized arrays.
_CHUNK = 1024


def split_rng(split_seed: int, purpose: str) -> np.random.Generator:
    """An independent numpy generator for one split decision.

    Args:
        split_seed: the user's ``split_seed``.
        purpose: what it decides (``"val"``, ``"test"``, ``"subsample"``), so
            changing one decision never shifts another's random stream.

    Returns:
        A fresh ``numpy.random.Generator``.
    """
    return np.random.default_rng(derive_seed(split_seed, "data", purpose))


def _round(x: float) -> int:
    # Half-up rounding: Python's round() goes to even, surprising for counts.
    return int(np.floor(x + 0.5))


def random_holdout(
    n: int, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` into kept and held-out positions by a seeded permutation.

    Args:
        n: number of items.
        fraction: share held out, rounded half up to a count.
        rng: generator deciding the permutation.

    Returns:
        ``(keep, held)``: sorted int64 positions, disjoint, covering ``range(n)``.
    """
    k = _round(fraction * n)
    perm = rng.permutation(n)
    return np.sort(perm[k:]), np.sort(perm[:k])


def stratified_holdout(
    labels: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Hold out ``fraction`` of every class, chosen by a seeded permutation.

    Args:
        labels: (N,) integer labels.
        fraction: share of each class held out, rounded half up per class.
        rng: generator deciding which items.

    Returns:
        ``(keep, held)``: sorted int64 positions into ``labels``, disjoint.
    """
    held = [np.zeros(0, dtype=np.int64)]
    for c in np.unique(labels):
        pos = np.flatnonzero(labels == c)
        held.append(rng.permutation(pos)[: _round(fraction * len(pos))])
    held_idx = np.sort(np.concatenate(held)).astype(np.int64)
    keep = np.setdiff1d(np.arange(len(labels), dtype=np.int64), held_idx, assume_unique=True)
    return keep, held_idx


def proportional_subsample(
    n_pool: int, n_test: int, num_samples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Choose ``num_samples`` items from a pool and a fixed test set, keeping their ratio.

    Args:
        n_pool: size of the training pool.
        n_test: size of the test set.
        num_samples: total to keep; at least one goes to test when ``n_test > 0``.
        rng: generator deciding which items.

    Returns:
        ``(pool_idx, test_idx)``: sorted int64 positions to keep in each.
    """
    total = n_pool + n_test
    if num_samples >= total:
        return np.arange(n_pool, dtype=np.int64), np.arange(n_test, dtype=np.int64)
    k_test = min(n_test, max(1 if n_test else 0, _round(num_samples * n_test / total)))
    k_pool = num_samples - k_test
    pool_idx = np.sort(rng.permutation(n_pool)[:k_pool])
    test_idx = np.sort(rng.permutation(n_test)[:k_test])
    return pool_idx.astype(np.int64), test_idx.astype(np.int64)


def fingerprint(**indices: np.ndarray) -> str:
    """Short sha256 hex of named index arrays, order-independent in the names.

    Args:
        indices: name -> (K,) integer index array.

    Returns:
        The first 16 hex digits of the sha256.
    """
    h = hashlib.sha256()
    for key in sorted(indices):
        h.update(key.encode() + b"\0")
        # Fixed little-endian int64 so the digest is the same on every platform.
        h.update(np.ascontiguousarray(indices[key], dtype="<i8").tobytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


def channel_stats(x: np.ndarray, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and (population) std of ``x * scale``.

    Two passes in float64 over row chunks: one-pass sum-of-squares loses
    precision for data far from zero, and a full float64 copy of CIFAR is 1.4 GB.

    Args:
        x: (N, C, ...) array, any real dtype, N >= 1.
        scale: factor applied to the raw values (e.g. 1/255).

    Returns:
        ``(mean, std)``: (C,) float64 each; a constant channel gets std 1.
    """
    n, c = x.shape[0], x.shape[1]
    count = n * int(np.prod(x.shape[2:], dtype=np.int64))
    total = np.zeros(c)
    for i in range(0, n, _CHUNK):
        total += x[i : i + _CHUNK].reshape(-1, c, count // n).sum(axis=(0, 2), dtype=np.float64)
    mean = total / count
    sq = np.zeros(c)
    for i in range(0, n, _CHUNK):
        d = x[i : i + _CHUNK].reshape(-1, c, count // n).astype(np.float64) - mean[:, None]
        sq += np.einsum("ncp,ncp->c", d, d)
    std = np.sqrt(sq / count)
    mean, std = mean * scale, std * abs(scale)
    std[std < 1e-12] = 1.0
    return mean, std


def normalize(x: np.ndarray, mean: np.ndarray, std: np.ndarray, scale: float = 1.0) -> torch.Tensor:
    """``(x * scale - mean) / std`` per channel, as a contiguous float32 tensor.

    Args:
        x: (N, C, ...) array, any real dtype.
        mean: (C,) channel means in scaled units.
        std: (C,) channel stds in scaled units.
        scale: factor applied to the raw values first.

    Returns:
        (N, C, ...) float32 tensor.
    """
    bshape = (1, -1) + (1,) * (x.ndim - 2)
    m = mean.astype(np.float32).reshape(bshape)
    s = std.astype(np.float32).reshape(bshape)
    out = np.empty(x.shape, dtype=np.float32)
    for i in range(0, x.shape[0], _CHUNK):
        chunk = x[i : i + _CHUNK].astype(np.float32) * np.float32(scale)
        out[i : i + _CHUNK] = (chunk - m) / s
    return torch.from_numpy(out)


def finish_split(
    name: str,
    *,
    x_pool: np.ndarray,
    y_pool: np.ndarray,
    x_test: np.ndarray | None,
    y_test: np.ndarray | None,
    classes: Sequence[str],
    val_fraction: float,
    split_seed: int,
    subsample: int | None = None,
    scale: float = 1.0,
    test_fraction: float = 0.2,
    info: dict[str, Any] | None = None,
) -> SplitData:
    """Subsample, split, normalize and package raw arrays as ``SplitData``.

    Args:
        name: registry name.
        x_pool: (N, *input_shape) training pool (train + val), any real dtype.
        y_pool: (N,) integer labels.
        x_test: (M, *input_shape) fixed test set, or ``None`` to carve a
            stratified ``test_fraction`` of the pool seeded by ``split_seed``.
        y_test: (M,) labels, or ``None`` with ``x_test``.
        classes: class names; their count is ``num_classes``.
        val_fraction: share of the (remaining) pool held out for validation.
        split_seed: seed of every choice made here.
        subsample: keep a seeded subset of this many examples in all
            (``None``: keep all).
        scale: factor turning raw values into the documented range, e.g. 1/255.
        test_fraction: share of each class carved for test when ``x_test`` is None.
        info: dataset-specific JSON-able entries (source, files, ...).

    Returns:
        The split, normalized dataset.

    Raises:
        DataError: if labels are out of range or a split would be empty.
    """
    num_classes = len(classes)
    for split, y in (("pool", y_pool), ("test", y_test)):
        if y is not None and len(y) and (y.min() < 0 or y.max() >= num_classes):
            raise DataError(
                f"dataset '{name}': {split} labels must be in [0, {num_classes}), "
                f"found range [{int(y.min())}, {int(y.max())}]"
            )
    pool_idx = np.arange(len(y_pool), dtype=np.int64)
    test_idx = None if x_test is None else np.arange(len(y_test), dtype=np.int64)
    if subsample is not None:
        rng = split_rng(split_seed, "subsample")
        if test_idx is None:
            pool_idx = np.sort(rng.permutation(len(y_pool))[:subsample]).astype(np.int64)
        else:
            pool_idx, test_idx = proportional_subsample(len(y_pool), len(y_test), subsample, rng)
    test_from_pool = test_idx is None
    if test_from_pool:
        keep, held = stratified_holdout(
            y_pool[pool_idx], test_fraction, split_rng(split_seed, "test")
        )
        pool_idx, test_idx = pool_idx[keep], pool_idx[held]
    keep, held = random_holdout(len(pool_idx), val_fraction, split_rng(split_seed, "val"))
    train_idx, val_idx = pool_idx[keep], pool_idx[held]
    if len(train_idx) == 0 or len(test_idx) == 0:
        raise DataError(
            f"dataset '{name}': too few samples for a split (train={len(train_idx)}, "
            f"test={len(test_idx)}); raise num_samples or lower val_fraction"
        )

    x_test_src = x_pool if test_from_pool else x_test
    y_test_src = y_pool if test_from_pool else y_test
    x_train_raw = x_pool[train_idx]
    mean, std = channel_stats(x_train_raw, scale)
    tensors = {
        "x_train": normalize(x_train_raw, mean, std, scale),
        "x_val": normalize(x_pool[val_idx], mean, std, scale),
        "x_test": normalize(x_test_src[test_idx], mean, std, scale),
        "y_train": torch.from_numpy(y_pool[train_idx].astype(np.int64)),
        "y_val": torch.from_numpy(y_pool[val_idx].astype(np.int64)),
        "y_test": torch.from_numpy(y_test_src[test_idx].astype(np.int64)),
    }
    full_info: dict[str, Any] = dict(info or {})
    full_info.update(
        {
            "classes": [str(c) for c in classes],
            "split_seed": int(split_seed),
            "val_fraction": float(val_fraction),
            "test_split": f"stratified {test_fraction:g} of the pool"
            if test_from_pool
            else "fixed by the source",
            "sizes": {"train": len(train_idx), "val": len(val_idx), "test": len(test_idx)},
            "split_sha256": fingerprint(
                train=train_idx,
                val=val_idx,
                # Distinguish test indices into the pool from ones into a fixed test set.
                **{"test_from_pool" if test_from_pool else "test": test_idx},
            ),
            "normalization": {"mean": mean.tolist(), "std": std.tolist()},
        }
    )
    full_info.setdefault("num_samples", subsample)
    logger.debug("dataset %s: sizes %s", name, full_info["sizes"])
    return SplitData(
        name=name,
        num_classes=num_classes,
        input_shape=tuple(int(d) for d in x_pool.shape[1:]),
        info=full_info,
        **tensors,
    )
