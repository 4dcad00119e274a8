"""Sequential families: MLP, 1-D CNN, and the Model Zoos CNN-s / CNN-l."""

from __future__ import annotations

import math

from weightzoo.arch.layers import Act, Conv, Dropout, Flatten, Layer, Linear, MaxPool
from weightzoo.arch.registry import register_arch
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
