"""The weight-space encoder protocol: a batch of networks in, one vector per network out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

from weightzoo.arch import ArchSpec

if TYPE_CHECKING:
    from typing_extensions import Self

#: One network: its architecture and its parameters (names as ``Zoo.weights``).
Network = tuple[ArchSpec, dict[str, Tensor]]


@runtime_checkable
class WeightSpaceEncoder(Protocol):
    """What every encoder offers (see ``docs/encode.md``).

    Attributes:
        name: registry name.
        any_architecture: whether one fitted encoder accepts networks of any architecture.
        can_decode: whether it maps latents back to weights (``latent`` / ``decode``).
        embed_dim: length of one embedding (known after ``fit`` for some encoders).
        module: the trainable part, ``module(collate(nets)) -> (B, embed_dim)``; ``None``
            for encoders without one (``stats``) and before ``fit`` for those sized by it.
    """

    name: str
    any_architecture: bool
    can_decode: bool
    embed_dim: int
    module: torch.nn.Module | None

    def fit(
        self,
        nets: Sequence[Network],
        *,
        seed: int = 0,
        epochs: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Self: ...

    def collate(self, nets: Sequence[Network]) -> Any: ...

    def aux_loss(self, batch: Any) -> Tensor: ...

    def encode(self, nets: Sequence[Network], *, batch_size: int = 256) -> np.ndarray: ...

    def save(self, path: str | Path) -> Path: ...
