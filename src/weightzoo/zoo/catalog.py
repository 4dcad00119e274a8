"""The catalog: one row per (model, epoch), rebuilt from the shards' own headers.

Because each epoch file carries its model ids, metrics and checksum, the
catalog is a cache: it can always be rebuilt, and a crash can never leave it
claiming a checkpoint that is not on disk.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from weightzoo.errors import ZooFormatError
from weightzoo.zoo._io import RemotePath, ZooPath, as_zoo_path, atomic_write_bytes, parquet_bytes
from weightzoo.zoo.format import (
    CATALOG,
    SHARDS,
    check_name,
    parse_epoch_filename,
    safe_join,
    shard_dir,
)
from weightzoo.zoo.shardfiles import METRICS, read_header

HYPERPARAMETERS = (
    "seed",
    "init",
    "bias_init",
    "activation",
    "optimizer",
    "lr",
    "weight_decay",
    "momentum",
    "dropout",
    "batch_size",
    "init_std",
)


def list_epoch_files(root: str | Path | RemotePath, shard: str) -> dict[int, ZooPath]:
    """Epoch -> path of the complete checkpoint files of a shard."""
    folder = shard_dir(root, shard)
    if not folder.is_dir():
        return {}
    out = {}
    for p in folder.iterdir():
        epoch = parse_epoch_filename(p.name)
        if epoch is not None:
            out[epoch] = p
    return dict(sorted(out.items()))


def rebuild_catalog(root: str | Path | RemotePath, manifest: dict[str, Any]) -> pd.DataFrame:
    """Read every epoch file's header and build the catalog.

    Args:
        root: zoo folder or fsspec URL.
        manifest: the parsed ``zoo.json``.

    Returns:
        The catalog, sorted by ``(model_id, epoch)``.

    Raises:
        ZooFormatError: a file is unreadable or disagrees with the manifest.
    """
    models = manifest.get("models", {})
    rows: list[dict[str, Any]] = []
    stopped: dict[str, int] = {}  # model -> epoch it diverged at (recorded in every later header)
    for shard in manifest.get("shards", {}):
        check_name(shard, "shard")
        for epoch, path in list_epoch_files(root, shard).items():
            header = read_header(path)
            if header["epoch"] != epoch or header["shard"] != shard:
                raise ZooFormatError(
                    f"{path}: header says shard {header['shard']!r} epoch {header['epoch']}"
                )
            rel = f"{SHARDS}/{shard}/{path.name}"
            for index, (mid, met) in enumerate(
                zip(header["model_ids"], header["metrics"], strict=True)
            ):
                if mid not in models:
                    raise ZooFormatError(f"{path}: model {mid!r} is not in {root}/zoo.json")
                if met.get("stopped_epoch", -1) >= 0:
                    stopped[mid] = int(met["stopped_epoch"])
                if not met.get("alive", True):
                    continue
                hp = models[mid]
                row = {"model_id": mid, "epoch": epoch, "shard": shard, "index": index, "file": rel}
                row["checksum"] = header["sha256"]
                row.update({k: hp.get(k) for k in HYPERPARAMETERS})
                row.update({k: np.nan if met.get(k) is None else met[k] for k in METRICS})
                rows.append(row)
    columns = [
        "model_id",
        "epoch",
        "shard",
        "index",
        "file",
        "checksum",
        *HYPERPARAMETERS,
        *METRICS,
    ]
    df = pd.DataFrame(rows, columns=columns)
    df["gen_gap"] = df["train_acc"] - df["test_acc"]
    df["stopped_epoch"] = df["model_id"].map(stopped).fillna(-1).astype("int64")
    df["diverged"] = df["stopped_epoch"] >= 0
    df = df.sort_values(["model_id", "epoch"], kind="stable").reset_index(drop=True)
    return df.astype({"epoch": "int64", "index": "int64"})


def write_catalog(root: str | Path | RemotePath, df: pd.DataFrame) -> None:
    """Write ``catalog.parquet`` atomically."""
    atomic_write_bytes(safe_join(root, CATALOG), parquet_bytes(df))


def read_catalog(root: str | Path | RemotePath) -> pd.DataFrame | None:
    """The stored catalog, or ``None`` if there is none yet."""
    path = safe_join(root, CATALOG)
    if not path.exists():
        return None
    try:
        if isinstance(path, RemotePath):
            return pd.read_parquet(io.BytesIO(path.read_bytes()))
        return pd.read_parquet(path)
    except Exception as e:
        raise ZooFormatError(
            f"{path}: unreadable catalog ({e}); `weightzoo zoo verify --rebuild` rewrites it"
        ) from None


def load_manifest(root: str | Path | RemotePath) -> dict[str, Any]:
    """Parse ``zoo.json`` and check its format version.

    Raises:
        ZooFormatError: missing, unparsable, or an unknown format version.
    """
    from weightzoo.zoo.format import FORMAT_VERSION, MANIFEST

    path = as_zoo_path(root) / MANIFEST
    if not path.is_file():
        raise ZooFormatError(f"{root}: no {MANIFEST} here; not a weightzoo zoo")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ZooFormatError(f"{path}: unreadable manifest ({e})") from None
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if version != FORMAT_VERSION:
        raise ZooFormatError(
            f"{path}: zoo format version {version!r}; this weightzoo reads version {FORMAT_VERSION}"
        )
    return manifest


__all__ = [
    "HYPERPARAMETERS",
    "SHARDS",
    "list_epoch_files",
    "load_manifest",
    "read_catalog",
    "rebuild_catalog",
    "write_catalog",
]
