"""Checkpoint IO: Hugging Face layouts, shards, headers readable by safetensors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from weightzoo.merge import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from weightzoo.merge.checkpoint_io import PlannedOutput, ShardedWriter, assign_shards


def _tensors() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "a": torch.randn(3, 4, generator=g).half(),
        "b": torch.arange(5),
        "c": torch.randn(7, generator=g).to(torch.bfloat16),
        "s": torch.tensor(2.5),
        "e": torch.zeros(0, 3),
    }


def test_sharded_round_trip_and_index(tmp_path: Path) -> None:
    tensors = _tensors()
    save_checkpoint(tmp_path, tensors, {"model_type": "x"}, max_shard_bytes=30)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 1 and shards[0] == f"model-00001-of-{len(shards):05d}.safetensors"
    assert index["metadata"]["total_size"] == sum(
        t.numel() * t.element_size() for t in tensors.values()
    )
    back = load_checkpoint(tmp_path)
    assert set(back) == set(tensors)
    for k, v in tensors.items():
        assert back[k].dtype == v.dtype and torch.equal(back[k], v)
    # The safetensors library reads our streamed headers too.
    for shard in shards:
        with safe_open(str(tmp_path / shard), framework="pt") as f:
            for k in f.keys():  # noqa: SIM118
                assert torch.equal(f.get_tensor(k), tensors[k])


def test_single_file_layout_reads_files_written_by_safetensors(tmp_path: Path) -> None:
    tensors = {k: v for k, v in _tensors().items() if k != "e"}
    save_file(tensors, str(tmp_path / "model.safetensors"))
    ckpt = Checkpoint(tmp_path)
    assert ckpt.config == {}
    assert ckpt.tensors["a"].shape == (3, 4) and ckpt.tensors["c"].dtype == torch.bfloat16
    assert torch.equal(ckpt.read("a"), tensors["a"])
    ckpt.close()


def test_assign_shards_respects_limit_and_order() -> None:
    outs = [PlannedOutput(f"t{i}", (n,), torch.float32) for i, n in enumerate([5, 5, 20, 1, 1])]
    shards = assign_shards(outs, 40)
    # 4-byte floats: 20+20 fit in 40; t2 (80 bytes) is alone; then 4+4.
    assert [[o.name for o in s] for s in shards] == [["t0", "t1"], ["t2"], ["t3", "t4"]]
    assert [o.name for s in shards for o in s] == [o.name for o in outs]


def test_writer_refuses_tensors_out_of_plan(tmp_path: Path) -> None:
    writer = ShardedWriter(tmp_path, [PlannedOutput("a", (2,), torch.float32)], max_shard_bytes=100)
    with pytest.raises(RuntimeError, match="planned a"):
        writer.write("a", torch.zeros(3))


def test_bad_folders_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not a folder"):
        Checkpoint(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="no model.safetensors"):
        Checkpoint(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\x05\x00")
    with pytest.raises(CheckpointError, match="truncated"):
        Checkpoint(tmp_path)
    save_file({"a": torch.zeros(100)}, str(tmp_path / "model.safetensors"))
    data = (tmp_path / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[:-50])
    with pytest.raises(CheckpointError, match="tensor 'a' ends past the file"):
        Checkpoint(tmp_path)
