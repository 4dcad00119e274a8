"""Forward pass of many models of one layer-IR architecture at once.

Parameters are stacked with a leading model dimension M. Linear layers are
one ``baddbmm``. Convolutions stack the models along channels and run one
grouped convolution (``groups=M``) in ``channels_last`` layout: measured on a
2-core CPU for CNN-s at batch 10 and 64 models (``benchmarks/zoo_throughput.py``),
that layout is ~2.5x faster than the same grouped convolution in NCHW, and
``torch.func.vmap`` (which lowers to NCHW grouped convolutions) or im2col +
``bmm`` (dominated by copies) are slower than a plain per-model loop.
When all models see the same inputs (evaluation, shared data order), the first
convolution is an ordinary one with M·C_out output channels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from weightzoo.arch.layers import Act, Conv, Dropout, Flatten, GlobalAvgPool, Layer, Linear, MaxPool
from weightzoo.arch.seqnet import activation_fn


def population_forward(
    layers: list[Layer],
    params: dict[str, torch.Tensor],
    x: torch.Tensor,
    *,
    activation: str,
    num_models: int,
    shared_input: bool = False,
    dropout: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Logits of M models.

    Args:
        layers: the architecture's layer IR.
        params: name -> stacked parameter ``(M, *shape)``.
        x: ``(M, B, *input_shape)``, or ``(B, *input_shape)`` with ``shared_input``.
        activation: activation name.
        num_models: M.
        shared_input: every model gets the same batch ``x``.
        dropout: per-model dropout rates ``(M,)``; ``None`` means eval mode.
        generator: randomness for dropout masks.

    Returns:
        Logits ``(M, B, num_classes)``.
    """
    M = num_models
    act = activation_fn(activation)
    # h is either "flat" (M, B, F) or "grouped" (B, M*C, H, W) channels_last.
    h = x
    grouped = False
    shared = shared_input
    ch = 0  # channels per model while grouped
    is_1d = False
    for layer in layers:
        if isinstance(layer, Conv):
            is_1d = layer.dims == 1
            w = params[f"{layer.name}.weight"]
            b = params[f"{layer.name}.bias"].reshape(-1)
            if is_1d:
                w = w.unsqueeze(-2)  # (M, O, C, 1, k)
            w = w.reshape(M * layer.out_channels, *w.shape[2:])
            pad = (0, layer.padding) if is_1d else layer.padding
            if not grouped:
                h = _to_grouped(h, shared, M, is_1d)
                if shared:
                    h = F.conv2d(h, w, b, padding=pad)
                else:
                    h = F.conv2d(h, w, b, padding=pad, groups=M)
                grouped, shared = True, False
            else:
                h = F.conv2d(h, w, b, padding=pad, groups=M)
            ch = layer.out_channels
        elif isinstance(layer, MaxPool):
            k = (1, layer.kernel) if is_1d else layer.kernel
            h = F.max_pool2d(h, k)
        elif isinstance(layer, Act):
            h = act(h)
        elif isinstance(layer, Dropout):
            if dropout is not None:
                h = _dropout(h, dropout, grouped, ch, shared, M, generator)
                shared = False
        elif isinstance(layer, Flatten):
            if grouped:
                B, _, H, W = h.shape
                spatial = W if is_1d else H * W
                h = h.reshape(B, M, ch, H, W).permute(1, 0, 2, 3, 4).reshape(M, B, ch * spatial)
                grouped = False
            else:
                h = h.flatten(1 if shared else 2)
        elif isinstance(layer, GlobalAvgPool):
            B = h.shape[0]
            h = h.mean(dim=(2, 3)).reshape(B, M, ch).transpose(0, 1)
            grouped = False
        elif isinstance(layer, Linear):
            w = params[f"{layer.name}.weight"]
            b = params[f"{layer.name}.bias"]
            if shared:
                # (B, F) @ (M, F, O) broadcasts without copying the batch M times.
                h = torch.matmul(h, w.transpose(1, 2)) + b[:, None, :]
                shared = False
            else:
                h = torch.baddbmm(b[:, None, :], h, w.transpose(1, 2))
    if shared:  # an architecture with no parameterized layer
        h = h.unsqueeze(0).expand(M, *h.shape)
    return h


def _to_grouped(h: torch.Tensor, shared: bool, M: int, is_1d: bool) -> torch.Tensor:
    if is_1d:
        h = h.unsqueeze(-2)  # (..., C, 1, L)
    if not shared:
        # (M, B, C, H, W) -> (B, M*C, H, W)
        B = h.shape[1]
        h = h.transpose(0, 1).reshape(B, M * h.shape[2], *h.shape[3:])
    return h.contiguous(memory_format=torch.channels_last)


def _dropout(
    h: torch.Tensor,
    rates: torch.Tensor,
    grouped: bool,
    ch: int,
    shared: bool,
    M: int,
    generator: torch.Generator | None,
) -> torch.Tensor:
    if not bool((rates > 0).any()):
        return h
    if shared:
        h = h.unsqueeze(0).expand(M, *h.shape)
    if grouped:
        p = rates.repeat_interleave(ch).view(1, -1, 1, 1)
    else:
        p = rates.view(-1, *([1] * (h.dim() - 1)))
    keep = torch.rand(h.shape, generator=generator, dtype=h.dtype, device=h.device) >= p
    return h * keep / (1.0 - p)
