"""A small pre-activation-free ResNet (He et al. 2016) with BatchNorm."""

from __future__ import annotations

import torch
from torch import nn

from weightzoo.arch.registry import register_arch
from weightzoo.arch.seqnet import activation_fn
from weightzoo.arch.spec import ArchSpec
from weightzoo.errors import ConfigError


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, act: str) -> None:
        super().__init__()
        self.act = act
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = activation_fn(self.act)
        out = f(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return f(out + (x if self.shortcut is None else self.shortcut(x)))


class SmallResNet(nn.Module):
    """Stem conv, one basic block per stage (stride 2 after the first), GAP, linear."""

    def __init__(self, spec: ArchSpec) -> None:
        super().__init__()
        if len(spec.input_shape) != 3:
            raise ConfigError(f"arch: resnet expects (channels, H, W), got {spec.input_shape}")
        self.act = spec.activation
        self.dropout = spec.dropout
        w = spec.widths
        self.stem = nn.Conv2d(spec.input_shape[0], w[0], 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(w[0])
        self.stages = nn.Sequential(
            *[_Block(w[max(i - 1, 0)], w[i], 1 if i == 0 else 2, self.act) for i in range(len(w))]
        )
        self.fc = nn.Linear(w[-1], spec.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = activation_fn(self.act)(self.bn(self.stem(x)))
        x = self.stages(x).mean(dim=(2, 3))
        x = nn.functional.dropout(x, self.dropout, self.training)
        return self.fc(x)


@register_arch(
    "resnet", default_widths=(8, 16, 32), url="https://arxiv.org/abs/1512.03385", layers=False
)
def resnet(spec: ArchSpec) -> nn.Module:
    return SmallResNet(spec)
