"""The model-selection benchmark end to end on a tiny zoo, its config, and the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from select_zoo_helpers import TINY_GROUND_TRUTH, tiny_zoo, tiny_zoo_config

from weightzoo.cli import main
from weightzoo.config import parse_config
from weightzoo.errors import ConfigError
from weightzoo.select.benchmark import BenchmarkConfig, run_benchmark
from weightzoo.select.groundtruth import ground_truth_matrix, load_ground_truth
from weightzoo.select.ranking import weighted_tau
from weightzoo.select.scores import logme

SCORES = ("logme", "leep", "nce")


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    zoo = tiny_zoo()
    config = parse_config(BenchmarkConfig, {
        "cache": str(zoo.root.parent), "out": str(tmp_path_factory.mktemp("bench")),
        "scores": list(SCORES), "spider": {"steps": 10, "tasks_per_step": 2, "top_k": 2},
        "ood": {"n_per_domain": 20, "n_test": 40, "top_k": 2},
        "ground_truth": TINY_GROUND_TRUTH.model_dump(mode="json"),
        "candidate_zoo": tiny_zoo_config().model_dump(mode="json"),
    })  # fmt: skip
    # The custom zoo lives in cache/custom: point it at the shared tiny zoo.
    custom = zoo.root.parent / "custom"
    if not custom.exists():
        custom.symlink_to(zoo.root, target_is_directory=True)
    return config, run_benchmark(config)


@pytest.mark.slow
def test_benchmark_tables_match_an_independent_recomputation(result) -> None:
    config, res = result
    zoo = tiny_zoo()
    methods = {*SCORES, "model_spider", "model_spider+rerank"}
    assert set(res.per_target["method"]) == methods
    assert len(res.per_target) == len(methods) * len(zoo.target_names)
    assert res.per_target["weighted_tau"].between(-1, 1).all()
    assert (res.per_target["speedup"] > 0).all()

    # LogME's weighted tau on one target, recomputed from scratch.
    target = zoo.target_names[0]
    data = zoo.target_data(target)
    scores = [logme(zoo.extractor(n).extract(data.x_train).features, data.y_train.numpy())
              for n in zoo.names]  # fmt: skip
    table, _ = load_ground_truth(zoo.root)
    truth = ground_truth_matrix(table).loc[target, zoo.names].to_numpy()
    row = res.per_target[
        (res.per_target["target"] == target) & (res.per_target["method"] == "logme")
    ]
    assert row["weighted_tau"].item() == pytest.approx(weighted_tau(truth, np.array(scores)))

    mean = res.per_target.groupby("method")["weighted_tau"].mean()
    for _, r in res.summary.iterrows():
        assert r["weighted_tau"] == pytest.approx(mean[r["method"]])
    ood = res.ood.set_index("entry")
    assert {"zood", "best single model (oracle)", "zood ensemble (top-2)"} <= set(ood.index)
    assert (
        ood.loc["best single model (oracle)", "ood_accuracy"]
        >= ood.loc["zood top-1 model", "ood_accuracy"]
    )

    out = res.out
    for name in ("per_target.csv", "summary.csv", "ood.csv", "benchmark.md", "benchmark.png"):
        assert (out / name).stat().st_size > 0
    assert "## Mean over targets" in (out / "benchmark.md").read_text()
    again = parse_config(BenchmarkConfig, yaml.safe_load((out / "config.yaml").read_text()))
    assert again == config


def test_config_rejects_unknown_scores_and_fields() -> None:
    from pathlib import Path

    from weightzoo.config import load_yaml_config

    example = Path(__file__).parents[2] / "examples" / "configs" / "select_benchmark.yaml"
    loaded = load_yaml_config(example, ["spider.steps=7"], model=BenchmarkConfig)
    assert loaded.spider.steps == 7 and loaded.scores == BenchmarkConfig().scores
    with pytest.raises(ConfigError, match="unknown score"):
        parse_config(BenchmarkConfig, {"scores": ["logme", "magic"]})
    with pytest.raises(ConfigError, match="spider"):
        parse_config(BenchmarkConfig, {"spider": {"depth": 3}})


@pytest.mark.slow
def test_cli_rank_lists_every_model_and_names_bad_input(capsys) -> None:
    zoo = tiny_zoo()
    assert main(["select", "rank", "--zoo", str(zoo.root), "--target", "digits-5to9", "-q"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in zoo.names)
    assert main(["select", "rank", "--zoo", str(zoo.root), "--target", "mnist1d",
                 "--num-samples", "200", "-q"]) == 1  # fmt: skip
    assert "(1, 40) do not fit" in capsys.readouterr().err
    assert main(["select", "rank", "--zoo", str(zoo.root.parent), "--target", "digits28"]) == 1


@pytest.mark.slow
def test_demo_section_and_rank_on_a_weightzoo_zoo(tiny_zoo, tmp_path, capsys) -> None:
    from weightzoo.select.demo_section import run_demo_section
    from weightzoo.select.scores import SCORES as REGISTRY
    from weightzoo.zoo import Zoo

    zoo = Zoo.open(tiny_zoo)
    section = run_demo_section(zoo, tmp_path, quick=True)
    assert all(f"| {name} |" in section.markdown for name in REGISTRY)
    assert section.figures[0].is_file()
    per_target = pd.read_csv(tmp_path / "select_per_target.csv")
    assert len(per_target) == 2 * len(REGISTRY)
    assert per_target["weighted_tau"].between(-1, 1).all()

    args = ["select", "rank", "--zoo", str(tiny_zoo), "--target", "mnist1d", "--num-samples", "400"]
    assert main([*args, "--classes", "0,1,2", "-q"]) == 0
    out = capsys.readouterr().out
    assert all(m in out for m in zoo.models())
