"""Synthetic networks with a known property, for the predict tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from weightzoo.arch import ArchSpec, build_model

SPEC = ArchSpec(family="mlp", input_shape=(1, 40), widths=(8,))


def make_networks(n: int, seed: int) -> tuple[list, np.ndarray, np.ndarray]:
    """``n`` random MLPs whose "accuracy" is a linear function of an offset added to every weight.

    Returns:
        networks ``(spec, weights)``, accuracies in [0.1, 0.9], and labels
        (``"up"`` where the offset is positive, else ``"down"``).
    """
    gen = torch.Generator().manual_seed(seed)
    offsets = torch.rand(n, generator=gen) * 2 - 1
    nets = []
    for i in range(n):
        torch.manual_seed(seed * 100_000 + i)
        weights = {k: v + offsets[i] for k, v in build_model(SPEC).state_dict().items()}
        nets.append((SPEC, weights))
    acc = (0.5 + 0.4 * offsets).double().numpy()
    labels = np.where(offsets.numpy() > 0, "up", "down")
    return nets, acc, labels


@pytest.fixture(scope="module")
def synthetic() -> dict[str, tuple[list, np.ndarray, np.ndarray]]:
    """Train / val / test networks with known targets."""
    return {
        "train": make_networks(96, 0),
        "val": make_networks(32, 1),
        "test": make_networks(48, 2),
    }
