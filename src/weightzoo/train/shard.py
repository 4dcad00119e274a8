"""Train one shard to completion, resuming from its last complete epoch."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from weightzoo.arch import ArchSpec
from weightzoo.data import SplitData
from weightzoo.train.population import ModelHP, Population
from weightzoo.zoo._io import RemotePath, as_zoo_path
from weightzoo.zoo.shardfiles import read_state, write_epoch, write_state

log = logging.getLogger(__name__)

ProgressFn = Callable[[int], None]


def _hp(info: dict[str, Any]) -> ModelHP:
    return ModelHP(**{k: info[k] for k in ModelHP.__dataclass_fields__})


@dataclass(frozen=True)
class ShardJob:
    """Everything a worker (a process, a Ray task) needs to train one shard.

    Picklable and self-contained: ``root`` is the zoo's path or URL as a string,
    ``models`` holds only this shard's models.
    """

    root: str
    shard: str
    plan: dict[str, Any]
    models: dict[str, dict[str, Any]]
    epochs: int
    checkpoints: list[int]
    strategy: str = "auto"
    shared_data_order: bool = False
    eval_batch_size: int = 2000
    device: str = "cpu"

    @property
    def model_epochs(self) -> int:
        return len(self.plan["model_ids"]) * self.epochs

    def run(self, data: SplitData, on_epoch: ProgressFn | None = None) -> None:
        """Train the shard (resuming from its state); idempotent, so safe to retry."""
        run_shard(
            self.root,
            self.shard,
            self.plan,
            self.models,
            data,
            epochs=self.epochs,
            checkpoints=self.checkpoints,
            strategy=self.strategy,
            shared_data_order=self.shared_data_order,
            eval_batch_size=self.eval_batch_size,
            device=self.device,
            on_epoch=on_epoch,
        )


def run_shard(
    root: str | Path | RemotePath,
    shard: str,
    plan: dict[str, Any],
    models: dict[str, dict[str, Any]],
    data: SplitData,
    *,
    epochs: int,
    checkpoints: list[int],
    strategy: str = "auto",
    shared_data_order: bool = False,
    eval_batch_size: int = 2000,
    device: str = "cpu",
    on_epoch: ProgressFn | None = None,
) -> None:
    """Train (or finish training) one shard and write its checkpoints.

    Order of writes per epoch: the checkpoint file, then the resume state.
    A crash between the two makes the rerun recompute that epoch and
    overwrite the checkpoint with identical content, so nothing is lost or
    duplicated. A rerun of a finished shard writes nothing.

    Args:
        root: zoo folder or fsspec URL.
        shard: shard name.
        plan: the shard's entry of the manifest (spec, optimizer, batch size, model ids, seed).
        models: model id -> hyperparameters (manifest ``models``).
        data: the dataset.
        epochs: total epochs.
        checkpoints: epochs to write weights and metrics for.
        strategy: population strategy.
        shared_data_order: all models of the shard see the same batches.
        eval_batch_size: batch size of the per-epoch evaluation.
        device: torch device.
        on_epoch: called with the number of models after each trained epoch.
    """
    root = as_zoo_path(root)
    ids = plan["model_ids"]
    spec = ArchSpec.from_dict(plan["spec"])
    state = read_state(root, shard)
    if state is not None:
        # Resume with the strategy that produced the earlier epochs: results are
        # equal across strategies only to float rounding, and resuming must be exact.
        strategy = state[2].get("strategy", strategy)
    pop = Population(
        spec,
        plan["optimizer"],
        [_hp(models[m]) for m in ids],
        batch_size=int(plan["batch_size"]),
        strategy=strategy,
        shared_data_order=shared_data_order,
        shard_seed=int(plan["shard_seed"]),
        device=device,
    )
    dev = torch.device(device)
    xs = {s: getattr(data, f"x_{s}").to(dev) for s in ("train", "val", "test")}
    ys = {s: getattr(data, f"y_{s}").to(dev) for s in ("train", "val", "test")}

    def checkpoint(epoch: int) -> None:
        metrics: list[dict[str, Any]] = [
            {"alive": bool(a), "stopped_epoch": int(s)}
            for a, s in zip(pop.alive.tolist(), pop.stopped_epoch.tolist(), strict=True)
        ]
        for split in ("train", "val", "test"):
            if xs[split].shape[0] == 0:
                continue
            loss, acc = pop.evaluate(xs[split], ys[split], eval_batch_size)
            for m, (lv, av) in enumerate(zip(loss.tolist(), acc.tolist(), strict=True)):
                metrics[m][f"{split}_loss"] = lv
                metrics[m][f"{split}_acc"] = av
        write_epoch(root, shard, epoch, pop.weights(), ids, metrics)

    if state is None:
        start = 0
        if 0 in checkpoints:
            checkpoint(0)
        write_state(root, shard, 0, pop.state_tensors(), {"strategy": pop.strategy})
    else:
        start, tensors, _ = state
        pop.load_state_tensors(tensors)
        log.info("shard %s: resuming after epoch %d", shard, start)
        if on_epoch is not None and start:
            on_epoch(len(ids) * start)
    for epoch in range(start + 1, epochs + 1):
        if bool(pop.alive.any()):
            pop.train_epoch(xs["train"], ys["train"], epoch)
            pop.check_finite_params(epoch)
        if epoch in checkpoints:
            checkpoint(epoch)
        write_state(root, shard, epoch, pop.state_tensors(), {"strategy": pop.strategy})
        if on_epoch is not None:
            on_epoch(len(ids))
