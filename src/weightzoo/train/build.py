"""``build_zoo``: plan a zoo from its config, train every shard, write the catalog."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from weightzoo import __version__
from weightzoo.arch import ArchSpec, num_params, resolve_spec
from weightzoo.config import ZooConfig, dump_yaml
from weightzoo.data import SplitData, load_dataset
from weightzoo.errors import ZooExistsError
from weightzoo.seeding import derive_seed
from weightzoo.train.engines import Engine, make_engine
from weightzoo.train.shard import ShardJob
from weightzoo.train.space import plan_shards, sample_models
from weightzoo.zoo._io import (
    RemotePath,
    ZooPath,
    as_zoo_path,
    atomic_write_bytes,
    atomic_write_json,
)
from weightzoo.zoo.catalog import load_manifest, rebuild_catalog, write_catalog
from weightzoo.zoo.format import CONFIG_COPY, FORMAT_VERSION, MANIFEST
from weightzoo.zoo.zoo import Zoo

log = logging.getLogger(__name__)

# Fields that change where or how fast a zoo is built, not what it contains.
_RUNTIME_FIELDS = ("device", "engine", "workers", "threads_per_worker", "max_retries", "ray")


def config_fingerprint(config: ZooConfig) -> str:
    """Hash of everything in the config that determines the zoo's content."""
    d = config.model_dump(mode="json", exclude=set(_RUNTIME_FIELDS))
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def load_config_data(config: ZooConfig) -> SplitData:
    d = config.data
    return load_dataset(
        d.name,
        path=d.path,
        val_fraction=d.val_fraction,
        split_seed=d.split_seed,
        num_samples=d.num_samples,
    )


def plan_zoo(config: ZooConfig, data: SplitData) -> dict[str, Any]:
    """The manifest of a zoo before training: every model, shard and spec.

    Args:
        config: the zoo config.
        data: its dataset (for the input shape, classes and split record).

    Returns:
        The ``zoo.json`` content (without the creation time).
    """
    hps = sample_models(config)
    widths = tuple(config.arch.widths) if config.arch.widths else ()
    models: dict[str, dict[str, Any]] = {}
    shards: dict[str, dict[str, Any]] = {}
    for s, members in enumerate(plan_shards(hps, config.models_per_shard)):
        shard = f"s{s:04d}"
        first = hps[members[0]]
        spec = resolve_spec(
            ArchSpec(
                family=config.arch.family,
                input_shape=data.input_shape,
                num_classes=data.num_classes,
                activation=first["activation"],
                widths=widths,
            )
        )
        ids = [f"m{i:05d}" for i in members]
        shards[shard] = {
            "spec": spec.to_dict(),
            "num_params": num_params(spec),
            "optimizer": first["optimizer"],
            "batch_size": first["batch_size"],
            "model_ids": ids,
            "shard_seed": derive_seed(config.seed, "shard", shard),
        }
        for j, (mid, i) in enumerate(zip(ids, members, strict=True)):
            models[mid] = {**hps[i], "shard": shard, "index": j}
    return {
        "format_version": FORMAT_VERSION,
        "name": config.name,
        "creator": f"weightzoo {__version__}",
        "config_fingerprint": config_fingerprint(config),
        "config": config.model_dump(mode="json"),
        "dataset": {"name": data.name, **data.info},
        "architectures": {
            s: {**p["spec"], "num_params": p["num_params"]} for s, p in shards.items()
        },
        "hyperparameter_space": config.space.model_dump(mode="json"),
        "epochs": config.epochs,
        "checkpoint_epochs": config.resolved_checkpoints(),
        "shards": shards,
        "models": models,
    }


def _prepare_folder(root: ZooPath, manifest: dict[str, Any], config: ZooConfig) -> None:
    if (root / MANIFEST).exists():
        old = load_manifest(root)
        if old.get("config_fingerprint") != manifest["config_fingerprint"]:
            raise ZooExistsError(
                f"{root} holds a zoo built from a different config; choose another --out or delete it"
            )
        return
    if root.exists() and any(root.iterdir()):
        raise ZooExistsError(
            f"{root} exists and is not an empty folder or a zoo; choose another --out"
        )
    created = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    atomic_write_bytes(root / CONFIG_COPY, dump_yaml(config).encode())
    # The manifest goes last: its presence marks the folder as this zoo.
    atomic_write_json(root / MANIFEST, {**manifest, "created": created})


def _remove_stale_temp_files(root: ZooPath) -> None:
    """Delete temporary files a killed run left behind (they never carry a final name)."""
    for tmp in root.rglob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def shard_jobs(config: ZooConfig, manifest: dict[str, Any], root: ZooPath) -> list[ShardJob]:
    """One self-contained job per shard of a planned zoo."""
    models = manifest["models"]
    # Absolute: a worker (a Ray task above all) need not share the driver's cwd.
    location = str(root.resolve()) if isinstance(root, Path) else str(root)
    return [
        ShardJob(
            root=location,
            shard=shard,
            plan=plan,
            models={m: models[m] for m in plan["model_ids"]},
            epochs=config.epochs,
            checkpoints=manifest["checkpoint_epochs"],
            strategy=config.strategy,
            shared_data_order=config.shared_data_order,
            eval_batch_size=config.eval_batch_size,
            device=config.device,
        )
        for shard, plan in manifest["shards"].items()
    ]


def build_zoo(
    config: ZooConfig,
    out: str | Path | RemotePath,
    *,
    progress: Callable[[int, int], None] | None = None,
    engine: Engine | None = None,
) -> Zoo:
    """Train a zoo into ``out``; rerunning the same call resumes a crashed build.

    Args:
        config: what to train (and how: ``engine``, ``workers``, ``ray``).
        out: the zoo folder or fsspec URL (created; must be empty, or this config's zoo).
        progress: called with ``(model_epochs_done, model_epochs_total)``.
        engine: run the shards with this engine instead of the config's.

    Returns:
        The finished zoo.

    Raises:
        ZooExistsError: ``out`` holds something else.
        ConfigError: invalid config, or the engine's dependency is missing.
        WeightzooError: a shard could not finish; rerun to resume.
    """
    engine = engine or make_engine(config)
    root = as_zoo_path(out)
    data = load_config_data(config)
    manifest = plan_zoo(config, data)
    _prepare_folder(root, manifest, config)
    _remove_stale_temp_files(root)
    jobs = shard_jobs(config, manifest, root)
    total = sum(job.model_epochs for job in jobs)
    per_shard: dict[str, int] = {}

    def on_shard(shard: str, done: int) -> None:
        # max(): a retried shard restarts its count from where it resumed.
        per_shard[shard] = max(per_shard.get(shard, 0), done)
        if progress is not None:
            progress(sum(per_shard.values()), total)

    if progress is not None:
        progress(0, total)
    engine.run(jobs, data, on_shard)
    # A worker that died mid-write leaves a temporary file; no writer is running now.
    _remove_stale_temp_files(root)
    write_catalog(root, rebuild_catalog(root, manifest))
    return Zoo.open(root)
