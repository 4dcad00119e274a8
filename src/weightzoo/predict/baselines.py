"""A statistics baseline that accepts any architecture, for cross-architecture benchmarks.

Unterthiner et al. 2020 (https://arxiv.org/abs/2002.11448) describe each
layer by seven statistics of its weights and seven of its biases. Those
features line up only between networks of the same depth, so the registered
``stats`` encoder is single-architecture. ``RoleStatsEncoder`` keeps the
statistics but indexes them by a layer's *role*: the first layer, the hidden
layers (their statistics averaged), the last layer. Statistics do not depend
on a layer's width, so the 42 features mean the same thing for an MLP of any
depth or width. It is the cross-architecture baseline SNE is compared with.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from weightzoo.encode.stats import STAT_NAMES, tensor_stats
from weightzoo.errors import WeightzooError

__all__ = ["LOCAL_ENCODERS", "RoleStatsEncoder"]

_ROLES = ("first", "hidden", "last")


def _layers(weights: dict[str, Tensor]) -> list[tuple[Tensor, Tensor | None]]:
    """(weight, bias) of each layer with a ``.weight``, in module order."""
    out: dict[str, list[Tensor | None]] = {}
    for name, value in weights.items():
        prefix, _, leaf = name.rpartition(".")
        if leaf in ("weight", "bias") and value.is_floating_point():
            out.setdefault(prefix, [None, None])[0 if leaf == "weight" else 1] = value
    return [(w, b) for w, b in out.values() if w is not None]


class RoleStatsEncoder:
    """Per-role weight statistics (first / mean of hidden / last layer); nothing to learn.

    Attributes:
        embed_dim: ``3 roles x 2 (weight, bias) x 7 statistics = 42``.
    """

    name = "stats_roles"
    any_architecture = True
    can_decode = False
    url = "https://arxiv.org/abs/2002.11448"

    def __init__(self, *, device: str = "cpu") -> None:
        self.embed_dim = len(_ROLES) * 2 * len(STAT_NAMES)
        self.module = None

    def fit(
        self,
        nets: Sequence[Any],
        *,
        seed: int = 0,
        epochs: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> RoleStatsEncoder:
        """Nothing to fit (the features are fixed); returns self."""
        return self

    def _features(self, weights: dict[str, Tensor]) -> Tensor:
        layers = _layers(weights)
        if len(layers) < 2:
            raise WeightzooError(f"{self.name}: a network needs at least two layers")
        zeros = torch.zeros(len(STAT_NAMES))

        def stats(t: Tensor | None) -> Tensor:
            return zeros if t is None else tensor_stats(t.detach().float().reshape(1, -1))[0]

        def role(group: list[tuple[Tensor, Tensor | None]]) -> Tensor:
            if not group:
                return torch.zeros(2 * len(STAT_NAMES))
            return torch.stack([torch.cat([stats(w), stats(b)]) for w, b in group]).mean(0)

        return torch.cat([role(layers[:1]), role(layers[1:-1]), role(layers[-1:])])

    def collate(self, nets: Sequence[Any]) -> Tensor:
        """Features ``(B, 42)``."""
        return torch.stack([self._features(w) for _, w in nets])

    def aux_loss(self, batch: Any) -> Tensor:
        return torch.zeros(())

    def encode(self, nets: Sequence[Any], *, batch_size: int = 256) -> np.ndarray:
        """Features ``(N, 42)`` as float32."""
        if not nets:
            return np.zeros((0, self.embed_dim), dtype=np.float32)
        return self.collate(nets).numpy().astype(np.float32)

    def save(self, path: str | Path) -> Path:
        raise WeightzooError(
            f"{self.name} is a benchmark baseline without state; it is not saved (use 'stats')"
        )


#: Encoders the benchmarks use besides ``weightzoo.encode.ENCODERS``.
LOCAL_ENCODERS: dict[str, type] = {RoleStatsEncoder.name: RoleStatsEncoder}
