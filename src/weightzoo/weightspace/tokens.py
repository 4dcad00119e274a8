"""Per-neuron tokens and SANE-style chunked tokens with masks and 3-part positions.

A per-neuron token is one output neuron (or conv kernel) of a layer: its
incoming weights, flattened, and its bias (Schürholt et al. 2021,
https://arxiv.org/abs/2110.15288). SANE (Schürholt et al. 2024,
https://arxiv.org/abs/2406.09997) cuts those tokens into pieces of one fixed
width so every layer of every architecture fits one token size, and gives each
piece a position (global index, layer index, neuron index within the layer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from weightzoo.weightspace.layout import LayerInfo, WeightLayout


def neuron_tokens(weights: dict[str, Tensor], layers: list[LayerInfo]) -> list[Tensor]:
    """One token per output neuron, per layer.

    Args:
        weights: parameter dict; tensors may carry leading batch dims ``(*B, ...)``.
        layers: from ``WeightLayout.layers()``.

    Returns:
        Per layer a tensor ``(*B, fan_out, neuron_width)``: weights then bias.
    """
    out = []
    for layer in layers:
        w = weights[f"{layer.name}.weight"]
        lead = w.shape[: w.dim() - len(layer.weight_shape)]
        w = w.reshape(*lead, layer.fan_out, -1)
        if layer.bias:
            w = torch.cat([w, weights[f"{layer.name}.bias"].unsqueeze(-1)], dim=-1)
        out.append(w)
    return out


def tokens_to_weights(tokens: list[Tensor], layers: list[LayerInfo]) -> dict[str, Tensor]:
    """Inverse of ``neuron_tokens``."""
    out = {}
    for tok, layer in zip(tokens, layers, strict=True):
        lead = tok.shape[:-2]
        nw = math.prod(layer.weight_shape[1:])
        out[f"{layer.name}.weight"] = tok[..., :nw].reshape(*lead, *layer.weight_shape)
        if layer.bias:
            out[f"{layer.name}.bias"] = tok[..., nw]
    return out


@dataclass(frozen=True)
class ChunkedTokens:
    """SANE tokens of one architecture.

    Attributes:
        tokens: ``(*B, T, token_size)`` values, zero where padded.
        mask: ``(T, token_size)`` bool, True where an entry holds a weight.
        positions: ``(T, 3)`` long: global token index, layer index, neuron index in the layer.
    """

    tokens: Tensor
    mask: Tensor
    positions: Tensor


def chunked_tokens(
    weights: dict[str, Tensor], layout: WeightLayout, token_size: int
) -> ChunkedTokens:
    """Cut every neuron token into pieces of ``token_size`` (the last piece zero-padded).

    Args:
        weights: parameter dict, tensors optionally with leading batch dims.
        layout: the architecture's layout.
        token_size: entries per token.

    Returns:
        The chunked tokens with their mask and positions.
    """
    toks, masks, pos = [], [], []
    for li, (layer, tok) in enumerate(
        zip(layout.layers(), neuron_tokens(weights, layout.layers()), strict=True)
    ):
        width = tok.shape[-1]
        pieces = math.ceil(width / token_size)
        pad = pieces * token_size - width
        tok = torch.nn.functional.pad(tok, (0, pad))
        toks.append(tok.reshape(*tok.shape[:-2], layer.fan_out * pieces, token_size))
        m = torch.ones(pieces * token_size, dtype=torch.bool)
        if pad:
            m[-pad:] = False
        masks.append(m.view(pieces, token_size).repeat(layer.fan_out, 1))
        neuron = torch.arange(layer.fan_out).repeat_interleave(pieces)
        pos.append(torch.stack([torch.zeros_like(neuron), torch.full_like(neuron, li), neuron], 1))
    positions = torch.cat(pos)
    positions[:, 0] = torch.arange(len(positions))
    return ChunkedTokens(torch.cat(toks, dim=-2), torch.cat(masks), positions)


def unchunk_tokens(chunked: Tensor, layout: WeightLayout, token_size: int) -> dict[str, Tensor]:
    """Inverse of ``chunked_tokens``: ``(*B, T, token_size)`` -> parameter dict."""
    out_tokens, start = [], 0
    for layer in layout.layers():
        pieces = math.ceil(layer.neuron_width / token_size)
        n = layer.fan_out * pieces
        part = chunked[..., start : start + n, :]
        part = part.reshape(*part.shape[:-2], layer.fan_out, pieces * token_size)
        out_tokens.append(part[..., : layer.neuron_width])
        start += n
    return tokens_to_weights(out_tokens, layout.layers())
