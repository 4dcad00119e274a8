"""Train, evaluate and predict with many networks of one architecture at once (``Population``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from weightzoo.arch import ArchSpec
from weightzoo.data import SplitData
from weightzoo.train.population import ModelHP, Population

_HP_FIELDS = ("init", "bias_init", "init_std", "lr", "weight_decay", "momentum")


def finetune_settings(row: Any) -> dict[str, Any]:
    """Optimizer, batch size and per-model settings of one zoo model (a catalog row).

    Generated and random-init models are trained with the settings of the best
    anchor model, so the comparison differs only in the starting weights.
    """

    def get(key: str, default: Any) -> Any:
        v = row.get(key, default) if hasattr(row, "get") else default
        return default if v is None or (isinstance(v, float) and np.isnan(v)) else v

    return {
        "optimizer": str(get("optimizer", "adam")),
        "batch_size": int(get("batch_size", 64)),
        "init": str(get("init", "kaiming_uniform")),
        "bias_init": str(get("bias_init", "zeros")),
        "init_std": float(get("init_std", 0.1)),
        "lr": float(get("lr", 1e-3)),
        "weight_decay": float(get("weight_decay", 0.0)),
        "momentum": float(get("momentum", 0.9)),
    }


def make_population(
    spec: ArchSpec,
    settings: dict[str, Any],
    seeds: Sequence[int],
    weights: Sequence[dict[str, Tensor]] | None = None,
) -> Population:
    """A population of ``len(seeds)`` models; ``weights`` replace the random init when given."""
    hps = [ModelHP(seed=int(s), **{k: settings[k] for k in _HP_FIELDS}) for s in seeds]
    pop = Population(spec, settings["optimizer"], hps, batch_size=settings["batch_size"])
    if weights is not None:
        with torch.no_grad():
            for name, p in pop.params.items():
                p.copy_(torch.stack([w[name] for w in weights]))
            for name, b in pop.buffers.items():
                b.copy_(torch.stack([w[name] for w in weights]))
    return pop


def train_curve(
    pop: Population,
    x_train: Tensor,
    y_train: Tensor,
    x_eval: Tensor,
    y_eval: Tensor,
    epochs: int,
    progress: Callable[[], None] | None = None,
) -> np.ndarray:
    """Accuracy on ``(x_eval, y_eval)`` before training and after each epoch: ``(M, epochs + 1)``."""
    accs = [pop.evaluate(x_eval, y_eval)[1].cpu().numpy()]
    for epoch in range(1, epochs + 1):
        pop.train_epoch(x_train, y_train, epoch)
        accs.append(pop.evaluate(x_eval, y_eval)[1].cpu().numpy())
        if progress is not None:
            progress()
    return np.stack(accs, axis=1)


@torch.no_grad()
def split_metrics(pop: Population, data: SplitData) -> list[dict[str, float]]:
    """Loss and accuracy on train, val and test of every model, as writer metric rows."""
    out: dict[str, np.ndarray] = {}
    for split in ("train", "val", "test"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        if x.shape[0] == 0:
            continue
        loss, acc = pop.evaluate(x, y)
        out[f"{split}_loss"], out[f"{split}_acc"] = loss.cpu().numpy(), acc.cpu().numpy()
    return [{k: float(v[i]) for k, v in out.items()} for i in range(pop.M)]


@torch.no_grad()
def predict_proba(pop: Population, x: Tensor, batch_size: int = 1000) -> Tensor:
    """Softmax outputs ``(M, N, C)`` of every model, in eval mode."""
    parts = [
        pop.forward(x[s : s + batch_size], train=False, shared_input=True).softmax(-1)
        for s in range(0, x.shape[0], batch_size)
    ]
    return torch.cat(parts, dim=1)


def current_weights(pop: Population) -> list[dict[str, Tensor]]:
    """The population's models as separate state dicts."""
    stacked = pop.weights()
    return [{k: v[i].clone() for k, v in stacked.items()} for i in range(pop.M)]
