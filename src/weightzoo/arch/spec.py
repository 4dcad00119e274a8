"""ArchSpec: a frozen, JSON-able description of one network."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from weightzoo.errors import ConfigError

ACTIVATIONS = ("tanh", "relu", "sigmoid", "gelu", "leaky_relu")


@dataclass(frozen=True)
class ArchSpec:
    """Everything needed to rebuild a network's module, and nothing about training.

    Dropout is part of the spec because it changes the forward pass, but never
    the parameter names (Model Zoos' ``module_list`` indices shifted with it).

    Attributes:
        family: registry name (``mlp``, ``cnn1d``, ``cnn_s``, ``cnn_l``, ``resnet``).
        input_shape: shape of one input without the batch dimension, e.g. ``(1, 40)``.
        num_classes: number of outputs.
        activation: one of ``ACTIVATIONS``.
        dropout: dropout rate applied after hidden activations.
        widths: family-specific sizes: MLP hidden widths, CNN channels, ResNet stage widths.
    """

    family: str
    input_shape: tuple[int, ...]
    num_classes: int = 10
    activation: str = "tanh"
    dropout: float = 0.0
    widths: tuple[int, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                f"arch.activation: expected one of {', '.join(ACTIVATIONS)}, got {self.activation!r}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"arch.dropout: expected a rate in [0, 1), got {self.dropout}")
        if self.num_classes < 1 or any(w < 1 for w in self.widths):
            raise ConfigError("arch: num_classes and widths must be positive integers")

    def replace(self, **changes: Any) -> ArchSpec:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (tuples become lists)."""
        d = dataclasses.asdict(self)
        d["input_shape"] = list(self.input_shape)
        d["widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ArchSpec:
        """Inverse of ``to_dict``; unknown keys are an error naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(
                f"arch spec: unknown field(s) {sorted(unknown)}; expected {sorted(known)}"
            )
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)
