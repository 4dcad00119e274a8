"""Parsers of standard on-disk dataset formats, returning raw uint8 arrays.

Each parser validates what it reads and raises ``DataError`` naming the file
and what was expected, because a truncated download otherwise surfaces as an
opaque reshape error far from its cause.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from weightzoo.data.base import DataError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
# PIL modes read as one grey channel; every other mode is converted to RGB.
_GREY_MODES = ("1", "L", "LA")
_IDX_UBYTE = 0x08
_CIFAR_RECORD = 1 + 3 * 32 * 32


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """Read a whole file, transparently gunzipping names ending in ``.gz``.

    Args:
        path: file to read.

    Returns:
        The (decompressed) contents.

    Raises:
        DataError: if the file cannot be read or is not valid gzip.
    """
    try:
        if str(path).endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        return Path(path).read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: cannot read file ({err})") from err


def parse_idx(data: bytes, source: str) -> np.ndarray:
    """Parse an unsigned-byte idx file (the MNIST / Fashion-MNIST format).

    Layout: two zero bytes, dtype code 0x08, number of dims D, D big-endian
    uint32 sizes, then the values in C order.

    Args:
        data: the file's bytes.
        source: file name used in error messages.

    Returns:
        Read-only uint8 array with the dims of the header, e.g. (N, 28, 28).

    Raises:
        DataError: on a wrong magic number or a size that does not match the header.
    """
    if len(data) < 4:
        raise DataError(
            f"{source}: truncated idx file: expected a 4-byte header, found {len(data)} bytes"
        )
    if data[0] != 0 or data[1] != 0 or data[2] != _IDX_UBYTE or data[3] == 0:
        raise DataError(
            f"{source}: not an unsigned-byte idx file: expected magic number 0x000008DD "
            f"(DD = number of dims), found 0x{data[:4].hex()}"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(
            f"{source}: truncated idx file: expected a {header}-byte header for {ndim} dims, "
            f"found {len(data)} bytes"
        )
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        problem = "truncated idx file" if len(data) < expected else "idx file with trailing bytes"
        shape = "x".join(map(str, dims))
        raise DataError(
            f"{source}: {problem}: header says {shape} values, so expected {expected} bytes, "
            f"found {len(data)}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an idx file, raw or gzipped.

    Args:
        path: the file.

    Returns:
        Read-only uint8 array shaped as its header says.

    Raises:
        DataError: if the file is unreadable, truncated or not an idx file.
    """
    return parse_idx(read_bytes(path), str(path))


def read_cifar_batch(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 binary batch: records of 1 label byte + 3072 CHW pixels.

    Args:
        path: e.g. ``data_batch_1.bin`` or ``test_batch.bin``.

    Returns:
        ``(x, y)``: x (N, 3, 32, 32) uint8, y (N,) int64 in 0..9.

    Raises:
        DataError: if the size is not a whole number of records or a label is > 9.
    """
    data = read_bytes(path)
    if not data or len(data) % _CIFAR_RECORD:
        hint = (
            " (this looks like CIFAR-100, with 2 label bytes)"
            if data and len(data) % 3074 == 0
            else ""
        )
        raise DataError(
            f"{path}: expected a whole number of {_CIFAR_RECORD}-byte CIFAR-10 records "
            f"(1 label byte + 3072 pixel bytes), found {len(data)} bytes{hint}"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)
    y = records[:, 0].astype(np.int64)
    if y.max() > 9:
        raise DataError(f"{path}: CIFAR-10 labels must be 0..9, found {int(y.max())}")
    return np.ascontiguousarray(records[:, 1:]).reshape(-1, 3, 32, 32), y


def read_svhn_mat(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read an SVHN cropped-digits ``.mat`` file (``train_32x32.mat`` format).

    Args:
        path: the file, holding X (32, 32, 3, N) uint8 and y (N, 1) with labels
            1..10, where 10 means digit 0.

    Returns:
        ``(x, y)``: x (N, 3, 32, 32) uint8, y (N,) int64 in 0..9.

    Raises:
        DataError: if the file is unreadable or a field is missing or malformed.
    """
    import scipy.io
    from scipy.io.matlab import MatReadError

    expected = "fields X (32, 32, 3, N) uint8 and y (N, 1) with labels 1..10"
    try:
        mat = scipy.io.loadmat(path, variable_names=["X", "y"])
    except (MatReadError, ValueError, TypeError, OSError, EOFError, NotImplementedError) as err:
        raise DataError(f"{path}: not a readable MATLAB v5 file with {expected} ({err})") from err
    for key in ("X", "y"):
        if key not in mat:
            raise DataError(f"{path}: missing field '{key}'; expected {expected}")
    images, labels = mat["X"], np.asarray(mat["y"]).reshape(-1)
    if images.ndim != 4 or images.shape[:3] != (32, 32, 3) or images.dtype != np.uint8:
        raise DataError(
            f"{path}: field 'X' must be (32, 32, 3, N) uint8, found {images.shape} {images.dtype}"
        )
    if len(labels) != images.shape[3]:
        raise DataError(
            f"{path}: field 'y' has {len(labels)} labels but 'X' has {images.shape[3]} images"
        )
    if len(labels) and (labels.min() < 0 or labels.max() > 10):
        raise DataError(f"{path}: field 'y' must hold labels 1..10 (10 = digit 0)")
    y = labels.astype(np.int64)
    y[y == 10] = 0
    return np.ascontiguousarray(images.transpose(3, 2, 0, 1)), y


def scan_class_folders(root: Path) -> dict[str, list[Path]]:
    """Image files of each class subfolder of ``root``, classes and files sorted.

    Args:
        root: folder whose subfolders are classes; hidden ones are skipped.

    Returns:
        Class name -> sorted image paths (extensions in ``IMAGE_EXTENSIONS``).

    Raises:
        DataError: if there is no class folder or one holds no image.
    """
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise DataError(f"{root}: expected class subfolders <class>/*.png|jpg, found none")
    found: dict[str, list[Path]] = {}
    for name in classes:
        files = sorted(
            f
            for f in (root / name).iterdir()
            if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS
        )
        if not files:
            raise DataError(
                f"{root / name}: class folder holds no image (expected {', '.join(IMAGE_EXTENSIONS)})"
            )
        found[name] = files
    return found


def image_format(path: Path) -> tuple[str, tuple[int, int]]:
    """The PIL mode ("L" or "RGB") and (width, height) a whole image set is read in.

    Args:
        path: the set's first image.

    Returns:
        ``(mode, size)``.

    Raises:
        DataError: if the image cannot be read.
    """
    from PIL import Image

    try:
        with Image.open(path) as im:
            return ("L" if im.mode in _GREY_MODES else "RGB"), im.size
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: cannot read image ({err})") from err


def load_images(files: Sequence[Path], mode: str, size: tuple[int, int]) -> np.ndarray:
    """Load images, converted to one mode and bilinearly resized to one size.

    Args:
        files: image paths.
        mode: "L" (one channel) or "RGB".
        size: (width, height), PIL's order.

    Returns:
        (N, C, height, width) uint8 with C = 1 for "L", 3 for "RGB".

    Raises:
        DataError: naming the first file that cannot be read.
    """
    from PIL import Image

    channels = 1 if mode == "L" else 3
    out = np.empty((len(files), channels, size[1], size[0]), dtype=np.uint8)
    for i, f in enumerate(files):
        try:
            with Image.open(f) as im:
                im = im.convert(mode)
                if im.size != size:
                    im = im.resize(size, Image.Resampling.BILINEAR)
                arr = np.asarray(im)
        except (OSError, ValueError) as err:
            raise DataError(f"{f}: cannot read image ({err})") from err
        out[i] = arr[None] if channels == 1 else arr.transpose(2, 0, 1)
    return out
