"""Where each parameter lives in a flat weight vector, and which layer it belongs to.

A layout is derived from parameter names and shapes alone, so it works for
every architecture family (buffers such as BatchNorm running statistics are
not weights and are left out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from weightzoo.arch import ArchSpec, build_model
from weightzoo.errors import WeightzooError

#: Layer kinds, by the number of dimensions of the layer's weight tensor.
LAYER_KINDS = ("norm", "linear", "conv1d", "conv2d", "conv3d")


@dataclass(frozen=True)
class LayerInfo:
    """One parametrized layer.

    Attributes:
        name: the module name (``fc1``, ``stages.0.conv1``).
        kind: one of ``LAYER_KINDS``.
        weight_shape: shape of ``<name>.weight``.
        bias: whether ``<name>.bias`` exists.
    """

    name: str
    kind: str
    weight_shape: tuple[int, ...]
    bias: bool

    @property
    def kind_index(self) -> int:
        return LAYER_KINDS.index(self.kind)

    @property
    def fan_out(self) -> int:
        return self.weight_shape[0]

    @property
    def neuron_width(self) -> int:
        """Numbers per output neuron: its incoming weights (times kernel) and its bias."""
        return math.prod(self.weight_shape[1:]) + int(self.bias)

    @property
    def num_params(self) -> int:
        return math.prod(self.weight_shape) + (self.fan_out if self.bias else 0)


def _kind(shape: tuple[int, ...]) -> str:
    return LAYER_KINDS[min(len(shape), len(LAYER_KINDS)) - 1]


@dataclass(frozen=True)
class WeightLayout:
    """Ordered parameter names and shapes of one architecture.

    Attributes:
        entries: ``(name, shape)`` per parameter, weight before bias, module order.
    """

    entries: tuple[tuple[str, tuple[int, ...]], ...]

    @classmethod
    def from_weights(cls, weights: dict[str, Tensor], *, batched: bool = False) -> WeightLayout:
        """Layout of a weight dict (``batched``: tensors carry a leading model dim)."""
        skip = 1 if batched else 0
        entries = tuple(
            (name, tuple(t.shape[skip:]))
            for name, t in weights.items()
            if name.rsplit(".", 1)[-1] in ("weight", "bias") and t.is_floating_point()
        )
        if not entries:
            raise WeightzooError("weights: no '<layer>.weight' / '<layer>.bias' tensors found")
        return cls(entries)

    @classmethod
    def from_spec(cls, spec: ArchSpec) -> WeightLayout:
        """Layout of ``build_model(spec)``."""
        return cls.from_weights(dict(build_model(spec).named_parameters()))

    @property
    def names(self) -> list[str]:
        return [n for n, _ in self.entries]

    @property
    def num_params(self) -> int:
        return sum(math.prod(s) for _, s in self.entries)

    def layers(self) -> list[LayerInfo]:
        """Parametrized layers in order (a layer = a ``.weight`` and optional ``.bias``)."""
        shapes = dict(self.entries)
        out = []
        for name, shape in self.entries:
            if name.endswith(".weight"):
                base = name[: -len(".weight")]
                out.append(LayerInfo(base, _kind(shape), shape, f"{base}.bias" in shapes))
        return out

    def check(
        self, weights: dict[str, Tensor], *, batched: bool = False, what: str = "weights"
    ) -> None:
        """Raise a readable error if ``weights`` does not have this layout.

        Raises:
            WeightzooError: a missing parameter or one of another shape.
        """
        skip = 1 if batched else 0
        for name, shape in self.entries:
            if name not in weights:
                raise WeightzooError(f"{what}: missing parameter {name!r}")
            got = tuple(weights[name].shape[skip:])
            if got != shape:
                raise WeightzooError(
                    f"{what}: parameter {name!r} has shape {got}, expected {shape}"
                )

    def flatten(self, weights: dict[str, Tensor], *, batched: bool = False) -> Tensor:
        """Concatenate every parameter: ``(D,)``, or ``(B, D)`` with ``batched``."""
        self.check(weights, batched=batched)
        if batched:
            return torch.cat([weights[n].flatten(1) for n in self.names], dim=1)
        return torch.cat([weights[n].flatten() for n in self.names])

    def unflatten(self, flat: Tensor) -> dict[str, Tensor]:
        """Inverse of ``flatten``: ``(D,)`` -> dict, ``(B, D)`` -> dict of ``(B, ...)``."""
        if flat.shape[-1] != self.num_params:
            raise WeightzooError(
                f"flat weights: last dimension {flat.shape[-1]}, expected {self.num_params}"
            )
        lead = flat.shape[:-1]
        sizes = [math.prod(s) for _, s in self.entries]
        parts = torch.split(flat, sizes, dim=-1)
        return {n: p.reshape(*lead, *s) for (n, s), p in zip(self.entries, parts, strict=True)}
