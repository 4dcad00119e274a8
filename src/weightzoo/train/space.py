"""Sampling models from a hyperparameter space: grid, random, seed zoo."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from weightzoo.config import Dist, SpaceConfig, ZooConfig
from weightzoo.errors import ConfigError
from weightzoo.seeding import derive_seed

FIELDS = tuple(SpaceConfig.model_fields)
_INT_FIELDS = ("seed", "batch_size")


def _draw(rng: np.random.Generator, v: Any) -> Any:
    if isinstance(v, Dist):
        if v.kind == "uniform":
            return float(rng.uniform(v.low, v.high))
        return float(math.exp(rng.uniform(math.log(v.low), math.log(v.high))))
    if isinstance(v, list):
        return v[int(rng.integers(len(v)))]
    return v


def _typed(hp: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in hp.items():
        out[k] = int(v) if k in _INT_FIELDS else (float(v) if isinstance(v, int | float) else v)
    return out


def sample_models(config: ZooConfig) -> list[dict[str, Any]]:
    """Hyperparameters of every model of the zoo, in model-id order.

    Args:
        config: the zoo config.

    Returns:
        One dict per model with every field of ``SpaceConfig``.

    Raises:
        ConfigError: a ``Dist`` in grid or seed sampling, or non-scalar values in a seed zoo.
    """
    space = config.space
    values = {f: getattr(space, f) for f in FIELDS}
    if config.sampling == "grid":
        if any(isinstance(v, Dist) for v in values.values()):
            raise ConfigError("space: ranges (uniform/log_uniform) need sampling: random")
        axes = [f for f in FIELDS if isinstance(values[f], list)]
        models = []
        for i, combo in enumerate(itertools.product(*(values[f] for f in axes))):
            hp = {f: values[f] for f in FIELDS if f not in axes}
            hp.update(dict(zip(axes, combo, strict=True)))
            if "seed" not in axes:
                hp["seed"] = int(values["seed"]) + i
            models.append(hp)
        if config.num_models is not None and config.num_models != len(models):
            raise ConfigError(
                f"num_models: the grid has {len(models)} points; remove num_models or set it to {len(models)}"
            )
    elif config.sampling == "seeds":
        multi = [f for f in FIELDS if f != "seed" and isinstance(values[f], list | Dist)]
        if multi:
            raise ConfigError(
                f"space: a seed zoo fixes every hyperparameter; {multi} vary (use sampling: grid)"
            )
        if isinstance(values["seed"], list):
            seeds = list(values["seed"])
            if config.num_models is not None and config.num_models != len(seeds):
                raise ConfigError(
                    f"num_models: {config.num_models} but {len(seeds)} seeds are listed"
                )
        else:
            assert config.num_models is not None
            seeds = [int(values["seed"]) + i for i in range(config.num_models)]
        models = [{**values, "seed": s} for s in seeds]
    else:
        assert config.num_models is not None
        rng = np.random.default_rng(derive_seed(config.seed, "space"))
        models = []
        for i in range(config.num_models):
            hp = {f: _draw(rng, values[f]) for f in FIELDS if f != "seed"}
            base = values["seed"]
            hp["seed"] = _draw(rng, base) if isinstance(base, list) else int(base) + i
            models.append(hp)
    return [_typed(hp) for hp in models]


def shard_key(hp: dict[str, Any]) -> tuple:
    """Models that can train together: same activation, optimizer and batch size."""
    return (hp["activation"], hp["optimizer"], hp["batch_size"])


def plan_shards(models: list[dict[str, Any]], models_per_shard: int) -> list[list[int]]:
    """Group model indices into shards, keeping model-id order inside each shard."""
    groups: dict[tuple, list[int]] = {}
    for i, hp in enumerate(models):
        groups.setdefault(shard_key(hp), []).append(i)
    shards = []
    for key in sorted(groups, key=lambda k: groups[k][0]):
        idx = groups[key]
        shards += [idx[j : j + models_per_shard] for j in range(0, len(idx), models_per_shard)]
    return shards
