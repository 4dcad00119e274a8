"""The Model-GLUE recipe end to end: two families of fine-tunes, two clusters, a routed mixture."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from weightzoo.merge.finetune_zoo import (
    FinetuneZooConfig,
    build_finetune_zoo,
    evaluate_accuracy,
    weights_predictor,
)
from weightzoo.merge.glue.config import GlueConfig
from weightzoo.merge.glue.recipe import run_glue

SMALL = {"num_samples": 1000, "pretrain_epochs": 5, "finetune_epochs": 3, "finetune_lr": 3e-3}


@pytest.fixture(scope="module")
def families():
    """Fine-tunes of two bases pre-trained from different initializations (seeds 0 and 1)."""
    a = build_finetune_zoo(FinetuneZooConfig(tasks=["shifted", "reversed"], seed=0, **SMALL))
    b = build_finetune_zoo(FinetuneZooConfig(tasks=["negated", "smoothed"], seed=1, **SMALL))
    models = {f"a_{t}": (a.spec, w) for t, w in a.finetunes.items()}
    models |= {f"b_{t}": (b.spec, w) for t, w in b.finetunes.items()}
    tasks = {**a.tasks, **b.tasks}
    return a, b, models, tasks


def _config(**over) -> GlueConfig:
    raw = {
        "models": ["a_shifted", "a_reversed", "b_negated", "b_smoothed"],
        "eval": {"domains": ["shifted", "reversed", "negated", "smoothed"], "num_samples": 1000},
        "cluster": {"threshold": 0.5},
        "merge": {"grid": [0.3, 0.5, 0.7]},
        **over,
    }
    return GlueConfig.model_validate(raw)


def test_recipe_clusters_by_family_and_routes(families) -> None:
    a, b, models, tasks = families
    expert = {n: [n.split("_", 1)[1]] for n in models}
    result = run_glue(models, tasks, config=_config(), expert_tasks=expert)
    assert [c.members for c in result.clusters] == [
        ["a_shifted", "a_reversed"],
        ["b_negated", "b_smoothed"],
    ]
    names, sim = result.similarity
    # Fine-tunes of one base are alike; of different bases, unrelated.
    assert sim[0, 1] > 0.5 and abs(sim[0, 2]) < 0.5
    for c in result.clusters:
        # Linear merges: the cluster's model is the coefficient-weighted sum of the kept members.
        assert sum(c.merge.coefficients.values()) == pytest.approx(1.0)
        for k, v in c.merge.weights.items():
            expected = sum(c.merge.coefficients[m] * models[m][1][k] for m in c.merge.members)
            torch.testing.assert_close(v, expected)
        assert c.test_acc == evaluate_accuracy(weights_predictor(c.spec, c.merge.weights), tasks)
    mix = result.mixture
    assert mix is not None and result.gate_init is not None
    # Independent check of the final accuracy: route, then take the routed expert's prediction.
    experts = [weights_predictor(c.spec, c.merge.weights) for c in result.clusters]
    with torch.no_grad():
        for name, task in tasks.items():
            chosen = mix.route(task.x_test)
            preds = torch.stack([e(task.x_test).argmax(1) for e in experts])
            pred = preds.gather(0, chosen[None])[0]
            acc = float((pred == task.y_test).float().mean())
            assert result.final_test[name] == pytest.approx(acc)
    kept_tasks = {t for c in result.clusters for t in c.tasks}
    assert set(result.routing) == kept_tasks and kept_tasks
    # The two families see different domains: hidden-state gates route most inputs right.
    assert sum(result.routing.values()) / len(result.routing) > 0.6


def test_cli_glue_writes_every_step(families, tmp_path: Path) -> None:
    from weightzoo.cli import main

    a, b, _, _ = families
    a.save(tmp_path / "a")
    b.save(tmp_path / "b")
    cfg = {
        "models": [
            str(tmp_path / "a" / "shifted"),
            str(tmp_path / "a" / "reversed"),
            str(tmp_path / "b" / "negated"),
        ],
        "eval": {"domains": ["shifted", "reversed", "negated"], "num_samples": 1000},
        "cluster": {"threshold": 0.5},
        "merge": {"coefficient_search": False},
        "mixture": {"train_epochs": 1, "train_examples": 300},
    }
    path = tmp_path / "glue.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    assert main(["merge", "glue", str(path), "--out", str(out), "--quiet"]) == 0
    for f in (
        "config.yaml",
        "report.md",
        "result.json",
        "cluster_1/model.safetensors",
        "cluster_2/config.json",
        "mixture/gate.safetensors",
        "mixture/mixture.json",
    ):
        assert (out / f).is_file(), f
    import json

    res = json.loads((out / "result.json").read_text())
    assert [c["members"] for c in res["clusters"]] == [["shifted", "reversed"], ["negated"]]
    assert res["clusters"][1]["expert_tasks"] == ["negated"]
    assert len(res["mixture"]["router_losses"]) == 1
    assert "Selective merging" in (out / "report.md").read_text()
    # Nothing is overwritten: a second run into the same folder is refused.
    assert main(["merge", "glue", str(path), "--out", str(out), "--quiet"]) == 1


def test_bad_glue_configs(tmp_path: Path) -> None:
    from weightzoo.cli import main
    from weightzoo.config import parse_config
    from weightzoo.errors import ConfigError

    with pytest.raises(ConfigError, match="base_model"):
        parse_config(
            GlueConfig,
            {"models": ["x"], "eval": {"domains": ["clean"]}, "merge": {"method": "ties"}},
        )
    with pytest.raises(ConfigError, match="domain"):
        parse_config(GlueConfig, {"models": ["x"], "eval": {"domains": ["sideways"]}})
    path = tmp_path / "g.yaml"
    path.write_text(
        yaml.safe_dump({"models": [str(tmp_path / "missing")], "eval": {"domains": ["clean"]}})
    )
    assert main(["merge", "glue", str(path), "--out", str(tmp_path / "o")]) == 1
    assert not (tmp_path / "o").exists()


def test_example_config_is_valid() -> None:
    from weightzoo.config import load_yaml_config

    path = Path(__file__).parents[2] / "examples" / "configs" / "merge_glue.yaml"
    cfg = load_yaml_config(path, ["cluster.similarity=task_vector"], model=GlueConfig)
    assert len(cfg.models) == 4 and cfg.base_model == "finetunes/base"
    assert cfg.cluster.similarity == "task_vector" and cfg.cluster.threshold == 0.95
