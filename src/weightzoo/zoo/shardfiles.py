"""Reading and writing one shard's files: epoch checkpoints and resume state."""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.torch import load_file

from weightzoo.errors import ZooFormatError
from weightzoo.zoo._io import RemotePath, ZooPath, atomic_save_safetensors, tensors_sha256
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
    root: str | Path | RemotePath,
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


# safetensors dtype codes; the merge package reads checkpoints with the same table.
SAFETENSORS_DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
}
_MAX_HEADER = 100 * 2**20  # the safetensors limit; a larger length field means a corrupt file


def empty_like_numpy(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """An uninitialized tensor whose memory numpy allocated.

    numpy asks Linux for transparent huge pages on large arrays (``madvise``),
    torch does not: filling a fresh 300 MB ``torch.empty`` from a file took
    about twice as long as ``np.fromfile`` for the page faults alone.
    """
    nbytes = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
    if nbytes == 0:
        return torch.empty(shape, dtype=dtype)
    return torch.from_numpy(np.empty(nbytes, dtype=np.uint8)).view(dtype).reshape(shape)


class StackedFile:
    """An epoch file opened for reading rows (models) of its stacked tensors.

    Reads go straight from the file into the caller's tensor (``os.preadv`` on a
    local file, ``readinto`` on an fsspec file): no intermediate buffers, no
    per-model Python loop, so a whole shard reads at the speed of the disk (or
    page cache). The safetensors layout is parsed here (8-byte header length,
    JSON header, raw little-endian data), and every offset is checked against
    the file size, so a truncated file is reported, never half-read.

    Args:
        path: local path or ``RemotePath`` of a safetensors file.

    Raises:
        ZooFormatError: unreadable, truncated or malformed file (names the path).
    """

    def __init__(self, path: ZooPath) -> None:
        self.path = path
        try:
            if isinstance(path, RemotePath):
                self._file: Any = path.open("rb")
                self._fd = None
                size = path.size()
            else:
                self._file = open(path, "rb", buffering=0)  # noqa: SIM115  (closed in close())
                self._fd = self._file.fileno()
                size = os.fstat(self._fd).st_size
        except OSError as e:
            raise ZooFormatError(f"{path}: cannot open ({e})") from None
        try:
            (n,) = struct.unpack("<Q", self._read(0, 8))
            if n > _MAX_HEADER or 8 + n > size:
                raise ValueError(f"header length {n} does not fit a file of {size} bytes")
            header = json.loads(self._read(8, n))
            self.metadata: dict[str, str] = header.pop("__metadata__", None) or {}
            self._start = 8 + n
            self.tensors: dict[str, tuple[torch.dtype, tuple[int, ...], int]] = {}
            for name, info in header.items():
                dtype = SAFETENSORS_DTYPES[info["dtype"]]
                shape = tuple(int(d) for d in info["shape"])
                begin, end = (int(x) for x in info["data_offsets"])
                expected = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
                if end - begin != expected or self._start + end > size:
                    raise ValueError(f"tensor {name!r} is truncated or misplaced")
                self.tensors[name] = (dtype, shape, begin)
        except ZooFormatError:
            self.close()
            raise
        except Exception as e:  # struct, JSON, KeyError: all mean a file weightzoo cannot read
            self.close()
            raise ZooFormatError(f"{path}: not a readable safetensors file ({e})") from None

    def _read(self, offset: int, n: int) -> bytes:
        buf = bytearray(n)
        self._read_into(offset, memoryview(buf))
        return bytes(buf)

    def _read_into(self, offset: int, buf: memoryview) -> None:
        got = 0
        while got < len(buf):
            if self._fd is not None:
                k = os.preadv(self._fd, [buf[got:]], offset + got)
            else:
                self._file.seek(offset + got)
                k = self._file.readinto(buf[got:])
            if not k:
                raise ZooFormatError(f"{self.path}: file ends early (truncated?)")
            got += k

    @property
    def names(self) -> list[str]:
        """Tensor names, sorted (the order safetensors stores them in)."""
        return sorted(self.tensors)

    def shape(self, name: str) -> tuple[int, ...]:
        return self.tensors[name][1]

    def rows(self, name: str, lo: int, hi: int, out: torch.Tensor | None = None) -> torch.Tensor:
        """Rows ``lo:hi`` of a stacked tensor: ``(hi - lo, *shape[1:])``.

        Args:
            name: tensor name.
            lo: first row (model index in the shard).
            hi: one past the last row.
            out: optional contiguous tensor of that shape and dtype to read into.

        Returns:
            ``out`` (or a new tensor) holding the rows.
        """
        dtype, shape, begin = self.tensors[name]
        if not shape or not 0 <= lo <= hi <= shape[0]:
            raise ZooFormatError(f"{self.path}: rows {lo}:{hi} of {name!r} out of range")
        row_shape = (hi - lo, *shape[1:])
        if out is None:
            out = empty_like_numpy(row_shape, dtype)
        elif out.shape != row_shape or out.dtype != dtype or not out.is_contiguous():
            raise ValueError(f"out: expected contiguous {dtype} {row_shape}, got {out.shape}")
        row_bytes = math.prod(shape[1:]) * out.element_size()
        if out.numel():
            view = memoryview(out.view(torch.uint8).reshape(-1).numpy())
            self._read_into(self._start + begin + lo * row_bytes, view)
        return out

    def close(self) -> None:
        f = getattr(self, "_file", None)
        if f is not None:
            f.close()
            self._file = None

    def __enter__(self) -> StackedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


def read_header(path: ZooPath) -> dict[str, Any]:
    """Parse the weightzoo header of an epoch file without reading its tensors.

    Raises:
        ZooFormatError: truncated or corrupt file, or a header weightzoo did not write.
    """
    with StackedFile(path) as f:
        meta = f.metadata
        keys = f.names
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


def _load_tensors(path: ZooPath) -> dict[str, torch.Tensor]:
    # Locally safetensors reads through mmap; a remote object is fetched whole, once.
    if isinstance(path, RemotePath):
        return st_load(path.read_bytes())
    return load_file(str(path))


def load_checked(path: ZooPath) -> dict[str, torch.Tensor]:
    """Load every tensor of a file and check its stored checksum.

    Raises:
        ZooFormatError: unreadable file or checksum mismatch.
    """
    header = read_header(path)
    try:
        tensors = _load_tensors(path)
    except Exception as e:
        raise ZooFormatError(f"{path}: cannot read tensors ({e})") from None
    if tensors_sha256(tensors) != header["sha256"]:
        raise ZooFormatError(f"{path}: checksum mismatch, the file is corrupt")
    return tensors


def write_state(
    root: str | Path | RemotePath,
    shard: str,
    epoch: int,
    tensors: dict[str, torch.Tensor],
    extra: dict,
) -> None:
    """Save the resume state of a shard after ``epoch`` (atomic; replaces the previous one)."""
    meta = {
        f"{META_PREFIX}epoch": str(epoch),
        f"{META_PREFIX}extra": json.dumps(extra, sort_keys=True),
    }
    atomic_save_safetensors(safe_join(root, state_relpath(shard)), tensors, meta)


def read_state(
    root: str | Path | RemotePath, shard: str
) -> tuple[int, dict[str, torch.Tensor], dict] | None:
    """The last saved state of a shard, or ``None`` when it has none.

    Raises:
        ZooFormatError: a state file exists but is corrupt.
    """
    path = safe_join(root, state_relpath(shard))
    if not path.exists():
        return None
    try:
        with StackedFile(path) as f:
            meta = f.metadata
        tensors = _load_tensors(path)
        if tensors_sha256(tensors) != meta["weightzoo.sha256"]:
            raise ValueError("checksum mismatch")
        return int(meta[f"{META_PREFIX}epoch"]), tensors, json.loads(meta[f"{META_PREFIX}extra"])
    except Exception as e:
        raise ZooFormatError(
            f"{path}: resume state is corrupt ({e}); delete the shard folder to retrain it"
        ) from None
