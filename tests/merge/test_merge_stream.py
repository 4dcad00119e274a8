"""Streaming merges of checkpoint folders: same tensors as in memory, shards, atomicity."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from weightzoo.errors import ConfigError
from weightzoo.merge import (
    MergeInputError,
    OutputExistsError,
    load_checkpoint,
    merge_from_config,
    merge_state_dicts,
    save_checkpoint,
)
from weightzoo.merge import streaming as streaming_mod


def _write(tmp: Path, cfg: dict) -> Path:
    path = tmp / "merge.yml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _ties_cfg(root: Path) -> dict:
    return {
        "models": [
            {"model": str(root / f"ft{i}"), "parameters": {"weight": w, "density": 0.6}}
            for i, w in enumerate([1.0, 0.5, 0.8])
        ],
        "base_model": str(root / "base"),
        "merge_method": "ties",
    }


def test_stream_equals_in_memory_merge(tiny_llamas: Path, tmp_path: Path) -> None:
    out = merge_from_config(
        _write(tmp_path, _ties_cfg(tiny_llamas)), tmp_path / "out", max_shard_bytes=20_000
    )
    got = load_checkpoint(out)
    base = load_checkpoint(tiny_llamas / "base")
    fts = [load_checkpoint(tiny_llamas / f"ft{i}") for i in range(3)]
    ref = merge_state_dicts(fts, "ties", base=base, weights=[1.0, 0.5, 0.8], density=0.6)
    assert set(got) == set(ref)
    for k in ref:
        assert torch.equal(got[k], ref[k]), k
    # Several shards under the limit, an index, the config, a card, the resolved YAML.
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1
    assert json.loads((out / "config.json").read_text())["model_type"] == "llama"
    assert "ties" in (out / "README.md").read_text()
    assert yaml.safe_load((out / "mergekit_config.yml").read_text())["merge_method"] == "ties"
    # Nothing but the output was left next to it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merge.yml", "out"]


def test_relative_paths_resolve_next_to_the_config(tiny_llamas: Path, tmp_path: Path) -> None:
    cfg = {
        "models": [
            {"model": "ft0", "parameters": {"weight": 1}},
            {"model": "ft1", "parameters": {"weight": 3}},
        ],
        "merge_method": "linear",
        "out_dtype": "float16",
    }
    path = tiny_llamas / "lin.yml"
    path.write_text(yaml.safe_dump(cfg))
    out = load_checkpoint(merge_from_config(path, tmp_path / "o"))
    a, b = load_checkpoint(tiny_llamas / "ft0"), load_checkpoint(tiny_llamas / "ft1")
    k = "model.layers.1.mlp.up_proj.weight"
    assert out[k].dtype == torch.float16
    torch.testing.assert_close(out[k], ((a[k] + 3 * b[k]) / 4).half())


def test_dare_stream_is_reproducible_and_seeded(tiny_llamas: Path, tmp_path: Path) -> None:
    cfg = _ties_cfg(tiny_llamas) | {"merge_method": "dare_ties"}
    path = _write(tmp_path, cfg)
    a = load_checkpoint(merge_from_config(path, tmp_path / "a", seed=3))
    b = load_checkpoint(merge_from_config(path, tmp_path / "b", seed=3))
    c = load_checkpoint(merge_from_config(path, tmp_path / "c", seed=4))
    k = "model.layers.0.mlp.down_proj.weight"
    assert torch.equal(a[k], b[k]) and not torch.equal(a[k], c[k])


def test_passthrough_slices_stack_layers(tiny_llamas: Path, tmp_path: Path) -> None:
    cfg = {
        "slices": [
            {"sources": [{"model": str(tiny_llamas / "ft0"), "layer_range": [0, 2]}]},
            {"sources": [{"model": str(tiny_llamas / "ft1"), "layer_range": [1, 2]}]},
        ],
        "merge_method": "passthrough",
    }
    out = merge_from_config(_write(tmp_path, cfg), tmp_path / "out")
    got = load_checkpoint(out)
    a, b = load_checkpoint(tiny_llamas / "ft0"), load_checkpoint(tiny_llamas / "ft1")
    assert json.loads((out / "config.json").read_text())["num_hidden_layers"] == 3
    q = "self_attn.q_proj.weight"
    assert torch.equal(got[f"model.layers.1.{q}"], a[f"model.layers.1.{q}"])
    assert torch.equal(got[f"model.layers.2.{q}"], b[f"model.layers.1.{q}"])
    assert torch.equal(got["model.embed_tokens.weight"], a["model.embed_tokens.weight"])
    assert torch.equal(got["lm_head.weight"], b["lm_head.weight"])  # from the last slice


def _broken_copy(src: Path, dst: Path, change: dict) -> Path:
    tensors = load_checkpoint(src)
    tensors.update(change)
    tensors = {k: v for k, v in tensors.items() if v is not None}
    return save_checkpoint(dst, tensors, json.loads((src / "config.json").read_text()))


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (
            {"lm_head.weight": torch.zeros(64, 16)},
            MergeInputError,
            r"'lm_head.weight' has shape \(64, 16\)",
        ),
        (
            {"model.norm.weight": torch.ones(32, dtype=torch.float16)},
            MergeInputError,
            "dtype torch.float16",
        ),
        ({"model.norm.weight": None}, MergeInputError, "missing tensor 'model.norm.weight'"),
        ({"extra.weight": torch.ones(2)}, MergeInputError, "unexpected tensor 'extra.weight'"),
    ],
)
def test_bad_inputs_fail_before_writing(
    tiny_llamas: Path, tmp_path: Path, change: dict, error: type, message: str
) -> None:
    bad = _broken_copy(tiny_llamas / "ft2", tmp_path / "bad", change)
    cfg = _ties_cfg(tiny_llamas)
    cfg["models"][2]["model"] = str(bad)
    with pytest.raises(error, match=message):
        merge_from_config(_write(tmp_path, cfg), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.*"))


def test_missing_base_fails_before_writing(tiny_llamas: Path, tmp_path: Path) -> None:
    cfg = _ties_cfg(tiny_llamas)
    del cfg["base_model"]
    with pytest.raises(ConfigError, match="base_model: merge method 'ties' needs a base model"):
        merge_from_config(_write(tmp_path, cfg), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_interrupted_merge_leaves_old_output_intact(
    tiny_llamas: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, _ties_cfg(tiny_llamas))
    out = merge_from_config(path, tmp_path / "out")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(OutputExistsError, match="--force"):
        merge_from_config(path, out)
    calls = {"n": 0}
    real = streaming_mod.merge_tensor

    def dying(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls["n"] += 1
        if calls["n"] == 10:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(streaming_mod, "merge_tensor", dying)
    cfg = _ties_cfg(tiny_llamas) | {"merge_method": "task_arithmetic"}
    with pytest.raises(KeyboardInterrupt):
        merge_from_config(_write(tmp_path, cfg), out, overwrite=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merge.yml", "out"]
    monkeypatch.setattr(streaming_mod, "merge_tensor", real)
    merge_from_config(_write(tmp_path, cfg), out, overwrite=True)
    assert (
        yaml.safe_load((out / "mergekit_config.yml").read_text())["merge_method"]
        == "task_arithmetic"
    )


def test_tokenizer_files_are_copied_from_the_base(tiny_llamas: Path, tmp_path: Path) -> None:
    base = tmp_path / "base"
    shutil.copytree(tiny_llamas / "base", base)
    (base / "tokenizer.json").write_text('{"version": "1.0"}')
    cfg = _ties_cfg(tiny_llamas) | {"base_model": str(base)}
    out = merge_from_config(_write(tmp_path, cfg), tmp_path / "out")
    assert (out / "tokenizer.json").read_text() == '{"version": "1.0"}'
