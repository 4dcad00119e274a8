"""Stacking: build a deeper model from layer ranges of several models.

Two recipes from Model-GLUE (https://arxiv.org/abs/2410.05357, Sec. 5 and its
``stack_llamas.py``): **stack** (all layers of model A, then all of model B)
and **interleave** (layer 0 of A, layer 0 of B, layer 1 of A, ...), with the
tensors outside the repeated layers (embeddings, norms, heads) averaged; and
mergekit's ``passthrough`` **slices** (explicit ``(model, start, end)`` layer
ranges, non-layer tensors from the first slice's model).

Layers are found by tensor name: the default pattern matches Hugging Face
decoders (``model.layers.<i>.``). ``stack_mlp`` applies the same recipes to
weightzoo MLPs, whose repeatable layers are the hidden-to-hidden ``fc<i>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal

import torch
from torch import Tensor

from weightzoo.arch import ArchSpec
from weightzoo.errors import ConfigError

__all__ = [
    "HF_LAYER_PATTERN",
    "interleave_plan",
    "num_layers",
    "stack_mlp",
    "stack_plan",
    "stack_slices",
]

HF_LAYER_PATTERN = r"^(?P<prefix>.*\blayers\.)(?P<index>\d+)(?P<suffix>\..+)$"

Weights = Mapping[str, Tensor]
Slice = tuple[int, int, int]


def _split(
    weights: Weights, pattern: str
) -> tuple[dict[int, dict[str, Tensor]], dict[str, Tensor]]:
    """Layer index -> {name with the index replaced by '{}': tensor}, and the other tensors."""
    rx = re.compile(pattern)
    layers: dict[int, dict[str, Tensor]] = {}
    other: dict[str, Tensor] = {}
    for name, t in weights.items():
        m = rx.match(name)
        if m is None:
            other[name] = t
        else:
            key = m.group("prefix") + "{}" + m.group("suffix")
            layers.setdefault(int(m.group("index")), {})[key] = t
    return layers, other


def num_layers(weights: Weights, *, pattern: str = HF_LAYER_PATTERN) -> int:
    """Number of repeated layers (highest index + 1; 0 if none match)."""
    layers, _ = _split(weights, pattern)
    return max(layers) + 1 if layers else 0


def stack_plan(counts: Sequence[int]) -> list[Slice]:
    """Model-GLUE's *stack*: every layer of model 0, then every layer of model 1, ..."""
    return [(m, 0, n) for m, n in enumerate(counts)]


def interleave_plan(counts: Sequence[int]) -> list[Slice]:
    """Model-GLUE's *interleave*: layer 0 of each model in turn, then layer 1, ..."""
    return [(m, i, i + 1) for i in range(max(counts)) for m, n in enumerate(counts) if i < n]


def stack_slices(
    models: Sequence[Weights],
    slices: Sequence[Slice],
    *,
    pattern: str = HF_LAYER_PATTERN,
    non_layer: Literal["first", "average"] = "first",
) -> dict[str, Tensor]:
    """Concatenate layer ranges of several models into one deeper state dict.

    Args:
        models: state dicts whose repeated layers match ``pattern``.
        slices: ``(model index, start, end)``: layers ``start..end-1`` of that
            model, in output order (mergekit's passthrough ``slices``).
        pattern: regex with groups ``prefix``, ``index`` and ``suffix``.
        non_layer: tensors outside the layers from the first slice's model
            (mergekit) or averaged over all models (Model-GLUE).

    Returns:
        The stacked state dict, layers renumbered from 0.

    Raises:
        ConfigError: an empty plan, a range outside a model, layers whose
            tensors differ, or non-layer tensors that cannot be averaged.
    """
    if not slices:
        raise ConfigError("stack: expected at least one slice")
    split = [_split(w, pattern) for w in models]
    out: dict[str, Tensor] = {}
    ref_layer: dict[str, tuple[int, ...]] | None = None
    k = 0
    for m, start, end in slices:
        if not 0 <= m < len(models):
            raise ConfigError(f"stack: slice names model {m}, but there are {len(models)} models")
        layers = split[m][0]
        if not 0 <= start < end <= len(layers):
            raise ConfigError(
                f"stack: slice [{start}, {end}) of model {m} is outside its {len(layers)} layers"
            )
        for i in range(start, end):
            shapes = {n: tuple(t.shape) for n, t in layers[i].items()}
            if ref_layer is None:
                ref_layer = shapes
            elif shapes != ref_layer:
                raise ConfigError(f"stack: layer {i} of model {m} differs in tensors from layer 0")
            for name, t in layers[i].items():
                out[name.format(k)] = t.clone()
            k += 1
    if non_layer == "first":
        out.update({n: t.clone() for n, t in split[slices[0][0]][1].items()})
    else:
        used = sorted({m for m, _, _ in slices})
        names = split[used[0]][1]
        for name in names:
            parts = [split[m][1].get(name) for m in used]
            if any(p is None or p.shape != names[name].shape for p in parts):
                raise ConfigError(f"stack: tensor {name!r} is missing or differs between models")
            out[name] = torch.stack([p.float() for p in parts]).mean(0).to(names[name].dtype)
    return out


def _mlp_check(spec: ArchSpec) -> int:
    if spec.family != "mlp" or len(spec.widths) < 2 or len(set(spec.widths)) != 1:
        raise ConfigError(
            "stack: weightzoo MLPs stack when they have >= 2 hidden layers of one width; "
            f"got {spec.family} with widths {spec.widths}"
        )
    return len(spec.widths)


def stack_mlp(
    specs: Sequence[ArchSpec],
    models: Sequence[Weights],
    slices: Sequence[Slice],
    *,
    non_layer: Literal["first", "average"] = "first",
) -> tuple[ArchSpec, dict[str, Tensor]]:
    """Stack the hidden-to-hidden layers of weightzoo MLPs of one width.

    An MLP with hidden widths ``(w,) * H`` has layers ``fc1`` (input -> w),
    ``fc2 .. fcH`` (w -> w, the repeatable ones, indexed from 0 here) and
    ``fc{H+1}`` (w -> classes), which are treated like embeddings and head.

    Args:
        specs: one spec per model (same input, classes and width).
        models: their weights.
        slices: ``(model, start, end)`` over each model's ``H - 1`` hidden layers.
        non_layer: see ``stack_slices``.

    Returns:
        The new spec (``H' = 1 + total sliced layers`` hidden layers) and weights.
    """
    depths = [_mlp_check(s) for s in specs]
    ref = specs[0]
    if any(
        s.replace(widths=ref.widths[:1]) != ref.replace(widths=ref.widths[:1]) for s in specs
    ) or any(s.widths[0] != ref.widths[0] for s in specs):
        raise ConfigError("stack: the MLPs differ in input, classes, activation or width")
    renamed = []
    for h, w in zip(depths, models, strict=True):
        r = {}
        for name, t in w.items():
            layer, _, kind = name.partition(".")
            i = int(layer.removeprefix("fc"))
            if i == 1:
                r[f"embed.{kind}"] = t
            elif i == h + 1:
                r[f"head.{kind}"] = t
            else:
                r[f"layers.{i - 2}.{kind}"] = t
        renamed.append(r)
    stacked = stack_slices(renamed, slices, non_layer=non_layer)
    total = sum(end - start for _, start, end in slices)
    out = {}
    for name, t in stacked.items():
        head, _, rest = name.partition(".")
        if head == "embed":
            out[f"fc1.{rest}"] = t
        elif head == "head":
            out[f"fc{total + 2}.{rest}"] = t
        else:
            i, _, kind = rest.partition(".")
            out[f"fc{int(i) + 2}.{kind}"] = t
    return ref.replace(widths=(ref.widths[0],) * (total + 1)), out
