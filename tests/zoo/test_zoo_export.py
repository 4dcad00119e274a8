"""Exporting one model in the Hugging Face layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from weightzoo import ArchSpec, Zoo, __version__, build_model


@pytest.fixture(scope="module")
def zoo(tiny_zoo: Path) -> Zoo:
    return Zoo.open(tiny_zoo)


@pytest.mark.parametrize(("mid", "epoch", "resolved"), [("m00003", 1, 1), ("m00004", "last", 2)])
def test_hf_export_round_trips(
    zoo: Zoo,
    tmp_path: Path,
    mid: str,
    epoch: int | str,
    resolved: int,
) -> None:
    out = zoo.export_hf(mid, tmp_path / "hf", epoch=epoch)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]

    loaded = load_file(str(out / "model.safetensors"))
    expected = zoo.weights(mid, resolved)
    assert sorted(loaded) == sorted(expected)
    for k in expected:
        assert torch.equal(loaded[k], expected[k]), k

    config = json.loads((out / "config.json").read_text())
    assert config["model_id"] == mid
    assert config["epoch"] == resolved
    assert config["weightzoo_version"] == __version__
    assert config["source_zoo"] == "t"
    assert config["hyperparameters"]["lr"] == zoo.manifest["models"][mid]["lr"]
    assert config["hyperparameters"]["activation"] == zoo.manifest["models"][mid]["activation"]

    spec = ArchSpec.from_dict(config["architecture"])
    assert spec == zoo.spec(mid)
    model = build_model(spec)
    model.load_state_dict(loaded)  # strict: names and shapes match exactly
    x = torch.randn(4, 1, 40, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(model.eval()(x), zoo.load_model(mid, resolved)(x))
