"""Atomic writes and checksums: nothing half-written ever carries a final name."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as st_save


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder.

    The temporary file is fsynced and renamed over ``path`` (atomic on POSIX);
    on any error (full disk, permissions) it is removed and the error re-raised,
    so ``path`` holds either its old content or the new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    """JSON with sorted keys and a trailing newline, written atomically."""
    atomic_write_bytes(
        path, (json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()
    )


def tensors_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over names, dtypes, shapes and bytes of tensors in sorted name order.

    Stored in each file's header and recomputed by ``weightzoo zoo verify``:
    a flipped bit anywhere in the data changes it.
    """
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def atomic_save_safetensors(
    path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]
) -> str:
    """Save tensors with a checksum in the header; returns the checksum."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    digest = tensors_sha256(tensors)
    meta = {**metadata, "weightzoo.sha256": digest}
    atomic_write_bytes(path, st_save(tensors, metadata=meta))
    return digest


def parquet_bytes(df) -> bytes:  # noqa: ANN001  (pandas DataFrame)
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()
