"""Interpolation methods: linear (model soups), SLERP, Model Stock, passthrough."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from weightzoo.merge.methods._registry import REQUIRED, register_merge_method

SLERP_DOT_THRESHOLD = 0.9995
"""|cos| above which SLERP falls back to linear interpolation (as mergekit)."""


@register_merge_method(
    "linear",
    url="https://arxiv.org/abs/2203.05482",
    model_params={"weight": REQUIRED},
    params={"normalize": True},
)
def linear(
    tensors: list[torch.Tensor],
    base: torch.Tensor | None,
    *,
    weight: Sequence[float],
    normalize: bool = True,
) -> torch.Tensor:
    """Weighted average (a uniform model soup with equal weights): sum_i w_i x_i / sum_i w_i."""
    out = torch.zeros_like(tensors[0])
    for t, w in zip(tensors, weight, strict=True):
        out.add_(t, alpha=w)
    if normalize:
        total = float(sum(weight))
        if total == 0:
            raise ValueError("linear: the weights sum to 0; cannot normalize")
        out /= total
    return out


def slerp_tensors(t: float, v0: torch.Tensor, v1: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Spherical interpolation between two tensors seen as flat vectors.

    Interpolates along the great circle between the directions of ``v0`` and ``v1``
    with the coefficients sin((1-t)θ)/sinθ and sin(tθ)/sinθ applied to the
    unnormalized tensors (as mergekit); nearly collinear inputs use linear
    interpolation, where sinθ is too small to divide by.

    Args:
        t: 0 gives ``v0``, 1 gives ``v1``.
        v0, v1: (...) tensors of the same shape.
        eps: norms below this are not normalized.

    Returns:
        (...) float32 tensor.
    """
    a = v0.float()
    b = v1.float()
    na = float(a.norm())
    nb = float(b.norm())
    dot = float(
        (a.reshape(-1) @ b.reshape(-1)) / ((na if na > eps else 1.0) * (nb if nb > eps else 1.0))
    )
    if abs(dot) > SLERP_DOT_THRESHOLD:
        return (1 - t) * a + t * b
    theta = math.acos(max(-1.0, min(1.0, dot)))
    s = math.sin(theta)
    return (math.sin((1 - t) * theta) / s) * a + (math.sin(t * theta) / s) * b


@register_merge_method(
    "slerp",
    url="https://en.wikipedia.org/wiki/Slerp",
    needs_base=True,
    params={"t": REQUIRED},
    max_models=1,
)
def slerp(tensors: list[torch.Tensor], base: torch.Tensor, *, t: float) -> torch.Tensor:
    """SLERP from the base (t = 0) to the other model (t = 1)."""
    return slerp_tensors(float(t), base, tensors[0])


@register_merge_method(
    "model_stock",
    url="https://arxiv.org/abs/2403.19522",
    needs_base=True,
    params={"filter_wise": False},
    min_models=2,
)
def model_stock(
    tensors: list[torch.Tensor], base: torch.Tensor, *, filter_wise: bool = False
) -> torch.Tensor:
    """Model Stock: interpolate base -> mean of fine-tunes by t = k cosθ / (1 + (k-1) cosθ).

    θ is the mean pairwise angle between the task vectors (whole tensor, or per row
    with ``filter_wise``), k the number of fine-tuned models.
    """
    shape = base.shape
    if filter_wise:
        rows = (
            (lambda x: x.unsqueeze(0)) if base.dim() == 1 else (lambda x: x.reshape(x.shape[0], -1))
        )
    else:
        rows = lambda x: x.reshape(1, -1)  # noqa: E731
    w0 = rows(base)
    offsets = [rows(x) - w0 for x in tensors]
    cosines = []
    for i in range(len(offsets)):
        for j in range(i + 1, len(offsets)):
            a, b = offsets[i], offsets[j]
            norms = (a.norm(dim=-1) * b.norm(dim=-1)).clamp(min=1e-6)
            cosines.append(((a * b).sum(-1) / norms).clamp(-1, 1))
    cos = torch.stack(cosines).mean(0).unsqueeze(-1)
    k = len(tensors)
    denominator = 1 + (k - 1) * cos
    # Opposite task vectors make the ratio blow up: keep the base there (as mergekit).
    singular = denominator.abs() < 1e-6
    ratio = torch.where(singular, 0.0, k * cos / torch.where(singular, 1.0, denominator))
    mean = sum(rows(x) for x in tensors) / k
    return (ratio * mean + (1 - ratio) * w0).reshape(shape)


@register_merge_method(
    "passthrough",
    url="https://github.com/arcee-ai/mergekit#passthrough",
    model_params={"scale": 1.0},
    max_models=1,
)
def passthrough(
    tensors: list[torch.Tensor], base: torch.Tensor | None, *, scale: Sequence[float]
) -> torch.Tensor:
    """Copy one model's tensor (optionally scaled); with slices, stacks layers of models."""
    return tensors[0] * scale[0] if scale[0] != 1 else tensors[0]
