"""Every registered encoder: fit, encode, module/collate, save and reload; bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from encode_nets import make_nets

from weightzoo.arch import ArchSpec
from weightzoo.encode import (
    ENCODERS,
    WeightSpaceEncoder,
    build_encoder,
    list_encoders,
    load_encoder,
)
from weightzoo.errors import ConfigError, WeightzooError

FAST = {"hyperrep": {"epochs": 1, "d_model": 32, "depth": 1}}


def _build(name: str):
    if name == "nfn":
        pytest.importorskip("nfn", reason="nfn is not installed (pip install nfn)")
    return build_encoder(name, **FAST.get(name, {}))


def test_registry_entries_carry_their_paper() -> None:
    assert {"stats", "flat", "hyperrep", "sne", "nfn"} <= set(list_encoders())
    for entry in ENCODERS.values():
        assert entry.url.startswith("https://arxiv.org/abs/")
    assert ENCODERS["sne"].any_architecture and not ENCODERS["flat"].any_architecture
    assert ENCODERS["hyperrep"].can_decode


@pytest.mark.parametrize("name", list_encoders())
def test_fit_encode_save_load(name: str, mlp_nets: list, tmp_path) -> None:
    enc = _build(name).fit(mlp_nets, seed=0)
    assert isinstance(enc, WeightSpaceEncoder)
    z = enc.encode(mlp_nets, batch_size=5)
    assert z.shape == (len(mlp_nets), enc.embed_dim) and z.dtype == np.float32
    assert np.isfinite(z).all()
    # Networks of different init scale get different embeddings.
    assert np.abs(z[0] - z[3]).max() > 1e-4
    if enc.module is not None:
        # module(collate(.)) is the differentiable path the end-to-end trainer uses.
        enc.module.eval()
        out = enc.module(enc.collate(mlp_nets[:4]))
        np.testing.assert_allclose(out.detach().numpy(), z[:4], rtol=1e-4, atol=1e-5)
        (out.sum() + enc.aux_loss(enc.collate(mlp_nets[:4]))).backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in enc.module.parameters())
    # Dict order does not matter (layers are taken in module order).
    shuffled = [(s, dict(reversed(list(w.items())))) for s, w in mlp_nets]
    np.testing.assert_allclose(enc.encode(shuffled), z, rtol=1e-5, atol=1e-6)
    folder = enc.save(tmp_path / "enc")
    config = json.loads((folder / "config.json").read_text())
    assert config["encoder"] == name and "device" not in config["params"]
    again = load_encoder(folder)
    np.testing.assert_allclose(again.encode(mlp_nets), z, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["stats", "flat", "hyperrep", "nfn"])
def test_one_architecture_encoders_reject_another(name: str, mlp_nets: list) -> None:
    enc = _build(name).fit(mlp_nets[:4])
    other = make_nets(ArchSpec("mlp", (1, 40), widths=(16, 13)), 2)
    with pytest.raises(WeightzooError, match="another architecture"):
        enc.encode(other)


def test_load_by_name_and_bad_input(tmp_path, mlp_nets: list) -> None:
    fresh = load_encoder("sne")
    assert fresh.name == "sne" and fresh.standardizer_ is None
    with pytest.raises(WeightzooError, match="not fitted"):
        fresh.encode(mlp_nets)
    with pytest.raises(WeightzooError, match="neither a saved encoder"):
        load_encoder("no-such-encoder")
    with pytest.raises(ConfigError, match="unknown encoder"):
        build_encoder("nope")
    with pytest.raises(ConfigError, match="sne"):
        build_encoder("sne", chunks=3)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text('{"format": "other"}')
    with pytest.raises(WeightzooError, match="not a weightzoo encoder"):
        load_encoder(tmp_path / "bad")
    folder = build_encoder("flat").fit(mlp_nets[:3]).save(tmp_path / "flat")
    (folder / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(WeightzooError, match="model.safetensors"):
        load_encoder(folder)
    with pytest.raises(WeightzooError, match="at least one"):
        build_encoder("sne").fit([])


def test_save_refuses_a_file_path(tmp_path, mlp_nets: list) -> None:
    target = tmp_path / "file"
    target.write_text("keep me")
    with pytest.raises(WeightzooError, match="not a folder"):
        build_encoder("stats").fit(mlp_nets[:2]).save(target)
    assert target.read_text() == "keep me"
