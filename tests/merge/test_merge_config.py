"""mergekit YAML: schema, parameter evaluation (gradients, filters), rejected keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from weightzoo.errors import ConfigError
from weightzoo.merge import load_merge_config, parse_merge_config
from weightzoo.merge._plan import build_plan
from weightzoo.merge.config import ConditionalParameter, evaluate_setting


def _cfg(**kw) -> dict:
    return {"models": [{"model": "a"}], "merge_method": "linear", **kw}


def test_gradient_interpolates_over_depth() -> None:
    grad = [0.0, 1.0, 0.5]
    assert evaluate_setting("x", grad, 0.0) == 0.0
    assert evaluate_setting("x", grad, 0.25) == pytest.approx(0.5)
    assert evaluate_setting("x", grad, 0.75) == pytest.approx(0.75)
    assert evaluate_setting("x", grad, 1.0) == 0.5
    assert evaluate_setting("x", ["a", "b"], 0.9) == "a"  # non-numeric lists pick, not mix


def test_filters_match_substrings_first_wins() -> None:
    conds = [
        ConditionalParameter(filter="self_attn", value=[0.0, 1.0]),
        ConditionalParameter(filter="mlp", value=0.2),
        ConditionalParameter(value=0.5),
    ]
    assert evaluate_setting("model.layers.0.self_attn.q_proj.weight", conds, 0.5) == 0.5
    assert evaluate_setting("model.layers.1.self_attn.q_proj.weight", conds, 1.0) == 1.0
    assert evaluate_setting("model.layers.1.mlp.up_proj.weight", conds, 1.0) == 0.2
    assert evaluate_setting("lm_head.weight", conds, 0.0) == 0.5
    assert evaluate_setting("lm_head.weight", conds[:2], 0.0) is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_cfg(merge_methd="ties"), "merge_methd: unknown key"),
        (
            {"models": [{"model": "a", "paramters": {}}], "merge_method": "x"},
            "models.0.paramters: unknown key",
        ),
        ({"merge_method": "linear"}, "exactly one of 'models' or 'slices'"),
        (_cfg(dtype="f17"), "dtype: unknown dtype 'f17'"),
        (_cfg(modules={"a": {}}), "modules: mergekit key not supported"),
        (_cfg(tokenizer_source="union"), "tokenizer_source: 'union'"),
        (_cfg(parameters={"weight": {"valu": 1}}), "parameters.weight.valu: unknown key"),
        (
            {
                "slices": [{"sources": [{"model": "a", "layer_range": [2, 1]}]}],
                "merge_method": "passthrough",
            },
            "layer_range",
        ),
        (
            {
                "slices": [
                    {
                        "sources": [
                            {"model": "a", "layer_range": [0, 2]},
                            {"model": "b", "layer_range": [0, 1]},
                        ]
                    }
                ],
                "merge_method": "slerp",
            },
            "as many layers",
        ),
    ],
)
def test_bad_configs_name_the_key(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_merge_config(data)


def test_yaml_round_trip(tmp_path: Path) -> None:
    text = """
models:
  - model: ft0
    parameters: {weight: 0.5, density: [{filter: mlp, value: 0.3}, {value: 0.9}]}
base_model: base
merge_method: ties
parameters: {normalize: true, t: [0, 1]}
dtype: bfloat16
"""
    (tmp_path / "c.yml").write_text(text)
    cfg = load_merge_config(tmp_path / "c.yml")
    again = parse_merge_config(__import__("yaml").safe_load(cfg.to_yaml()))
    assert again == cfg
    with pytest.raises(ConfigError, match="file not found"):
        load_merge_config(tmp_path / "missing.yml")
    (tmp_path / "bad.yml").write_text("models: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_merge_config(tmp_path / "bad.yml")


def test_plan_rejects_parameters_the_method_does_not_take(tiny_llamas: Path) -> None:
    def plan(data: dict):  # noqa: ANN202
        return build_plan(parse_merge_config(data), config_dir=tiny_llamas)

    models = [{"model": "ft0", "parameters": {"weight": 1.0}}]
    with pytest.raises(
        ConfigError, match="parameters.densty: not a parameter of merge method 'ties'"
    ):
        plan(
            {
                "models": models,
                "base_model": "base",
                "merge_method": "ties",
                "parameters": {"densty": 0.5},
            }
        )
    with pytest.raises(
        ConfigError, match="models.0.parameters.normalize: 'normalize' applies to the whole merge"
    ):
        plan(
            {
                "models": [{"model": "ft0", "parameters": {"weight": 1, "normalize": True}}],
                "base_model": "base",
                "merge_method": "ties",
            }
        )
    with pytest.raises(ConfigError, match="parameters.weight: required by merge method 'ties'"):
        plan({"models": [{"model": "ft0"}], "base_model": "base", "merge_method": "ties"})
    with pytest.raises(
        ConfigError, match="base_model: merge method 'task_arithmetic' needs a base model"
    ):
        plan({"models": models, "merge_method": "task_arithmetic"})
    with pytest.raises(ConfigError, match="unknown method 'tiez'"):
        plan({"models": models, "merge_method": "tiez"})
    with pytest.raises(ConfigError, match="model 'nowhere': not a local folder"):
        plan({"models": [{"model": "nowhere"}], "merge_method": "linear"})
    with pytest.raises(ConfigError, match="'fisher' needs data"):
        plan({"models": models, "merge_method": "fisher"})
