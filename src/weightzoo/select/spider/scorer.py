"""Model Spider's tokens and attention scorer (Zhang et al., NeurIPS 2023).

https://arxiv.org/abs/2306.03900

A learnable token per model; a task is a set of tokens, its class prototypes
in a frozen generic encoder's feature space (linearly projected), optionally
joined by the prototypes in one candidate's own feature space (the
PTM-specific tokens of re-ranking, projected by that candidate's own linear
layer, as in the reference code). The sequence [model token, task tokens]
goes through one multi-head self-attention layer; the model token's output,
layer-normed and mapped to a scalar, is the fitness score.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["SpiderScorer", "task_prototypes"]


def task_prototypes(
    features: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor
) -> torch.Tensor:
    """Class prototypes of standardized features.

    Features are z-scored per dimension over the task's samples first, so a
    prototype does not depend on the encoder's scale or offset.

    Args:
        features: (N, D) features.
        labels: (N,) integer labels.

    Returns:
        (C, D) float32 mean of each class present, in increasing label order.
    """
    x = torch.as_tensor(features, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.int64)
    x = (x - x.mean(0)) / (x.std(0, unbiased=False) + 1e-6)
    classes, inverse = torch.unique(y, return_inverse=True)
    sums = torch.zeros(len(classes), x.shape[1]).index_add_(0, inverse, x)
    counts = torch.bincount(inverse, minlength=len(classes)).clamp_min(1).unsqueeze(1)
    return sums / counts


class SpiderScorer(nn.Module):
    """Fitness score of (model, task) pairs from their tokens.

    Model tokens are stored per model key (``m0``, ``m1``, ...) so that adding a
    model adds parameters without touching any existing one.

    Args:
        generic_dim: feature dimension of the generic encoder.
        dim: token dimension.
        heads: attention heads (``dim`` must be divisible by it).
        dropout: dropout in attention.
    """

    def __init__(
        self, generic_dim: int, *, dim: int = 32, heads: int = 2, dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.dim = dim
        self.model_tokens = nn.ParameterDict()
        self.specific_proj = nn.ModuleDict()
        self.generic_proj = nn.Linear(generic_dim, dim)
        # Type embeddings tell generic and model-specific task tokens apart
        # (the reference code's uni/hete prompts).
        self.type_embed = nn.Parameter(torch.zeros(2, dim))
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 1))

    def add_model(
        self, key: str, generator: torch.Generator, specific_dim: int | None = None
    ) -> None:
        """Create the token (and, for re-ranking, the specific projection) of a new model."""
        self.model_tokens[key] = nn.Parameter(torch.randn(self.dim, generator=generator) * 0.5)
        if specific_dim is not None:
            proj = nn.Linear(specific_dim, self.dim)
            bound = 1.0 / specific_dim**0.5
            with torch.no_grad():
                proj.weight.uniform_(-bound, bound, generator=generator)
                proj.bias.zero_()
            self.specific_proj[key] = proj

    def forward(
        self,
        keys: list[str],
        generic: torch.Tensor,
        specific: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Scores of models on one task.

        Args:
            keys: model keys, M of them.
            generic: (C, generic_dim) class prototypes in the generic encoder's space.
            specific: optional key -> (C, D_m) prototypes in that model's own
                feature space; given for every key or for none.

        Returns:
            (M,) scores.
        """
        tokens = torch.stack([self.model_tokens[k] for k in keys])  # (M, dim)
        task = self.generic_proj(generic) + self.type_embed[0]  # (C, dim)
        seq = [tokens.unsqueeze(1), task.unsqueeze(0).expand(len(keys), -1, -1)]
        if specific is not None:
            own = torch.stack([self.specific_proj[k](specific[k]) for k in keys])  # (M, C, dim)
            seq.append(own + self.type_embed[1])
        x = torch.cat(seq, dim=1)
        out, _ = self.attn(x, x, x, need_weights=False)
        x = self.norm(x + out)
        return self.head(x[:, 0]).squeeze(1)
