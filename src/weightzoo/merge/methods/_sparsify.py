"""Sparsification of task vectors (trim by magnitude, random drop, drop outliers).

Everything works on one tensor at a time and is vectorized over its elements:
selecting the top-k magnitudes goes through ``torch.kthvalue`` (a selection, not
a sort), which is what keeps TIES fast on tensors of hundreds of millions of
entries.
"""

from __future__ import annotations

import torch


def _keep_count(numel: int, density: float) -> int:
    # int() as mergekit: density 0.5 of 5 entries keeps 2.
    return int(density * numel)


def top_k_mask(values: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean mask of exactly ``k`` largest entries of ``values`` (flattened order breaks ties).

    Args:
        values: (...) float tensor (magnitudes).
        k: how many entries to keep, 0 <= k <= numel.

    Returns:
        Boolean tensor of the same shape with ``k`` True entries.
    """
    n = values.numel()
    if k >= n:
        return torch.ones_like(values, dtype=torch.bool)
    if k <= 0:
        return torch.zeros_like(values, dtype=torch.bool)
    flat = values.reshape(-1)
    # The k-th largest is the (n-k+1)-th smallest.
    threshold = torch.kthvalue(flat, n - k + 1).values
    mask = flat > threshold
    missing = k - int(mask.sum())
    if missing > 0:
        # Entries equal to the threshold (fp16 deltas tie often): keep the first ones.
        tied = flat == threshold
        mask |= tied & (torch.cumsum(tied, 0, dtype=torch.int64) <= missing)
    return mask.view_as(values)


def magnitude_prune(delta: torch.Tensor, density: float) -> torch.Tensor:
    """TIES trim: keep the ``density`` fraction of entries of largest magnitude, zero the rest."""
    if density >= 1:
        return delta
    if density <= 0 or delta.numel() == 0:
        return torch.zeros_like(delta)
    # At least one entry survives a positive density (as mergekit).
    k = max(1, _keep_count(delta.numel(), density))
    return delta * top_k_mask(delta.abs(), k)


def random_drop(
    delta: torch.Tensor, density: float, *, rescale: bool, generator: torch.Generator | None
) -> torch.Tensor:
    """DARE: keep each entry with probability ``density``; rescale kept ones by 1/density."""
    if density >= 1:
        return delta
    if density <= 0:
        return torch.zeros_like(delta)
    keep = torch.rand(delta.shape, generator=generator, dtype=torch.float32) < density
    out = delta * keep
    # Rescaling by 1/p keeps the expected value of each entry equal to the task vector.
    return out / density if rescale else out


def outlier_prune(delta: torch.Tensor, density: float, gamma: float) -> torch.Tensor:
    """Model Breadcrumbs: drop the ``gamma`` fraction of largest magnitudes, then the
    smallest, so that a ``density`` fraction of entries remains."""
    if density >= 1:
        return delta
    n = delta.numel()
    target = _keep_count(n, density)
    n_top = int(gamma * n)
    n_bot = n - target - n_top
    if n_bot < 0:
        # Not enough room: remove fewer outliers to still reach the density.
        n_top += n_bot
        n_bot = 0
    mag = delta.abs()
    keep = top_k_mask(mag, n - n_bot) & ~top_k_mask(mag, n_top)
    return delta * keep
