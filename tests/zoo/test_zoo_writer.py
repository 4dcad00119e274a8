"""write_zoo: a complete, verifiable zoo from weights in memory, written atomically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import weightzoo.zoo.writer as writer_module
from weightzoo.arch import ArchSpec, build_model
from weightzoo.errors import ZooExistsError, ZooFormatError
from weightzoo.zoo import Zoo, verify_zoo
from weightzoo.zoo.writer import ModelCheckpoints, ZooShard, group_models, write_zoo

SPEC = ArchSpec("mlp", (1, 6), num_classes=3, widths=(5,))


def _weights(gen: torch.Generator, m: int) -> dict[str, torch.Tensor]:
    return {
        k: torch.randn(m, *v.shape, generator=gen)
        for k, v in build_model(SPEC).state_dict().items()
    }


def _shards() -> list[ZooShard]:
    gen = torch.Generator().manual_seed(0)
    a = ZooShard(
        spec=SPEC,
        model_ids=["a0", "a1"],
        hyperparameters=[{"lr": 0.1, "dropout": 0.0}, {"lr": 0.2, "dropout": 0.5}],
        weights={0: _weights(gen, 2), 3: _weights(gen, 2)},
        metrics={3: [{"test_acc": 0.5, "train_acc": 0.75}, {"test_acc": 0.25}]},
    )
    b = ZooShard(
        spec=SPEC.replace(activation="relu"),
        model_ids=["b0"],
        hyperparameters=[{"lr": 0.3}],
        weights={3: _weights(gen, 1)},
    )
    return [a, b]


def test_written_zoo_reads_back_exactly_and_verifies(tmp_path: Path) -> None:
    shards = _shards()
    zoo = write_zoo(tmp_path / "z", shards, name="gen", dataset={"name": "toy"},
                    provenance={"method": "unit-test", "n": 3})  # fmt: skip
    assert verify_zoo(zoo.root).ok
    assert zoo.models() == ["a0", "a1", "b0"]
    for shard in shards:
        for epoch, stacked in shard.weights.items():
            for i, mid in enumerate(shard.model_ids):
                got = zoo.weights(mid, epoch)
                assert all(torch.equal(got[k], stacked[k][i]) for k in stacked)
            assert all(
                torch.equal(zoo.stacked(epoch, shard.model_ids)[k], v) for k, v in stacked.items()
            )
    cat = zoo.catalog.set_index(["model_id", "epoch"])
    assert cat.loc[("a0", 3), "gen_gap"] == pytest.approx(0.25)
    assert (
        cat.loc[("a1", 3), "lr"] == 0.2
        and cat.loc[("a1", 0), "test_acc"] != cat.loc[("a1", 0), "test_acc"]
    )
    manifest = json.loads((zoo.root / "zoo.json").read_text())
    assert manifest["provenance"] == {"method": "unit-test", "n": 3}
    assert manifest["checkpoint_epochs"] == [3] and manifest["epochs_present"] == [0, 3]
    assert zoo.spec("a1").dropout == 0.5 and zoo.spec("b0").activation == "relu"
    x = torch.randn(2, 1, 6)
    model = build_model(SPEC.replace(dropout=0.5))
    model.load_state_dict({k: v[1] for k, v in shards[0].weights[3].items()})
    with torch.no_grad():
        assert torch.equal(zoo.load_model("a1", 3)(x), model.eval()(x))


def test_refuses_to_overwrite_unless_asked_and_never_a_non_zoo(tmp_path: Path) -> None:
    write_zoo(tmp_path / "z", _shards(), name="first")
    with pytest.raises(ZooExistsError, match="--overwrite"):
        write_zoo(tmp_path / "z", _shards(), name="second")
    assert Zoo.open(tmp_path / "z").name == "first"
    assert write_zoo(tmp_path / "z", _shards(), name="second", overwrite=True).name == "second"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ZooExistsError, match="never deleted"):
        write_zoo(tmp_path / "other", _shards(), name="x", overwrite=True)
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "z"]


def test_an_interrupted_write_leaves_no_half_zoo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_zoo(tmp_path / "z", _shards(), name="old")
    calls = []

    def failing(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    real = writer_module.write_epoch
    monkeypatch.setattr(writer_module, "write_epoch", failing)
    for target, overwrite in ((tmp_path / "new", False), (tmp_path / "z", True)):
        calls.clear()
        with pytest.raises(KeyboardInterrupt):
            write_zoo(target, _shards(), name="new", overwrite=overwrite)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["z"]  # no temp folder, no "new"
    assert Zoo.open(tmp_path / "z").name == "old" and verify_zoo(tmp_path / "z").ok


def test_bad_input_names_the_problem(tmp_path: Path) -> None:
    good = _shards()
    bad = ZooShard(SPEC, ["a0"], [{}], {0: _weights(torch.Generator(), 1)})
    with pytest.raises(ZooFormatError, match="'a0' appears twice"):
        write_zoo(tmp_path / "z", [good[0], bad], name="x")
    wrong = ZooShard(
        SPEC,
        ["c"],
        [{}],
        {0: {**_weights(torch.Generator(), 1), "fc1.weight": torch.zeros(1, 4, 6)}},
    )
    with pytest.raises(
        ZooFormatError, match=r"fc1.weight has shape \(1, 4, 6\), expected \(1, 5, 6\)"
    ):
        write_zoo(tmp_path / "z", [wrong], name="x")
    with pytest.raises(ZooFormatError, match="invalid model name"):
        write_zoo(
            tmp_path / "z",
            [ZooShard(SPEC, ["../up"], [{}], {0: _weights(torch.Generator(), 1)})],
            name="x",
        )
    nan_hp = ZooShard(SPEC, ["d"], [{"lr": float("nan")}], {0: _weights(torch.Generator(), 1)})
    with pytest.raises(ZooFormatError, match="model d: hyperparameters are not plain JSON"):
        write_zoo(tmp_path / "z", [nan_hp], name="x")
    assert not (tmp_path / "z").exists() and list(tmp_path.iterdir()) == []


def test_group_models_splits_by_architecture_and_epochs() -> None:
    gen = torch.Generator().manual_seed(1)

    def one(mid: str, spec: ArchSpec, epochs: tuple[int, ...]) -> ModelCheckpoints:
        return ModelCheckpoints(
            mid,
            spec,
            {"dropout": spec.dropout},
            {e: {k: v[0] for k, v in _weights(gen, 1).items()} for e in epochs},
        )

    models = [one("m0", SPEC, (0, 1)), one("m1", SPEC.replace(dropout=0.3), (0, 1)),
              one("m2", SPEC, (0,)), one("m3", SPEC.replace(activation="relu"), (0, 1)),
              one("m4", SPEC, (0, 1))]  # fmt: skip
    shards = group_models(models, max_per_shard=2)
    assert [s.model_ids for s in shards] == [["m0", "m1"], ["m4"], ["m2"], ["m3"]]
    assert torch.equal(shards[0].weights[1]["fc1.bias"][1], models[1].weights[1]["fc1.bias"])
