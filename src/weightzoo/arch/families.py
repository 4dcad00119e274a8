"""Sequential families (MLP, 1-D CNN, Model Zoos CNN-s / CNN-l) and the Small CNN Zoo CNN."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from weightzoo.arch.layers import Act, Conv, Dropout, Flatten, Layer, Linear, MaxPool
from weightzoo.arch.registry import register_arch
from weightzoo.arch.seqnet import activation_fn
from weightzoo.arch.spec import ArchSpec
from weightzoo.errors import ConfigError

MODEL_ZOOS_URL = "https://arxiv.org/abs/2209.14764"


def _spatial_after_conv(size: int, kernel: int, padding: int = 0) -> int:
    out = size + 2 * padding - kernel + 1
    if out < 1:
        raise ConfigError(f"arch: input of size {size} is too small for a kernel of {kernel}")
    return out


@register_arch("mlp", default_widths=(100, 100), url="https://arxiv.org/abs/2002.11448")
def mlp(spec: ArchSpec) -> list[Layer]:
    """Fully connected net on the flattened input; ``widths`` are the hidden sizes."""
    sizes = [math.prod(spec.input_shape), *spec.widths]
    layers: list[Layer] = [Flatten()]
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers += [Linear(f"fc{i + 1}", a, b), Act(), Dropout()]
    layers.append(Linear(f"fc{len(sizes)}", sizes[-1], spec.num_classes))
    return layers


@register_arch("cnn1d", default_widths=(16, 16), url="https://arxiv.org/abs/2011.14439")
def cnn1d(spec: ArchSpec) -> list[Layer]:
    """1-D CNN for MNIST-1D: [conv5 (same padding) -> act -> maxpool2] per width -> linear."""
    if len(spec.input_shape) != 2:
        raise ConfigError(
            f"arch: cnn1d expects input_shape (channels, length), got {spec.input_shape}"
        )
    channels, length = spec.input_shape
    layers: list[Layer] = []
    for i, width in enumerate(spec.widths):
        layers += [
            Conv(f"conv{i + 1}", channels, width, 5, dims=1, padding=2),
            Act(),
            MaxPool(2, 1),
        ]
        layers.append(Dropout())
        channels, length = width, length // 2
        if length < 1:
            raise ConfigError(f"arch: cnn1d with {len(spec.widths)} blocks needs a longer input")
    layers += [Flatten(), Linear("fc1", channels * length, spec.num_classes)]
    return layers


def _check_image(spec: ArchSpec, family: str) -> tuple[int, int]:
    if len(spec.input_shape) != 3 or spec.input_shape[1] != spec.input_shape[2]:
        raise ConfigError(
            f"arch: {family} expects a square image input_shape (channels, H, W), got {spec.input_shape}"
        )
    return spec.input_shape[0], spec.input_shape[1]


@register_arch("cnn_s", url=MODEL_ZOOS_URL)
def cnn_s(spec: ArchSpec) -> list[Layer]:
    """Model Zoos CNN-s: 2,464 parameters at 1x28x28, 2,864 at 3x28x28."""
    c, size = _check_image(spec, "cnn_s")
    size = _spatial_after_conv(size, 5) // 2
    size = _spatial_after_conv(size, 5) // 2
    size = _spatial_after_conv(size, 2)
    return [
        Conv("conv1", c, 8, 5), MaxPool(2), Act(), Dropout(),
        Conv("conv2", 8, 6, 5), MaxPool(2), Act(), Dropout(),
        Conv("conv3", 6, 4, 2), Act(), Dropout(),
        Flatten(),
        Linear("fc1", 4 * size * size, 20), Act(), Dropout(),
        Linear("fc2", 20, spec.num_classes),
    ]  # fmt: skip


@register_arch("cnn_l", url=MODEL_ZOOS_URL)
def cnn_l(spec: ArchSpec) -> list[Layer]:
    """Model Zoos CNN-l: 10,853 parameters at 3x32x32."""
    c, size = _check_image(spec, "cnn_l")
    for _ in range(3):
        size = _spatial_after_conv(size, 3) // 2
    if size < 1:
        raise ConfigError("arch: cnn_l needs an input of at least 22x22")
    return [
        Conv("conv1", c, 16, 3), MaxPool(2), Act(), Dropout(),
        Conv("conv2", 16, 32, 3), MaxPool(2), Act(), Dropout(),
        Conv("conv3", 32, 15, 3), MaxPool(2), Act(), Dropout(),
        Flatten(),
        Linear("fc1", 15 * size * size, 20), Act(), Dropout(),
        Linear("fc2", 20, spec.num_classes),
    ]  # fmt: skip


SMALL_CNN_ZOO_URL = "https://arxiv.org/abs/2002.11448"


class SmallCNNZooNet(nn.Module):
    """The CNN of the Small CNN Zoo (Unterthiner et al. 2020, ``build_cnn`` in
    google-research/dnn_predict_accuracy/train_network.py).

    Keras ``Conv2D(width, 3, strides=2)`` with its default ``padding="valid"``
    and the activation inside the layer, dropout after each conv block, global
    average pooling, ``Dense(num_classes)``. At 1x28x28 with widths (16, 16, 16)
    the feature maps are 13, 6, 2 pixels wide and there are 4,970 parameters.
    Parameter names: ``conv1`` .. ``convK``, ``fc1``.
    """

    def __init__(self, spec: ArchSpec) -> None:
        super().__init__()
        channels, size = _check_image(spec, "cnn_zoo")
        self.activation = spec.activation
        self.dropout = spec.dropout
        self.convs: list[str] = []
        for i, width in enumerate(spec.widths):
            size = (size - 3) // 2 + 1
            if size < 1:
                raise ConfigError(
                    f"arch: cnn_zoo with {len(spec.widths)} stride-2 convs needs a larger input "
                    f"than {spec.input_shape}"
                )
            name = f"conv{i + 1}"
            self.add_module(name, nn.Conv2d(channels, width, 3, stride=2))
            self.convs.append(name)
            channels = width
        self.fc1 = nn.Linear(channels, spec.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = activation_fn(self.activation)
        for name in self.convs:
            x = F.dropout(act(getattr(self, name)(x)), self.dropout, self.training)
        return self.fc1(x.mean(dim=(2, 3)))


@register_arch("cnn_zoo", default_widths=(16, 16, 16), url=SMALL_CNN_ZOO_URL, layers=False)
def cnn_zoo(spec: ArchSpec) -> nn.Module:
    """Small CNN Zoo CNN: 3 convs (3x3, stride 2, valid) of 16 channels, global average pool, dense."""
    if not spec.widths:
        raise ConfigError("arch: cnn_zoo needs at least one conv width")
    return SmallCNNZooNet(spec)
