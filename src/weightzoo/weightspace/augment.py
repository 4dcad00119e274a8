"""Weight-space augmentations: neuron permutation, Gaussian noise, erasing.

The three views of hyper-representation training (Schürholt et al. 2021,
https://arxiv.org/abs/2110.15288): a permutation gives a functionally
identical network with different weights, noise and erasing give nearby ones.
"""

from __future__ import annotations

import torch
from torch import Tensor

from weightzoo.weightspace.symmetry import PermGroup, apply_permutation


def permute_batch(
    weights: dict[str, Tensor], groups: list[PermGroup], generator: torch.Generator
) -> dict[str, Tensor]:
    """An independent random neuron permutation for every model of a batch.

    Args:
        weights: parameter dict with a leading model dimension ``B``.
        groups: from ``permutation_groups``.
        generator: source of randomness.

    Returns:
        The permuted batch (every model computes the same function as before).
    """
    batch = next(iter(weights.values())).shape[0]
    perms = {
        g.name: torch.rand(batch, g.size, generator=generator, device=generator.device).argsort(
            dim=1
        )
        for g in groups
    }
    return apply_permutation(weights, groups, perms, batched=True)


def gaussian_noise(x: Tensor, std: float, generator: torch.Generator) -> Tensor:
    """``x + std * N(0, 1)`` (on standardized weights ``std`` is relative to each layer's scale)."""
    if std <= 0:
        return x
    noise = torch.randn(x.shape, generator=generator, device=generator.device, dtype=x.dtype)
    return x + std * noise.to(x.device)


def random_erasing(
    tokens: Tensor,
    generator: torch.Generator,
    *,
    p: float = 0.5,
    scale: tuple[float, float] = (0.02, 0.33),
) -> Tensor:
    """Zero a random contiguous span of tokens in a random subset of the samples.

    Random erasing (Zhong et al. 2017, https://arxiv.org/abs/1708.04896) as the
    hyper-representation papers apply it to token sequences.

    Args:
        tokens: ``(B, T, d)``.
        generator: source of randomness.
        p: probability that a sample is erased at all.
        scale: range of the erased fraction of the ``T`` tokens.

    Returns:
        A new ``(B, T, d)`` tensor.
    """
    b, t = tokens.shape[:2]
    dev = generator.device
    erase = torch.rand(b, generator=generator, device=dev) < p
    frac = scale[0] + (scale[1] - scale[0]) * torch.rand(b, generator=generator, device=dev)
    length = (frac * t).ceil().long().clamp(1, t)
    start = (torch.rand(b, generator=generator, device=dev) * (t - length + 1)).long()
    idx = torch.arange(t, device=dev)
    hit = (idx >= start[:, None]) & (idx < (start + length)[:, None]) & erase[:, None]
    return tokens.masked_fill(hit.to(tokens.device).unsqueeze(-1), 0.0)
