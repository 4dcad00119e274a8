"""generate + write_generated_zoo: a verifiable zoo with provenance; bad input fails before work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from weightzoo.encode import build_encoder
from weightzoo.errors import ConfigError, WeightzooError
from weightzoo.generate import generate, load_generated, write_generated_zoo
from weightzoo.generate.api import default_settings
from weightzoo.zoo import Zoo, verify_zoo


def test_generated_zoo_has_provenance_and_true_epoch0_metrics(gen_setup, tmp_path: Path) -> None:
    zoo, source, encoder, data = gen_setup
    gen = generate(zoo, encoder, sampler="kde", top=0.5, n=5, seed=3, source=source)
    assert gen.anchor_ids == source.model_ids[:2]
    again = generate(zoo, encoder, sampler="kde", top=0.5, n=5, seed=3, source=source)
    torch.testing.assert_close(gen.latents, again.latents, rtol=0, atol=0)
    new = write_generated_zoo(gen, tmp_path / "new", data=data, settings=default_settings(source))
    assert verify_zoo(new.root).ok
    manifest = json.loads((tmp_path / "new" / "zoo.json").read_text())
    prov = manifest["provenance"]
    assert prov["source_zoo"] == str(zoo.root) and prov["encoder"] == "hyperrep"
    assert (prov["sampler"], prov["seed"], prov["top"], prov["n"]) == ("kde", 3, 0.5, 5)
    assert prov["anchors"] == gen.anchor_ids
    reopened = Zoo.open(tmp_path / "new")
    assert reopened.models() == [f"g{i:05d}" for i in range(5)] and reopened.epochs() == [0]
    cat = reopened.catalog.set_index("model_id")
    for i, mid in enumerate(reopened.models()):
        w = reopened.weights(mid, 0)
        assert all(torch.equal(w[k], gen.weights[i][k]) for k in w)
        model = load_generated(gen.spec, w)
        with torch.no_grad():
            acc = (model(data.x_test).argmax(-1) == data.y_test).double().mean().item()
        assert cat.loc[mid, "test_acc"] == pytest.approx(acc, abs=1e-9)


@pytest.mark.parametrize("sampler", ["kde_joint", "gmm", "uniform", "neighbourhood"])
def test_every_sampler_generates_loadable_models(gen_setup, sampler: str) -> None:
    zoo, source, encoder, _ = gen_setup
    gen = generate(zoo, encoder, sampler=sampler, top=1.0, n=3, source=source)
    assert len(gen.weights) == 3 and gen.latents.shape[0] == 3
    load_generated(gen.spec, gen.weights[0])


def test_bad_input_fails_before_any_work(gen_setup, tmp_path: Path, monkeypatch) -> None:
    zoo, source, encoder, _ = gen_setup

    def no_work(*a, **k):  # noqa: ANN002, ANN003
        raise AssertionError("encoded anything despite bad input")

    monkeypatch.setattr(encoder, "latent", no_work)
    with pytest.raises(ConfigError, match="n: expected at least 1"):
        generate(zoo, encoder, n=0)
    with pytest.raises(ConfigError, match="top"):
        generate(zoo, encoder, top=0.0)
    with pytest.raises(WeightzooError, match="selects no model"):
        generate(zoo, encoder, top=0.1, source=source)
    with pytest.raises(WeightzooError, match="cannot decode"):
        generate(zoo, build_encoder("stats"))
    other = "relu" if source.spec.activation != "relu" else "tanh"
    from weightzoo.generate import source_models

    wrong = source_models(zoo, activation=other)
    with pytest.raises(WeightzooError, match="architecture mismatch"):
        generate(zoo, encoder, source=wrong)
    with pytest.raises(WeightzooError, match="no model"):
        source_models(zoo, activation="sigmoid")
    assert not (tmp_path / "out").exists()
