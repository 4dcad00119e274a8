"""``weightzoo encode`` and ``weightzoo predict train|eval|benchmark`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from weightzoo import Zoo
from weightzoo.cli import main
from weightzoo.encode import build_encoder
from weightzoo.predict._data import load_networks, select_rows


def test_encode_writes_one_embedding_per_checkpoint(tiny_zoo, tmp_path):
    out = tmp_path / "emb.parquet"
    assert main(["encode", str(tiny_zoo), "--encoder", "stats", "--out", str(out), "-q"]) == 0
    frame = pd.read_parquet(out)
    zoo = Zoo.open(tiny_zoo)
    assert len(frame) == len(zoo.catalog)
    assert list(frame.columns[:3]) == ["model_id", "epoch", "emb_0"]
    rows = select_rows(zoo, "all")
    nets = load_networks(zoo, rows)
    expected = build_encoder("stats").fit(nets).encode(nets)
    np.testing.assert_allclose(frame.filter(like="emb_").to_numpy(), expected, rtol=1e-6)


def test_train_then_eval(tiny_zoo, tmp_path, capsys):
    out = tmp_path / "pred"
    args = ["predict", "train", str(tiny_zoo), "--out", str(out), "--encoder", "flat"]
    args += ["--train-epochs", "2", "--fractions", "0.5,0.25,0.25", "-q"]
    assert main(args) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "test_acc" and config["protocol"] == "e2e"
    assert (out / "head.safetensors").is_file() and (out / "encoder" / "config.json").is_file()
    capsys.readouterr()
    preds = tmp_path / "p.csv"
    assert main(["predict", "eval", str(out), str(tiny_zoo), "--out", str(preds), "-q"]) == 0
    printed = capsys.readouterr().out
    tau = config["info"]["test_metrics"]["kendall_tau"]
    assert f"{tau:.4f}" in printed  # eval on the test split reproduces training's test score
    frame = pd.read_csv(preds)
    assert set(frame["model_id"]) == set(config["info"]["split"]["test"])


def test_benchmark_command(tiny_zoo, tmp_path):
    config = {
        "name": "cli",
        "setting": "in_distribution",
        "train_zoo": {"path": str(tiny_zoo)},
        "tasks": ["gen_gap"],
        "encoders": [{"encoder": "stats", "protocol": "linear"}],
        "seeds": [0],
        "fractions": [0.5, 0.25, 0.25],
    }
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "bench"
    assert main(["predict", "benchmark", str(path), "--out", str(out), "--threads", "1", "-q"]) == 0
    assert {p.name for p in out.iterdir()} >= {
        "results.csv",
        "results.md",
        "results.png",
        "config.yaml",
    }


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["predict", "train", "{zoo}", "--out", "{tmp}/x", "--protocol", "gbt"],
            2,
            "cannot be saved",
        ),
        (["predict", "train", "{zoo}", "--out", "{tmp}/x", "--task", "speed"], 2, "unknown task"),
        (
            ["encode", "{zoo}", "--encoder", "nope", "--out", "{tmp}/e.parquet"],
            1,
            "neither a saved",
        ),
        (["predict", "eval", "{tmp}", "{zoo}"], 1, "config.json"),
    ],
)
def test_errors_are_one_line(tiny_zoo, tmp_path, capsys, args, code, message):
    argv = [a.format(zoo=tiny_zoo, tmp=tmp_path) for a in args]
    assert main([*argv, "-q"]) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not Path(tmp_path / "x").exists()
