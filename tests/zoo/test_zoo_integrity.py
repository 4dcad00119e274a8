"""Damaged, foreign and hostile zoos: verify, format errors, path safety, atomic writes."""

from __future__ import annotations

import errno
import json
import os
import shutil
import struct
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
import pytest

from weightzoo import Zoo, verify_zoo
from weightzoo.cli import main
from weightzoo.errors import ZooFormatError
from weightzoo.zoo import rebuild_catalog
from weightzoo.zoo._io import atomic_write_bytes
from weightzoo.zoo.catalog import write_catalog
from weightzoo.zoo.format import safe_join

EPOCH_FILE = "shards/s0001/epoch_0001.safetensors"


@pytest.fixture
def zoo_copy(tiny_zoo: Path, tmp_path: Path) -> Path:
    root = tmp_path / "zoo"
    shutil.copytree(tiny_zoo, root)
    return root


def _flip_data_byte(path: Path, offset_in_data: int = 10) -> None:
    raw = bytearray(path.read_bytes())
    (header_len,) = struct.unpack("<Q", raw[:8])
    pos = 8 + header_len + offset_in_data
    assert pos < len(raw)
    raw[pos] ^= 0xFF
    path.write_bytes(bytes(raw))


def _dotfiles(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*"))


def _no_newlines(s: str) -> str:
    return "".join(s.split())


# -- verify ---------------------------------------------------------------------


def test_verify_ok_on_a_good_zoo(tiny_zoo: Path) -> None:
    report = verify_zoo(tiny_zoo)
    assert report.ok
    assert report.problems == [] and report.missing_epochs == {}
    assert report.files_checked == 6  # 2 shards x epochs 0, 1, 2


def test_verify_names_the_file_with_a_flipped_byte(
    zoo_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _flip_data_byte(zoo_copy / EPOCH_FILE)
    report = verify_zoo(zoo_copy)
    assert not report.ok
    assert len(report.problems) == 1
    assert str(zoo_copy / EPOCH_FILE) in report.problems[0]
    assert "checksum" in report.problems[0]

    capsys.readouterr()
    assert main(["zoo", "verify", "--quiet", str(zoo_copy)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert EPOCH_FILE in _no_newlines(err)


def test_verify_reports_a_missing_catalog_and_rebuilds_it(zoo_copy: Path) -> None:
    stored = pd.read_parquet(zoo_copy / "catalog.parquet")
    (zoo_copy / "catalog.parquet").unlink()
    report = verify_zoo(zoo_copy)
    assert not report.ok and "catalog.parquet" in report.problems[0]
    assert not (zoo_copy / "catalog.parquet").exists()
    assert verify_zoo(zoo_copy, rebuild=True).ok
    pd.testing.assert_frame_equal(pd.read_parquet(zoo_copy / "catalog.parquet"), stored)
    assert verify_zoo(zoo_copy).ok


def test_verify_reports_missing_epochs(zoo_copy: Path) -> None:
    (zoo_copy / "shards/s0000/epoch_0002.safetensors").unlink()
    report = verify_zoo(zoo_copy)
    assert not report.ok
    assert report.missing_epochs == {"s0000": [2]}
    assert report.files_checked == 5


def test_truncated_epoch_file_weights_raise_naming_the_file(zoo_copy: Path) -> None:
    path = zoo_copy / EPOCH_FILE
    path.write_bytes(path.read_bytes()[:-100])
    zoo = Zoo.open(zoo_copy)
    with pytest.raises(ZooFormatError) as info:
        zoo.weights("m00002", 1)  # a model of shard s0001
    assert str(path) in str(info.value)
    # Other files of the zoo still read.
    assert zoo.weights("m00002", 2)["fc1.weight"].shape == (8, 40)
    report = verify_zoo(zoo_copy)
    assert any(str(path) in p for p in report.problems)


def test_truncated_epoch_file_stacked_raises_format_error(zoo_copy: Path) -> None:
    path = zoo_copy / EPOCH_FILE
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ZooFormatError, match="epoch_0001.safetensors"):
        Zoo.open(zoo_copy).stacked(1)


# -- format version and manifests -------------------------------------------------


def test_unknown_format_version_is_refused(zoo_copy: Path) -> None:
    manifest = json.loads((zoo_copy / "zoo.json").read_text())
    manifest["format_version"] = 2
    (zoo_copy / "zoo.json").write_text(json.dumps(manifest))
    with pytest.raises(ZooFormatError, match="version 2"):
        Zoo.open(zoo_copy)
    with pytest.raises(ZooFormatError, match="version"):
        verify_zoo(zoo_copy)


def test_missing_or_garbled_manifest(tmp_path: Path, zoo_copy: Path) -> None:
    with pytest.raises(ZooFormatError, match="zoo.json"):
        Zoo.open(tmp_path / "nothing_here")
    (zoo_copy / "zoo.json").write_text("{not json")
    with pytest.raises(ZooFormatError, match="zoo.json"):
        Zoo.open(zoo_copy)


@pytest.mark.parametrize("evil", ["../evil", "../../evil", "/tmp/evil", "s0000/../../../evil"])
def test_manifest_shard_names_cannot_escape_the_zoo(zoo_copy: Path, evil: str) -> None:
    manifest = json.loads((zoo_copy / "zoo.json").read_text())
    # Put a real, valid copy of the shard where the hostile name points, so a reader
    # that followed the name would succeed instead of raising.
    target = (zoo_copy / "shards" / evil).resolve() if not evil.startswith("/") else None
    if target is not None:
        shutil.copytree(zoo_copy / "shards" / "s0000", target, dirs_exist_ok=True)
    manifest["shards"][evil] = manifest["shards"].pop("s0000")
    for info in manifest["models"].values():
        if info["shard"] == "s0000":
            info["shard"] = evil
    (zoo_copy / "zoo.json").write_text(json.dumps(manifest))
    (zoo_copy / "catalog.parquet").unlink()

    zoo = Zoo.open(zoo_copy)
    with pytest.raises(ZooFormatError):
        zoo.weights("m00000", 1)
    with pytest.raises(ZooFormatError):
        zoo.stacked(1, ["m00000"])
    with pytest.raises(ZooFormatError):
        rebuild_catalog(zoo_copy, manifest)
    with pytest.raises(ZooFormatError):
        verify_zoo(zoo_copy)


def test_catalog_file_column_cannot_escape_the_zoo(zoo_copy: Path, tmp_path: Path) -> None:
    shutil.copy(zoo_copy / EPOCH_FILE, tmp_path / "outside.safetensors")
    cat = pd.read_parquet(zoo_copy / "catalog.parquet")
    cat["file"] = "../outside.safetensors"
    write_catalog(zoo_copy, cat)
    ds = Zoo.open(zoo_copy).to_torch_dataset(split=None)
    with pytest.raises(ZooFormatError, match="outside"):
        ds[0]


def test_safe_join(tmp_path: Path) -> None:
    root = tmp_path / "zoo"
    (root / "shards").mkdir(parents=True)
    assert safe_join(root, "shards/s0000/epoch_0000.safetensors") == (
        root.resolve() / "shards/s0000/epoch_0000.safetensors"
    )
    for bad in ("../x", "shards/../../x", "/etc/passwd", str(tmp_path / "other")):
        with pytest.raises(ZooFormatError, match="outside"):
            safe_join(root, bad)
    # A symlink inside the zoo that leads out of it is refused too.
    (tmp_path / "secret").mkdir()
    os.symlink(tmp_path / "secret", root / "shards" / "link")
    with pytest.raises(ZooFormatError):
        safe_join(root, "shards/link/x")


# -- atomic writes ----------------------------------------------------------------


def _enospc(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class _HalfWriter:
    """A file whose write stores half the bytes, then reports a full disk."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f

    def write(self, data: bytes) -> int:
        self._f.write(data[: len(data) // 2])
        self._f.flush()
        _enospc()
        return 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def __enter__(self) -> _HalfWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._f.close()


def _break_disk(monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    if where == "replace":
        monkeypatch.setattr(os, "replace", _enospc)
    elif where == "fsync":
        monkeypatch.setattr(os, "fsync", _enospc)
    else:
        real_fdopen = os.fdopen
        monkeypatch.setattr(os, "fdopen", lambda *a, **k: _HalfWriter(real_fdopen(*a, **k)))


@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
def test_atomic_write_bytes_keeps_old_content_on_full_disk(
    tmp_path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"old content")
    with monkeypatch.context() as m:
        _break_disk(m, where)
        with pytest.raises(OSError) as info:
            atomic_write_bytes(path, b"new content that does not fit" * 100)
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == b"old content"
    assert _dotfiles(tmp_path) == []
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
def test_write_catalog_keeps_old_catalog_on_full_disk(
    zoo_copy: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    before = (zoo_copy / "catalog.parquet").read_bytes()
    stored = pd.read_parquet(zoo_copy / "catalog.parquet")
    changed = stored.assign(test_acc=0.0)
    with monkeypatch.context() as m:
        _break_disk(m, where)
        with pytest.raises(OSError):
            write_catalog(zoo_copy, changed)
    assert (zoo_copy / "catalog.parquet").read_bytes() == before
    assert _dotfiles(zoo_copy) == []
    zoo = Zoo.open(zoo_copy)
    pd.testing.assert_frame_equal(zoo.catalog, stored)
    assert verify_zoo(zoo_copy).ok
