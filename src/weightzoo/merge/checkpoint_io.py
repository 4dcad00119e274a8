"""Hugging Face checkpoint folders, read and written one tensor at a time.

A checkpoint is a folder with ``config.json`` and either ``model.safetensors`` or
shards listed in ``model.safetensors.index.json``. Tensors are read with a
positioned read of exactly their bytes (the header says where they are), and
written straight into output shards whose headers are computed up front from the
plan: neither side ever holds more than the tensors being merged, and nothing is
memory-mapped (mapped pages count as resident memory until the file is closed).
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import torch

from weightzoo.errors import WeightzooError
from weightzoo.zoo.shardfiles import SAFETENSORS_DTYPES

DTYPE_CODES = {v: k for k, v in SAFETENSORS_DTYPES.items()}
INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"
_MAX_HEADER = 100 * 1024 * 1024


class CheckpointError(WeightzooError):
    """A checkpoint folder is missing, incomplete or not in the Hugging Face layout."""


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor lives: its file, byte range, shape and dtype."""

    file: Path
    offset: int  # absolute byte offset in the file
    nbytes: int
    shape: tuple[int, ...]
    dtype: torch.dtype


def read_safetensors_header(path: Path) -> dict[str, TensorInfo]:
    """Tensor name -> TensorInfo from a .safetensors file's header (no data read).

    Raises:
        CheckpointError: the file is missing, truncated or its header is not safetensors.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) != 8:
                raise CheckpointError(f"{path}: truncated safetensors file (no header)")
            (n,) = struct.unpack("<Q", raw)
            if n > _MAX_HEADER:
                raise CheckpointError(f"{path}: not a safetensors file (header of {n} bytes)")
            header = json.loads(f.read(n))
            size = os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        raise CheckpointError(f"{path}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CheckpointError(f"{path}: not a safetensors file (bad header)") from None
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = SAFETENSORS_DTYPES[entry["dtype"]]
            begin, end = entry["data_offsets"]
            shape = tuple(int(s) for s in entry["shape"])
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"{path}: tensor {name!r} has a malformed header entry") from None
        if 8 + n + end > size:
            raise CheckpointError(f"{path}: truncated (tensor {name!r} ends past the file)")
        out[name] = TensorInfo(path, 8 + n + begin, end - begin, shape, dtype)
    return out


class Checkpoint:
    """A Hugging Face model folder opened for tensor-at-a-time reads.

    Attributes:
        path: the folder.
        config: parsed ``config.json`` (empty if absent).
        tensors: name -> TensorInfo, over every shard.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise CheckpointError(
                f"{self.path}: not a folder; expected a Hugging Face model folder "
                f"(config.json + {SINGLE_NAME} or {INDEX_NAME}); download hub models first"
            )
        cfg = self.path / "config.json"
        self.config: dict = json.loads(cfg.read_text()) if cfg.is_file() else {}
        index = self.path / INDEX_NAME
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text())["weight_map"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise CheckpointError(f"{index}: expected JSON with a 'weight_map'") from None
            files = sorted(set(weight_map.values()))
        elif (self.path / SINGLE_NAME).is_file():
            weight_map, files = None, [SINGLE_NAME]
        else:
            found = sorted(p.name for p in self.path.glob("*.safetensors"))
            if not found:
                raise CheckpointError(
                    f"{self.path}: no {SINGLE_NAME}, {INDEX_NAME} or *.safetensors "
                    "(.bin checkpoints are not read: convert them to safetensors)"
                )
            weight_map, files = None, found
        self.tensors: dict[str, TensorInfo] = {}
        for name in files:
            self.tensors.update(read_safetensors_header(self.path / name))
        if weight_map is not None:
            missing = sorted(set(weight_map) - set(self.tensors))
            if missing:
                raise CheckpointError(
                    f"{index}: lists tensor {missing[0]!r} but its shard does not hold it"
                )
        self._handles: dict[Path, BinaryIO] = {}

    def read(self, name: str) -> torch.Tensor:
        """Read one tensor (a fresh CPU tensor holding only its bytes)."""
        info = self.tensors[name]
        f = self._handles.get(info.file)
        if f is None:
            f = self._handles[info.file] = open(info.file, "rb", buffering=0)  # noqa: SIM115
        buf = torch.empty(info.nbytes, dtype=torch.uint8)
        f.seek(info.offset)
        got = f.readinto(memoryview(buf.numpy()))
        if got != info.nbytes:
            raise CheckpointError(f"{info.file}: short read of tensor {name!r}")
        if not info.shape:
            return buf.view(info.dtype).reshape(())
        return buf.view(info.dtype).reshape(info.shape)

    def close(self) -> None:
        for f in self._handles.values():
            f.close()
        self._handles.clear()

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class PlannedOutput:
    """A tensor that will be written: name, shape, dtype."""

    name: str
    shape: tuple[int, ...]
    dtype: torch.dtype

    @property
    def nbytes(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n * torch.empty((), dtype=self.dtype).element_size()


def assign_shards(
    outputs: Iterable[PlannedOutput], max_shard_bytes: int
) -> list[list[PlannedOutput]]:
    """Greedy split of outputs, in order, into shards of at most ``max_shard_bytes``
    (a single larger tensor gets a shard of its own)."""
    shards: list[list[PlannedOutput]] = [[]]
    size = 0
    for out in outputs:
        if shards[-1] and size + out.nbytes > max_shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(out)
        size += out.nbytes
    return [s for s in shards if s]


def _header_bytes(shard: list[PlannedOutput], metadata: Mapping[str, str]) -> bytes:
    header: dict = {"__metadata__": dict(metadata)}
    offset = 0
    for out in shard:
        header[out.name] = {
            "dtype": DTYPE_CODES[out.dtype],
            "shape": list(out.shape),
            "data_offsets": [offset, offset + out.nbytes],
        }
        offset += out.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # safetensors aligns the data section to 8 bytes
    return struct.pack("<Q", len(raw)) + raw


def shard_file_names(n: int) -> list[str]:
    """``model.safetensors`` for one shard, ``model-0000i-of-0000n.safetensors`` otherwise."""
    if n == 1:
        return [SINGLE_NAME]
    return [f"model-{i + 1:05d}-of-{n:05d}.safetensors" for i in range(n)]


class ShardedWriter:
    """Writes planned tensors, in plan order, straight into safetensors shards.

    Headers are known from the plan, so each tensor's bytes go to disk as soon as it
    is merged; the writer holds no tensor. ``write`` must be called in plan order.
    """

    def __init__(
        self,
        folder: Path,
        outputs: list[PlannedOutput],
        *,
        max_shard_bytes: int,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.shards = assign_shards(outputs, max_shard_bytes)
        self.names = shard_file_names(len(self.shards))
        self.metadata = {"format": "pt", **(metadata or {})}
        self._order: Iterator[tuple[int, PlannedOutput]] = (
            (i, out) for i, shard in enumerate(self.shards) for out in shard
        )
        self._file: BinaryIO | None = None
        self._shard = -1

    def write(self, name: str, tensor: torch.Tensor) -> None:
        """Append the next tensor of the plan (its name, shape and dtype must match)."""
        shard_idx, planned = next(self._order)
        if (
            planned.name != name
            or tuple(tensor.shape) != planned.shape
            or tensor.dtype != planned.dtype
        ):
            raise RuntimeError(
                f"writer: got {name} {tuple(tensor.shape)} {tensor.dtype}, planned "
                f"{planned.name} {planned.shape} {planned.dtype}"
            )
        if shard_idx != self._shard:
            self._close_file()
            self._shard = shard_idx
            self._file = open(self.folder / self.names[shard_idx], "wb")  # noqa: SIM115
            self._file.write(_header_bytes(self.shards[shard_idx], self.metadata))
        data = tensor.detach().contiguous().reshape(-1).view(torch.uint8)
        self._file.write(memoryview(data.numpy()))

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def finish(self) -> None:
        """Close the last shard and write the index (when there are several shards)."""
        if next(self._order, None) is not None:
            raise RuntimeError("writer: finish() before every planned tensor was written")
        self._close_file()
        if len(self.shards) > 1:
            weight_map = {
                out.name: fname
                for fname, shard in zip(self.names, self.shards, strict=True)
                for out in shard
            }
            total = sum(out.nbytes for shard in self.shards for out in shard)
            index = {"metadata": {"total_size": total}, "weight_map": weight_map}
            (self.folder / INDEX_NAME).write_text(json.dumps(index, indent=2) + "\n")

    def abort(self) -> None:
        """Close any open file (the caller removes the temporary folder)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def save_checkpoint(
    folder: str | Path,
    tensors: Mapping[str, torch.Tensor],
    config: Mapping | None = None,
    *,
    max_shard_bytes: int = 5 * 10**9,
) -> Path:
    """Write an in-memory state dict as a Hugging Face folder (tests, fixtures, tools).

    Args:
        folder: created if needed.
        tensors: name -> tensor.
        config: written as ``config.json`` when given.
        max_shard_bytes: shard size limit.

    Returns:
        The folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plan = [PlannedOutput(k, tuple(v.shape), v.dtype) for k, v in tensors.items()]
    writer = ShardedWriter(folder, plan, max_shard_bytes=max_shard_bytes)
    for k, v in tensors.items():
        writer.write(k, v)
    writer.finish()
    if config is not None:
        (folder / "config.json").write_text(json.dumps(dict(config), indent=2) + "\n")
    return folder


def load_checkpoint(folder: str | Path) -> dict[str, torch.Tensor]:
    """Every tensor of a Hugging Face folder, in memory (for tests and small models)."""
    with Checkpoint(folder) as ckpt:
        return {name: ckpt.read(name) for name in ckpt.tensors}
