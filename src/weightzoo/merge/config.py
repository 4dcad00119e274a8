"""mergekit's YAML merge configuration, validated (frozen pydantic models).

The schema is mergekit's: ``models`` (each with ``model`` and ``parameters``) or
``slices`` (``sources`` with ``layer_range``), ``base_model``, ``merge_method``,
global ``parameters``, ``dtype`` / ``out_dtype``, ``tokenizer_source``. A
parameter is a scalar, a gradient (a list interpolated over layer depth), or a
list of ``{filter, value}`` conditions matched against tensor names. weightzoo
is stricter than mergekit in one way: unknown keys are an error naming the key
(mergekit ignores them silently, so a typo changes the merge without notice).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from weightzoo.errors import ConfigError

_FROZEN = ConfigDict(frozen=True, extra="forbid")

Scalar = bool | int | float | str
ScalarOrGradient = Scalar | list[Scalar]

DTYPES: dict[str, torch.dtype] = {
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float32": torch.float32,
    "fp32": torch.float32,
    "float": torch.float32,
    "float64": torch.float64,
}


class ConditionalParameter(BaseModel):
    """A value that applies to tensors whose name contains ``filter`` (all if None or "*")."""

    model_config = _FROZEN
    value: ScalarOrGradient
    filter: str | None = None


ParameterSetting = ConditionalParameter | list[ConditionalParameter] | ScalarOrGradient
Parameters = dict[str, ParameterSetting]


class InputModel(BaseModel):
    """One entry of ``models``: a local model folder and its per-model parameters."""

    model_config = _FROZEN
    model: str
    parameters: Parameters | None = None


class InputSlice(BaseModel):
    """A range of layers [start, end) of one model."""

    model_config = _FROZEN
    model: str
    layer_range: tuple[int, int]
    parameters: Parameters | None = None

    @field_validator("layer_range")
    @classmethod
    def _ordered(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not 0 <= v[0] < v[1]:
            raise ValueError(f"expected 0 <= start < end, got {list(v)}")
        return v


class OutputSlice(BaseModel):
    """Output layers made by merging the same number of layers from each source."""

    model_config = _FROZEN
    sources: list[InputSlice]
    base_model: str | None = None
    parameters: Parameters | None = None
    residual_weight: float | None = None

    @model_validator(mode="after")
    def _check(self) -> OutputSlice:
        if not self.sources:
            raise ValueError("sources: expected at least one source")
        lengths = {s.layer_range[1] - s.layer_range[0] for s in self.sources}
        if len(lengths) != 1:
            raise ValueError(
                f"sources: all sources of a slice must have as many layers, got {sorted(lengths)}"
            )
        if self.residual_weight is not None:
            raise ValueError("residual_weight: not supported by weightzoo")
        return self


class MergeConfig(BaseModel):
    """A mergekit merge configuration (the YAML given to ``weightzoo merge``)."""

    model_config = _FROZEN
    merge_method: str
    models: list[InputModel] | None = None
    slices: list[OutputSlice] | None = None
    base_model: str | None = None
    parameters: Parameters | None = None
    dtype: str | None = None
    out_dtype: str | None = None
    tokenizer_source: str | None = None
    # mergekit keys weightzoo reads but cannot honour: rejected with a message below.
    modules: dict[str, Any] | None = None
    tokenizer: dict[str, Any] | None = None
    chat_template: str | None = None

    @field_validator("dtype", "out_dtype")
    @classmethod
    def _dtype(cls, v: str | None) -> str | None:
        if v is not None and v not in DTYPES:
            raise ValueError(f"unknown dtype {v!r}; expected one of {', '.join(DTYPES)}")
        return v

    @model_validator(mode="after")
    def _check(self) -> MergeConfig:
        for key in ("modules", "tokenizer", "chat_template"):
            if getattr(self, key) is not None:
                raise ValueError(f"{key}: mergekit key not supported by weightzoo merge")
        if self.tokenizer_source == "union":
            raise ValueError(
                "tokenizer_source: 'union' (vocabulary merging) is not supported; "
                "use 'base' or a model path"
            )
        if bool(self.models) == bool(self.slices):
            raise ValueError("exactly one of 'models' or 'slices' must be given")
        return self

    def torch_dtype(self) -> torch.dtype | None:
        """The dtype inputs are cast to before merging (``dtype``), if any."""
        return DTYPES[self.dtype] if self.dtype else None

    def torch_out_dtype(self) -> torch.dtype | None:
        """The dtype of the written tensors (``out_dtype``, else ``dtype``), if any."""
        name = self.out_dtype or self.dtype
        return DTYPES[name] if name else None

    def to_yaml(self) -> str:
        """The config as YAML (defaults left out), loadable by mergekit and weightzoo."""
        return yaml.safe_dump(self.model_dump(mode="json", exclude_none=True), sort_keys=False)


_UNION_TAGS = ("function-", "list[", "dict[", "bool", "int", "float", "str", "Conditional")


def _where(err: dict) -> str:
    # pydantic puts union member names in the location; the user only needs the keys.
    keys = [str(p) for p in err["loc"] if not str(p).startswith(_UNION_TAGS)]
    return ".".join(keys) + ": " if keys else ""


def parse_merge_config(data: Any, *, source: str = "config") -> MergeConfig:
    """Validate a mapping as a :class:`MergeConfig`.

    Raises:
        ConfigError: naming the first offending key and what was expected.
    """
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: expected a mapping of mergekit keys, got {type(data).__name__}"
        )
    try:
        return MergeConfig.model_validate(data)
    except ValidationError as e:
        errors = e.errors()
        # An unknown key is the likeliest mistake; report it before union noise.
        extra = [err for err in errors if err["type"] == "extra_forbidden"]
        err = extra[0] if extra else errors[0]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not in mergekit's schema)"
        else:
            msg = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{source}: {_where(err)}{msg}") from None


def load_merge_config(path: str | Path) -> MergeConfig:
    """Read and validate a mergekit YAML file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found; expected a mergekit YAML config") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from None
    return parse_merge_config(data, source=str(path))


def evaluate_setting(tensor_name: str, setting: Any, t: float) -> Any:
    """The value of a parameter setting for one tensor, as mergekit evaluates it.

    Args:
        tensor_name: matched by substring against ``filter``.
        setting: scalar, gradient list, ConditionalParameter or list of them.
        t: depth of the tensor's layer in its slice, 0 (first) .. 1 (last); 0 for
            tensors outside layers (embeddings, final norm, head).

    Returns:
        The value, or None when no condition matches (the next scope is tried).
    """
    if isinstance(setting, ConditionalParameter):
        setting = [setting]
    if isinstance(setting, bool | int | float | str):
        return setting
    if not setting:
        return None
    if all(isinstance(e, ConditionalParameter) for e in setting):
        for cond in setting:
            if cond.filter is None or cond.filter == "*" or cond.filter in tensor_name:
                return evaluate_setting(tensor_name, cond.value, t)
        return None
    numeric = all(isinstance(e, int | float) and not isinstance(e, bool) for e in setting)
    if not numeric:
        return setting[int(t * (len(setting) - 1))]
    # A gradient: piecewise-linear interpolation of the anchors over depth.
    scaled = t * (len(setting) - 1)
    i0 = int(scaled)
    i1 = min(len(setting) - 1, i0 + 1)
    frac = scaled - i0
    return (1 - frac) * setting[i0] + frac * setting[i1]
