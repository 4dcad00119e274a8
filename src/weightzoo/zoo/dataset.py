"""``WeightDataset``: a zoo as a map-style torch dataset of (weights, targets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from weightzoo.errors import ConfigError
from weightzoo.zoo._io import RemotePath, as_zoo_path
from weightzoo.zoo.catalog import load_manifest, read_catalog, rebuild_catalog
from weightzoo.zoo.format import safe_join
from weightzoo.zoo.shardfiles import StackedFile
from weightzoo.zoo.zoo import order_like_module

SPLITS = ("train", "val", "test")


def split_models(
    model_ids: list[str], fractions: tuple[float, float, float], seed: int
) -> dict[str, list[str]]:
    """Assign whole models to train/val/test so no model's epochs straddle two splits."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ConfigError(
            f"split fractions: expected three non-negative numbers summing to 1, got {fractions}"
        )
    ids = sorted(model_ids)
    perm = np.random.default_rng(seed).permutation(len(ids))
    n_train = int(round(fractions[0] * len(ids)))
    n_val = int(round(fractions[1] * len(ids)))
    cut = {
        "train": perm[:n_train],
        "val": perm[n_train : n_train + n_val],
        "test": perm[n_train + n_val :],
    }
    return {k: sorted(ids[i] for i in v) for k, v in cut.items()}


class WeightDataset(Dataset):
    """Rows of a zoo's catalog as ``(weights, target)`` pairs.

    Files are opened lazily in whichever process reads, and open handles are
    dropped when the dataset is pickled, so ``DataLoader(num_workers>0)`` works.

    Args:
        root: zoo folder or fsspec URL.
        target: catalog column(s) to return as the target tensor.
        split: ``"train"``, ``"val"``, ``"test"`` or ``None`` (all models).
        fractions: model-level split fractions.
        seed: split seed.
        epochs: epochs to include (default all checkpoints).
        flatten: return one ``(P,)`` vector (tensors in module order) instead of a dict.
    """

    def __init__(
        self,
        root: str | Path | RemotePath,
        *,
        target: str | list[str] = "test_acc",
        split: str | None = "train",
        fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
        seed: int = 0,
        epochs: list[int] | None = None,
        flatten: bool = True,
    ) -> None:
        self.root = as_zoo_path(root).resolve()
        manifest = load_manifest(self.root)
        cat = read_catalog(self.root)
        if cat is None:
            cat = rebuild_catalog(self.root, manifest)
        targets = [target] if isinstance(target, str) else list(target)
        missing = [t for t in targets if t not in cat.columns]
        if missing:
            raise ConfigError(
                f"target: unknown catalog column(s) {missing}; have {list(cat.columns)}"
            )
        if split is not None:
            if split not in SPLITS:
                raise ConfigError(f"split: expected one of {SPLITS} or None, got {split!r}")
            keep = set(split_models(list(cat["model_id"].unique()), fractions, seed)[split])
            cat = cat[cat["model_id"].isin(keep)]
        if epochs is not None:
            cat = cat[cat["epoch"].isin(list(epochs))]
        self.rows = cat.reset_index(drop=True)
        self.targets = targets
        self.flatten = flatten
        self._handles: dict[str, Any] = {}
        self._specs = {s: p["spec"] for s, p in manifest.get("shards", {}).items()}

    def __len__(self) -> int:
        return len(self.rows)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_handles"] = {}
        return state

    def _open(self, rel: str, shard: str) -> tuple[Any, list[str]]:
        """The open file and its tensor names in module order, once per file and process."""
        if rel not in self._handles:
            f = StackedFile(safe_join(self.root, rel))
            self._handles[rel] = (f, order_like_module(self._specs[shard], f.names))
        return self._handles[rel]

    def __getitem__(self, i: int) -> tuple[torch.Tensor | dict[str, torch.Tensor], torch.Tensor]:
        row = self.rows.iloc[i]
        idx = int(row["index"])
        f, names = self._open(row["file"], row["shard"])
        weights = {k: f.rows(k, idx, idx + 1)[0] for k in names}
        y = torch.tensor([float(row[t]) for t in self.targets], dtype=torch.float32)
        if self.flatten:
            return torch.cat([w.reshape(-1).float() for w in weights.values()]), y
        return weights, y
