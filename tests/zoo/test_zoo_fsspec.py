"""Zoos on fsspec storage: memory:// and file:// URLs, atomic remote writes, missing backends."""

from __future__ import annotations

import uuid
from pathlib import Path

import fsspec
import pandas as pd
import pytest
import torch

from weightzoo import build_zoo
from weightzoo.errors import WeightzooError, ZooFormatError
from weightzoo.zoo import Zoo, verify_zoo
from weightzoo.zoo._io import RemotePath, as_zoo_path, atomic_write_bytes
from weightzoo.zoo.format import safe_join


@pytest.fixture(scope="module")
def memory_zoo(tiny_config) -> str:  # noqa: ANN001
    """The tiny zoo's config built into memory:// (removed afterwards)."""
    url = f"memory://wz-{uuid.uuid4().hex[:8]}/zoo"
    build_zoo(tiny_config, url)
    yield url
    fsspec.filesystem("memory").rm(url.split("://")[1].split("/")[0], recursive=True)


def test_memory_zoo_equals_the_local_build(memory_zoo: str, tiny_zoo: Path) -> None:
    remote, local = Zoo.open(memory_zoo), Zoo.open(tiny_zoo)
    assert isinstance(remote.root, RemotePath) and str(remote.root).startswith("memory://")
    pd.testing.assert_frame_equal(remote.catalog, local.catalog)
    for epoch in local.epochs():
        got, want = remote.stacked(epoch), local.stacked(epoch)
        assert list(got) == list(want)
        assert all(torch.equal(got[k], want[k]) for k in want)
    assert all(
        torch.equal(v, local.weights("m00005", 1)[k])
        for k, v in remote.weights("m00005", 1).items()
    )
    net = remote.load_model("m00003")
    assert net(torch.zeros(2, 40)).shape == (2, 10)
    ds_r, ds_l = remote.to_torch_dataset(split=None), local.to_torch_dataset(split=None)
    assert len(ds_r) == len(ds_l) == 24
    assert torch.equal(ds_r[7][0], ds_l[7][0]) and torch.equal(ds_r[7][1], ds_l[7][1])


def test_memory_zoo_verifies_and_leaves_no_temporary_keys(memory_zoo: str) -> None:
    report = verify_zoo(memory_zoo)
    assert report.ok and report.files_checked == 6
    fs = fsspec.filesystem("memory")
    keys = fs.find(memory_zoo.split("://")[1])
    assert not [k for k in keys if k.endswith(".tmp")]
    assert any(k.endswith("zoo.json") for k in keys)


def test_corrupt_remote_checkpoint_is_named_by_its_url(memory_zoo: str) -> None:
    url = f"memory://wz-{uuid.uuid4().hex[:8]}/zoo"
    fs = fsspec.filesystem("memory")
    fs.copy(memory_zoo.split("://")[1], url.split("://")[1], recursive=True)
    assert verify_zoo(url).ok
    key = url.split("://")[1] + "/shards/s0000/epoch_0001.safetensors"
    data = bytearray(fs.cat_file(key))
    data[-3] ^= 0xFF
    fs.pipe_file(key, bytes(data))
    report = verify_zoo(url)
    assert not report.ok
    assert any("epoch_0001.safetensors" in p and "checksum" in p for p in report.problems)
    fs.pipe_file(key, bytes(data[:-50]))  # truncated
    with pytest.raises(ZooFormatError, match="memory://.*epoch_0001"):
        Zoo.open(url).weights("m00000", 1)
    fs.rm(url.split("://")[1].split("/")[0], recursive=True)


def test_file_url_is_the_local_fast_path(tmp_path: Path, tiny_zoo: Path) -> None:
    url = f"file://{tmp_path}/zoo"
    assert as_zoo_path(url) == tmp_path / "zoo"
    zoo = Zoo.open(f"file://{tiny_zoo}")
    assert isinstance(zoo.root, Path)
    assert torch.equal(zoo.stacked(2)["fc1.weight"], Zoo.open(tiny_zoo).stacked(2)["fc1.weight"])


def test_remote_atomic_write_keeps_old_content_when_the_move_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = as_zoo_path(f"memory://wz-{uuid.uuid4().hex[:8]}/dir/data.bin")
    assert isinstance(path, RemotePath)
    atomic_write_bytes(path, b"old")

    def broken_mv(*args, **kwargs) -> None:  # noqa: ANN002, ANN003
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(path.fs, "mv", broken_mv)
    with pytest.raises(OSError):
        atomic_write_bytes(path, b"new content")
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert [p.name for p in path.parent.iterdir()] == ["data.bin"]
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"


def test_remote_safe_join_refuses_escapes() -> None:
    root = as_zoo_path("memory://wz-join/zoo")
    assert str(safe_join(root, "shards/s0000/x")) == "memory:///wz-join/zoo/shards/s0000/x"
    for bad in ("../evil", "shards/../../evil", "/etc/passwd"):
        with pytest.raises(ZooFormatError, match="outside"):
            safe_join(root, bad)


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("s3://bucket/zoo", "pip install s3fs"),
        ("gs://bucket/zoo", "pip install gcsfs"),
        ("nope://bucket/zoo", "unknown storage protocol 'nope'"),
    ],
)
def test_missing_backend_or_unknown_protocol_gives_the_install_hint(url: str, hint: str) -> None:
    pytest.importorskip("fsspec")
    try:
        fsspec.filesystem(url.split("://")[0])
    except (ImportError, ValueError):
        pass
    else:
        pytest.skip(f"the backend for {url} is installed here")
    with pytest.raises(WeightzooError, match=hint):
        Zoo.open(url)


def test_cli_reports_a_missing_backend_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from weightzoo.cli import main

    try:
        import s3fs  # noqa: F401

        pytest.skip("s3fs is installed here")
    except ImportError:
        pass
    assert main(["zoo", "info", "s3://bucket/zoo"]) == 1
    err = capsys.readouterr().err
    assert "pip install s3fs" in err and "Traceback" not in err
