"""End-to-end supervised training of an encoder's module and a prediction head.

The encoder's trainable ``module`` and a linear head are trained together on
the training networks' targets: for an accuracy (a target in [0, 1]) a
sigmoid head with binary cross-entropy, as SNE (https://arxiv.org/abs/2305.16625)
and NFN (https://arxiv.org/abs/2302.14040) train their accuracy predictors;
for another continuous target a linear head with mean squared error on the
standardized target; for a category a softmax head with cross-entropy. The
encoder's ``aux_loss`` (SNE's Logit Invariance term) is added to every step.
After each epoch the validation networks are scored and the checkpoint with
the best validation Kendall tau (accuracy for a category) is kept.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from weightzoo.errors import ConfigError
from weightzoo.predict.metrics import accuracy, kendall_tau
from weightzoo.predict.predictor import PropertyPredictor, TorchHead
from weightzoo.predict.tasks import Task, get_task

__all__ = ["E2EConfig", "embed_batch", "train_end_to_end"]

log = logging.getLogger(__name__)


class E2EConfig(BaseModel):
    """Settings of end-to-end training.

    Attributes:
        epochs: passes over the training networks.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        batch_size: networks per step.
        aux_weight: multiplier of the encoder's ``aux_loss`` (its own λ is inside).
        encoder_lr_scale: the encoder module's learning rate is ``lr`` times this
            (the head always trains at ``lr``).
        fit_epochs: passed to ``encoder.fit`` (its unsupervised stage), ``None`` = its default.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    epochs: int = Field(20, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    batch_size: int = Field(64, ge=1)
    aux_weight: float = Field(1.0, ge=0)
    encoder_lr_scale: float = Field(1.0, gt=0)
    fit_epochs: int | None = Field(None, ge=0)


def embed_batch(encoder: Any, batch: Any) -> Tensor:
    """Differentiable embeddings ``(B, embed_dim)`` of a collated batch: the protocol's
    public ``encoder.module(batch)``."""
    return encoder.module(batch)


def _targets_tensor(
    task: Task, y: np.ndarray, classes: np.ndarray, mean: float, std: float
) -> Tensor:
    if task.kind == "classification":
        index = {c: i for i, c in enumerate(classes)}
        return torch.tensor([index.get(str(v), -1) for v in y], dtype=torch.long)
    t = torch.as_tensor(np.asarray(y, dtype=np.float64), dtype=torch.float32)
    return t if task.unit_interval else (t - mean) / std


def _loss(task: Task, out: Tensor, target: Tensor) -> Tensor:
    if task.kind == "classification":
        return nn.functional.cross_entropy(out, target)
    if task.unit_interval:
        return nn.functional.binary_cross_entropy_with_logits(out[:, 0], target)
    return nn.functional.mse_loss(out[:, 0], target)


def _val_score(task: Task, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    if task.kind == "classification":
        return accuracy(y_true, y_pred)
    tau = kendall_tau(y_true, y_pred)
    return -math.inf if math.isnan(tau) else tau


def train_end_to_end(
    encoder: Any,
    task: str | Task,
    train_nets: Sequence[Any],
    y_train: np.ndarray,
    val_nets: Sequence[Any],
    y_val: np.ndarray,
    *,
    config: E2EConfig | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> PropertyPredictor:
    """Fit the encoder's unsupervised part, then train its module and a head on the targets.

    Args:
        encoder: an unfitted ``WeightSpaceEncoder`` with a trainable ``module``.
        task: the task (or its name).
        train_nets: training networks ``(spec, weights)``.
        y_train: ``(N_train,)`` targets (labels for a classification).
        val_nets: validation networks (from models not in training).
        y_val: ``(N_val,)`` targets.
        config: training settings.
        seed: seeds the encoder's fit, the head init and the batch order.
        progress: ``(epoch, epochs)`` after each epoch.

    Returns:
        The predictor at its best validation epoch; ``history`` in its ``info``.

    Raises:
        ConfigError: the encoder has no trainable module, or no validation networks.
    """
    task = get_task(task)
    config = config or E2EConfig()
    if len(val_nets) == 0:
        raise ConfigError("end-to-end training needs validation networks to choose a checkpoint")
    encoder.fit(train_nets, seed=seed, epochs=config.fit_epochs)
    module = encoder.module
    if module is None:
        raise ConfigError(
            f"encoder {encoder.name!r} has no trainable module; use protocol 'linear' or 'gbt'"
        )
    y_train = np.asarray(y_train)
    classes = np.unique(y_train.astype(str)) if task.kind == "classification" else np.array([])
    mean = float(np.mean(y_train)) if task.kind == "regression" else 0.0
    std = float(np.std(y_train)) if task.kind == "regression" else 1.0
    std = std if std > 1e-12 else 1.0
    out_dim = len(classes) if task.kind == "classification" else 1
    torch.manual_seed(seed)
    head = TorchHead(
        task,
        nn.Linear(encoder.embed_dim, max(out_dim, 1)),
        classes=classes,
        mean=mean,
        std=std,
    )
    device = next(module.parameters()).device
    head.linear.to(device)
    target = _targets_tensor(task, y_train, classes, mean, std).to(device)
    trunk = [p for p in module.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(
        [
            {"params": trunk, "lr": config.lr * config.encoder_lr_scale},
            {"params": list(head.linear.parameters()), "lr": config.lr},
        ],
        weight_decay=config.weight_decay,
    )
    gen = torch.Generator().manual_seed(seed)
    # Validation batches never change: collate them once.
    val_batches = [encoder.collate(val_nets[s : s + 256]) for s in range(0, len(val_nets), 256)]
    best = (-math.inf, -1, None)
    history: list[dict[str, float]] = []
    n = len(train_nets)
    for epoch in range(config.epochs):
        module.train()
        order = torch.randperm(n, generator=gen)
        total, aux_total, steps = 0.0, 0.0, 0
        for start in range(0, n, config.batch_size):
            idx = order[start : start + config.batch_size].tolist()
            batch = encoder.collate([train_nets[i] for i in idx])
            loss = _loss(task, head.linear(embed_batch(encoder, batch)), target[idx])
            aux = encoder.aux_loss(batch) if config.aux_weight > 0 else torch.zeros(())
            opt.zero_grad(set_to_none=True)
            (loss + config.aux_weight * aux).backward()
            opt.step()
            total, aux_total, steps = (
                total + loss.item(),
                aux_total + float(aux.detach()),
                steps + 1,
            )
        module.eval()
        with torch.inference_mode():
            emb = torch.cat([embed_batch(encoder, b).float() for b in val_batches])
            pred = head.predict_from_embeddings(emb)
        score = _val_score(task, np.asarray(y_val), pred)
        history.append(
            {"epoch": epoch + 1, "loss": total / steps, "aux": aux_total / steps, "val": score}
        )
        log.info("e2e %s epoch %d: loss %.4f val %.4f", task.name, epoch + 1, total / steps, score)
        if score > best[0] or best[2] is None:
            state = (copy.deepcopy(module.state_dict()), copy.deepcopy(head.linear.state_dict()))
            best = (score, epoch + 1, state)
        if progress is not None:
            progress(epoch + 1, config.epochs)
    assert best[2] is not None
    module.load_state_dict(best[2][0])
    head.linear.load_state_dict(best[2][1])
    module.eval()
    return PropertyPredictor(
        encoder,
        task,
        protocol="e2e",
        head=head,
        info={"best_epoch": best[1], "best_val": best[0], "history": history},
    )
