"""The dataset registry and ``load_dataset``, the one entry point callers use."""

from __future__ import annotations

import dataclasses
import logging
import numbers
import os
from collections.abc import Callable
from typing import Protocol

from weightzoo.data.base import DataError, SplitData

__all__ = ["DATASETS", "DatasetBuilder", "list_datasets", "load_dataset", "register_dataset"]

logger = logging.getLogger(__name__)


class DatasetBuilder(Protocol):
    """What ``register_dataset`` expects: arguments already validated."""

    def __call__(
        self,
        *,
        path: str | None,
        val_fraction: float,
        split_seed: int,
        num_samples: int | None,
    ) -> SplitData: ...


DATASETS: dict[str, DatasetBuilder] = {}
_NEEDS_PATH: set[str] = set()


def register_dataset(
    name: str, *aliases: str, needs_path: bool = False
) -> Callable[[DatasetBuilder], DatasetBuilder]:
    """Register a dataset builder under ``name`` (and optional aliases).

    Args:
        name: registry name, lower case.
        aliases: further names for the same builder.
        needs_path: whether the dataset is read from local files (``path=``).

    Returns:
        A decorator that registers the builder and returns it unchanged.

    Raises:
        ValueError: if a name is already registered.
    """

    def decorator(builder: DatasetBuilder) -> DatasetBuilder:
        for key in (name, *aliases):
            if key in DATASETS:
                raise ValueError(f"dataset '{key}' is already registered")
            DATASETS[key] = builder
            if needs_path:
                _NEEDS_PATH.add(key)
        return builder

    return decorator


def list_datasets(*, needs_path: bool | None = None) -> list[str]:
    """Names of the registered datasets, sorted.

    Args:
        needs_path: ``None`` lists all; ``False`` only those generated without
            files (usable anywhere); ``True`` only the readers of local files.

    Returns:
        Sorted registry names, aliases included.
    """
    names = sorted(DATASETS)
    if needs_path is None:
        return names
    return [n for n in names if (n in _NEEDS_PATH) == needs_path]


def _as_int(field: str, value: object, *, minimum: int) -> int:
    # numpy integers are fine (they come out of configs and sweeps); bools and floats are not.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise DataError(f"{field} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def load_dataset(
    name: str,
    *,
    path: str | os.PathLike[str] | None = None,
    val_fraction: float = 0.1,
    split_seed: int = 0,
    num_samples: int | None = None,
) -> SplitData:
    """Load a dataset by name, split into train/val/test and normalized.

    The same arguments always give bitwise identical tensors. Validation is
    carved from the training part with a permutation seeded by ``split_seed``;
    inputs are normalized per channel with mean/std of the train split only.

    Args:
        name: a name from ``list_datasets()`` (case-insensitive).
        path: directory of local files, required by readers (``mnist_idx``,
            ``cifar10``, ``svhn``, ``imagefolder``); weightzoo never downloads.
        val_fraction: fraction of the training part held out for validation,
            in ``[0, 1)``.
        split_seed: non-negative seed of every split (and subsample) choice.
        num_samples: for generated datasets, how many examples to generate;
            for fixed ones, a seeded subset of this many examples (train and
            test shrunk in proportion). ``None`` keeps the default size.

    Returns:
        The split dataset.

    Raises:
        DataError: on an unknown name, an invalid argument, or a missing or
            malformed file.
    """
    key = name.lower() if isinstance(name, str) else None
    if key not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; available: {', '.join(list_datasets())}")
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, numbers.Real):
        raise DataError(f"val_fraction must be a number in [0, 1), got {val_fraction!r}")
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"val_fraction must be in [0, 1), got {val_fraction}")
    split_seed = _as_int("split_seed", split_seed, minimum=0)
    if num_samples is not None:
        num_samples = _as_int("num_samples", num_samples, minimum=1)

    if key in _NEEDS_PATH:
        if path is None:
            raise DataError(
                f"dataset '{key}' needs a local path (path=...); weightzoo never downloads"
            )
        path = os.path.abspath(os.path.expanduser(os.fspath(path)))
        if not os.path.isdir(path):
            raise DataError(f"dataset '{key}': path {path} is not an existing directory")
    elif path is not None:
        logger.warning("dataset '%s' is generated and ignores path=%s", key, path)
        path = None

    data = DATASETS[key](
        path=path, val_fraction=float(val_fraction), split_seed=split_seed, num_samples=num_samples
    )
    if data.name != key:
        # Aliases share one builder; report the name the caller asked for.
        data = dataclasses.replace(data, name=key)
    return data
