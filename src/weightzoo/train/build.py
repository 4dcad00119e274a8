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
from weightzoo.train.shard import run_shard
from weightzoo.train.space import plan_shards, sample_models
from weightzoo.zoo._io import atomic_write_bytes, atomic_write_json
from weightzoo.zoo.catalog import load_manifest, rebuild_catalog, write_catalog
from weightzoo.zoo.format import CONFIG_COPY, FORMAT_VERSION, MANIFEST
from weightzoo.zoo.zoo import Zoo

log = logging.getLogger(__name__)

# Fields that change where or how fast a zoo is built, not what it contains.
_RUNTIME_FIELDS = ("device", "engine")


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


def _prepare_folder(root: Path, manifest: dict[str, Any], config: ZooConfig) -> None:
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


def _remove_stale_temp_files(root: Path) -> None:
    """Delete temporary files a killed run left behind (they never carry a final name)."""
    for tmp in root.rglob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def build_zoo(
    config: ZooConfig,
    out: str | Path,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> Zoo:
    """Train a zoo into ``out``; rerunning the same call resumes a crashed build.

    Args:
        config: what to train.
        out: the zoo folder (created; must be empty, or this config's zoo).
        progress: called with ``(model_epochs_done, model_epochs_total)``.

    Returns:
        The finished zoo.

    Raises:
        ZooExistsError: ``out`` holds something else.
        ConfigError: invalid config.
    """
    root = Path(out)
    data = load_config_data(config)
    manifest = plan_zoo(config, data)
    _prepare_folder(root, manifest, config)
    _remove_stale_temp_files(root)
    total = sum(len(p["model_ids"]) for p in manifest["shards"].values()) * config.epochs
    done = 0

    def on_epoch(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    if progress is not None:
        progress(0, total)
    for shard, plan in manifest["shards"].items():
        run_shard(
            root,
            shard,
            plan,
            manifest["models"],
            data,
            epochs=config.epochs,
            checkpoints=manifest["checkpoint_epochs"],
            strategy=config.strategy,
            shared_data_order=config.shared_data_order,
            eval_batch_size=config.eval_batch_size,
            device=config.device,
            on_epoch=on_epoch,
        )
    write_catalog(root, rebuild_catalog(root, manifest))
    return Zoo.open(root)
