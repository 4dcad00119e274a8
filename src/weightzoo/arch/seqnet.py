"""``SeqNet``: the single-model ``nn.Module`` for a layer-IR family."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from weightzoo.arch.layers import Act, Conv, Dropout, Flatten, GlobalAvgPool, Layer, Linear, MaxPool


def activation_fn(name: str):
    """The elementwise function for an activation name (same in every path)."""
    return {
        "tanh": torch.tanh,
        "relu": F.relu,
        "sigmoid": torch.sigmoid,
        "gelu": F.gelu,
        "leaky_relu": F.leaky_relu,
    }[name]


class SeqNet(nn.Module):
    """A sequential network described by a layer list.

    Parameterized layers are stored by name in a ``ModuleDict`` so parameter
    names are ``<layer>.weight`` / ``<layer>.bias`` whatever the dropout rate.
    """

    def __init__(self, layers: list[Layer], activation: str, dropout: float) -> None:
        super().__init__()
        self.layers = list(layers)
        self.activation = activation
        self.dropout = dropout
        mods: dict[str, nn.Module] = {}
        for layer in self.layers:
            if isinstance(layer, Linear):
                mods[layer.name] = nn.Linear(layer.in_features, layer.out_features)
            elif isinstance(layer, Conv):
                cls = nn.Conv2d if layer.dims == 2 else nn.Conv1d
                mods[layer.name] = cls(
                    layer.in_channels, layer.out_channels, layer.kernel, padding=layer.padding
                )
        # Registered directly on self (not in a container) so names carry no prefix.
        for name, mod in mods.items():
            self.add_module(name, mod)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = activation_fn(self.activation)
        for layer in self.layers:
            if isinstance(layer, Linear | Conv):
                x = getattr(self, layer.name)(x)
            elif isinstance(layer, MaxPool):
                pool = F.max_pool2d if layer.dims == 2 else F.max_pool1d
                x = pool(x, layer.kernel)
            elif isinstance(layer, Act):
                x = act(x)
            elif isinstance(layer, Dropout):
                x = F.dropout(x, self.dropout, self.training)
            elif isinstance(layer, Flatten):
                x = x.flatten(1)
            elif isinstance(layer, GlobalAvgPool):
                x = x.mean(dim=tuple(range(2, x.dim())))
        return x
