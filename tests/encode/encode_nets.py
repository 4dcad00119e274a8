"""Small real networks for the encoder tests."""

from __future__ import annotations

import numpy as np
import torch

from weightzoo.arch import ArchSpec, build_model, init_model
from weightzoo.weightspace.symmetry import (
    apply_permutation,
    permutation_groups,
    random_permutations,
)


def make_nets(spec: ArchSpec, n: int, seed: int = 0) -> list:
    """``n`` networks of one spec whose init scale cycles through 0.05, 0.1, 0.15, 0.2."""
    g = torch.Generator().manual_seed(seed)
    nets = []
    for i in range(n):
        model = init_model(
            build_model(spec),
            "normal",
            bias_init="normal",
            init_std=0.05 * (1 + i % 4),
            generator=g,
        )
        nets.append((spec, {k: v.detach().clone() for k, v in model.state_dict().items()}))
    return nets


def permute_nets(nets: list, seed: int) -> list:
    """Each network with an independent random neuron permutation (same function)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for spec, w in nets:
        groups = permutation_groups(spec)
        out.append((spec, apply_permutation(w, groups, random_permutations(groups, gen))))
    return out


def permutation_sensitivity(encoder, nets: list, seed: int = 123) -> float:
    """Mean ‖f(W) − f(πW)‖ over networks, divided by the mean distance between networks."""
    a = encoder.encode(nets)
    b = encoder.encode(permute_nets(nets, seed))
    within = np.linalg.norm(a - b, axis=1).mean()
    d = np.linalg.norm(a[:, None] - a[None], axis=-1)
    between = d[~np.eye(len(a), dtype=bool)].mean()
    return float(within / between)
