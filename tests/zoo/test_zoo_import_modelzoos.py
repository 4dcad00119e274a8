"""Importing Model Zoos' Ray Tune layout: mapping, alignment, and per-item skips."""

from __future__ import annotations

import gc
import json
import weakref
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from weightzoo.cli import main
from weightzoo.errors import ZooFormatError
from weightzoo.zoo import Zoo, verify_zoo
from weightzoo.zoo.importers import NothingImportedError, import_modelzoos


class Opaque:
    """A custom class: ``torch.load(weights_only=True)`` must refuse to rebuild it."""

    def __init__(self) -> None:
        self.payload = [1, 2, 3]


def _cnn_state(gen: torch.Generator, *, large: bool, dropout: bool) -> dict[str, torch.Tensor]:
    """A Model Zoos CNN state dict with its own ``module_list`` indices."""
    if large:  # CNN-l on 3x32x32: convs 16, 32, 15 (3x3), linear 60 -> 20 -> 10
        shapes = [(16, 3, 3, 3), (32, 16, 3, 3), (15, 32, 3, 3), (20, 60), (10, 20)]
        idx = [0, 4, 8, 13, 16] if dropout else [0, 3, 6, 10, 12]
    else:  # CNN-s on 1x28x28: convs 8 (5x5), 6 (5x5), 4 (2x2), linear 36 -> 20 -> 10
        shapes = [(8, 1, 5, 5), (6, 8, 5, 5), (4, 6, 2, 2), (20, 36), (10, 20)]
        idx = [0, 4, 8, 11, 14] if dropout else [0, 3, 6, 9, 11]
    sd = {}
    for i, shape in zip(idx, shapes, strict=True):
        sd[f"module_list.{i}.weight"] = torch.randn(shape, generator=gen) * 0.3
        sd[f"module_list.{i}.bias"] = torch.randn(shape[0], generator=gen) * 0.1
    return sd


def reference_forward(
    sd: dict[str, torch.Tensor], x: torch.Tensor, act, large: bool
) -> torch.Tensor:  # noqa: ANN001
    """The Model Zoos CNN written out with torch.nn.functional from the original keys."""
    idx = sorted({int(k.split(".")[1]) for k in sd})
    w = [(sd[f"module_list.{i}.weight"], sd[f"module_list.{i}.bias"]) for i in idx]
    h = act(F.max_pool2d(F.conv2d(x, *w[0]), 2))
    h = act(F.max_pool2d(F.conv2d(h, *w[1]), 2))
    h = F.conv2d(h, *w[2])
    h = act(F.max_pool2d(h, 2) if large else h).flatten(1)
    return F.linear(act(F.linear(h, *w[3])), *w[4])


def _module_order(key: str) -> tuple[int, bool]:
    _, index, what = key.split(".")
    return int(index), what == "bias"


def _trial(root: Path, exp: str, name: str, params: dict, results: list[str], ckpts: dict) -> Path:
    d = root / exp / name
    d.mkdir(parents=True)
    (d / "params.json").write_text(json.dumps(params))
    (d / "result.json").write_text("\n".join(results) + "\n")
    for epoch, obj in ckpts.items():
        c = d / f"checkpoint_{epoch:06d}"
        c.mkdir()
        if obj is not None:
            torch.save(obj, c / "checkpoints")
    return d


def _result(it: int, acc: float) -> str:
    return json.dumps(
        {"training_iteration": it, "train_loss": 2.0 - acc, "train_acc": acc + 0.01,
         "test_loss": 2.1 - acc, "test_acc": acc, "time_this_iter_s": 0.1}
    )  # fmt: skip


def _params(nlin: str, dropout: float, seed: int, **extra) -> dict:  # noqa: ANN003
    return {
        "model::type": "CNN", "model::channels_in": 1, "model::o_dim": 10,
        "model::nlin": nlin, "model::init_type": "kaiming_uniform", "model::dropout": dropout,
        "optim::optimizer": "adam", "optim::lr": 3e-4, "optim::wd": 1e-3, "seed": seed,
        "training::batchsize": 32, "dataset::dump": "/data/mnist/dataset.pt", **extra,
    }  # fmt: skip


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """Six trials: 3 good (one with dropout, one CNN-l), 3 with bad items."""
    root = tmp_path_factory.mktemp("mz") / "modelzoo"
    gen = torch.Generator().manual_seed(0)
    states = {}
    for name, kw in {
        "t0_plain": dict(large=False, dropout=False, nlin="tanh"),
        "t1_dropout": dict(large=False, dropout=True, nlin="leakyrelu"),
        "t2_large": dict(large=True, dropout=False, nlin="relu"),
    }.items():
        states[name] = {
            e: _cnn_state(gen, large=kw["large"], dropout=kw["dropout"]) for e in (0, 1, 2)
        }
        params = _params(kw["nlin"], 0.2 if kw["dropout"] else 0.0, len(states))
        if kw["large"]:
            params.update({"model::type": "CNN2", "model::channels_in": 3})
        results = [_result(e, 0.1 + 0.3 * e) for e in (0, 1, 2)]
        if name == "t1_dropout":
            results[1] = '{"training_iteration": 1, "train_loss": 1.0, "test_'  # truncated line
        _trial(root, "exp_a", name, params, results, states[name])
    # a truncated checkpoint file after the last epoch
    (root / "exp_a" / "t0_plain" / "checkpoint_000003").mkdir()
    whole = (root / "exp_a" / "t0_plain" / "checkpoint_000002" / "checkpoints").read_bytes()
    (root / "exp_a" / "t0_plain" / "checkpoint_000003" / "checkpoints").write_bytes(whole[:300])
    # missing checkpoint file at epoch 1 (folder present, file absent)
    st = {e: _cnn_state(gen, large=False, dropout=False) for e in (0, 2)}
    states["t3_missing"] = st
    _trial(root, "exp_b", "t3_missing", _params("relu", 0.0, 7),
           [_result(e, 0.2) for e in (0, 1, 2)], {0: st[0], 1: None, 2: st[2]})  # fmt: skip
    # NaN weights at epoch 2: only that checkpoint goes
    st = {e: _cnn_state(gen, large=False, dropout=False) for e in (0, 1, 2)}
    st[2]["module_list.3.weight"][0, 0, 0, 0] = float("nan")
    states["t4_nan"] = st
    _trial(root, "exp_b", "t4_nan", _params("sigmoid", 0.0, 8),
           [_result(e, 0.2) for e in (0, 1, 2)], st)  # fmt: skip
    # a pickle that weights_only=True refuses, in every checkpoint: the model goes
    bad = {"module_list.0.weight": Opaque()}
    _trial(root, "exp_b", "t5_pickle", _params("relu", 0.0, 9), [_result(0, 0.1)], {0: bad, 1: bad})
    return root, states


@pytest.fixture(scope="module")
def imported(source: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    root, _ = source
    return import_modelzoos(root, tmp_path_factory.mktemp("out") / "zoo")


def test_import_skips_each_bad_item_with_its_reason(imported) -> None:  # noqa: ANN001
    assert imported.models == 5 and imported.checkpoints == 3 + 3 + 3 + 2 + 2
    bad_line = [s for s in imported.skipped if s.kind == "metrics"]
    assert len(bad_line) == 1 and bad_line[0].item.endswith("t1_dropout/result.json:2")
    assert "not a valid record" in bad_line[0].reason
    assert any("missing" in s.reason and "checkpoint_000001" in s.item for s in imported.skipped)
    assert any(
        "non-finite" in s.reason and "t4_nan/checkpoint_000002" in s.item for s in imported.skipped
    )
    refused = [s for s in imported.skipped if "weights_only=True" in s.reason]
    assert len(refused) == 2 and all("t5_pickle" in s.item for s in refused)
    assert "Unsupported global" in refused[0].reason and "Opaque" in refused[0].reason
    assert any(s.kind == "model" and s.item.endswith("t5_pickle") for s in imported.skipped)
    truncated = [s for s in imported.skipped if "t0_plain/checkpoint_000003" in s.item]
    assert len(truncated) == 1 and "unreadable torch file" in truncated[0].reason
    assert len(imported.skipped) == 7


def test_imported_models_run_like_the_original_state_dicts(imported, source) -> None:  # noqa: ANN001
    _, states = source
    zoo = imported.zoo
    assert verify_zoo(zoo.root).ok
    acts = {
        "tanh": torch.tanh,
        "leaky_relu": F.leaky_relu,
        "relu": F.relu,
        "sigmoid": torch.sigmoid,
    }
    by_trial = {zoo.manifest["models"][m]["trial"]: m for m in zoo.models()}
    assert sorted(by_trial) == ["t0_plain", "t1_dropout", "t2_large", "t3_missing", "t4_nan"]
    gen = torch.Generator().manual_seed(1)
    for trial, mid in by_trial.items():
        spec = zoo.spec(mid)
        large = trial == "t2_large"
        assert spec.family == ("cnn_l" if large else "cnn_s")
        assert spec.input_shape == ((3, 32, 32) if large else (1, 28, 28))
        x = torch.randn(2, *spec.input_shape, generator=gen)
        epochs = sorted(zoo.catalog.loc[zoo.catalog["model_id"] == mid, "epoch"])
        # one forward per model (the last epoch); every epoch's weights equal that run's mapping
        with torch.no_grad():
            got = zoo.load_model(mid, epochs[-1])(x)
            want = reference_forward(states[trial][epochs[-1]], x, acts[spec.activation], large)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
        for epoch in epochs:
            original = sorted(states[trial][epoch].items(), key=lambda kv: _module_order(kv[0]))
            imported_ = list(zoo.weights(mid, epoch).values())
            assert all(torch.equal(a, b) for (_, a), b in zip(original, imported_, strict=True))
    assert zoo.spec(by_trial["t1_dropout"]).dropout == pytest.approx(0.2)


def test_epochs_and_metrics_align_with_training_iteration(imported) -> None:  # noqa: ANN001
    zoo = imported.zoo
    cat = zoo.catalog.set_index(["model_id", "epoch"])
    by_trial = {zoo.manifest["models"][m]["trial"]: m for m in zoo.models()}
    plain = by_trial["t0_plain"]
    for e in (0, 1, 2):
        assert cat.loc[(plain, e), "test_acc"] == pytest.approx(0.1 + 0.3 * e)
        assert cat.loc[(plain, e), "train_loss"] == pytest.approx(2.0 - (0.1 + 0.3 * e))
    # the truncated line leaves epoch 1's metrics empty, weights still there
    assert (
        cat.loc[(by_trial["t1_dropout"], 1), "test_acc"]
        != cat.loc[(by_trial["t1_dropout"], 1), "test_acc"]
    )
    assert sorted(cat.loc[by_trial["t3_missing"]].index) == [0, 2]
    assert sorted(cat.loc[by_trial["t4_nan"]].index) == [0, 1]
    hp = zoo.manifest["models"][by_trial["t1_dropout"]]
    assert (hp["activation"], hp["optimizer"], hp["lr"], hp["weight_decay"], hp["init"]) == (
        "leaky_relu", "adam", 3e-4, 1e-3, "kaiming_uniform")  # fmt: skip
    assert zoo.manifest["provenance"]["format"] == "modelzoos"
    assert zoo.manifest["dataset"]["name"] == "dataset"


def test_cli_import_prints_summary_and_fails_when_nothing_imports(
    source, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # noqa: ANN001
    root, _ = source
    assert (
        main(
            [
                "zoo",
                "import",
                "--format",
                "modelzoos",
                str(root),
                "--out",
                str(tmp_path / "z"),
                "-q",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "5 models, 13 checkpoints" in out and "t5_pickle" in out and "non-finite" in out
    assert Zoo.open(tmp_path / "z").models()
    # the zoo exists now: a second import refuses, the first zoo is untouched
    assert (
        main(["zoo", "import", "-f", "modelzoos", str(root), "-o", str(tmp_path / "z"), "-q"]) == 1
    )
    assert "--overwrite" in capsys.readouterr().err
    assert verify_zoo(tmp_path / "z").ok
    only_bad = tmp_path / "bad"
    (only_bad / "e").mkdir(parents=True)
    (root / "exp_b" / "t5_pickle").rename(only_bad / "e" / "t5_pickle")
    try:
        rc = main(
            ["zoo", "import", "-f", "modelzoos", str(only_bad), "-o", str(tmp_path / "z2"), "-q"]
        )
        err = capsys.readouterr().err
        assert rc == 1 and "nothing could be imported" in err and "weights_only" in err
        assert not (tmp_path / "z2").exists()
    finally:
        (only_bad / "e" / "t5_pickle").rename(root / "exp_b" / "t5_pickle")


def test_nothing_importable_raises_with_report(tmp_path: Path) -> None:
    (tmp_path / "src" / "e" / "t").mkdir(parents=True)
    (tmp_path / "src" / "e" / "t" / "params.json").write_text("{not json")
    with pytest.raises(NothingImportedError) as info:
        import_modelzoos(tmp_path / "src", tmp_path / "out")
    assert "params.json is not readable JSON" in str(info.value)
    assert len(info.value.report.skipped) == 1 and not (tmp_path / "out").exists()


def _small_source(root: Path, trials: int, epochs: int) -> Path:
    gen = torch.Generator().manual_seed(3)
    for t in range(trials):
        states = {e: _cnn_state(gen, large=False, dropout=False) for e in range(epochs)}
        results = [_result(e, 0.1) for e in range(epochs)]
        _trial(root, "exp", f"t{t}", _params("relu", 0.0, t), results, states)
    return root


def _live_tensor_bytes(exclude: set[int]) -> int:
    """Bytes of the distinct storages of live tensors, leaving out those in ``exclude``."""
    seen: dict[int, int] = {}
    for obj in gc.get_objects():
        if issubclass(type(obj), torch.Tensor) and obj.device.type == "cpu":
            storage = obj.untyped_storage()
            if storage.data_ptr() not in exclude:
                seen[storage.data_ptr()] = storage.nbytes()
    return sum(seen.values())


def test_import_holds_one_shard_epoch_and_one_checkpoint_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """6 trials x 3 epochs, 2 models per shard: an import holding everything keeps 18
    checkpoints' tensors alive; a streaming one at most one epoch of one shard (2) plus one."""
    import weightzoo.zoo.writer as writer

    src = _small_source(tmp_path / "src", trials=6, epochs=3)
    ckpt_bytes = 4 * sum(v.numel() for v in _cnn_state(torch.Generator(), large=False,
                                                       dropout=False).values())  # fmt: skip
    gc.collect()
    baseline = {
        o.untyped_storage().data_ptr()
        for o in gc.get_objects()
        if issubclass(type(o), torch.Tensor)
    }
    loaded: list[list[weakref.ref]] = []
    peak_loaded = [0]
    real_load, real_write_epoch = torch.load, writer.write_epoch

    def counting_load(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        # a checkpoint counts as alive while any of its tensors is referenced
        alive = sum(any(r() is not None for r in refs) for refs in loaded)
        peak_loaded[0] = max(peak_loaded[0], alive + 1)
        state = real_load(*args, **kwargs)
        loaded.append([weakref.ref(v) for v in state.values()])
        return state

    peak_bytes = [0]

    def measuring_write_epoch(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        peak_bytes[0] = max(peak_bytes[0], _live_tensor_bytes(baseline))
        return real_write_epoch(*args, **kwargs)

    monkeypatch.setattr(torch, "load", counting_load)
    monkeypatch.setattr(writer, "write_epoch", measuring_write_epoch)
    report = import_modelzoos(src, tmp_path / "zoo", max_per_shard=2)

    assert 0 < peak_bytes[0] <= 3 * ckpt_bytes  # one epoch of a 2-model shard + one checkpoint
    assert peak_loaded[0] <= 2  # the one being loaded and, at most, the one before it
    # each checkpoint is read twice: validated, then loaded again when its epoch is written
    assert report.models == 6 and report.checkpoints == 18 and len(loaded) == 2 * 18
    assert verify_zoo(tmp_path / "zoo").ok


@pytest.mark.parametrize("change", ["rewritten", "removed"])
def test_checkpoint_changed_between_passes_fails_naming_it(tmp_path: Path, change: str) -> None:
    src = _small_source(tmp_path / "src", trials=2, epochs=2)
    victim = src / "exp" / "t1" / "checkpoint_000001" / "checkpoints"
    out = tmp_path / "out" / "zoo"

    def tamper(done: int, total: int) -> None:
        if done == 2 and total == 2:  # every trial validated, nothing written yet
            if change == "removed":
                victim.unlink()
            else:
                torch.save(_cnn_state(torch.Generator().manual_seed(9), large=False,
                                      dropout=False), victim)  # fmt: skip

    with pytest.raises(ZooFormatError, match="changed|disappeared") as info:
        import_modelzoos(src, out, progress=tamper)
    assert str(victim) in str(info.value)
    assert not out.exists() and list((tmp_path / "out").iterdir()) == []  # no temp folder left
