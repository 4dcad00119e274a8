"""Flat baseline: an MLP on the raw flattened (standardized) weights of one architecture.

The "MLP" baseline of Unterthiner et al. 2020 (https://arxiv.org/abs/2002.11448)
and of SNE's tables; it sees every weight but none of the symmetry.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from weightzoo.encode._base import EncoderBase
from weightzoo.encode.base import Network
from weightzoo.encode.registry import register_encoder


@register_encoder("flat", url="https://arxiv.org/abs/2002.11448", any_architecture=False)
class FlatEncoder(EncoderBase):
    """MLP ``D -> hidden -> hidden -> embed_dim`` on the flattened weights.

    ``fit`` only fits the standardization and sizes the MLP; its weights are
    trained end to end by ``weightzoo.predict`` (before that, ``encode`` is a
    random projection of the weights).

    Args:
        hidden: width of the two hidden layers.
        embed_dim: output size.
        dropout: dropout after each hidden layer.
        device: where the MLP runs.
    """

    def __init__(
        self, *, hidden: int = 256, embed_dim: int = 64, dropout: float = 0.1, device: str = "cpu"
    ) -> None:
        super().__init__(
            {"hidden": hidden, "embed_dim": embed_dim, "dropout": dropout, "device": device},
            embed_dim=embed_dim,
            device=device,
        )

    def _build_module(self) -> nn.Module:
        d, h, p = self.layout_.num_params, self.params["hidden"], self.params["dropout"]
        return nn.Sequential(
            nn.Linear(d, h), nn.ReLU(), nn.Dropout(p),
            nn.Linear(h, h), nn.ReLU(), nn.Dropout(p),
            nn.Linear(h, self.embed_dim),
        ).to(self.device)  # fmt: skip

    def collate(self, nets: Sequence[Network]) -> Tensor:
        """Standardized flat weights ``(B, D)``."""
        return self.layout_.flatten(self._standardized_stack(nets), batched=True)
