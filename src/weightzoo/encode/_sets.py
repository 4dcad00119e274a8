"""Set Transformer blocks (Lee et al. 2019, https://arxiv.org/abs/1810.00825) for SNE.

``SAB`` (set-to-set) and ``PMA`` (set-to-vector) on padded sets, and
``SegmentPMA``: pooling by attention over variable-size sets stored back to
back, with a segment softmax, so its memory is linear in the number of
elements and no set is ever padded to the size of the largest.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sinusoidal(index: Tensor, dim: int) -> Tensor:
    """Transformer sinusoidal encoding of integer positions: ``(n,) -> (n, dim)``."""
    half = dim // 2
    freq = torch.exp(-math.log(10000.0) * torch.arange(half, device=index.device) / max(half, 1))
    ang = index.float().unsqueeze(-1) * freq
    enc = torch.cat([ang.sin(), ang.cos()], dim=-1)
    return nn.functional.pad(enc, (0, dim - enc.shape[-1]))


class SAB(nn.Module):
    """Set attention block: self-attention + feed-forward, pre-norm; ``(B, n, d) -> (B, n, d)``."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(
            dim, heads, dim_feedforward=2 * dim, dropout=0.0, batch_first=True, norm_first=True
        )

    def forward(self, x: Tensor, pad: Tensor | None = None) -> Tensor:
        """``pad``: ``(B, n)`` bool, True at padding."""
        return self.layer(x, src_key_padding_mask=pad)


class PMA(nn.Module):
    """Pooling by multihead attention with one learned seed: ``(B, n, d) -> (B, d)``."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.seed = nn.Parameter(torch.randn(1, 1, dim) / math.sqrt(dim))
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: Tensor, pad: Tensor | None = None) -> Tensor:
        q = self.seed.expand(x.shape[0], -1, -1)
        h = self.attn(q, x, x, key_padding_mask=pad, need_weights=False)[0] + q
        h = self.norm1(h)
        return self.norm2(h + self.ff(h)).squeeze(1)


class SegmentPMA(nn.Module):
    """PMA over sets stored back to back: ``x (n, d)``, ``segment (n,)`` in ``[0, S)`` -> ``(S, d)``."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError("dim must be divisible by heads")
        self.heads, self.head_dim = heads, dim // heads
        self.seed = nn.Parameter(torch.randn(dim) / math.sqrt(dim))
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: Tensor, segment: Tensor, num_segments: int) -> Tensor:
        n, h, hd = x.shape[0], self.heads, self.head_dim
        q = self.q(self.seed).view(h, hd)
        k = self.k(x).view(n, h, hd)
        v = self.v(x).view(n, h, hd)
        score = (k * q).sum(-1) / math.sqrt(hd)  # (n, h)
        idx = segment.unsqueeze(1).expand(n, h)
        # Segment softmax: subtract each segment's max for stability (the max needs no gradient).
        smax = torch.full((num_segments, h), -torch.inf, device=x.device, dtype=score.dtype)
        smax = smax.scatter_reduce(0, idx, score.detach(), reduce="amax", include_self=True)
        e = torch.exp(score - smax[segment])
        denom = torch.zeros(num_segments, h, device=x.device, dtype=e.dtype).index_add(
            0, segment, e
        )
        w = e / denom[segment]
        pooled = torch.zeros(num_segments, h, hd, device=x.device, dtype=v.dtype)
        pooled = pooled.index_add(0, segment, w.unsqueeze(-1) * v).reshape(num_segments, h * hd)
        out = self.norm1(self.o(pooled) + self.seed)
        return self.norm2(out + self.ff(out))


class FeatureNorm(nn.Module):
    """Per-feature standardization with statistics fixed once from data (``calibrate``).

    Pooling by attention starts out close to averaging, which shrinks the
    differences between networks at every stage of a hierarchy; the shared part
    then dominates and all networks get nearly the same embedding. Standardizing
    each stage's output with statistics of the training networks, measured once
    in ``fit`` (a data-dependent init), keeps those differences at unit scale.
    The statistics are buffers, not trained.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))
        self.calibrating = False

    def forward(self, x: Tensor) -> Tensor:
        if self.calibrating:
            with torch.no_grad():
                flat = x.reshape(-1, x.shape[-1])
                self.mean.copy_(flat.mean(0))
                if flat.shape[0] > 1:
                    self.std.copy_(flat.std(0).clamp_min(1e-6))
        return (x - self.mean) / self.std
