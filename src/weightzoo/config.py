"""Validated, frozen configs for everything a user writes (YAML in, YAML out)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from weightzoo.arch.init import BIAS_INITS, INITS
from weightzoo.arch.spec import ACTIVATIONS
from weightzoo.errors import ConfigError

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Dist(BaseModel):
    """A range to draw from in random sampling: ``{log_uniform: [1e-4, 1e-2]}``."""

    model_config = _FROZEN
    kind: Literal["uniform", "log_uniform"]
    low: float
    high: float

    @model_validator(mode="before")
    @classmethod
    def _from_short(cls, v: Any) -> Any:
        if isinstance(v, dict) and len(v) == 1 and next(iter(v)) in ("uniform", "log_uniform"):
            kind, bounds = next(iter(v.items()))
            if not isinstance(bounds, list | tuple) or len(bounds) != 2:
                raise ValueError(f"{kind}: expected [low, high]")
            return {"kind": kind, "low": bounds[0], "high": bounds[1]}
        return v

    @model_validator(mode="after")
    def _check(self) -> Dist:
        if not self.low <= self.high:
            raise ValueError(f"{self.kind}: expected low <= high, got [{self.low}, {self.high}]")
        if self.kind == "log_uniform" and self.low <= 0:
            raise ValueError("log_uniform: expected low > 0")
        return self


Num = float | list[float] | Dist
Int = int | list[int]
Str = str | list[str]


def _values(v: Any) -> list[Any]:
    if isinstance(v, Dist):
        return [v.low, v.high]
    return list(v) if isinstance(v, list) else [v]


class SpaceConfig(BaseModel):
    """The hyperparameter space of Model Zoos. Each entry is a value, a list
    (grid axis, or choices when sampling at random) or a ``Dist`` (random only)."""

    model_config = _FROZEN
    seed: Int = 0
    init: Str = "kaiming_uniform"
    bias_init: Str = "zeros"
    init_std: Num = 0.1
    activation: Str = "tanh"
    optimizer: Str = "adam"
    lr: Num = 1e-3
    weight_decay: Num = 0.0
    momentum: Num = 0.9
    dropout: Num = 0.0
    batch_size: Int = 64

    @model_validator(mode="after")
    def _check(self) -> SpaceConfig:
        allowed = {
            "init": INITS,
            "bias_init": BIAS_INITS,
            "activation": ACTIVATIONS,
            "optimizer": ("adam", "sgd"),
        }
        for name, options in allowed.items():
            for v in _values(getattr(self, name)):
                if v not in options:
                    raise ValueError(f"{name}: expected one of {', '.join(options)}, got {v!r}")
        for name in ("lr", "init_std"):
            if any(v <= 0 for v in _values(getattr(self, name))):
                raise ValueError(f"{name}: expected positive values")
        for name in ("weight_decay", "momentum"):
            if any(v < 0 for v in _values(getattr(self, name))):
                raise ValueError(f"{name}: expected non-negative values")
        if any(not 0 <= v < 1 for v in _values(self.dropout)):
            raise ValueError("dropout: expected rates in [0, 1)")
        if any(v < 1 for v in _values(self.batch_size)):
            raise ValueError("batch_size: expected positive integers")
        for name in type(self).model_fields:
            v = getattr(self, name)
            if isinstance(v, list) and not v:
                raise ValueError(f"{name}: expected a non-empty list")
        return self


class DataConfig(BaseModel):
    model_config = _FROZEN
    name: str = "mnist1d"
    path: str | None = None
    val_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    split_seed: int = 0
    num_samples: int | None = Field(None, ge=20)


class ArchConfig(BaseModel):
    model_config = _FROZEN
    family: str = "mlp"
    widths: list[int] | None = None


class RayConfig(BaseModel):
    """Where and how shards run on Ray (``engine: ray``)."""

    model_config = _FROZEN
    address: str | None = None
    num_cpus: float = Field(1.0, gt=0)


class ZooConfig(BaseModel):
    """What to train: dataset, architecture, hyperparameter space, schedule.

    ``sampling``: ``grid`` (Cartesian product of list-valued entries; a scalar
    seed gives every model its own seed ``seed + i``), ``random`` (``num_models``
    draws), ``seeds`` (fixed hyperparameters, ``num_models`` seeds).

    How the zoo is built, not what it holds (excluded from its fingerprint):
    ``engine`` (``local`` or ``ray``), ``workers`` x ``threads_per_worker``
    (local worker processes and torch threads in each; ``auto`` chooses from
    the cores and the work), ``max_retries`` (reruns of a shard whose worker
    died), ``ray`` (cluster address, CPUs per shard task), ``device``.
    """

    model_config = _FROZEN
    name: str = "zoo"
    data: DataConfig = DataConfig()
    arch: ArchConfig = ArchConfig()
    space: SpaceConfig = SpaceConfig()
    sampling: Literal["grid", "random", "seeds"] = "grid"
    num_models: int | None = Field(None, ge=1)
    epochs: int = Field(10, ge=1)
    checkpoint_epochs: Literal["all"] | list[int] = "all"
    seed: int = 0
    models_per_shard: int = Field(256, ge=1)
    shared_data_order: bool = False
    strategy: Literal["auto", "batched", "loop", "vmap"] = "auto"
    eval_batch_size: int = Field(2000, ge=1)
    engine: Literal["local", "ray"] = "local"
    workers: int | Literal["auto"] = "auto"
    threads_per_worker: int | None = Field(None, ge=1)
    max_retries: int = Field(3, ge=0)
    ray: RayConfig = RayConfig()
    device: str = "cpu"

    @field_validator("workers")
    @classmethod
    def _workers(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v < 1:
            raise ValueError("expected a positive number of worker processes or 'auto'")
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v or "/" in v:
            raise ValueError("expected a non-empty name without '/'")
        return v

    @model_validator(mode="after")
    def _check(self) -> ZooConfig:
        if (
            self.sampling in ("random", "seeds")
            and self.num_models is None
            and not (self.sampling == "seeds" and isinstance(self.space.seed, list))
        ):
            raise ValueError(f"num_models: required with sampling '{self.sampling}'")
        if isinstance(self.checkpoint_epochs, list) and any(
            not 0 <= e <= self.epochs for e in self.checkpoint_epochs
        ):
            raise ValueError(f"checkpoint_epochs: expected epochs between 0 and {self.epochs}")
        return self

    def resolved_checkpoints(self) -> list[int]:
        """Checkpointed epochs; 0 (the init, as in Model Zoos) and the last are always kept."""
        if self.checkpoint_epochs == "all":
            return list(range(self.epochs + 1))
        return sorted({0, self.epochs, *self.checkpoint_epochs})


def set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.0.c`` in nested dicts and lists (an integer key indexes a list)."""
    keys = dotted.split(".")
    node: Any = raw
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ConfigError(
                    f"override {dotted}: {key!r} is not an index of a {len(node)}-item list"
                )
            if last:
                node[int(key)] = value
            else:
                node = node[int(key)]
        elif isinstance(node, dict):
            if last:
                node[key] = value
            else:
                node = node.setdefault(key, {})
        else:
            raise ConfigError(f"override {dotted}: {keys[i - 1]!r} is not a section")


def read_yaml_mapping(path: str | Path, what: str = "config") -> dict[str, Any]:
    """The top-level mapping of a YAML file.

    Raises:
        ConfigError: missing file, invalid YAML or not a mapping (naming the file).
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: {what} file not found")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping at the top level")
    return raw


def apply_overrides(raw: dict[str, Any], overrides: list[str] | None) -> None:
    """Apply ``key.sub=value`` overrides in place; values are parsed as YAML (else kept as text)."""
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected key=value, e.g. epochs=5")
        key, value = item.split("=", 1)
        try:
            parsed = yaml.safe_load(value) if value else None
        except yaml.YAMLError:
            parsed = value
        set_dotted(raw, key.strip(), parsed)


def _format_validation(err: ValidationError, source: str) -> str:
    errors = err.errors()
    # A union field (value | list | range) fails once per branch; a validator's
    # own message ("expected low <= high") says more than "not a valid number".
    first = next((e for e in errors if e["type"] == "value_error"), errors[0])
    loc = ".".join(
        str(p)
        for p in first["loc"]
        if not str(p).startswith(("function-", "list[", "float", "int", "str", "Dist", "literal"))
    )
    msg = first["msg"].removeprefix("Value error, ")
    got = first.get("input")
    more = len(err.errors()) - 1
    got_s = "" if isinstance(got, dict) or got is None else f" (got {got!r})"
    tail = f" (and {more} more)" if more else ""
    field_s = f"field '{loc}': " if loc else ""
    return f"{source}: {field_s}{msg}{got_s}{tail}"


def parse_config(model: type[BaseModel], raw: dict[str, Any], source: str = "config") -> Any:
    """Validate a dict into a config model; errors become one-line ``ConfigError``s."""
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_format_validation(e, source)) from None


def load_yaml_config(
    path: str | Path | None, overrides: list[str] | None = None, model: type[BaseModel] = ZooConfig
) -> Any:
    """Load a YAML config and apply ``key.sub=value`` overrides (values parsed as YAML).

    Raises:
        ConfigError: unreadable file, bad override or an invalid field (named).
    """
    raw = read_yaml_mapping(path) if path is not None else {}
    apply_overrides(raw, overrides)
    source = str(path) if path else "config"
    return parse_config(model, raw, source)


def dump_yaml(config: BaseModel) -> str:
    """The resolved config as YAML, saved next to what it produced."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
