"""Per-layer standardization of weights, fitted on the training networks only.

Hyper-representations (Schürholt et al. 2022, https://arxiv.org/abs/2209.14733)
normalize each layer by its statistics in the training zoo so that layers of
very different scale weigh equally in a reconstruction loss; every encoder
here standardizes its inputs the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from weightzoo.errors import WeightzooError

_EPS = 1e-8
GLOBAL_KEY = "__all__"


class LayerStandardizer:
    """Mean and standard deviation of every parameter tensor (layer weight / layer bias).

    Statistics are pooled over all entries of a tensor and all training
    networks. A parameter name never seen in training (another depth) uses the
    statistics pooled over every parameter; a constant tensor (a bias still at
    its zero init) keeps scale 1 so it is not blown up.

    Attributes:
        stats_: name -> ``(2,)`` tensor ``[mean, std]``, after ``fit``.
    """

    def __init__(self) -> None:
        self.stats_: dict[str, Tensor] = {}

    def fit(self, weight_dicts: Iterable[dict[str, Tensor]]) -> LayerStandardizer:
        """Fit on training networks (any mix of architectures).

        Args:
            weight_dicts: parameter name -> tensor, one dict per network.

        Returns:
            self.

        Raises:
            WeightzooError: no networks.
        """
        sums: dict[str, Tensor] = {}
        counts: dict[str, int] = {}
        for weights in weight_dicts:
            for name, t in weights.items():
                t = t.detach().double().flatten()
                acc = torch.stack([t.sum(), (t * t).sum()])
                sums[name] = sums.get(name, 0) + acc
                counts[name] = counts.get(name, 0) + t.numel()
        if not sums:
            raise WeightzooError("standardization: fit needs at least one training network")
        total = sum(sums.values())
        sums[GLOBAL_KEY], counts[GLOBAL_KEY] = total, sum(counts.values())
        for name, (s, ss) in sums.items():
            n = counts[name]
            mean = s / n
            std = (ss / n - mean * mean).clamp_min(0).sqrt()
            std = torch.where(std < _EPS, torch.ones_like(std), std)
            self.stats_[name] = torch.stack([mean, std]).float()
        return self

    def _stat(self, name: str) -> Tensor:
        if not self.stats_:
            raise WeightzooError("standardization: call fit(...) on the training networks first")
        return self.stats_.get(name, self.stats_[GLOBAL_KEY])

    def std(self, name: str) -> float:
        """The training standard deviation used for ``name``."""
        return float(self._stat(name)[1])

    def transform(self, weights: dict[str, Tensor]) -> dict[str, Tensor]:
        """``(w - mean) / std`` per parameter (works on batched tensors too)."""
        out = {}
        for name, t in weights.items():
            mean, std = self._stat(name).to(t.device, t.dtype)
            out[name] = (t - mean) / std
        return out

    def inverse(self, weights: dict[str, Tensor]) -> dict[str, Tensor]:
        """Undo ``transform``."""
        out = {}
        for name, t in weights.items():
            mean, std = self._stat(name).to(t.device, t.dtype)
            out[name] = t * std + mean
        return out

    def state_dict(self, prefix: str = "standardizer.") -> dict[str, Tensor]:
        """Tensors to save (safetensors-friendly)."""
        return {prefix + k: v.clone() for k, v in self.stats_.items()}

    @classmethod
    def from_state_dict(
        cls, state: dict[str, Tensor], prefix: str = "standardizer."
    ) -> LayerStandardizer:
        """Inverse of ``state_dict``; other keys are ignored."""
        self = cls()
        self.stats_ = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        return self
