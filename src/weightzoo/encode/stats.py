"""Weight statistics (Unterthiner et al. 2020, https://arxiv.org/abs/2002.11448).

Per layer: mean, variance and the 0/25/50/75/100 % quantiles of the weights
and of the biases, concatenated. The paper fits gradient-boosted trees on
these features; ``stats_head`` builds that estimator (or an MLP) for the
prediction protocols.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from weightzoo.encode._base import EncoderBase
from weightzoo.encode.base import Network
from weightzoo.encode.registry import register_encoder
from weightzoo.errors import ConfigError

STATS_URL = "https://arxiv.org/abs/2002.11448"
QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0)
STAT_NAMES = ("mean", "var", *(f"q{int(q * 100)}" for q in QUANTILES))


def tensor_stats(x: Tensor) -> Tensor:
    """Statistics of each row: ``(B, n) -> (B, 7)`` (mean, var, 5 quantiles)."""
    x = x.float()
    q = torch.quantile(x, torch.tensor(QUANTILES, dtype=x.dtype), dim=1).T
    return torch.cat([x.mean(1, keepdim=True), x.var(1, unbiased=False, keepdim=True), q], dim=1)


@register_encoder("stats", url=STATS_URL, any_architecture=False)
class StatsEncoder(EncoderBase):
    """Per-layer statistics of the raw (not standardized) weights; no trainable module.

    Args:
        device: unused (statistics are computed on the CPU); kept for a uniform interface.
    """

    def __init__(self, *, device: str = "cpu") -> None:
        super().__init__({"device": device}, embed_dim=0, device="cpu")

    def fit(
        self,
        nets: Sequence[Network],
        *,
        seed: int = 0,
        epochs: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> StatsEncoder:
        """Record the architecture (the features are fixed; nothing is learned)."""
        self._fit_common(nets)
        self.embed_dim = 2 * len(STAT_NAMES) * len(self.layout_.layers())
        return self

    @property
    def feature_names(self) -> list[str]:
        """``<layer>.<weight|bias>.<stat>`` for every feature column."""
        self._check_fitted()
        return [
            f"{layer.name}.{part}.{stat}"
            for layer in self.layout_.layers()
            for part in ("weight", "bias")
            for stat in STAT_NAMES
        ]

    def collate(self, nets: Sequence[Network]) -> Tensor:
        """Features ``(B, embed_dim)``; a layer without bias gets zeros for its bias part."""
        self._check_fitted()
        self._check_arch(nets)
        cols = []
        for layer in self.layout_.layers():
            w = torch.stack([n[1][f"{layer.name}.weight"].detach().flatten() for n in nets])
            cols.append(tensor_stats(w))
            if layer.bias:
                b = torch.stack([n[1][f"{layer.name}.bias"].detach().flatten() for n in nets])
                cols.append(tensor_stats(b))
            else:
                cols.append(torch.zeros(len(nets), len(STAT_NAMES)))
        return torch.cat(cols, dim=1)

    def _embed(self, batch: Tensor) -> Tensor:
        return batch


def stats_head(task: str = "regression", *, kind: str = "gbt", seed: int = 0) -> Any:
    """The scikit-learn estimator the paper puts on top of the statistics.

    Args:
        task: ``regression`` or ``classification``.
        kind: ``gbt`` (histogram gradient boosting) or ``mlp`` (standardized inputs, 2 hidden layers).
        seed: random state.

    Returns:
        An unfitted scikit-learn estimator.

    Raises:
        ConfigError: unknown task or kind.
    """
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if task not in ("regression", "classification"):
        raise ConfigError(f"stats_head.task: expected regression or classification, got {task!r}")
    if kind == "gbt":
        cls = (
            HistGradientBoostingRegressor
            if task == "regression"
            else HistGradientBoostingClassifier
        )
        return cls(random_state=seed)
    if kind == "mlp":
        if task == "classification":
            mlp = MLPClassifier(hidden_layer_sizes=(128, 128), max_iter=500, random_state=seed)
            return make_pipeline(StandardScaler(), mlp)
        # Targets such as accuracy live on a small scale; the MLP trains on standardized ones.
        mlp = MLPRegressor(hidden_layer_sizes=(128, 128), max_iter=500, random_state=seed)
        return TransformedTargetRegressor(
            regressor=make_pipeline(StandardScaler(), mlp), transformer=StandardScaler()
        )
    raise ConfigError(f"stats_head.kind: expected gbt or mlp, got {kind!r}")
