"""Reading a zoo: catalog, single-model weights, stacked weights, modules."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from weightzoo import Zoo, ZooConfig, build_model
from weightzoo.train.build import load_config_data
from weightzoo.zoo import HYPERPARAMETERS, rebuild_catalog
from weightzoo.zoo.shardfiles import METRICS

N_MODELS = 8
EPOCHS = [0, 1, 2]
LAST = 2


@pytest.fixture(scope="module")
def zoo(tiny_zoo: Path) -> Zoo:
    return Zoo.open(tiny_zoo)


def test_manifest_describes_the_plan(zoo: Zoo) -> None:
    m = zoo.manifest
    assert m["format_version"] == 1
    assert m["name"] == "t" == zoo.name
    assert m["checkpoint_epochs"] == EPOCHS
    assert sorted(m["shards"]) == ["s0000", "s0001"]
    assert sorted(m["models"]) == [f"m{i:05d}" for i in range(N_MODELS)]
    # One shard per activation; every model appears once, at its index, in its shard.
    for shard, plan in m["shards"].items():
        assert {m["models"][mid]["activation"] for mid in plan["model_ids"]} == {
            plan["spec"]["activation"]
        }
        for j, mid in enumerate(plan["model_ids"]):
            assert m["models"][mid]["shard"] == shard and m["models"][mid]["index"] == j
    assert sum(len(p["model_ids"]) for p in m["shards"].values()) == N_MODELS
    assert m["shards"]["s0000"]["num_params"] == 40 * 8 + 8 + 8 * 10 + 10


def test_catalog_has_one_row_per_model_and_epoch(zoo: Zoo) -> None:
    cat = zoo.catalog
    assert len(cat) == N_MODELS * len(EPOCHS)
    assert not cat.duplicated(["model_id", "epoch"]).any()
    assert set(zip(cat["model_id"], cat["epoch"], strict=True)) == {
        (f"m{i:05d}", e) for i in range(N_MODELS) for e in EPOCHS
    }
    expected = {"model_id", "epoch", "shard", "index", "file", "checksum", "gen_gap", "diverged"}
    assert expected | set(HYPERPARAMETERS) | set(METRICS) <= set(cat.columns)
    assert list(cat[["model_id", "epoch"]].itertuples(index=False)) == sorted(
        cat[["model_id", "epoch"]].itertuples(index=False)
    )
    assert zoo.models() == [f"m{i:05d}" for i in range(N_MODELS)]
    assert zoo.epochs() == EPOCHS


def test_catalog_rows_agree_with_manifest_and_metrics_are_sane(zoo: Zoo) -> None:
    cat = zoo.catalog
    models = zoo.manifest["models"]
    for row in cat.itertuples(index=False):
        info = models[row.model_id]
        assert row.shard == info["shard"] and row.index == info["index"]
        assert row.file == f"shards/{info['shard']}/epoch_{row.epoch:04d}.safetensors"
        for hp in ("lr", "activation", "seed", "init", "optimizer"):
            assert getattr(row, hp) == info[hp], hp
    for col in ("train_acc", "val_acc", "test_acc"):
        assert cat[col].between(0, 1).all()
    for col in ("train_loss", "val_loss", "test_loss"):
        assert (cat[col] > 0).all()
    pd.testing.assert_series_equal(
        cat["gen_gap"], cat["train_acc"] - cat["test_acc"], check_names=False
    )
    assert not cat["diverged"].any()
    # The grid: 2 lr x 2 activations x 2 seeds, every combination once.
    combos = cat.loc[cat["epoch"] == 0, ["lr", "activation", "seed"]]
    assert len(combos.drop_duplicates()) == N_MODELS


def test_catalog_rebuilt_from_shards_equals_stored(tiny_zoo: Path, zoo: Zoo) -> None:
    stored = pd.read_parquet(tiny_zoo / "catalog.parquet")
    fresh = rebuild_catalog(tiny_zoo, json.loads((tiny_zoo / "zoo.json").read_text()))
    pd.testing.assert_frame_equal(fresh, stored)
    pd.testing.assert_frame_equal(zoo.catalog, stored)


def test_weights_equal_the_slice_of_stacked(zoo: Zoo) -> None:
    for epoch in EPOCHS:
        stacked = zoo.stacked(epoch)
        ids = zoo.models()
        for pos, mid in enumerate(ids):
            w = zoo.weights(mid, epoch)
            assert list(w) == list(stacked)
            for k in w:
                assert stacked[k].shape[0] == len(ids)
                assert torch.equal(w[k], stacked[k][pos]), (mid, epoch, k)


def test_weights_have_the_model_shapes_and_last_is_default(zoo: Zoo) -> None:
    w = zoo.weights("m00003")
    assert {k: tuple(v.shape) for k, v in w.items()} == {
        "fc1.weight": (8, 40),
        "fc1.bias": (8,),
        "fc2.weight": (10, 8),
        "fc2.bias": (10,),
    }
    last = zoo.weights("m00003", LAST)
    for k in w:
        assert torch.equal(w[k], last[k])
    # Training moved the weights.
    assert not torch.equal(zoo.weights("m00003", 0)["fc1.weight"], last["fc1.weight"])


def test_weights_are_copies(zoo: Zoo) -> None:
    w = zoo.weights("m00000", 1)
    w["fc1.weight"].zero_()
    assert zoo.weights("m00000", 1)["fc1.weight"].abs().sum() > 0


def test_unknown_model_or_epoch_is_a_format_error(zoo: Zoo) -> None:
    from weightzoo.errors import ZooFormatError

    with pytest.raises(ZooFormatError, match="m99999"):
        zoo.weights("m99999", 0)
    with pytest.raises(ZooFormatError, match="epoch 7"):
        zoo.weights("m00000", 7)


def _models_differ(zoo: Zoo, ids: list[str]) -> None:
    flat = [torch.cat([v.flatten() for v in zoo.weights(m, LAST).values()]) for m in ids]
    for i in range(len(flat)):
        for j in range(i + 1, len(flat)):
            assert not torch.equal(flat[i], flat[j]), (ids[i], ids[j])


@pytest.mark.parametrize(
    "ids",
    [
        ["m00007", "m00006", "m00005", "m00004", "m00003", "m00002", "m00001", "m00000"],
        ["m00005", "m00002", "m00000", "m00007"],  # across shards, interleaved
        ["m00005", "m00001"],  # one shard, reversed indices 3, 1
        ["m00000", "m00001", "m00004", "m00005"],  # a whole shard in stored order
        ["m00006"],
    ],
)
def test_stacked_returns_rows_in_requested_order(zoo: Zoo, ids: list[str]) -> None:
    _models_differ(zoo, ids)
    stacked = zoo.stacked(LAST, ids)
    for pos, mid in enumerate(ids):
        w = zoo.weights(mid, LAST)
        for k, v in w.items():
            assert stacked[k].shape == (len(ids), *v.shape)
            assert torch.equal(stacked[k][pos], v), (mid, k)


def test_stacked_default_is_every_model_sorted(zoo: Zoo) -> None:
    default = zoo.stacked(1)
    explicit = zoo.stacked(1, zoo.models())
    assert list(default) == list(explicit)
    for k in default:
        assert torch.equal(default[k], explicit[k])


@pytest.mark.parametrize("mid", ["m00000", "m00002"])  # tanh shard, relu shard
def test_load_model_runs_the_stored_weights(zoo: Zoo, mid: str) -> None:
    model = zoo.load_model(mid, 1)
    assert not model.training
    w = zoo.weights(mid, 1)
    x = torch.randn(6, 1, 40, generator=torch.Generator().manual_seed(0))
    act = torch.tanh if zoo.manifest["models"][mid]["activation"] == "tanh" else torch.relu
    expected = (
        act(x.flatten(1) @ w["fc1.weight"].T + w["fc1.bias"]) @ w["fc2.weight"].T + w["fc2.bias"]
    )
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected)
        rebuilt = build_model(zoo.spec(mid))
        rebuilt.load_state_dict(w)
        assert torch.equal(rebuilt.eval()(x), model(x))


def test_catalog_test_accuracy_matches_the_stored_models(zoo: Zoo, tiny_config: ZooConfig) -> None:
    data = load_config_data(tiny_config)
    cat = zoo.catalog.set_index(["model_id", "epoch"])
    for mid in ("m00001", "m00006"):
        for epoch in (0, LAST):
            with torch.no_grad():
                logits = zoo.load_model(mid, epoch)(data.x_test)
            acc = (logits.argmax(1) == data.y_test).float().mean().item()
            loss = torch.nn.functional.cross_entropy(logits, data.y_test).item()
            assert cat.loc[(mid, epoch), "test_acc"] == pytest.approx(acc, abs=1e-6)
            assert cat.loc[(mid, epoch), "test_loss"] == pytest.approx(loss, rel=1e-4)


@pytest.fixture(scope="module")
def seed_zoo(tmp_path_factory: pytest.TempPathFactory) -> Zoo:
    """Two shards: 12 tanh MLPs (s0000) and 12 relu MLPs (s0001), ids interleaved."""
    from weightzoo import build_zoo
    from weightzoo.config import ZooConfig, parse_config

    raw = {
        "data": {"name": "mnist1d", "num_samples": 200},
        "arch": {"family": "mlp", "widths": [4]},
        "space": {"seed": list(range(12)), "activation": ["tanh", "relu"]},
        "epochs": 1,
    }
    return build_zoo(parse_config(ZooConfig, raw), tmp_path_factory.mktemp("seeds") / "zoo")


@pytest.mark.parametrize(
    "pick",
    [
        list(range(0, 24, 2)),  # one whole shard in stored order: direct reads into the output
        list(range(24)),  # both shards interleaved: range read + index_copy
        [22, 0, 2, 4, 6, 8, 10, 20, 18],  # reordered, dense within a shard
        [5, 23],  # a few models far apart in their shards: row reads
        [3, 3, 1],  # duplicates
    ],
)
def test_stacked_equals_stacking_each_models_weights(seed_zoo: Zoo, pick: list[int]) -> None:
    from safetensors.torch import load_file

    ids = [f"m{i:05d}" for i in pick]
    got = seed_zoo.stacked(1, ids)
    files = {s: load_file(seed_zoo.root / f"shards/{s}/epoch_0001.safetensors") for s in ("s0000", "s0001")}  # fmt: skip
    info = [seed_zoo.manifest["models"][m] for m in ids]
    for name, tensor in got.items():
        want = torch.stack([files[i["shard"]][name][i["index"]] for i in info])
        assert torch.equal(tensor, want), name
