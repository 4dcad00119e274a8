"""The config of ``weightzoo merge glue CONFIG``: the Model-GLUE recipe, end to end.

Example (``examples/configs/merge_glue.yaml``)::

    models:
      - path: finetunes/noisy          # a weightzoo model folder (config.json + model.safetensors)
        tasks: [noisy]                 # what it is an expert in (default: config.json "task")
      - path: finetunes/reversed
    base_model: finetunes/base         # needed for task-vector similarity / methods
    eval: {dataset: mnist1d, domains: [noisy, reversed]}
    cluster: {similarity: raw, threshold: 0.95}
    merge: {method: linear, coefficient_search: true}
    mixture: {top_k: 1, gate: hidden, train_epochs: 0}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from weightzoo.merge.glue.selective import DEFAULT_GRID

__all__ = [
    "ClusterConfig",
    "EvalConfig",
    "GlueConfig",
    "GlueModel",
    "MergeConfig",
    "MixtureConfig",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class GlueModel(BaseModel):
    """One input model."""

    model_config = _FROZEN
    path: str
    tasks: list[str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_path(cls, v: Any) -> Any:
        return {"path": v} if isinstance(v, str) else v


class EvalConfig(BaseModel):
    """The held-out data: a dataset seen through domain transforms (``finetune_zoo.DOMAINS``)."""

    model_config = _FROZEN
    dataset: Literal["mnist1d"] = "mnist1d"
    num_samples: int | None = Field(None, ge=100)
    domains: list[str] = Field(min_length=1)
    seed: int = 0

    @field_validator("domains")
    @classmethod
    def _domains(cls, v: list[str]) -> list[str]:
        from weightzoo.merge.finetune_zoo import DOMAINS

        unknown = [d for d in v if d not in DOMAINS]
        if unknown:
            raise ValueError(f"unknown domain(s) {unknown}; expected some of {sorted(DOMAINS)}")
        return v


class ClusterConfig(BaseModel):
    """Step 1: clustering by mergeability."""

    model_config = _FROZEN
    similarity: Literal["raw", "task_vector"] = "raw"
    threshold: float = Field(0.95, ge=-1.0, le=1.0)


class MergeConfig(BaseModel):
    """Step 2: selective merging within each cluster."""

    model_config = _FROZEN
    method: str = "linear"
    parameters: dict[str, Any] = {}
    # "all": mean held-out accuracy over every task (the paper); "member_tasks": only over
    # the tasks of the cluster's members, the inputs the mixture will route to it
    # (falls back to all tasks when the members name none).
    score_on: Literal["all", "member_tasks"] = "member_tasks"
    coefficient_search: bool = True
    grid: list[float] = list(DEFAULT_GRID)

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        from weightzoo.merge import MERGE_METHODS

        if v not in MERGE_METHODS:
            raise ValueError(f"unknown merge method {v!r}; expected one of {sorted(MERGE_METHODS)}")
        if MERGE_METHODS[v].aux:
            raise ValueError(f"merge method {v!r} needs per-model statistics; not in the recipe")
        return v

    @field_validator("grid")
    @classmethod
    def _grid(cls, v: list[float]) -> list[float]:
        if not v or any(not 0.0 < c < 1.0 for c in v):
            raise ValueError("expected coefficients strictly between 0 and 1")
        return v


class MixtureConfig(BaseModel):
    """Step 3: model-level mixture across clusters."""

    model_config = _FROZEN
    top_k: int = Field(1, ge=1)
    gate: Literal["hidden", "random"] = "hidden"
    examples_per_expert: int = Field(128, ge=1)
    router_model: Literal["base", "first_expert"] = "base"
    layer: str | None = None
    temperature: float = Field(1.0, gt=0)
    train_epochs: int = Field(0, ge=0)
    train_examples: int = Field(2000, ge=1)
    lr: float = Field(1e-2, gt=0)


class GlueConfig(BaseModel):
    """The whole recipe: cluster, merge selectively, mix the clusters."""

    model_config = _FROZEN
    models: list[GlueModel] = Field(min_length=1)
    base_model: str | None = None
    eval: EvalConfig
    cluster: ClusterConfig = ClusterConfig()
    merge: MergeConfig = MergeConfig()
    mixture: MixtureConfig = MixtureConfig()
    seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> GlueConfig:
        from weightzoo.merge import MERGE_METHODS

        if MERGE_METHODS[self.merge.method].needs_base and self.base_model is None:
            raise ValueError(f"base_model: merge method {self.merge.method!r} needs a base model")
        if self.cluster.similarity == "task_vector" and self.base_model is None:
            raise ValueError("base_model: task-vector similarity needs a base model")
        paths = [m.path for m in self.models]
        if len(set(paths)) != len(paths):
            raise ValueError("models: a model is listed twice")
        return self
