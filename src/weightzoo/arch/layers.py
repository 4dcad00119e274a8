"""A tiny layer IR shared by the single-model module and the population trainer.

Sequential families are written once as a list of these layers; ``SeqNet``
runs them as an ordinary ``nn.Module`` and ``weightzoo.train.batched`` runs the
same list over stacked parameters of many models at once. One description
means the two paths cannot drift apart in names or shapes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Linear:
    name: str
    in_features: int
    out_features: int


@dataclass(frozen=True)
class Conv:
    """Convolution over 1 or 2 spatial dims (``dims``); square kernels."""

    name: str
    in_channels: int
    out_channels: int
    kernel: int
    dims: int = 2
    padding: int = 0


@dataclass(frozen=True)
class MaxPool:
    kernel: int
    dims: int = 2


@dataclass(frozen=True)
class Act:
    pass


@dataclass(frozen=True)
class Dropout:
    pass


@dataclass(frozen=True)
class Flatten:
    pass


@dataclass(frozen=True)
class GlobalAvgPool:
    dims: int = 2


Layer = Linear | Conv | MaxPool | Act | Dropout | Flatten | GlobalAvgPool


def param_shapes(layers: list[Layer]) -> dict[str, tuple[int, ...]]:
    """Parameter name -> shape, in module order (weight before bias)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in layers:
        if isinstance(layer, Linear):
            shapes[f"{layer.name}.weight"] = (layer.out_features, layer.in_features)
            shapes[f"{layer.name}.bias"] = (layer.out_features,)
        elif isinstance(layer, Conv):
            k = (layer.kernel,) * layer.dims
            shapes[f"{layer.name}.weight"] = (layer.out_channels, layer.in_channels, *k)
            shapes[f"{layer.name}.bias"] = (layer.out_channels,)
    return shapes
