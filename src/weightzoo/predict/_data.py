"""Reading the networks of catalog rows out of a zoo, fast and without leaks."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch

from weightzoo.arch import ArchSpec
from weightzoo.errors import ConfigError
from weightzoo.zoo.zoo import Zoo

Network = tuple[ArchSpec, dict[str, torch.Tensor]]

# The encoder sees the layer structure and the weights, never the training
# recipe: an ArchSpec also records the activation and dropout rate, which are
# targets (or correlates of targets) of the classification tasks.
_NEUTRAL_ACTIVATION = "relu"


def structure_only(spec: ArchSpec) -> ArchSpec:
    """The spec with activation and dropout replaced by fixed values."""
    return spec.replace(activation=_NEUTRAL_ACTIVATION, dropout=0.0)


def select_rows(zoo: Zoo, epochs: str | Sequence[int] = "all") -> pd.DataFrame:
    """Catalog rows of the chosen checkpoints, sorted by model and epoch.

    Args:
        zoo: the zoo.
        epochs: ``"all"``, ``"last"`` (each model's last checkpoint) or a list
            of epochs (those a model lacks are skipped).

    Returns:
        Catalog rows (index reset).

    Raises:
        ConfigError: no row matches.
    """
    cat = zoo.catalog
    if epochs == "all":
        rows = cat
    elif epochs == "last":
        last = cat.groupby("model_id")["epoch"].transform("max")
        rows = cat[cat["epoch"] == last]
    elif isinstance(epochs, str):
        raise ConfigError(f"epochs: expected 'all', 'last' or a list of epochs, got {epochs!r}")
    else:
        rows = cat[cat["epoch"].isin([int(e) for e in epochs])]
    if rows.empty:
        raise ConfigError(f"epochs: zoo {zoo.root} has no checkpoint at epochs {epochs}")
    return rows.sort_values(["model_id", "epoch"]).reset_index(drop=True)


def load_networks(zoo: Zoo, rows: pd.DataFrame) -> list[Network]:
    """The (structure-only spec, weights) of every catalog row, in row order.

    Reads one stacked tensor per parameter and epoch (a few large reads
    instead of one small read per checkpoint); each network's tensors are views
    into those stacks.

    Args:
        zoo: the zoo the rows come from.
        rows: catalog rows with ``model_id`` and ``epoch``.

    Returns:
        One network per row.
    """
    specs: dict[str, ArchSpec] = {}
    out: list[Network | None] = [None] * len(rows)
    model_ids = rows["model_id"].astype(str).to_numpy()
    epochs = rows["epoch"].astype(int).to_numpy()
    for epoch in sorted(set(epochs.tolist())):
        positions = [i for i in range(len(rows)) if epochs[i] == epoch]
        ids = [model_ids[i] for i in positions]
        # Models of different architectures cannot be stacked together: group by shard spec.
        by_arch: dict[str, list[int]] = {}
        for pos, mid in zip(positions, ids, strict=True):
            if mid not in specs:
                specs[mid] = structure_only(zoo.spec(mid))
            by_arch.setdefault(specs[mid].to_json(), []).append(pos)
        for group in by_arch.values():
            stacked = zoo.stacked(epoch, [model_ids[p] for p in group])
            for j, pos in enumerate(group):
                out[pos] = (specs[model_ids[pos]], {k: v[j] for k, v in stacked.items()})
    return out  # type: ignore[return-value]
