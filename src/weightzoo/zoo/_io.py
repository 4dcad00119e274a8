"""Where zoo files live, and how they are written: local paths or fsspec URLs.

Nothing half-written ever carries a final name. Locally a file is written to a
temporary name in the same folder, fsynced and renamed (atomic on POSIX). On an
fsspec store (``s3://``, ``gs://``, ``memory://``, ...) it is written to a
temporary key and moved onto the final key: object stores create an object
whole or not at all (a PUT or server-side copy is atomic per key), so a reader
sees the old object, the new one, or none, never a prefix. Zoo writers order
their writes so that an object's presence means what it says (an epoch file
before the resume state that counts it, ``zoo.json`` last when a zoo is made).
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import io
import json
import os
import posixpath
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any

import torch
from safetensors.torch import save as st_save

from weightzoo.errors import WeightzooError

# Protocols that are the local disk: they keep the local fast path (pread/mmap, rename).
_LOCAL_PROTOCOLS = ("file", "local")


class RemotePath:
    """A path on an fsspec filesystem with the small part of ``pathlib.Path`` zoos use.

    Build one with ``as_zoo_path("s3://bucket/zoo")``. ``str()`` gives the URL.
    """

    def __init__(self, fs: Any, path: str) -> None:
        self.fs = fs
        self.path = posixpath.normpath(path) if path else path

    # -- path algebra ------------------------------------------------------
    def __truediv__(self, rel: str | PurePosixPath) -> RemotePath:
        return RemotePath(self.fs, posixpath.join(self.path, str(rel)))

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def parent(self) -> RemotePath:
        return RemotePath(self.fs, posixpath.dirname(self.path))

    def resolve(self) -> RemotePath:
        return self  # object stores have no symlinks; the path is normalized at construction

    def relative_to(self, other: RemotePath) -> PurePosixPath:
        return PurePosixPath(self.path).relative_to(other.path)

    def is_relative_to(self, other: RemotePath) -> bool:
        return self.path == other.path or self.path.startswith(other.path.rstrip("/") + "/")

    def as_posix(self) -> str:
        return self.path

    @property
    def protocol(self) -> str:
        p = self.fs.protocol
        return p if isinstance(p, str) else p[0]

    # -- queries -----------------------------------------------------------
    def exists(self) -> bool:
        return bool(self.fs.exists(self.path))

    def is_file(self) -> bool:
        return bool(self.fs.isfile(self.path))

    def is_dir(self) -> bool:
        return bool(self.fs.isdir(self.path))

    def iterdir(self) -> Iterator[RemotePath]:
        for p in self.fs.ls(self.path, detail=False):
            if posixpath.normpath(p) != self.path:
                yield RemotePath(self.fs, p)

    def rglob(self, pattern: str) -> Iterator[RemotePath]:
        """Files below this folder whose name matches ``pattern`` (names only, like ``*.tmp``)."""
        if not self.is_dir():
            return
        for p in self.fs.find(self.path):
            if fnmatch.fnmatch(posixpath.basename(p), pattern):
                yield RemotePath(self.fs, p)

    def size(self) -> int:
        return int(self.fs.size(self.path))

    # -- io ----------------------------------------------------------------
    def open(self, mode: str = "rb") -> IO[bytes]:
        return self.fs.open(self.path, mode)

    def read_bytes(self) -> bytes:
        return bytes(self.fs.cat_file(self.path))

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        self.fs.makedirs(self.path, exist_ok=True)

    def unlink(self, missing_ok: bool = False) -> None:
        try:
            self.fs.rm_file(self.path)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def __str__(self) -> str:
        return self.fs.unstrip_protocol(self.path)

    def __repr__(self) -> str:
        return f"RemotePath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemotePath) and other.fs is self.fs and other.path == self.path

    def __hash__(self) -> int:
        return hash((id(self.fs), self.path))


ZooPath = Path | RemotePath


def _install_hint(protocol: str) -> str:
    from fsspec.registry import known_implementations

    impl = known_implementations.get(protocol, {})
    package = impl.get("class", "").split(".")[0]
    return f"pip install {package}" if package else "install its fsspec backend"


def as_zoo_path(location: str | os.PathLike[str] | RemotePath) -> ZooPath:
    """A local ``Path`` for local paths and ``file://`` URLs, a ``RemotePath`` otherwise.

    Args:
        location: a path, or an fsspec URL such as ``s3://bucket/zoo`` or ``memory://zoo``.

    Raises:
        WeightzooError: fsspec or the URL's backend is not installed, or the protocol is unknown.
    """
    if isinstance(location, RemotePath | Path):
        return location
    text = os.fspath(location)
    if "://" not in text:
        return Path(text)
    protocol = text.split("://", 1)[0].split("::")[0]
    if protocol in _LOCAL_PROTOCOLS:
        return Path(text.split("://", 1)[1])
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise WeightzooError(
            f"{text}: zoo URLs need fsspec: pip install 'weightzoo[fsspec]'"
        ) from None
    try:
        fs, path = url_to_fs(text)
    except ImportError as e:
        raise WeightzooError(
            f"{text}: the fsspec backend for '{protocol}://' is not installed ({e}): "
            f"{_install_hint(protocol)}"
        ) from None
    except ValueError as e:
        raise WeightzooError(
            f"{text}: unknown storage protocol {protocol!r} ({e}); expected a local path or an "
            "fsspec URL such as memory://, file://, s3:// (pip install s3fs), gs:// (pip install gcsfs)"
        ) from None
    if protocol in _LOCAL_PROTOCOLS or getattr(fs, "protocol", None) in (("file", "local"),):
        return Path(path)
    return RemotePath(fs, path)


def is_process_local(path: ZooPath) -> bool:
    """True for stores only the current process sees (``memory://``): no worker processes."""
    return isinstance(path, RemotePath) and path.protocol == "memory"


def atomic_write_bytes(path: Path | RemotePath, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file (or key) in the same folder.

    Locally the temporary file is fsynced and renamed over ``path`` (atomic on
    POSIX); on an fsspec store the temporary key is moved onto ``path``. On any
    error (full disk, permissions) the temporary is removed and the error
    re-raised, so ``path`` holds either its old content or the new one.
    """
    if isinstance(path, RemotePath):
        _atomic_write_remote(path, data)
        return
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


def _atomic_write_remote(path: RemotePath, data: bytes) -> None:
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        path.fs.pipe_file(tmp.path, data)
        path.fs.mv(tmp.path, path.path)
    except BaseException:
        with contextlib.suppress(Exception):
            path.fs.rm_file(tmp.path)
        raise


def atomic_write_json(path: Path | RemotePath, obj: Any) -> None:
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
    path: Path | RemotePath, tensors: dict[str, torch.Tensor], metadata: dict[str, str]
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


def swap_dir_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished folder ``tmp`` to ``out``, replacing what is there.

    An existing ``out`` is moved aside first and deleted only after the rename,
    so an interruption leaves either the old folder or the new one, never a mix.
    """
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(out, old)
    try:
        os.replace(tmp, out)
    except BaseException:
        if old is not None:
            with contextlib.suppress(OSError):
                os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
