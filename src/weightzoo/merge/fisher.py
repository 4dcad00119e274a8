"""Fisher merging (Matena & Raffel, 2022): a per-entry average weighted by each
model's diagonal Fisher information, estimated from data."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from weightzoo.merge.methods._registry import register_merge_method

FISHER_FLOOR = 1e-6
"""Lower bound on Fisher entries, so entries no model is sensitive to average plainly."""


def estimate_fisher(
    model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]
) -> dict[str, torch.Tensor]:
    """Diagonal empirical Fisher: the mean over examples of the squared gradient of
    the log-likelihood of the given label.

    Classification (integer labels) uses the log-softmax likelihood; float labels a
    unit-variance Gaussian (squared error / 2). Gradients are per example
    (``torch.func.vmap`` over ``grad``), so the estimate is not the square of a
    batch mean.

    Args:
        model: the network; its parameters are not changed.
        batches: (inputs (B, ...), labels (B,) long or (B, ...) float) pairs.

    Returns:
        Parameter name -> (shape of the parameter) float32 tensor, the mean of
        squared per-example gradients.

    Raises:
        ValueError: no examples in ``batches``.
    """
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def nll(p: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = functional_call(model, (p, buffers), (x.unsqueeze(0),))
        if y.dtype.is_floating_point:
            return 0.5 * ((out.squeeze(0) - y) ** 2).sum()
        # cross_entropy instead of indexing: vmap cannot index by a batched label.
        return torch.nn.functional.cross_entropy(out, y.unsqueeze(0))

    per_example = vmap(grad(nll), in_dims=(None, 0, 0))
    total = {k: torch.zeros_like(v, dtype=torch.float32) for k, v in params.items()}
    count = 0
    was_training = model.training
    model.eval()
    try:
        for x, y in batches:
            grads = per_example(params, x, y)
            for k, g in grads.items():
                total[k] += (g.float() ** 2).sum(0)
            count += x.shape[0]
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("estimate_fisher: no examples in batches")
    return {k: v / count for k, v in total.items()}


@register_merge_method(
    "fisher",
    url="https://arxiv.org/abs/2111.09832",
    model_params={"weight": 1.0},
    params={"fisher_floor": FISHER_FLOOR},
    aux=("fishers",),
)
def fisher(
    tensors: list[torch.Tensor],
    base: torch.Tensor | None,
    *,
    weight: Sequence[float],
    fishers: Sequence[torch.Tensor],
    fisher_floor: float = FISHER_FLOOR,
) -> torch.Tensor:
    """Fisher merging: sum_i w_i F_i x_i / sum_i w_i F_i per entry."""
    num = torch.zeros_like(tensors[0])
    den = torch.zeros_like(tensors[0])
    for x, f, w in zip(tensors, fishers, weight, strict=True):
        fw = f.float().clamp(min=fisher_floor) * w
        num += fw * x
        den += fw
    return num / den
