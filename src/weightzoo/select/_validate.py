"""Input checks shared by the transferability scores, the ranking metrics and ZooD.

Every check turns numpy arrays, torch tensors or nested lists into numpy
arrays and raises ``SelectInputError`` with a message naming the argument and
what was expected, so the CLI can show it as one line.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from weightzoo.errors import WeightzooError

__all__ = [
    "SelectInputError",
    "as_array",
    "check_features",
    "check_labels",
    "check_source_probs",
    "check_targets",
]


class SelectInputError(WeightzooError, ValueError):
    """Bad input to a model-selection function; the message names the argument."""


def as_array(value: Any, name: str) -> np.ndarray:
    """Convert a numpy array, torch tensor or sequence to a numpy array (no copy if possible)."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch.Tensor, without importing torch
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as err:
        raise SelectInputError(f"{name}: cannot be read as an array ({err})") from err
    if array.dtype == object:
        raise SelectInputError(f"{name}: expected a numeric array, got ragged or object data")
    return array


def check_features(value: Any, name: str = "features", *, min_samples: int = 2) -> np.ndarray:
    """Check a feature matrix.

    Args:
        value: (N, D) real features.
        name: argument name used in error messages.
        min_samples: the smallest N accepted.

    Returns:
        (N, D) float32 or float64 array (float64 unless the input was float32/float16).

    Raises:
        SelectInputError: wrong ndim, empty, non-numeric, NaN or infinite entries.
    """
    array = as_array(value, name)
    if array.ndim != 2:
        raise SelectInputError(
            f"{name}: expected a 2-D array (samples, dims), got shape {array.shape}"
        )
    if array.dtype.kind not in "biuf":
        raise SelectInputError(f"{name}: expected real numbers, got dtype {array.dtype}")
    if array.shape[0] < min_samples or array.shape[1] < 1:
        raise SelectInputError(
            f"{name}: expected at least {min_samples} samples and 1 dimension, "
            f"got shape {array.shape}"
        )
    dtype = np.float32 if array.dtype in (np.float16, np.float32) else np.float64
    array = np.asarray(array, dtype=dtype)
    if not np.isfinite(array).all():
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise SelectInputError(f"{name}: {bad} entries are NaN or infinite; all must be finite")
    return array


def check_labels(
    value: Any,
    num_samples: int,
    name: str = "labels",
    *,
    samples_name: str = "features",
    min_classes: int = 2,
) -> tuple[np.ndarray, int]:
    """Check class labels and map them to ``0..C-1``.

    Labels may be any integers (or floats with integral values); they are
    mapped to consecutive ids in sorted order, so scores do not depend on which
    integers name the classes.

    Args:
        value: (N,) class labels.
        num_samples: N expected (from the companion argument).
        name: argument name used in error messages.
        samples_name: name of the argument ``num_samples`` comes from.
        min_classes: the fewest distinct classes accepted.

    Returns:
        ``(ids, C)``: (N,) int64 ids in ``[0, C)`` and the number of classes.

    Raises:
        SelectInputError: wrong ndim or length, non-integral values, fewer than
            ``min_classes`` classes, or no more samples than classes.
    """
    array = as_array(value, name)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise SelectInputError(
            f"{name}: expected a 1-D array of class ids, got shape {array.shape}"
        )
    if array.shape[0] != num_samples:
        raise SelectInputError(
            f"{name}: has {array.shape[0]} entries but {samples_name} has {num_samples} samples"
        )
    if array.dtype.kind == "f":
        if not np.isfinite(array).all() or not np.all(array == np.round(array)):
            raise SelectInputError(f"{name}: class labels must be integers")
    elif array.dtype.kind not in "biu":
        raise SelectInputError(f"{name}: class labels must be integers, got dtype {array.dtype}")
    classes, ids = np.unique(array, return_inverse=True)
    num_classes = len(classes)
    if num_classes < min_classes:
        raise SelectInputError(
            f"{name}: found {num_classes} class(es); at least {min_classes} are needed"
        )
    if num_samples <= num_classes:
        # With N <= C every class holds one sample: no within-class spread to score.
        raise SelectInputError(
            f"{name}: {num_samples} samples for {num_classes} classes; "
            "need more samples than classes"
        )
    return ids.astype(np.int64).reshape(-1), num_classes


def check_targets(value: Any, num_samples: int, name: str = "labels") -> np.ndarray:
    """Check regression targets.

    Args:
        value: (N,) or (N, K) real targets.
        num_samples: N expected.
        name: argument name used in error messages.

    Returns:
        (N, K) float64 array.

    Raises:
        SelectInputError: wrong shape or length, NaN or infinite values.
    """
    array = as_array(value, name)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] < 1:
        raise SelectInputError(f"{name}: expected (N,) or (N, K) targets, got shape {array.shape}")
    if array.shape[0] != num_samples:
        raise SelectInputError(
            f"{name}: has {array.shape[0]} rows but features has {num_samples} samples"
        )
    if array.dtype.kind not in "biuf":
        raise SelectInputError(f"{name}: expected real numbers, got dtype {array.dtype}")
    array = np.asarray(array, dtype=np.float64)
    if not np.isfinite(array).all():
        raise SelectInputError(f"{name}: NaN or infinite targets; all must be finite")
    return array


def check_source_probs(value: Any, name: str = "source_probs", *, atol: float = 1e-3) -> np.ndarray:
    """Check a matrix of source-model class probabilities.

    Args:
        value: (N, Z) probabilities over the Z source classes; rows sum to 1.
        name: argument name used in error messages.
        atol: tolerance on each row sum.

    Returns:
        (N, Z) float64 probabilities, rows renormalized to sum to exactly 1.

    Raises:
        SelectInputError: wrong ndim, negative or non-finite entries, rows not
            summing to 1 (logits were passed, for example).
    """
    array = check_features(value, name, min_samples=1).astype(np.float64)
    if (array < 0).any():
        raise SelectInputError(
            f"{name}: probabilities must be >= 0 (pass softmax outputs, not logits)"
        )
    sums = array.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=atol):
        worst = int(np.argmax(np.abs(sums - 1.0)))
        raise SelectInputError(
            f"{name}: each row must sum to 1 (softmax outputs); row {worst} sums to {sums[worst]:.4g}"
        )
    return array / sums[:, None]
