"""Readers of local files: tiny files of each format are written, read back and compared."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from weightzoo.data import DataError, SplitData, load_dataset
from weightzoo.data._formats import read_cifar_batch, read_idx, read_svhn_mat

RNG = np.random.default_rng(0)


def raw_pixels(data: SplitData, split: str) -> np.ndarray:
    """Undo the normalization and the 1/255 scaling: back to the uint8 pixels."""
    x = getattr(data, f"x_{split}")
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean = torch.tensor(data.info["normalization"]["mean"]).reshape(shape)
    std = torch.tensor(data.info["normalization"]["std"]).reshape(shape)
    restored = torch.round((x.double() * std + mean) * 255)
    assert float((restored - (x.double() * std + mean) * 255).abs().max()) < 1e-2
    return restored.numpy().astype(np.uint8)


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_dir(root: Path, n_train: int = 5, n_test: int = 3, gz: bool = False) -> dict:
    arrays = {
        "train-images-idx3-ubyte": RNG.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(n_train, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": RNG.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test, dtype=np.uint8) * 3) % 10,
    }
    root.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        if gz:
            with gzip.open(root / f"{name}.gz", "wb") as f:
                f.write(idx_bytes(arr))
        else:
            (root / name).write_bytes(idx_bytes(arr))
    return arrays


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_idx_roundtrip(tmp_path, gz):
    arrays = write_idx_dir(tmp_path, gz=gz)
    suffix = ".gz" if gz else ""
    assert np.array_equal(
        read_idx(tmp_path / f"train-images-idx3-ubyte{suffix}"), arrays["train-images-idx3-ubyte"]
    )
    data = load_dataset("mnist_idx", path=str(tmp_path), val_fraction=0.0)
    assert data.input_shape == (1, 28, 28) and data.info["sizes"] == {
        "train": 5,
        "val": 0,
        "test": 3,
    }
    assert np.array_equal(raw_pixels(data, "train")[:, 0], arrays["train-images-idx3-ubyte"])
    assert np.array_equal(raw_pixels(data, "test")[:, 0], arrays["t10k-images-idx3-ubyte"])
    assert data.y_train.tolist() == arrays["train-labels-idx1-ubyte"].tolist()
    assert data.y_test.tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()


def test_fashion_alias_reads_the_same_files(tmp_path):
    write_idx_dir(tmp_path)
    mnist = load_dataset("mnist_idx", path=tmp_path)
    fashion = load_dataset("fashion_mnist_idx", path=tmp_path)
    assert fashion.name == "fashion_mnist_idx" and fashion.info["classes"][0] == "t-shirt/top"
    assert torch.equal(mnist.x_train, fashion.x_train) and torch.equal(mnist.y_val, fashion.y_val)


def test_idx_val_split_and_subsample(tmp_path):
    write_idx_dir(tmp_path, n_train=40, n_test=10)
    data = load_dataset("mnist_idx", path=tmp_path, val_fraction=0.25)
    assert data.info["sizes"] == {"train": 30, "val": 10, "test": 10}
    small = load_dataset("mnist_idx", path=tmp_path, num_samples=20)
    assert sum(small.info["sizes"].values()) == 20 and small.info["sizes"]["test"] == 4


def test_truncated_idx_names_the_file(tmp_path):
    write_idx_dir(tmp_path)
    target = tmp_path / "t10k-images-idx3-ubyte"
    target.write_bytes(target.read_bytes()[:-7])
    with pytest.raises(
        DataError, match=r"t10k-images-idx3-ubyte: truncated idx file.*expected 2368 bytes"
    ):
        load_dataset("mnist_idx", path=tmp_path)


def test_truncated_gzip_names_the_file(tmp_path):
    write_idx_dir(tmp_path, gz=True)
    target = tmp_path / "train-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:10])
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz"):
        load_dataset("mnist_idx", path=tmp_path)


def test_wrong_idx_magic_and_header(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x00\x00\x0d\x01" + struct.pack(">I", 2) + b"\x00" * 8)
    with pytest.raises(DataError, match="bad: not an unsigned-byte idx file"):
        read_idx(bad)
    bad.write_bytes(b"\x00\x00\x08\x03\x00")
    with pytest.raises(DataError, match="expected a 16-byte header"):
        read_idx(bad)
    bad.write_bytes(idx_bytes(np.zeros(3, np.uint8)) + b"\x01")
    with pytest.raises(DataError, match="trailing bytes"):
        read_idx(bad)


def test_idx_inconsistent_files(tmp_path):
    write_idx_dir(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(DataError, match="holds 5 images but .* holds 4 labels"):
        load_dataset("mnist_idx", path=tmp_path)


def test_idx_missing_file_lists_expected_names(tmp_path):
    write_idx_dir(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match=f"t10k-labels-idx1-ubyte.gz.*found in {tmp_path}"):
        load_dataset("mnist_idx", path=tmp_path)


def write_cifar_batch(path: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = RNG.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    y = RNG.integers(0, 10, n, dtype=np.uint8)
    path.write_bytes(np.concatenate([y[:, None], x.reshape(n, -1)], axis=1).tobytes())
    return x, y


def test_cifar10_binary_with_partial_batches(tmp_path):
    x1, y1 = write_cifar_batch(tmp_path / "data_batch_1.bin", 4)
    x3, y3 = write_cifar_batch(tmp_path / "data_batch_3.bin", 3)
    xt, yt = write_cifar_batch(tmp_path / "test_batch.bin", 2)
    x, y = read_cifar_batch(tmp_path / "data_batch_1.bin")
    assert np.array_equal(x, x1) and np.array_equal(y, y1)
    data = load_dataset("cifar10", path=tmp_path, val_fraction=0.0)
    assert data.input_shape == (3, 32, 32) and data.info["files"][-1] == "test_batch.bin"
    assert np.array_equal(raw_pixels(data, "train"), np.concatenate([x1, x3]))
    assert np.array_equal(raw_pixels(data, "test"), xt)
    assert data.y_train.tolist() == [*y1.tolist(), *y3.tolist()]
    assert len(data.info["normalization"]["mean"]) == 3


def test_cifar10_parent_folder_and_errors(tmp_path):
    sub = tmp_path / "cifar-10-batches-bin"
    sub.mkdir()
    write_cifar_batch(sub / "data_batch_2.bin", 3)
    with pytest.raises(DataError, match="test_batch.bin"):
        load_dataset("cifar10", path=tmp_path)
    write_cifar_batch(sub / "test_batch.bin", 2)
    assert load_dataset("cifar10", path=tmp_path).info["sizes"]["test"] == 2
    (sub / "data_batch_2.bin").write_bytes(b"\x00" * 3074 * 2)
    with pytest.raises(DataError, match=r"data_batch_2.bin: expected .*3073-byte.*CIFAR-100"):
        load_dataset("cifar10", path=sub)
    (sub / "data_batch_2.bin").unlink()
    with pytest.raises(DataError, match="none of data_batch_1.bin"):
        load_dataset("cifar10", path=sub)


def write_svhn(path: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = RNG.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
    y = (np.arange(n, dtype=np.uint8) % 10 + 1)[:, None]  # 1..10, 10 = digit 0
    scipy.io.savemat(path, {"X": x, "y": y})
    return x, y


def test_svhn_mat_maps_label_10_to_0(tmp_path):
    x, y = write_svhn(tmp_path / "train_32x32.mat", 12)
    xt, _ = write_svhn(tmp_path / "test_32x32.mat", 3)
    images, labels = read_svhn_mat(tmp_path / "train_32x32.mat")
    assert np.array_equal(images, x.transpose(3, 2, 0, 1))
    assert labels.tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]
    data = load_dataset("svhn", path=tmp_path, val_fraction=0.0)
    assert data.input_shape == (3, 32, 32)
    assert np.array_equal(raw_pixels(data, "train"), x.transpose(3, 2, 0, 1))
    assert np.array_equal(raw_pixels(data, "test"), xt.transpose(3, 2, 0, 1))
    assert data.y_train.tolist() == labels.tolist() and data.y_test.tolist() == [1, 2, 3]


def test_svhn_malformed_files(tmp_path):
    scipy.io.savemat(tmp_path / "train_32x32.mat", {"X": np.zeros((32, 32, 3, 2), np.uint8)})
    write_svhn(tmp_path / "test_32x32.mat", 2)
    with pytest.raises(DataError, match="train_32x32.mat: missing field 'y'"):
        load_dataset("svhn", path=tmp_path)
    scipy.io.savemat(
        tmp_path / "train_32x32.mat",
        {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": [[1], [2], [3]]},
    )
    with pytest.raises(DataError, match="'y' has 3 labels but 'X' has 2"):
        load_dataset("svhn", path=tmp_path)
    (tmp_path / "train_32x32.mat").write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(DataError, match="train_32x32.mat: not a readable MATLAB"):
        load_dataset("svhn", path=tmp_path)


def write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_imagefolder_train_test_grey(tmp_path):
    images = {}
    for split, n in (("train", 3), ("test", 1)):
        for cls in ("cat", "ant"):
            for i in range(n):
                arr = RNG.integers(0, 256, (6, 5), dtype=np.uint8)
                images[(split, cls, i)] = arr
                write_png(tmp_path / split / cls / f"{i}.png", arr)
    (tmp_path / "train" / "ant" / "notes.txt").write_text("ignored")
    data = load_dataset("imagefolder", path=tmp_path, val_fraction=0.0)
    assert data.info["classes"] == ["ant", "cat"] and data.input_shape == (1, 6, 5)
    expected = np.stack([images[("train", c, i)] for c in ("ant", "cat") for i in range(3)])
    assert np.array_equal(raw_pixels(data, "train")[:, 0], expected)
    assert data.y_train.tolist() == [0, 0, 0, 1, 1, 1] and data.y_test.tolist() == [0, 1]


def test_imagefolder_class_folders_only_rgb_resized(tmp_path):
    for cls in ("a", "b"):
        for i in range(10):
            size = (8, 8) if i else (8, 6)  # the first image fixes the size: 8 wide, 6 high
            write_png(
                tmp_path / cls / f"{i:02d}.png",
                RNG.integers(0, 256, (*size[::-1], 3), dtype=np.uint8),
            )
    write_png(tmp_path / "b" / "grey.png", np.zeros((4, 4), np.uint8))
    data = load_dataset("imagefolder", path=tmp_path, val_fraction=0.0)
    assert data.input_shape == (3, 6, 8) and data.info["image_mode"] == "RGB"
    # Stratified 20% test split of 10 + 11 images.
    assert torch.bincount(data.y_test).tolist() == [2, 2]
    assert data.info["test_split"].startswith("stratified")


def test_imagefolder_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: class folder holds no image"):
        load_dataset("imagefolder", path=tmp_path)
    write_png(tmp_path / "train" / "a" / "0.png", np.zeros((3, 3), np.uint8))
    write_png(tmp_path / "test" / "zebra" / "0.png", np.zeros((3, 3), np.uint8))
    with pytest.raises(DataError, match=r"classes \['zebra'\] have no folder"):
        load_dataset("imagefolder", path=tmp_path)
    (tmp_path / "test" / "zebra" / "0.png").unlink()
    (tmp_path / "test" / "zebra" / "1.png").write_bytes(b"not a png")
    (tmp_path / "test" / "zebra").rename(tmp_path / "test" / "a")
    with pytest.raises(DataError, match=r"1.png: cannot read image"):
        load_dataset("imagefolder", path=tmp_path)
