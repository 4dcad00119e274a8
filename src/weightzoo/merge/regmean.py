"""RegMean (Jin et al., ICLR 2023): merge each linear layer by the closed-form
solution of least squares on the models' inputs, W* = (sum_i W_i G_i)(sum_i G_i)^-1
with G_i = X_i^T X_i the Gram matrix of layer inputs of model i."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn

from weightzoo.merge.methods._registry import register_merge_method

REGMEAN_ALPHA = 0.9
"""Scale of the off-diagonal Gram entries (the paper's default); < 1 keeps the sum invertible."""


@torch.no_grad()
def collect_grams(model: nn.Module, batches: Iterable[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Gram matrices X^T X of the inputs of every ``nn.Linear`` layer.

    Leading dimensions of a layer's input (batch, sequence) are flattened: each row
    is one input vector.

    Args:
        model: the network (run in eval mode; parameters unchanged).
        batches: model inputs.

    Returns:
        ``"<module name>.weight"`` -> (in_features, in_features) float32 sum of x x^T
        over every input vector seen.
    """
    grams: dict[str, torch.Tensor] = {}
    hooks = []

    def hook_for(name: str):  # noqa: ANN202
        def hook(module: nn.Module, args: tuple, _out: torch.Tensor) -> None:
            x = args[0].detach().float().reshape(-1, module.in_features)
            g = x.T @ x
            grams[name] = grams[name] + g if name in grams else g

        return hook

    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            hooks.append(module.register_forward_hook(hook_for(f"{name}.weight")))
    was_training = model.training
    model.eval()
    try:
        for x in batches:
            model(x)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return grams


@register_merge_method(
    "regmean",
    url="https://arxiv.org/abs/2212.09849",
    model_params={"weight": 1.0},
    params={"alpha": REGMEAN_ALPHA},
    aux=("grams",),
)
def regmean(
    tensors: list[torch.Tensor],
    base: torch.Tensor | None,
    *,
    weight: Sequence[float],
    grams: Sequence[torch.Tensor | None],
    alpha: float = REGMEAN_ALPHA,
) -> torch.Tensor:
    """RegMean for one tensor: the least-squares merge where Gram matrices are given
    (linear weights, (out, in)); the weighted average elsewhere (biases, norms)."""
    if any(g is None for g in grams) or tensors[0].dim() != 2:
        total = float(sum(weight))
        return sum(t * (w / total) for t, w in zip(tensors, weight, strict=True))
    lhs = torch.zeros_like(grams[0], dtype=torch.float32)
    rhs = torch.zeros(tensors[0].shape[1], tensors[0].shape[0], dtype=torch.float32)
    for x, g, w in zip(tensors, grams, weight, strict=True):
        g = g.float()
        # Shrinking off-diagonal entries regularizes towards the plain average.
        g = alpha * g + (1 - alpha) * torch.diag_embed(torch.diagonal(g))
        lhs += w * g
        rhs += w * (g @ x.T)
    # Solve (sum G_i) W*^T = sum G_i W_i^T, the normal equations of
    # min_W sum_i ||X_i W^T - X_i W_i^T||^2. An input feature that is zero for
    # every model (a dead ReLU unit) makes sum G_i singular and leaves its column
    # undetermined; a tiny ridge towards the plain average fixes such columns to
    # the average and changes the others by ~1e-8 relative.
    total = float(sum(weight))
    average = sum(x.float() * (w / total) for x, w in zip(tensors, weight, strict=True))
    ridge = 1e-8 * float(torch.diagonal(lhs).mean().clamp_min(1e-30))
    lhs += ridge * torch.eye(lhs.shape[0])
    rhs += ridge * average.T
    return torch.linalg.solve(lhs, rhs).T.contiguous()
