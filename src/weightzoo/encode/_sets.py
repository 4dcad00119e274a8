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


class StageNorm(nn.Module):
    """Batch normalization across the items of a stage (chunks, layers or networks), trainable.

    Pooling by attention starts out close to averaging, so what differs between
    networks is a small part of each stage's output next to a large part they
    share. Standardizing with *fixed* statistics (measured once) divides by that
    small spread, so a training step that moves the shared part by ``δ`` moves
    every embedding by ``δ / std`` in the same direction and the differences
    between networks vanish next to it (the collapse measured in
    ``docs/encode.md``). Here, as in batch normalization (Ioffe & Szegedy 2015,
    https://arxiv.org/abs/1502.03167), training uses the statistics of the
    current batch, so a shift shared by all items is removed and cannot drown
    the differences; inference uses running statistics. ``calibrate`` sets the
    running statistics from training networks (a data-dependent init); a
    learned per-feature scale and shift follow.
    """

    def __init__(self, dim: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.weight, self.bias = nn.Parameter(torch.ones(dim)), nn.Parameter(torch.zeros(dim))
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.calibrating = False

    def forward(self, x: Tensor) -> Tensor:
        flat = x.reshape(-1, x.shape[-1])
        if (self.training or self.calibrating) and flat.shape[0] > 1:
            mean, var = flat.mean(0), flat.var(0, unbiased=False)
            with torch.no_grad():
                m = 1.0 if self.calibrating else self.momentum
                self.mean.lerp_(mean.detach(), m)
                self.var.lerp_(var.detach(), m)
            if not self.training:
                mean, var = self.mean, self.var
        else:
            mean, var = self.mean, self.var
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias
