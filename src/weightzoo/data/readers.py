"""Readers of standard datasets stored on local disk; weightzoo never downloads.

Registered: ``mnist_idx`` / ``fashion_mnist_idx`` (idx files), ``cifar10``
(binary version), ``svhn`` (cropped digits ``.mat``) and ``imagefolder``.
Pixels are scaled to [0, 1] before the train-only normalization.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from weightzoo.data._formats import (
    IMAGE_EXTENSIONS,
    image_format,
    load_images,
    read_cifar_batch,
    read_idx,
    read_svhn_mat,
    scan_class_folders,
)
from weightzoo.data._split import finish_split
from weightzoo.data.base import DataError, SplitData
from weightzoo.data.registry import register_dataset

__all__ = ["cifar10", "fashion_mnist_idx", "imagefolder", "mnist_idx", "svhn"]

logger = logging.getLogger(__name__)

_BYTE_SCALE = 1.0 / 255.0
_DIGITS = tuple(str(d) for d in range(10))
_FASHION_CLASSES = (
    "t-shirt/top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)
_CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _require_path(name: str, path: str | None) -> Path:
    # load_dataset checks this already; builders called straight from DATASETS must too.
    if path is None:
        raise DataError(
            f"dataset '{name}' needs a local path (path=...); weightzoo never downloads"
        )
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"dataset '{name}': path {root} is not an existing directory")
    return root


def _find_file(root: Path, candidates: Sequence[str], dataset: str, expected: str) -> Path:
    for name in candidates:
        if (root / name).is_file():
            return root / name
    raise DataError(
        f"dataset '{dataset}': none of {', '.join(candidates)} found in {root}; expected {expected}"
    )


def _idx_candidates(base: str) -> list[str]:
    # Some mirrors spell "train-images.idx3-ubyte" with a dot.
    names = [base, base.replace("-idx", ".idx")]
    return [n + ext for n in names for ext in ("", ".gz")]


def _idx_dataset(
    name: str,
    classes: Sequence[str],
    path: str | None,
    val_fraction: float,
    split_seed: int,
    num_samples: int | None,
) -> SplitData:
    root = _require_path(name, path)
    expected = "the four MNIST idx files " + ", ".join(_IDX_FILES.values()) + " (raw or .gz)"
    files = {k: _find_file(root, _idx_candidates(v), name, expected) for k, v in _IDX_FILES.items()}
    arrays = {k: read_idx(f) for k, f in files.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        img_file, lbl_file = files[f"{split}_images"], files[f"{split}_labels"]
        if images.ndim != 3:
            raise DataError(f"{img_file}: expected 3 dims (N, rows, cols), found {images.shape}")
        if labels.ndim != 1:
            raise DataError(f"{lbl_file}: expected 1 dim (N,), found {labels.shape}")
        if len(images) != len(labels):
            raise DataError(
                f"{img_file} holds {len(images)} images but {lbl_file} holds {len(labels)} labels"
            )
        if len(labels) and labels.max() >= len(classes):
            raise DataError(
                f"{lbl_file}: labels must be 0..{len(classes) - 1}, found {labels.max()}"
            )
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise DataError(
            f"{files['test_images']}: images are {arrays['test_images'].shape[1:]}, "
            f"but train images are {arrays['train_images'].shape[1:]}"
        )
    return finish_split(
        name,
        x_pool=arrays["train_images"][:, None],
        y_pool=arrays["train_labels"].astype(np.int64),
        x_test=arrays["test_images"][:, None],
        y_test=arrays["test_labels"].astype(np.int64),
        classes=classes,
        val_fraction=val_fraction,
        split_seed=split_seed,
        subsample=num_samples,
        scale=_BYTE_SCALE,
        info={
            "source": f"idx files in {root}",
            "path": str(root),
            "files": [f.name for f in files.values()],
        },
    )


@register_dataset("mnist_idx", needs_path=True)
def mnist_idx(
    *, path: str | None, val_fraction: float, split_seed: int, num_samples: int | None
) -> SplitData:
    """MNIST from the four idx files in ``path`` (raw or ``.gz``).

    Args:
        path: directory holding train-images-idx3-ubyte, train-labels-idx1-ubyte,
            t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte.
        val_fraction: share of the train files held out for validation.
        split_seed: seed of the subsample and val choices.
        num_samples: keep a seeded subset this large, train and test in proportion.

    Returns:
        Inputs of shape (1, rows, cols), (1, 28, 28) for MNIST; t10k is the test split.

    Raises:
        DataError: if ``path`` or a file is missing, truncated or inconsistent.
    """
    return _idx_dataset("mnist_idx", _DIGITS, path, val_fraction, split_seed, num_samples)


@register_dataset("fashion_mnist_idx", needs_path=True)
def fashion_mnist_idx(
    *, path: str | None, val_fraction: float, split_seed: int, num_samples: int | None
) -> SplitData:
    """Fashion-MNIST: the same idx reader as ``mnist_idx``, with clothing class names.

    Args:
        path: directory holding the four Fashion-MNIST idx files.
        val_fraction: share of the train files held out for validation.
        split_seed: seed of the subsample and val choices.
        num_samples: keep a seeded subset this large, train and test in proportion.

    Returns:
        Inputs of shape (1, 28, 28).

    Raises:
        DataError: if ``path`` or a file is missing, truncated or inconsistent.
    """
    return _idx_dataset(
        "fashion_mnist_idx", _FASHION_CLASSES, path, val_fraction, split_seed, num_samples
    )


@register_dataset("cifar10", needs_path=True)
def cifar10(
    *, path: str | None, val_fraction: float, split_seed: int, num_samples: int | None
) -> SplitData:
    """CIFAR-10, binary version: ``data_batch_{1..5}.bin`` and ``test_batch.bin``.

    Any non-empty subset of the five data batches is accepted (handy for a
    partial copy); ``path`` may also be the folder holding ``cifar-10-batches-bin``.

    Args:
        path: directory of the ``.bin`` files.
        val_fraction: share of the data batches held out for validation.
        split_seed: seed of the subsample and val choices.
        num_samples: keep a seeded subset this large, train and test in proportion.

    Returns:
        Inputs of shape (3, 32, 32).

    Raises:
        DataError: if ``path``, ``test_batch.bin`` or every data batch is
            missing, or a file is not a whole number of records.
    """
    root = _require_path("cifar10", path)
    if not (root / "test_batch.bin").is_file() and (root / "cifar-10-batches-bin").is_dir():
        root = root / "cifar-10-batches-bin"
    train_names = [f"data_batch_{i}.bin" for i in range(1, 6)]
    expected = (
        "CIFAR-10 binary files data_batch_1.bin..data_batch_5.bin (at least one) and test_batch.bin"
    )
    test_file = _find_file(root, ["test_batch.bin"], "cifar10", expected)
    train_files = [root / n for n in train_names if (root / n).is_file()]
    if not train_files:
        raise DataError(
            f"dataset 'cifar10': none of {', '.join(train_names)} found in {root}; expected {expected}"
        )
    batches = [read_cifar_batch(f) for f in train_files]
    x_test, y_test = read_cifar_batch(test_file)
    return finish_split(
        "cifar10",
        x_pool=np.concatenate([b[0] for b in batches]),
        y_pool=np.concatenate([b[1] for b in batches]),
        x_test=x_test,
        y_test=y_test,
        classes=_CIFAR10_CLASSES,
        val_fraction=val_fraction,
        split_seed=split_seed,
        subsample=num_samples,
        scale=_BYTE_SCALE,
        info={
            "source": f"CIFAR-10 binary batches in {root}",
            "path": str(root),
            "files": [f.name for f in [*train_files, test_file]],
        },
    )


@register_dataset("svhn", needs_path=True)
def svhn(
    *, path: str | None, val_fraction: float, split_seed: int, num_samples: int | None
) -> SplitData:
    """SVHN cropped digits from ``train_32x32.mat`` and ``test_32x32.mat``.

    ``extra_32x32.mat`` is not read. Label 10 of the files means digit 0.

    Args:
        path: directory of the ``.mat`` files.
        val_fraction: share of the train file held out for validation.
        split_seed: seed of the subsample and val choices.
        num_samples: keep a seeded subset this large, train and test in proportion.

    Returns:
        Inputs of shape (3, 32, 32), labels 0..9.

    Raises:
        DataError: if ``path`` or a file is missing or malformed.
    """
    root = _require_path("svhn", path)
    expected = "SVHN cropped-digit files train_32x32.mat and test_32x32.mat"
    train_file = _find_file(root, ["train_32x32.mat"], "svhn", expected)
    test_file = _find_file(root, ["test_32x32.mat"], "svhn", expected)
    x, y = read_svhn_mat(train_file)
    x_test, y_test = read_svhn_mat(test_file)
    return finish_split(
        "svhn",
        x_pool=x,
        y_pool=y,
        x_test=x_test,
        y_test=y_test,
        classes=_DIGITS,
        val_fraction=val_fraction,
        split_seed=split_seed,
        subsample=num_samples,
        scale=_BYTE_SCALE,
        info={
            "source": f"SVHN .mat files in {root}",
            "path": str(root),
            "files": [train_file.name, test_file.name],
        },
    )


@register_dataset("imagefolder", needs_path=True)
def imagefolder(
    *, path: str | None, val_fraction: float, split_seed: int, num_samples: int | None
) -> SplitData:
    """Images in class folders: ``train/<class>/*`` and ``test/<class>/*``, or ``<class>/*``.

    Without a ``test`` folder a stratified 20% of the images, chosen by
    ``split_seed``, is the test split. Classes are the train class folders,
    sorted by name. The first image (first class, first file by name) fixes
    the format: PIL mode "1"/"L"/"LA" gives one grey channel, any other RGB;
    every image is resized bilinearly to its size.

    Args:
        path: the root folder.
        val_fraction: share of the non-test images held out for validation.
        split_seed: seed of the subsample, test and val choices.
        num_samples: keep a seeded subset this large.

    Returns:
        Inputs of shape (1 or 3, height, width).

    Raises:
        DataError: if the layout is wrong, a class folder is empty, a test
            class is unknown, or an image cannot be read.
    """
    root = _require_path("imagefolder", path)
    train_root = root / "train" if (root / "train").is_dir() else root
    train = scan_class_folders(train_root)
    classes = list(train)
    test = (
        scan_class_folders(root / "test")
        if train_root != root and (root / "test").is_dir()
        else None
    )
    if test is not None and set(test) - set(train):
        raise DataError(
            f"{root / 'test'}: classes {sorted(set(test) - set(train))} have no folder in {train_root}"
        )
    mode, size = image_format(train[classes[0]][0])
    logger.info("imagefolder %s: %d classes, %s images of %dx%d", root, len(classes), mode, *size)

    def stack(folders: dict[str, list[Path]]) -> tuple[np.ndarray, np.ndarray]:
        files = [f for c in folders for f in folders[c]]
        labels = np.concatenate(
            [np.full(len(folders[c]), classes.index(c), dtype=np.int64) for c in folders]
        )
        return load_images(files, mode, size), labels

    x, y = stack(train)
    x_test, y_test = stack(test) if test is not None else (None, None)
    return finish_split(
        "imagefolder",
        x_pool=x,
        y_pool=y,
        x_test=x_test,
        y_test=y_test,
        classes=classes,
        val_fraction=val_fraction,
        split_seed=split_seed,
        subsample=num_samples,
        scale=_BYTE_SCALE,
        info={
            "source": f"image folders in {root}",
            "path": str(root),
            "image_mode": mode,
            "extensions": list(IMAGE_EXTENSIONS),
        },
    )
