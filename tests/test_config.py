"""Zoo configs: YAML and overrides, one-line errors naming the field, sampling."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from weightzoo.arch import get_family
from weightzoo.config import Dist, ZooConfig, dump_yaml, load_yaml_config, parse_config
from weightzoo.errors import ConfigError
from weightzoo.train.space import FIELDS, plan_shards, sample_models

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "configs"


def _write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "zoo.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _cfg(**raw: Any) -> ZooConfig:
    return parse_config(ZooConfig, raw)


# -- loading and overrides --------------------------------------------------------


def test_yaml_and_overrides(tmp_path: Path, tiny_config_dict: dict) -> None:
    path = _write(tmp_path, tiny_config_dict)
    cfg = load_yaml_config(path)
    assert cfg.name == "t" and cfg.epochs == 2
    assert cfg.space.lr == [0.001, 0.003]
    assert cfg.arch.widths == [8]

    cfg = load_yaml_config(
        path,
        [
            "space.lr=[0.1,0.2]",
            "epochs=5",
            "space.dropout=0.25",
            "name=other",
            "data.val_fraction=0.2",
        ],
    )
    assert cfg.space.lr == [0.1, 0.2]
    assert cfg.epochs == 5 and isinstance(cfg.epochs, int)
    assert cfg.space.dropout == 0.25
    assert cfg.name == "other"
    assert cfg.data.val_fraction == 0.2
    # Untouched fields keep the file's values.
    assert cfg.space.activation == ["tanh", "relu"]
    assert cfg.data.num_samples == 400


def test_overrides_create_sections_and_need_key_value() -> None:
    cfg = load_yaml_config(None, ["arch.family=cnn1d", "space.seed=[3,4]"])
    assert cfg.arch.family == "cnn1d" and cfg.space.seed == [3, 4]
    with pytest.raises(ConfigError, match="key=value"):
        load_yaml_config(None, ["epochs"])
    with pytest.raises(ConfigError, match="epochs"):
        load_yaml_config(None, ["epochs=3", "epochs.x=1"])


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_yaml_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("space: [unclosed\n")
    with pytest.raises(ConfigError, match="YAML") as info:
        load_yaml_config(bad)
    assert "\n" not in str(info.value)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_yaml_config(bad)


def test_defaults_and_dump_round_trip(tmp_path: Path) -> None:
    cfg = load_yaml_config(None)
    assert cfg == ZooConfig()
    assert cfg.data.name == "mnist1d" and cfg.arch.family == "mlp" and cfg.sampling == "grid"
    path = tmp_path / "resolved.yaml"
    cfg = load_yaml_config(
        None, ["space.lr={log_uniform: [0.0001, 0.01]}", "sampling=random", "num_models=4"]
    )
    path.write_text(dump_yaml(cfg))
    assert load_yaml_config(path) == cfg


def test_configs_are_frozen() -> None:
    cfg = ZooConfig()
    with pytest.raises(Exception):  # noqa: B017  (pydantic's ValidationError)
        cfg.epochs = 3  # type: ignore[misc]


# -- errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("bogus=1", "bogus"),
        ("space.bogus=1", "space.bogus"),
        ("arch.depth=3", "arch.depth"),
        ("data.colour=red", "data.colour"),
    ],
)
def test_unknown_field_is_named_in_one_line(tmp_path: Path, override: str, field: str) -> None:
    path = _write(tmp_path, {"name": "t"})
    with pytest.raises(ConfigError) as info:
        load_yaml_config(path, [override])
    msg = str(info.value)
    assert f"'{field}'" in msg
    assert "\n" not in msg
    assert str(path) in msg  # says which file


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("space.lr=-1", ["lr", "positive"]),
        ("space.lr=[0.1,-0.2]", ["lr", "positive"]),
        ("space.init_std=0", ["init_std"]),
        ("space.activation=swish", ["activation", "swish"]),
        ("space.activation=[relu,swish]", ["activation", "swish"]),
        ("space.dropout=1.5", ["dropout"]),
        ("space.dropout=[0.0,1.0]", ["dropout"]),
        ("space.init=lecun", ["init", "lecun"]),
        ("space.optimizer=rmsprop", ["optimizer", "rmsprop"]),
        ("space.weight_decay=-0.1", ["weight_decay"]),
        ("space.batch_size=0", ["batch_size"]),
        ("space.lr=[]", ["lr"]),
        ("epochs=0", ["epochs"]),
        ("data.num_samples=5", ["num_samples"]),
        ("data.val_fraction=1.0", ["val_fraction"]),
        ("sampling=bayes", ["sampling"]),
        ("name=a/b", ["name"]),
        ("checkpoint_epochs=[0,50]", ["checkpoint_epochs"]),
        ("sampling=random", ["num_models"]),
    ],
)
def test_bad_value_names_the_field(override: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_yaml_config(None, [override])
    msg = str(info.value)
    for w in words:
        assert w in msg, msg
    assert "\n" not in msg


@pytest.mark.parametrize(
    "dist", [{"log_uniform": [0.01, 0.001]}, {"log_uniform": [0.0, 0.1]}, {"uniform": [1.0]}]
)
def test_bad_ranges_are_config_errors(dist: dict) -> None:
    with pytest.raises(ConfigError, match="lr"):
        parse_config(ZooConfig, {"space": {"lr": dist}, "sampling": "random", "num_models": 2})


# -- sampling ---------------------------------------------------------------------


def test_grid_is_the_product_of_list_lengths() -> None:
    cfg = _cfg(
        space={
            "lr": [0.1, 0.2, 0.3],
            "activation": ["tanh", "relu"],
            "init": ["normal", "uniform", "xavier_normal", "kaiming_normal"],
            "weight_decay": 0.01,
        }
    )
    models = sample_models(cfg)
    assert len(models) == 3 * 2 * 4
    combos = {(m["lr"], m["activation"], m["init"]) for m in models}
    assert len(combos) == 24
    assert all(set(m) == set(FIELDS) for m in models)
    assert all(m["weight_decay"] == 0.01 for m in models)
    # A scalar seed gives every model its own seed.
    assert sorted(m["seed"] for m in models) == list(range(24))
    assert all(isinstance(m["seed"], int) and isinstance(m["lr"], float) for m in models)


def test_grid_with_listed_seeds_repeats_them() -> None:
    models = sample_models(_cfg(space={"lr": [0.1, 0.2], "seed": [5, 6, 7]}))
    assert len(models) == 6
    assert sorted(m["seed"] for m in models) == [5, 5, 6, 6, 7, 7]


def test_grid_num_models_must_match() -> None:
    with pytest.raises(ConfigError, match="num_models"):
        sample_models(_cfg(space={"lr": [0.1, 0.2]}, num_models=3))
    assert len(sample_models(_cfg(space={"lr": [0.1, 0.2]}, num_models=2))) == 2


def test_seed_zoo_varies_only_the_seed() -> None:
    cfg = _cfg(sampling="seeds", num_models=5, space={"seed": 3, "lr": 0.01, "activation": "relu"})
    models = sample_models(cfg)
    assert len(models) == 5
    assert len({m["seed"] for m in models}) == 5
    others = [{k: v for k, v in m.items() if k != "seed"} for m in models]
    assert all(o == others[0] for o in others)
    assert others[0]["lr"] == 0.01 and others[0]["activation"] == "relu"
    with pytest.raises(ConfigError, match="lr"):
        sample_models(_cfg(sampling="seeds", num_models=5, space={"lr": [0.1, 0.2]}))


def _random_cfg(seed: int = 0) -> ZooConfig:
    return _cfg(
        sampling="random",
        num_models=50,
        seed=seed,
        space={
            "lr": {"log_uniform": [1e-4, 1e-2]},
            "weight_decay": {"uniform": [0.0, 0.5]},
            "activation": ["tanh", "relu", "gelu"],
        },
    )


def test_random_sampling_stays_in_range_and_is_deterministic() -> None:
    cfg = _random_cfg()
    assert isinstance(cfg.space.lr, Dist) and cfg.space.lr.kind == "log_uniform"
    a = sample_models(cfg)
    assert len(a) == 50
    lrs = [m["lr"] for m in a]
    assert all(1e-4 <= lr <= 1e-2 for lr in lrs)
    assert all(0.0 <= m["weight_decay"] <= 0.5 for m in a)
    assert {m["activation"] for m in a} == {"tanh", "relu", "gelu"}
    # Log-uniform: about half the draws fall below the geometric mean (1e-3).
    below = sum(lr < 1e-3 for lr in lrs)
    assert 10 <= below <= 40
    assert len(set(lrs)) == 50
    assert sample_models(_random_cfg()) == a
    assert [m["lr"] for m in sample_models(_random_cfg(seed=1))] != lrs
    assert all(math.isfinite(m["lr"]) for m in a)


def test_dist_in_grid_is_a_config_error() -> None:
    cfg = _cfg(space={"lr": {"log_uniform": [1e-4, 1e-2]}})
    with pytest.raises(ConfigError, match="random"):
        sample_models(cfg)


def test_shards_group_by_activation_optimizer_batch_size() -> None:
    cfg = _cfg(space={"activation": ["tanh", "relu"], "lr": [0.1, 0.2], "seed": [0, 1, 2]})
    models = sample_models(cfg)
    shards = plan_shards(models, models_per_shard=4)
    assert sorted(i for s in shards for i in s) == list(range(12))
    for s in shards:
        assert len(s) <= 4 and s == sorted(s)
        assert (
            len(
                {
                    (models[i]["activation"], models[i]["optimizer"], models[i]["batch_size"])
                    for i in s
                }
            )
            == 1
        )


@pytest.mark.parametrize(
    ("epochs", "checkpoints", "expected"),
    [
        (10, [3, 5], [0, 3, 5, 10]),
        (10, [], [0, 10]),
        (4, [4, 0, 2, 2], [0, 2, 4]),
        (3, "all", [0, 1, 2, 3]),
    ],
)
def test_checkpoint_epochs_keep_init_and_last(
    epochs: int, checkpoints: str | list[int], expected: list[int]
) -> None:
    cfg = _cfg(epochs=epochs, checkpoint_epochs=checkpoints)
    got = cfg.resolved_checkpoints()
    assert got == expected
    assert got[0] == 0 and got[-1] == epochs


# -- shipped configs --------------------------------------------------------------


def _example_files() -> list[Path]:
    """The shipped zoo configs (the others, e.g. benchmark and merge configs, have no `arch`)."""
    files = sorted(EXAMPLES.glob("*.yaml")) + sorted(EXAMPLES.glob("*.yml"))
    return [f for f in files if "arch" in (yaml.safe_load(f.read_text()) or {})]


@pytest.mark.parametrize("path", _example_files() or [None], ids=lambda p: p.name if p else "none")
def test_example_configs_parse_and_plan(path: Path | None) -> None:
    if path is None:
        pytest.skip("no example configs yet")
    from weightzoo.data import list_datasets

    cfg = load_yaml_config(path)
    get_family(cfg.arch.family)
    assert cfg.data.name in list_datasets()
    models = sample_models(cfg)
    assert models
    if cfg.num_models is not None:
        assert len(models) == cfg.num_models


def test_demo_config_equals_the_example_file() -> None:
    from weightzoo.demo import DEMO_CONFIG, demo_config

    path = EXAMPLES / "mnist1d_hyper.yaml"
    if not path.is_file():
        pytest.skip(f"{path} not written yet")
    assert parse_config(ZooConfig, DEMO_CONFIG) == load_yaml_config(path)
    assert demo_config() == load_yaml_config(path)
    assert len(sample_models(demo_config())) == 216
