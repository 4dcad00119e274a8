"""The data types every dataset returns: ``SplitData`` and ``DataError``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from weightzoo.errors import WeightzooError

__all__ = ["DataError", "SplitData"]

_SPLITS = ("train", "val", "test")


class DataError(WeightzooError, ValueError):
    """Bad dataset input: unknown name, bad argument, missing or malformed file.

    The message names the file or field and what was expected there, so the
    CLI can show it as one line.
    """


# eq=False: dataclass equality would compare tensors with ``==`` (ambiguous
# truth value) and hashing would fail on the ``info`` dict; identity is what
# callers need for caching.
@dataclass(frozen=True, eq=False, repr=False)
class SplitData:
    """A dataset split into train, validation and test tensors.

    Attributes:
        name: registry name the data was loaded under.
        x_train: (N_train, *input_shape) float32, normalized with train statistics.
        y_train: (N_train,) int64 labels in ``[0, num_classes)``.
        x_val: (N_val, *input_shape) float32.
        y_val: (N_val,) int64.
        x_test: (N_test, *input_shape) float32.
        y_test: (N_test,) int64.
        num_classes: number of classes.
        input_shape: shape of one example, e.g. ``(1, 40)`` or ``(3, 32, 32)``.
        info: JSON-able provenance: source, split seed, val fraction, sizes per
            split, a short sha256 of the split indices, normalization mean/std
            and class names.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    input_shape: tuple[int, ...]
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Accept a list (e.g. read back from JSON) but store the documented tuple.
        object.__setattr__(self, "input_shape", tuple(int(d) for d in self.input_shape))
        for split in _SPLITS:
            x = getattr(self, f"x_{split}")
            y = getattr(self, f"y_{split}")
            if x.dtype != torch.float32 or y.dtype != torch.int64:
                raise DataError(
                    f"SplitData '{self.name}': x_{split} must be float32 and y_{split} int64, "
                    f"got {x.dtype} and {y.dtype}"
                )
            if tuple(x.shape[1:]) != self.input_shape or y.shape != (x.shape[0],):
                raise DataError(
                    f"SplitData '{self.name}': expected x_{split} of shape (N, *{self.input_shape}) "
                    f"and y_{split} of shape (N,), got {tuple(x.shape)} and {tuple(y.shape)}"
                )

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={getattr(self, f'y_{s}').shape[0]}" for s in _SPLITS)
        return (
            f"SplitData(name={self.name!r}, {sizes}, num_classes={self.num_classes}, "
            f"input_shape={self.input_shape})"
        )
