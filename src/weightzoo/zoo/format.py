"""Names and paths of the zoo format, version 1 (see DESIGN.md).

Every path the reader builds from a zoo's own files goes through
``safe_join``: a manifest or catalog cannot make weightzoo read outside the zoo.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from weightzoo.errors import ZooFormatError
from weightzoo.zoo._io import RemotePath, ZooPath, as_zoo_path

FORMAT_VERSION = 1
MANIFEST = "zoo.json"
CATALOG = "catalog.parquet"
CONFIG_COPY = "config.yaml"
SHARDS = "shards"
STATE_FILE = "state.safetensors"
META_PREFIX = "weightzoo."

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def check_name(name: str, what: str) -> str:
    """Reject names that could escape a folder (``..``, slashes, empty)."""
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise ZooFormatError(
            f"invalid {what} name {name!r}: expected letters, digits, '_', '-', '.'"
        )
    return name


def safe_join(root: str | Path | RemotePath, rel: str) -> ZooPath:
    """``root / rel``, refusing anything that resolves outside ``root``.

    ``root`` may be a local path or an fsspec location (``as_zoo_path``); the
    result is of the same kind.
    """
    root = as_zoo_path(root)
    if isinstance(root, RemotePath):
        target = RemotePath(root.fs, posixpath.join(root.path, rel))
        if not target.is_relative_to(root):
            raise ZooFormatError(f"path {rel!r} in zoo {root} points outside the zoo")
        return target
    root = root.resolve()
    target = (root / rel).resolve()
    if target != root and root not in target.parents:
        raise ZooFormatError(f"path {rel!r} in zoo {root} points outside the zoo")
    return target


def shard_dir(root: str | Path | RemotePath, shard: str) -> ZooPath:
    return safe_join(root, f"{SHARDS}/{check_name(shard, 'shard')}")


def epoch_relpath(shard: str, epoch: int) -> str:
    return f"{SHARDS}/{check_name(shard, 'shard')}/epoch_{epoch:04d}.safetensors"


def state_relpath(shard: str) -> str:
    return f"{SHARDS}/{check_name(shard, 'shard')}/state/{STATE_FILE}"


_EPOCH_FILE = re.compile(r"^epoch_(\d{4,})\.safetensors$")


def parse_epoch_filename(name: str) -> int | None:
    m = _EPOCH_FILE.match(name)
    return int(m.group(1)) if m else None
