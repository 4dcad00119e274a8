"""What a generation run starts from: the zoo's models of one architecture, its data, an encoder.

A zoo may mix architectures (the default MNIST-1D zoo has four activations,
so four different functions of the same weight shapes). A hyper-representation
decodes to one architecture, so generation works on the zoo's models of one
spec: the encoder's, or (when the encoder is trained here) the spec of the
zoo's best model, or the one of a chosen activation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from weightzoo.arch import ArchSpec
from weightzoo.data import SplitData, load_dataset
from weightzoo.errors import WeightzooError
from weightzoo.generate.decode import same_architecture
from weightzoo.zoo.zoo import Zoo

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class SourceModels:
    """The zoo models generation learns from.

    Attributes:
        spec: their common architecture (dropout 0).
        final: one row per model at its last epoch (catalog columns), best first.
        score_column: the accuracy column that ranks them (``val_acc``, else ``test_acc``).
    """

    spec: ArchSpec
    final: pd.DataFrame
    score_column: str

    @property
    def model_ids(self) -> list[str]:
        return list(self.final["model_id"])

    @property
    def scores(self) -> np.ndarray:
        """``(N,)`` accuracies at the last epoch, aligned with ``model_ids``."""
        return self.final[self.score_column].to_numpy(dtype=float)


def source_models(
    zoo: Zoo, *, spec: ArchSpec | None = None, activation: str | None = None
) -> SourceModels:
    """The zoo's models of one architecture, at their last epoch, ranked by accuracy.

    Args:
        zoo: the source zoo.
        spec: take models of this architecture (e.g. a trained encoder's).
        activation: without ``spec``, take the best model's architecture among
            models with this activation; default among all models.

    Raises:
        WeightzooError: no model of that architecture or activation.
    """
    cat = zoo.catalog
    if cat.empty:
        raise WeightzooError(f"zoo {zoo.root}: no checkpoints")
    cat = cat[~cat["diverged"].astype(bool)] if "diverged" in cat else cat
    final = cat.loc[cat.groupby("model_id")["epoch"].idxmax()]
    score = "val_acc" if final["val_acc"].notna().any() else "test_acc"
    final = final.sort_values([score, "model_id"], ascending=[False, True], kind="stable")
    specs = {mid: zoo.spec(mid).replace(dropout=0.0) for mid in final["model_id"]}
    if spec is None:
        pool = final
        if activation is not None:
            pool = final[[specs[m].activation == activation for m in final["model_id"]]]
            if pool.empty:
                have = sorted({s.activation for s in specs.values()})
                raise WeightzooError(
                    f"activation: no model of zoo {zoo.root} uses {activation!r}; it has {', '.join(have)}"
                )
        spec = specs[pool["model_id"].iloc[0]]
    keep = [same_architecture(specs[m], spec) for m in final["model_id"]]
    chosen = final[keep].reset_index(drop=True)
    if chosen.empty:
        raise WeightzooError(
            f"architecture mismatch: zoo {zoo.root} has no model of the encoder's architecture "
            f"{spec.to_json()} (its first model is {next(iter(specs.values())).to_json()})"
        )
    log.info("generation source: %d models of %s (%s)", len(chosen), spec.family, spec.activation)
    return SourceModels(spec=spec.replace(dropout=0.0), final=chosen, score_column=score)


def zoo_data(zoo: Zoo) -> SplitData:
    """The zoo's dataset with its recorded split (same split hash as when it was built).

    Raises:
        WeightzooError: the zoo does not record a loadable dataset.
    """
    config = zoo.manifest.get("config") or {}
    d: dict[str, Any] = dict(config.get("data") or {})
    ds = zoo.manifest.get("dataset") or {}
    name = d.get("name") or ds.get("name")
    if not name:
        raise WeightzooError(
            f"zoo {zoo.root}: zoo.json names no dataset to evaluate generated models on"
        )
    data = load_dataset(
        name,
        path=d.get("path"),
        val_fraction=d.get("val_fraction", ds.get("val_fraction", 0.1)),
        split_seed=d.get("split_seed", ds.get("split_seed", 0)),
        num_samples=d.get("num_samples", ds.get("num_samples")),
    )
    want = ds.get("split_sha256")
    got = data.info.get("split_sha256")
    if want and got and want != got:
        raise WeightzooError(
            f"zoo {zoo.root}: dataset {name} loads with split hash {got}, the zoo recorded {want}"
        )
    return data


def training_networks(
    zoo: Zoo, source: SourceModels, *, last_epochs: int = 5
) -> list[tuple[ArchSpec, dict]]:
    """The networks a hyperrep trains on: every source model at each of its last checkpoints.

    Several late checkpoints per model are the paper's way to get more
    training samples of the same trained population.
    """
    epochs = zoo.epochs()
    wanted = [e for e in epochs if e > 0][-last_epochs:] or epochs[-1:]
    nets = []
    for epoch in wanted:
        stacked = zoo.stacked(epoch, source.model_ids)
        nets.extend(
            (source.spec, {k: v[i] for k, v in stacked.items()})
            for i in range(len(source.model_ids))
        )
    return nets


def train_encoder(
    zoo: Zoo,
    source: SourceModels,
    *,
    seed: int = 0,
    epochs: int | None = None,
    last_epochs: int = 5,
    params: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """Train a ``hyperrep`` autoencoder on the source models (the ``--encoder train`` path).

    Args:
        zoo: the source zoo.
        source: its models of one architecture.
        seed: training seed.
        epochs: autoencoder epochs (default: the encoder's).
        last_epochs: checkpoints per model used as training networks.
        params: keyword parameters of ``HyperRepEncoder``; ``gamma`` defaults to
            0.05 here, as generation needs reconstruction far more than contrast.
        progress: ``(epoch, epochs)`` callback.
    """
    from weightzoo.encode import build_encoder

    p = {"gamma": 0.05, **(params or {})}
    encoder = build_encoder("hyperrep", **p)
    nets = training_networks(zoo, source, last_epochs=last_epochs)
    return encoder.fit(nets, seed=seed, epochs=epochs, progress=progress)


__all__ = ["SourceModels", "source_models", "train_encoder", "training_networks", "zoo_data"]
