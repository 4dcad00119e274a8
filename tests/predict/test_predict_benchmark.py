"""Benchmarks: configs, files written, mean ± std recomputed from the per-seed CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from weightzoo import Zoo
from weightzoo.errors import ConfigError
from weightzoo.predict.benchmark import (
    benchmark_config_from_dict,
    load_benchmark_config,
    run_benchmark,
)
from weightzoo.predict.splits import split_by_model

CONFIGS = Path(__file__).resolve().parents[2] / "examples" / "configs"


def _config(tiny_zoo: Path, **changes) -> dict:
    raw = {
        "name": "t",
        "setting": "in_distribution",
        "train_zoo": {"path": str(tiny_zoo)},
        "tasks": ["test_acc", "activation"],
        "encoders": [
            {"encoder": "stats", "protocol": "linear"},
            {"encoder": "stats_roles", "protocol": "gbt", "params": {}},
        ],
        "seeds": [0, 1],
        "fractions": [0.5, 0.25, 0.25],
    }
    raw.update(changes)
    return raw


def test_in_distribution_writes_every_file(tiny_zoo, tmp_path):
    config = benchmark_config_from_dict(_config(tiny_zoo))
    result = run_benchmark(config, tmp_path / "out")
    frame = pd.read_csv(result.files["csv"])
    catalog = Zoo.open(tiny_zoo).catalog
    # Per run and seed: tau and R² of test_acc, and the accuracy of activation
    # unless the seed's training models all share one activation (then skipped).
    both = [
        catalog[
            catalog["model_id"].isin(
                split_by_model(catalog, fractions=(0.5, 0.25, 0.25), seed=s).train
            )
        ]["activation"].nunique()
        == 2
        for s in (0, 1)
    ]
    assert len(frame) == 2 * sum(3 if b else 2 for b in both)
    assert all(both) or any("activation: skipped" in n for n in result.notes)
    assert set(frame["test_models"]) == {2} and set(frame["train_models"]) == {4}
    for (run, task, metric), group in frame.groupby(["run", "task", "metric"]):
        row = result.summary[
            (result.summary["run"] == run)
            & (result.summary["task"] == task)
            & (result.summary["metric"] == metric)
        ].iloc[0]
        values = group["value"].dropna().to_numpy()
        assert row["mean"] == pytest.approx(values.mean())
        std = np.std(values, ddof=1) if len(values) > 1 else np.nan
        assert row["std"] == pytest.approx(std, nan_ok=True)
        assert row["n_seeds"] == len(values)
    text = result.files["markdown"].read_text()
    assert "| `stats+linear` |" in text and "test_acc (τ)" in text and "activation (acc)" in text
    assert result.files["plot"].stat().st_size > 1000
    saved = yaml.safe_load(result.files["config"].read_text())
    assert benchmark_config_from_dict(saved) == config


def test_cross_dataset_tests_on_every_model_of_zoo_b(tiny_zoo, tmp_path):
    raw = _config(
        tiny_zoo,
        setting="cross_dataset",
        test_zoo={"path": str(tiny_zoo)},
        tasks=["gen_gap"],
        seeds=[0],
        val_fraction=0.25,
    )
    raw.pop("fractions")
    result = run_benchmark(benchmark_config_from_dict(raw), tmp_path / "x")
    assert set(result.frame["test_models"]) == {8} and set(result.frame["train_models"]) == {6}


def test_single_architecture_encoders_are_refused_across_architectures(tiny_zoo, tmp_path):
    raw = _config(
        tiny_zoo,
        setting="cross_architecture",
        test_zoo={"path": str(tiny_zoo)},
        encoders=[{"encoder": "stats", "protocol": "gbt"}],
    )
    raw.pop("fractions")
    with pytest.raises(ConfigError, match="takes one architecture only"):
        run_benchmark(benchmark_config_from_dict(raw), tmp_path / "y")


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("predict_[!z]*.yaml")), ids=lambda p: p.stem)
def test_example_benchmark_configs_load(path):
    config = load_benchmark_config(path)
    quick = load_benchmark_config(path, quick=True)
    assert len(config.seeds) == 3 and quick.seeds == [0]
    assert Path(config.train_zoo.config).is_file()
    assert quick.train_zoo.overrides["epochs"] == 3
    if config.setting == "cross_architecture":
        assert {r.encoder for r in config.encoders} <= {"sne", "stats_roles"}


def test_bad_benchmark_configs(tmp_path, tiny_zoo):
    with pytest.raises(ConfigError, match="test_zoo"):
        benchmark_config_from_dict(_config(tiny_zoo, setting="cross_dataset"))
    with pytest.raises(ConfigError, match="unknown task 'speed'"):
        benchmark_config_from_dict(_config(tiny_zoo, tasks=["speed"]))
    path = tmp_path / "b.yaml"
    path.write_text(yaml.safe_dump(_config(tiny_zoo)))
    with pytest.raises(ConfigError, match="not an index"):
        load_benchmark_config(path, ["encoders.5.protocol=gbt"])
    assert (
        load_benchmark_config(path, ["encoders.1.protocol=linear"]).encoders[1].protocol == "linear"
    )
