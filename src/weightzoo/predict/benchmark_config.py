"""The benchmark config: zoos, encoder runs, tasks, seeds, quick overrides (YAML in).

See ``weightzoo.predict.benchmark`` for what a benchmark does with it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from weightzoo.config import apply_overrides, parse_config, read_yaml_mapping, set_dotted
from weightzoo.predict.e2e import E2EConfig
from weightzoo.predict.tasks import TASKS

__all__ = [
    "BenchmarkConfig",
    "EncoderRun",
    "ZooSource",
    "benchmark_config_from_dict",
    "load_benchmark_config",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ZooSource(BaseModel):
    """Where a zoo comes from: a zoo config to build (and cache), or an existing folder.

    Attributes:
        config: path of a ``ZooConfig`` YAML (relative paths are resolved
            against the benchmark config's folder when loaded from a file).
        overrides: dotted ``key: value`` changes to that config (``epochs: 5``).
        path: an existing zoo folder, used as is.
    """

    model_config = _FROZEN
    config: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)
    path: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ZooSource:
        if (self.config is None) == (self.path is None):
            raise ValueError("give exactly one of 'config' (a zoo config to build) or 'path'")
        if self.path is not None and self.overrides:
            raise ValueError("'overrides' apply to 'config' only, not to an existing zoo 'path'")
        return self


class EncoderRun(BaseModel):
    """One encoder with one protocol.

    Attributes:
        encoder: a name in ``weightzoo.encode.ENCODERS`` (or ``stats_roles``).
        protocol: ``linear`` or ``gbt`` (probe on frozen embeddings) or ``e2e``.
        params: keyword parameters of the encoder.
        label: name in tables (default ``encoder+protocol``).
        tasks: tasks of this run (default: the benchmark's).
        fit_epochs: epochs of the encoder's unsupervised ``fit`` (hyperrep).
    """

    model_config = _FROZEN
    encoder: str
    protocol: Literal["linear", "gbt", "e2e"]
    params: dict[str, Any] = Field(default_factory=dict)
    label: str | None = None
    tasks: list[str] | None = None
    fit_epochs: int | None = Field(None, ge=0)

    @property
    def name(self) -> str:
        return self.label or f"{self.encoder}+{self.protocol}"


class BenchmarkConfig(BaseModel):
    """A property-prediction benchmark (see the module docstring).

    Attributes:
        name: benchmark name (titles, file contents).
        setting: ``in_distribution``, ``cross_dataset`` or ``cross_architecture``.
        train_zoo: the zoo predictors train on.
        test_zoo: the zoo they are tested on (cross settings only).
        tasks: default tasks of every run.
        encoders: the runs.
        seeds: repetitions (mean ± std over them).
        fractions: train/val/test shares of models (in distribution).
        val_fraction: share of the train zoo's models for validation (cross settings).
        epochs: checkpoints used: ``all``, ``last`` or a list of epochs.
        e2e: end-to-end training settings.
        quick: dotted overrides applied by ``--quick`` (a run of seconds).
    """

    model_config = _FROZEN
    name: str
    setting: Literal["in_distribution", "cross_dataset", "cross_architecture"]
    train_zoo: ZooSource
    test_zoo: ZooSource | None = None
    tasks: list[str] = Field(default_factory=lambda: ["test_acc"])
    encoders: list[EncoderRun]
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    val_fraction: float = Field(0.15, gt=0.0, lt=1.0)
    epochs: Literal["all", "last"] | list[int] = "all"
    e2e: E2EConfig = Field(default_factory=E2EConfig)
    quick: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> BenchmarkConfig:
        if self.setting == "in_distribution" and self.test_zoo is not None:
            raise ValueError("in_distribution: remove 'test_zoo' (the train zoo is split by model)")
        if self.setting != "in_distribution" and self.test_zoo is None:
            raise ValueError(f"{self.setting}: 'test_zoo' is required")
        for task in [*self.tasks, *(t for r in self.encoders for t in (r.tasks or []))]:
            if task not in TASKS:
                raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
        labels = [r.name for r in self.encoders]
        if len(set(labels)) != len(labels):
            raise ValueError(f"encoder runs need distinct labels, got {labels}")
        if not self.encoders:
            raise ValueError("give at least one encoder run")
        return self


def load_benchmark_config(
    path: str | Path, overrides: list[str] | None = None, *, quick: bool = False
) -> BenchmarkConfig:
    """Read a benchmark YAML, apply ``--quick`` and ``key=value`` overrides, validate.

    Zoo config paths in the file are made absolute relative to the file's folder.

    Raises:
        ConfigError: unreadable file or invalid field (named).
    """
    p = Path(path)
    raw = read_yaml_mapping(p, "benchmark config")
    if quick:
        for key, value in (raw.get("quick") or {}).items():
            set_dotted(raw, key, copy.deepcopy(value))
    apply_overrides(raw, overrides)
    for key in ("train_zoo", "test_zoo"):
        zoo = raw.get(key)
        for field in ("config", "path"):
            if isinstance(zoo, dict) and isinstance(zoo.get(field), str):
                zoo[field] = str((p.parent / zoo[field]).resolve())
    return parse_config(BenchmarkConfig, raw, str(p))


def benchmark_config_from_dict(raw: dict[str, Any]) -> BenchmarkConfig:
    """Validate a benchmark config given as a dict (errors name the field)."""
    return parse_config(BenchmarkConfig, raw, "benchmark config")
