"""Splits by model: every checkpoint of one model lands in the same split.

Splitting rows at random would put epoch 7 of a model in training and epoch 8
of the same model in the test set; a predictor could then memorize models
instead of learning from weights. All splits here are over model ids, seeded,
and reuse ``weightzoo.zoo.dataset.split_models`` so that the same seed gives
the same split as ``Zoo.to_torch_dataset``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from weightzoo.errors import ConfigError
from weightzoo.zoo.dataset import split_models

__all__ = ["ModelSplit", "split_across_zoos", "split_by_model"]

SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class ModelSplit:
    """Model ids of the train, validation and test splits.

    Attributes:
        train: ids whose checkpoints train the predictor.
        val: ids used to choose a checkpoint / stop (never trained on).
        test: ids the reported metrics are computed on.
    """

    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        for name in SPLIT_NAMES:
            for mid in getattr(self, name):
                if mid in seen:
                    raise ConfigError(f"split: model {mid!r} is in both {seen[mid]} and {name}")
                seen[mid] = name

    def ids(self, split: str) -> tuple[str, ...]:
        """The ids of one split (``"train"``, ``"val"`` or ``"test"``)."""
        if split not in SPLIT_NAMES:
            raise ConfigError(f"split: expected one of {SPLIT_NAMES}, got {split!r}")
        return getattr(self, split)

    def rows(self, catalog: pd.DataFrame, split: str) -> pd.DataFrame:
        """The catalog rows of one split, in catalog order (index reset)."""
        keep = catalog["model_id"].isin(self.ids(split))
        return catalog[keep].reset_index(drop=True)

    def to_dict(self) -> dict[str, list[str]]:
        """JSON-able form, to save next to a trained predictor."""
        return {name: list(getattr(self, name)) for name in SPLIT_NAMES}


def _unique_ids(models: Iterable[str] | pd.DataFrame) -> list[str]:
    if isinstance(models, pd.DataFrame):
        return sorted(models["model_id"].astype(str).unique())
    return sorted({str(m) for m in models})


def split_by_model(
    models: Iterable[str] | pd.DataFrame,
    *,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    seed: int = 0,
) -> ModelSplit:
    """Split the models of one zoo into train/val/test.

    Args:
        models: model ids, or a catalog (its ``model_id`` column).
        fractions: shares of models in train, val and test (sum 1).
        seed: the split seed; the same seed and ids always give the same split.

    Returns:
        The split.

    Raises:
        ConfigError: bad fractions, or a split that would be empty (val may be
            empty only when its fraction is 0).
    """
    ids = _unique_ids(models)
    parts = split_models(ids, tuple(float(f) for f in fractions), int(seed))
    for name, frac in zip(SPLIT_NAMES, fractions, strict=True):
        if frac > 0 and not parts[name]:
            raise ConfigError(
                f"split: {len(ids)} model(s) leave the {name} split empty with fractions "
                f"{tuple(fractions)}; use more models or other fractions"
            )
    return ModelSplit(tuple(parts["train"]), tuple(parts["val"]), tuple(parts["test"]))


def split_across_zoos(
    train_models: Iterable[str] | pd.DataFrame,
    test_models: Iterable[str] | pd.DataFrame,
    *,
    val_fraction: float = 0.15,
    seed: int = 0,
) -> ModelSplit:
    """Train and validate on zoo A's models, test on every model of zoo B.

    The validation models come from zoo A: choosing a checkpoint on zoo B
    would leak the test distribution into training.

    Args:
        train_models: ids (or catalog) of zoo A.
        test_models: ids (or catalog) of zoo B.
        val_fraction: share of zoo A's models held out for validation.
        seed: seed of the train/val split of zoo A.

    Returns:
        The split (ids of the two zoos are kept apart even when equal strings,
        because the caller indexes each zoo's own catalog).
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"split: val_fraction must be in [0, 1), got {val_fraction}")
    a = split_by_model(train_models, fractions=(1.0 - val_fraction, val_fraction, 0.0), seed=seed)
    test = tuple(_unique_ids(test_models))
    if not test:
        raise ConfigError("split: the test zoo has no models")
    # Zoo B reuses ids like m00000: ModelSplit's disjointness check applies to one zoo only.
    return _CrossZooSplit(a.train, a.val, test)


@dataclass(frozen=True)
class _CrossZooSplit(ModelSplit):
    """A split whose test ids belong to another zoo (so they may equal train ids)."""

    def __post_init__(self) -> None:
        ModelSplit(self.train, self.val, ())
