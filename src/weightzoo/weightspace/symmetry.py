"""Neuron-permutation symmetries of sequential networks (MLPs and CNNs).

Permuting the hidden units (or channels) of one layer, together with the
matching inputs of the next parametrized layer, leaves the function computed
by the network unchanged, because activations, pooling and dropout act
elementwise or channelwise. This is the symmetry that weight tying (NFN),
permutation augmentation (hyper-representations), Logit Invariance (SNE) and
Git Re-Basin weight matching are all about.

References:
    Hecht-Nielsen 1990; Ainsworth et al., Git Re-Basin, https://arxiv.org/abs/2209.04836;
    Navon et al., equivariant architectures for weight spaces, https://arxiv.org/abs/2301.12780.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from weightzoo.arch.layers import Conv, Flatten, GlobalAvgPool, Linear
from weightzoo.arch.registry import arch_layers, resolve_spec
from weightzoo.arch.spec import ArchSpec
from weightzoo.errors import WeightzooError


@dataclass(frozen=True)
class PermGroup:
    """One permutable set of hidden units and every parameter slice it owns.

    Attributes:
        name: the layer whose output units are permuted, e.g. ``"fc1"``.
        size: number of neurons / channels.
        members: ``(param name, axis, block)`` triples: unit ``i`` owns the
            slice ``[i*block:(i+1)*block]`` along ``axis`` of that parameter
            (``block > 1`` where a Flatten follows a conv: channel ``c`` owns
            the ``H*W`` consecutive inputs of the next linear layer).
    """

    name: str
    size: int
    members: tuple[tuple[str, int, int], ...]


def permutation_groups(spec: ArchSpec) -> list[PermGroup]:
    """The hidden-unit permutation groups of a layer-list architecture.

    Every parametrized layer but the last contributes one group: its weight
    rows and bias entries (axis 0), and the input columns (axis 1) of the next
    parametrized layer.

    Args:
        spec: an architecture of a layer-list family (mlp, cnn1d, cnn_s, cnn_l, ...).

    Returns:
        The groups, in layer order.

    Raises:
        WeightzooError: the family has no layer list (e.g. ``resnet``, whose
            residual connections tie the permutations of several layers).
    """
    layers = arch_layers(resolve_spec(spec))
    if layers is None:
        raise WeightzooError(
            f"symmetry: architecture family {spec.family!r} has no layer list; neuron "
            "permutations are defined for sequential families (mlp, cnn1d, cnn_s, cnn_l)"
        )
    params = [layer for layer in layers if isinstance(layer, Linear | Conv)]
    groups: list[PermGroup] = []
    for cur, nxt in zip(params[:-1], params[1:], strict=True):
        size = cur.out_features if isinstance(cur, Linear) else cur.out_channels
        next_in = nxt.in_features if isinstance(nxt, Linear) else nxt.in_channels
        if next_in % size != 0:
            raise WeightzooError(
                f"symmetry: layer {nxt.name} has {next_in} inputs, not a multiple of the "
                f"{size} outputs of {cur.name}"
            )
        block = next_in // size
        if block > 1 and not _flatten_between(layers, cur, nxt):
            raise WeightzooError(
                f"symmetry: cannot relate the {size} outputs of {cur.name} to the "
                f"{next_in} inputs of {nxt.name}"
            )
        members = (
            (f"{cur.name}.weight", 0, 1),
            (f"{cur.name}.bias", 0, 1),
            (f"{nxt.name}.weight", 1, block),
        )
        groups.append(PermGroup(name=cur.name, size=size, members=members))
    return groups


def _flatten_between(layers: list, cur: Linear | Conv, nxt: Linear | Conv) -> bool:
    i, j = layers.index(cur), layers.index(nxt)
    between = layers[i + 1 : j]
    return any(isinstance(x, Flatten) for x in between) and not any(
        isinstance(x, GlobalAvgPool) for x in between
    )


def _expand(perm: Tensor, block: int) -> Tensor:
    """Unit permutation ``(..., n)`` -> index permutation ``(..., n*block)``."""
    if block == 1:
        return perm
    offsets = torch.arange(block, device=perm.device)
    return (perm.unsqueeze(-1) * block + offsets).flatten(-2)


def apply_permutation(
    weights: dict[str, Tensor],
    groups: list[PermGroup],
    perms: dict[str, Tensor],
    *,
    batched: bool = False,
) -> dict[str, Tensor]:
    """Permute hidden units; the network's function is unchanged.

    Args:
        weights: parameter name -> tensor (names as ``build_model(spec).state_dict()``);
            with ``batched=True`` every tensor has a leading model dimension ``B``.
        groups: from ``permutation_groups``.
        perms: group name -> permutation ``(size,)``; with ``batched=True`` also
            ``(B, size)``, one permutation per model. Groups missing here stay put.
        batched: whether tensors carry a leading model dimension.

    Returns:
        A new dict (inputs are not modified); new unit ``i`` is old unit ``perm[i]``.

    Raises:
        WeightzooError: a permutation of the wrong size or a missing parameter.
    """
    out = dict(weights)
    offset = 1 if batched else 0
    for group in groups:
        if group.name not in perms:
            continue
        perm = torch.as_tensor(perms[group.name], dtype=torch.long)
        if perm.shape[-1] != group.size or perm.dim() > 1 + offset:
            raise WeightzooError(
                f"symmetry: permutation of {group.name!r} has shape {tuple(perm.shape)}, "
                f"expected ({group.size},)" + (" or (B, size)" if batched else "")
            )
        for pname, axis, block in group.members:
            if pname not in out:
                raise WeightzooError(f"symmetry: weights have no parameter {pname!r}")
            t = out[pname]
            idx = _expand(perm.to(t.device), block)
            dim = axis + offset
            if idx.dim() == 1:
                out[pname] = t.index_select(dim, idx)
            else:
                # One permutation per model: broadcast the index over the other axes.
                shape = [1] * t.dim()
                shape[0], shape[dim] = idx.shape
                out[pname] = t.gather(
                    dim, idx.view(shape).expand(*t.shape[:dim], -1, *t.shape[dim + 1 :])
                )
    return out


def random_permutations(groups: list[PermGroup], generator: torch.Generator) -> dict[str, Tensor]:
    """One uniformly random permutation per group.

    Args:
        groups: from ``permutation_groups``.
        generator: source of randomness (its device is used).

    Returns:
        Group name -> ``LongTensor (size,)``.
    """
    return {
        g.name: torch.randperm(g.size, generator=generator, device=generator.device) for g in groups
    }


def num_permutations(groups: list[PermGroup]) -> int:
    """Size of the symmetry group (product of factorials); may be astronomically large."""
    return math.prod(math.factorial(g.size) for g in groups)
