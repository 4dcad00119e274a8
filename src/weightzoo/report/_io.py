"""Atomic file writes for report outputs.

A report is read by people and by CI artefact uploaders while it may still be
being rewritten, so every file is written to a temporary sibling first and
then moved into place with ``os.replace``, which is atomic on POSIX and
Windows as long as both paths are on the same file system (hence the sibling).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def _temp_sibling(path: Path) -> Iterator[tuple[BinaryIO, Path]]:
    """Yield an open temporary file next to ``path`` and its path.

    The temporary file is removed if anything fails before the caller has
    moved it into place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle, tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, writer: Callable[[BinaryIO], None]) -> Path:
    """Write a file through ``writer`` and move it into place atomically.

    Args:
        path: Destination file; its parent folder is created if missing.
        writer: Called with a binary file handle open for writing.

    Returns:
        ``path``.

    Raises:
        OSError: If writing or the final rename fails; no temporary file and
            no partially written ``path`` are left behind.
    """
    path = Path(path)
    with _temp_sibling(path) as (handle, tmp):
        writer(handle)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        # Looked up on ``os`` at call time so tests can make it fail.
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: Path, text: str) -> Path:
    """Write UTF-8 text to ``path`` atomically.

    Args:
        path: Destination file.
        text: Content to write.

    Returns:
        ``path``.

    Raises:
        OSError: As :func:`write_atomic`.
    """
    data = text.encode("utf-8")
    return write_atomic(path, lambda handle: handle.write(data))


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write bytes to ``path`` atomically.

    Args:
        path: Destination file.
        data: Content to write.

    Returns:
        ``path``.

    Raises:
        OSError: As :func:`write_atomic`.
    """
    return write_atomic(path, lambda handle: handle.write(data))
