"""``write_zoo``: write a complete zoo (format v1) from weights held in memory.

Importers of other zoo layouts and weight generators use it. The zoo is built
in a temporary sibling folder and renamed into place at the end, so an
interrupted write leaves no half zoo under the final name.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch

from weightzoo import __version__
from weightzoo.arch import ArchSpec, build_model, num_params, resolve_spec
from weightzoo.errors import ZooExistsError, ZooFormatError
from weightzoo.zoo._io import atomic_write_json, swap_dir_into_place
from weightzoo.zoo.catalog import rebuild_catalog, write_catalog
from weightzoo.zoo.format import FORMAT_VERSION, MANIFEST, check_name
from weightzoo.zoo.shardfiles import METRICS, write_epoch
from weightzoo.zoo.zoo import Zoo

T = TypeVar("T")

log = logging.getLogger(__name__)


@dataclass
class ZooShard:
    """Models of one architecture that share their checkpoint epochs.

    Attributes:
        spec: the architecture (dropout comes from each model's ``dropout`` hyperparameter).
        model_ids: the M model ids, in stacking order.
        hyperparameters: M dicts (JSON-able values); ``dropout`` sets a model's dropout rate.
        weights: epoch -> name -> ``(M, *shape)`` tensor, names and shapes as
            ``build_model(spec).state_dict()``. Any ``Mapping`` works, so a lazy
            one can read each epoch only when it is written.
        metrics: epoch -> M dicts with any of ``METRICS`` (missing ones become null).
    """

    spec: ArchSpec
    model_ids: list[str]
    hyperparameters: list[dict[str, Any]]
    weights: Mapping[int, Mapping[str, torch.Tensor]]
    metrics: Mapping[int, Sequence[Mapping[str, Any]]] = field(default_factory=dict)


@dataclass
class ModelCheckpoints:
    """One model with its own checkpoints; see ``group_models``.

    Attributes:
        model_id: e.g. ``"m00012"``.
        spec: architecture.
        hyperparameters: JSON-able values.
        weights: epoch -> name -> tensor (the model's own shapes).
        metrics: epoch -> metric name -> value.
    """

    model_id: str
    spec: ArchSpec
    hyperparameters: dict[str, Any]
    weights: dict[int, dict[str, torch.Tensor]]
    metrics: dict[int, dict[str, Any]] = field(default_factory=dict)


def group_models(
    models: Sequence[ModelCheckpoints], *, max_per_shard: int = 1024
) -> list[ZooShard]:
    """Stack per-model checkpoints into shards of one spec and one set of epochs.

    Models are grouped by (architecture including activation, epochs present);
    dropout is per model (its ``dropout`` hyperparameter). So a model that lacks a checkpoint never forces a placeholder
    into another model's file.

    Args:
        models: the models, in the order their ids should keep within a shard.
        max_per_shard: split larger groups (keeps each epoch file small enough to map).

    Returns:
        The shards, in order of each group's first model.
    """
    return [
        ZooShard(
            spec=part[0].spec.replace(dropout=0.0),
            model_ids=[m.model_id for m in part],
            hyperparameters=[m.hyperparameters for m in part],
            weights={
                e: {k: torch.stack([m.weights[e][k] for m in part]) for k in part[0].weights[e]}
                for e in epochs
            },
            metrics={e: [m.metrics.get(e, {}) for m in part] for e in epochs},
        )
        for epochs, part in shard_groups(
            models, lambda m: m.spec, lambda m: m.weights, max_per_shard=max_per_shard
        )
    ]


def shard_groups(
    items: Sequence[T],
    spec_of: Callable[[T], ArchSpec],
    epochs_of: Callable[[T], Iterable[int]],
    *,
    max_per_shard: int,
) -> list[tuple[tuple[int, ...], list[T]]]:
    """Group models into shards: same architecture (dropout aside) and same epochs.

    Returns:
        ``(epochs, members)`` per shard, in order of each group's first model,
        groups larger than ``max_per_shard`` split in order.
    """
    groups: dict[tuple[str, tuple[int, ...]], list[T]] = {}
    for item in items:
        spec = resolve_spec(spec_of(item).replace(dropout=0.0))
        groups.setdefault((spec.to_json(), tuple(sorted(epochs_of(item)))), []).append(item)
    return [
        (epochs, members[lo : lo + max_per_shard])
        for (_, epochs), members in groups.items()
        for lo in range(0, len(members), max_per_shard)
    ]


def _check_shard(index: int, shard: ZooShard) -> None:
    n = len(shard.model_ids)
    if n == 0:
        raise ZooFormatError(f"shard {index}: no models")
    if len(shard.hyperparameters) != n:
        raise ZooFormatError(
            f"shard {index}: {len(shard.hyperparameters)} hyperparameter dicts for {n} models"
        )
    if not shard.weights:
        raise ZooFormatError(f"shard {index}: no checkpoint epochs")
    for mid, hp in zip(shard.model_ids, shard.hyperparameters, strict=True):
        try:
            json.dumps(hp, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise ZooFormatError(f"model {mid}: hyperparameters are not plain JSON ({e})") from None
        dropout = hp.get("dropout", 0.0)
        if not isinstance(dropout, int | float) or not 0.0 <= dropout < 1.0:
            raise ZooFormatError(f"model {mid}: dropout {dropout!r} is not a rate in [0, 1)")
    for epoch in shard.weights:
        if int(epoch) < 0:
            raise ZooFormatError(f"shard {index}: epoch {epoch} is negative")
        rows = shard.metrics.get(epoch)
        if rows is not None and len(rows) != n:
            raise ZooFormatError(
                f"shard {index} epoch {epoch}: {len(rows)} metric rows for {n} models"
            )


def _check_weights(index: int, epoch: int, tensors: Mapping[str, torch.Tensor], n: int,
                   expected: dict[str, tuple[int, ...]]) -> None:  # fmt: skip
    if set(tensors) != set(expected):
        missing = sorted(set(expected) - set(tensors))
        extra = sorted(set(tensors) - set(expected))
        raise ZooFormatError(
            f"shard {index} epoch {epoch}: tensor names differ from the architecture "
            f"(missing {missing}, unexpected {extra})"
        )
    for name, shape in expected.items():
        got = tuple(tensors[name].shape)
        if got != (n, *shape):
            raise ZooFormatError(
                f"shard {index} epoch {epoch}: {name} has shape {got}, expected {(n, *shape)}"
            )


def _metric_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {k: (None if row.get(k) is None else float(row[k])) for k in METRICS}
    out["alive"] = True
    return out


def _prepare_target(out: Path, overwrite: bool) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise ZooExistsError(f"{out} exists and is not a folder; choose another --out")
    if not any(out.iterdir()):
        return
    if not (out / MANIFEST).is_file():
        raise ZooExistsError(
            f"{out} exists and is not empty or a zoo; choose another --out (it is never deleted)"
        )
    if not overwrite:
        raise ZooExistsError(f"{out} already holds a zoo; pass --overwrite to replace it")


def write_zoo(
    out: str | Path,
    shards: Sequence[ZooShard],
    *,
    name: str,
    dataset: Mapping[str, Any] | None = None,
    provenance: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Zoo:
    """Write a complete zoo, readable by ``Zoo.open`` and passing ``verify_zoo``.

    Args:
        out: the zoo folder to create; an empty folder is fine.
        shards: the models; shard ``i`` is stored as ``s<iiii>``.
        name: the zoo's name (``zoo.json``).
        dataset: what the models were trained on, e.g. ``{"name": "mnist"}``.
        provenance: where the weights come from (source path, format, tool);
            stored as ``zoo.json["provenance"]``.
        overwrite: replace an existing zoo at ``out`` (never a folder that is not a zoo).
        progress: called with ``(epoch_files_written, total)``.

    Returns:
        The new zoo.

    Raises:
        ZooExistsError: ``out`` holds files, or a zoo and ``overwrite`` is false.
        ZooFormatError: inconsistent ids, hyperparameters, names or shapes.
    """
    out = Path(out)
    _prepare_target(out, overwrite)
    seen: set[str] = set()
    shapes: list[dict[str, tuple[int, ...]]] = []
    for i, shard in enumerate(shards):
        for mid in shard.model_ids:
            check_name(mid, "model")
            if mid in seen:
                raise ZooFormatError(f"model id {mid!r} appears twice")
            seen.add(mid)
        spec = resolve_spec(shard.spec)
        expected = {k: tuple(v.shape) for k, v in build_model(spec).state_dict().items()}
        _check_shard(i, shard)
        shapes.append(expected)
    if not seen:
        raise ZooFormatError("write_zoo: no models to write")

    models: dict[str, dict[str, Any]] = {}
    plan: dict[str, dict[str, Any]] = {}
    epochs_by_shard: list[list[int]] = []
    for i, shard in enumerate(shards):
        sid = f"s{i:04d}"
        spec = resolve_spec(shard.spec).replace(dropout=0.0)
        first = shard.hyperparameters[0]
        plan[sid] = {
            "spec": spec.to_dict(),
            "num_params": num_params(spec),
            "optimizer": first.get("optimizer"),
            "batch_size": first.get("batch_size"),
            "model_ids": list(shard.model_ids),
            "imported": True,
        }
        for j, (mid, hp) in enumerate(zip(shard.model_ids, shard.hyperparameters, strict=True)):
            models[mid] = {**hp, "shard": sid, "index": j}
        epochs_by_shard.append(sorted(int(e) for e in shard.weights))
    all_epochs = sorted({e for es in epochs_by_shard for e in es})
    # Shards may hold different epochs (a source model missed a checkpoint); the
    # ones every shard has are the "planned" epochs that verify_zoo expects.
    common = sorted(set.intersection(*(set(es) for es in epochs_by_shard)))
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "creator": f"weightzoo {__version__}",
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "dataset": dict(dataset or {"name": None}),
        "architectures": {s: {**p["spec"], "num_params": p["num_params"]} for s, p in plan.items()},
        "hyperparameter_space": {},
        "epochs": all_epochs[-1],
        "checkpoint_epochs": common,
        "epochs_present": all_epochs,
        "shards": plan,
        "models": models,
        "provenance": dict(provenance or {}),
    }

    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        total = sum(len(es) for es in epochs_by_shard)
        done = 0
        if progress is not None:
            progress(0, total)
        for i, (sid, shard) in enumerate(zip(plan, shards, strict=True)):
            n = len(shard.model_ids)
            for epoch in epochs_by_shard[i]:
                tensors = shard.weights[epoch]
                _check_weights(i, epoch, tensors, n, shapes[i])
                rows = shard.metrics.get(epoch) or [{}] * n
                write_epoch(
                    tmp,
                    sid,
                    epoch,
                    {k: v.detach().to("cpu") for k, v in tensors.items()},
                    list(shard.model_ids),
                    [_metric_row(r) for r in rows],
                )
                done += 1
                if progress is not None:
                    progress(done, total)
        write_catalog(tmp, rebuild_catalog(tmp, manifest))
        atomic_write_json(tmp / MANIFEST, manifest)
        swap_dir_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("wrote zoo %s: %d models in %d shards", out, len(models), len(plan))
    return Zoo.open(out)


__all__ = ["ModelCheckpoints", "ZooShard", "group_models", "shard_groups", "write_zoo"]
