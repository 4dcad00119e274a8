"""Reading and writing one shard's files: epoch checkpoints and resume state."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file

from weightzoo.errors import ZooFormatError
from weightzoo.zoo._io import atomic_save_safetensors, tensors_sha256
from weightzoo.zoo.format import (
    FORMAT_VERSION,
    META_PREFIX,
    epoch_relpath,
    safe_join,
    state_relpath,
)

METRICS = ("train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc")


def _finite_or_none(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def write_epoch(
    root: Path,
    shard: str,
    epoch: int,
    tensors: dict[str, torch.Tensor],
    model_ids: list[str],
    metrics: list[dict[str, Any]],
) -> str:
    """Write ``shards/<shard>/epoch_<EEEE>.safetensors`` atomically.

    Args:
        root: zoo folder.
        shard: shard name.
        epoch: epoch number (0 = initialization).
        tensors: name -> ``(M, *shape)`` stacked weights.
        model_ids: the M model ids, in stacking order.
        metrics: one dict per model with ``METRICS`` and ``alive``.

    Returns:
        The checksum stored in the header.
    """
    clean = [
        {k: (_finite_or_none(v) if isinstance(v, float) else v) for k, v in m.items()}
        for m in metrics
    ]
    meta = {
        f"{META_PREFIX}format_version": str(FORMAT_VERSION),
        f"{META_PREFIX}shard": shard,
        f"{META_PREFIX}epoch": str(epoch),
        f"{META_PREFIX}model_ids": json.dumps(model_ids),
        f"{META_PREFIX}metrics": json.dumps(clean, allow_nan=False),
    }
    return atomic_save_safetensors(safe_join(root, epoch_relpath(shard, epoch)), tensors, meta)


def read_header(path: Path) -> dict[str, Any]:
    """Parse the weightzoo header of an epoch file without reading its tensors.

    Raises:
        ZooFormatError: truncated or corrupt file, or a header weightzoo did not write.
    """
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            keys = list(f.keys())
    except Exception as e:  # safetensors raises its own error types for bad files
        raise ZooFormatError(f"{path}: not a readable safetensors file ({e})") from None
    try:
        version = int(meta[f"{META_PREFIX}format_version"])
        header = {
            "format_version": version,
            "epoch": int(meta[f"{META_PREFIX}epoch"]),
            "shard": meta[f"{META_PREFIX}shard"],
            "model_ids": json.loads(meta[f"{META_PREFIX}model_ids"]),
            "metrics": json.loads(meta[f"{META_PREFIX}metrics"]),
            "sha256": meta[f"{META_PREFIX}sha256"],
            "tensor_names": keys,
        }
    except (KeyError, ValueError) as e:
        raise ZooFormatError(f"{path}: header lacks weightzoo metadata ({e})") from None
    if version != FORMAT_VERSION:
        raise ZooFormatError(
            f"{path}: zoo format version {version}; this weightzoo reads version {FORMAT_VERSION}"
        )
    if len(header["metrics"]) != len(header["model_ids"]):
        raise ZooFormatError(
            f"{path}: {len(header['metrics'])} metric rows for {len(header['model_ids'])} models"
        )
    return header


def load_checked(path: Path) -> dict[str, torch.Tensor]:
    """Load every tensor of a file and check its stored checksum.

    Raises:
        ZooFormatError: unreadable file or checksum mismatch.
    """
    header = read_header(path)
    try:
        tensors = load_file(str(path))
    except Exception as e:
        raise ZooFormatError(f"{path}: cannot read tensors ({e})") from None
    if tensors_sha256(tensors) != header["sha256"]:
        raise ZooFormatError(f"{path}: checksum mismatch, the file is corrupt")
    return tensors


def write_state(
    root: Path, shard: str, epoch: int, tensors: dict[str, torch.Tensor], extra: dict
) -> None:
    """Save the resume state of a shard after ``epoch`` (atomic; replaces the previous one)."""
    meta = {
        f"{META_PREFIX}epoch": str(epoch),
        f"{META_PREFIX}extra": json.dumps(extra, sort_keys=True),
    }
    atomic_save_safetensors(safe_join(root, state_relpath(shard)), tensors, meta)


def read_state(root: Path, shard: str) -> tuple[int, dict[str, torch.Tensor], dict] | None:
    """The last saved state of a shard, or ``None`` when it has none.

    Raises:
        ZooFormatError: a state file exists but is corrupt.
    """
    path = safe_join(root, state_relpath(shard))
    if not path.exists():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
        if tensors_sha256(tensors) != meta["weightzoo.sha256"]:
            raise ValueError("checksum mismatch")
        return int(meta[f"{META_PREFIX}epoch"]), tensors, json.loads(meta[f"{META_PREFIX}extra"])
    except Exception as e:
        raise ZooFormatError(
            f"{path}: resume state is corrupt ({e}); delete the shard folder to retrain it"
        ) from None
