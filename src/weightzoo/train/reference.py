"""The plain per-model PyTorch loop: one model, one ``torch.optim`` optimizer.

This is how Model Zoos trains (one Ray Tune trial per model). weightzoo keeps
it as the independent reference the population trainer is tested against and
as the baseline of ``benchmarks/zoo_throughput.py``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from weightzoo.arch import ArchSpec
from weightzoo.seeding import generator
from weightzoo.train.population import ModelHP, init_single


def make_torch_optimizer(kind: str, model: torch.nn.Module, hp: ModelHP) -> torch.optim.Optimizer:
    """``torch.optim.Adam`` or ``SGD`` with the model's hyperparameters."""
    if kind == "adam":
        return torch.optim.Adam(model.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
    return torch.optim.SGD(
        model.parameters(), lr=hp.lr, momentum=hp.momentum, weight_decay=hp.weight_decay
    )


def train_alone(
    spec: ArchSpec,
    optimizer: str,
    hp: ModelHP,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int,
    epochs: int = 1,
    max_steps: int | None = None,
) -> torch.nn.Module:
    """Train one model with its own seed-derived init and data order.

    Args:
        spec: architecture.
        optimizer: ``"adam"`` or ``"sgd"``.
        hp: the model's hyperparameters.
        x: ``(N, *input_shape)`` inputs.
        y: ``(N,)`` labels.
        batch_size: batch size.
        epochs: passes over the data.
        max_steps: stop after this many steps in total.

    Returns:
        The trained module.
    """
    model = init_single(spec, hp)
    opt = make_torch_optimizer(optimizer, model, hp)
    data_gen = generator(hp.seed, "data")
    model.train()
    steps = 0
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0], generator=data_gen)
        for start in range(0, x.shape[0], batch_size):
            if max_steps is not None and steps >= max_steps:
                return model
            idx = perm[start : start + batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
    return model
