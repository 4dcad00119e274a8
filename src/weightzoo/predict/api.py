"""One-call entry points: embed a zoo, train a predictor on a zoo, evaluate it on a zoo.

These are what ``weightzoo encode`` and ``weightzoo predict train|eval`` call.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from weightzoo.errors import ConfigError
from weightzoo.predict._data import load_networks, select_rows
from weightzoo.predict.e2e import E2EConfig, train_end_to_end
from weightzoo.predict.metrics import score_task
from weightzoo.predict.predictor import PropertyPredictor, fit_probe_predictor
from weightzoo.predict.splits import split_by_model
from weightzoo.predict.tasks import get_task, task_targets
from weightzoo.zoo._io import atomic_write_bytes
from weightzoo.zoo.zoo import Zoo

__all__ = ["embed_zoo", "evaluate_predictor", "train_predictor", "write_parquet"]

log = logging.getLogger(__name__)


def _open(zoo: Zoo | str | Path) -> Zoo:
    return zoo if isinstance(zoo, Zoo) else Zoo.open(zoo)


def embed_zoo(
    zoo: Zoo | str | Path,
    encoder: Any,
    *,
    epochs: str | Sequence[int] = "all",
    fit: bool | None = None,
    seed: int = 0,
    fit_epochs: int | None = None,
    batch_size: int = 256,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Embeddings of a zoo's checkpoints, one row per (model_id, epoch).

    Args:
        zoo: a zoo or its folder.
        encoder: a ``WeightSpaceEncoder`` (or a name / saved folder for ``load_encoder``).
        epochs: ``"all"``, ``"last"`` or a list of epochs.
        fit: fit the encoder's unsupervised part on these networks first;
            default: fit when it is not fitted yet (a name), not when loaded from a folder.
        seed: seed of the fit.
        fit_epochs: epochs of that fit (hyperrep).
        batch_size: networks per forward pass.
        progress: ``(done, total)`` over networks.

    Returns:
        Columns ``model_id``, ``epoch``, ``emb_0`` … ``emb_{D-1}`` (float32).
    """
    from weightzoo.encode import load_encoder

    if isinstance(encoder, str | Path):
        is_folder = Path(encoder).is_dir()
        encoder = load_encoder(encoder)
        fit = (not is_folder) if fit is None else fit
    elif fit is None:
        fit = getattr(encoder, "standardizer_", True) is None
    zoo = _open(zoo)
    rows = select_rows(zoo, epochs)
    nets = load_networks(zoo, rows)
    if fit:
        encoder.fit(nets, seed=seed, epochs=fit_epochs)
    parts = []
    for start in range(0, len(nets), batch_size):
        parts.append(encoder.encode(nets[start : start + batch_size], batch_size=batch_size))
        if progress is not None:
            progress(min(start + batch_size, len(nets)), len(nets))
    emb = np.concatenate(parts).astype(np.float32)
    frame = pd.DataFrame(emb, columns=[f"emb_{i}" for i in range(emb.shape[1])])
    frame.insert(0, "epoch", rows["epoch"].astype(np.int64).to_numpy())
    frame.insert(0, "model_id", rows["model_id"].astype(str).to_numpy())
    return frame


def write_parquet(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a frame as Parquet atomically (temp file, then rename)."""
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path


def train_predictor(
    zoo: Zoo | str | Path,
    *,
    task: str,
    encoder: str,
    protocol: str = "e2e",
    params: dict[str, Any] | None = None,
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    epochs: str | Sequence[int] = "all",
    e2e: E2EConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[PropertyPredictor, dict[str, float]]:
    """Train a predictor on a zoo's train models and score it on its test models.

    Args:
        zoo: the zoo (split by model with ``seed`` and ``fractions``).
        task: a name in ``TASKS``.
        encoder: a name in ``ENCODERS``.
        protocol: ``e2e``, ``linear`` or ``gbt`` (``gbt`` cannot be saved).
        params: encoder keyword parameters.
        seed: split, fit and training seed.
        fractions: train/val/test shares of models.
        epochs: checkpoints used.
        e2e: end-to-end settings.
        progress: ``(epoch, epochs)`` of end-to-end training.

    Returns:
        The predictor (its ``info`` records zoo, split and test metrics) and the test metrics.
    """
    from weightzoo.encode import build_encoder

    zoo = _open(zoo)
    task_ = get_task(task)
    rows = select_rows(zoo, epochs)
    split = split_by_model(rows, fractions=fractions, seed=seed)
    parts = {name: split.rows(rows, name) for name in ("train", "val", "test")}
    nets = {name: load_networks(zoo, part) for name, part in parts.items()}
    built = build_encoder(encoder, **(params or {}))
    y = {name: task_targets(task_, part) for name, part in parts.items()}
    if protocol == "e2e":
        config = e2e or E2EConfig()
        predictor = train_end_to_end(
            built, task_, nets["train"], y["train"], nets["val"], y["val"],
            config=config, seed=seed, progress=progress,
        )  # fmt: skip
    elif protocol in ("linear", "gbt"):
        fit_epochs = e2e.fit_epochs if e2e is not None else None
        predictor = fit_probe_predictor(
            built,
            task_,
            nets["train"],
            y["train"],
            probe=protocol,
            seed=seed,
            fit_epochs=fit_epochs,
        )
    else:
        raise ConfigError(f"protocol: expected e2e, linear or gbt, got {protocol!r}")
    metrics = (
        score_task(task_, y["test"], predictor.predict(nets["test"])) if len(nets["test"]) else {}
    )
    predictor.info.update(
        {
            "zoo": str(zoo.root),
            "zoo_name": zoo.name,
            "seed": seed,
            "fractions": list(fractions),
            "epochs": epochs if isinstance(epochs, str) else list(epochs),
            "split": split.to_dict(),
            "test_metrics": metrics,
            "encoder_params": dict(params or {}),
        }
    )
    return predictor, metrics


def evaluate_predictor(
    predictor: PropertyPredictor | str | Path,
    zoo: Zoo | str | Path,
    *,
    split: str = "auto",
    epochs: str | Sequence[int] | None = None,
) -> tuple[dict[str, float], pd.DataFrame]:
    """Score a predictor on a zoo.

    Args:
        predictor: a predictor or its saved folder.
        zoo: the zoo to predict.
        split: ``test`` (the held-out models recorded at training; the zoo must
            be the training zoo), ``all`` (every model), or ``auto`` (``test``
            for the training zoo, ``all`` for another).
        epochs: checkpoints used (default those used in training).

    Returns:
        The metrics and a frame ``model_id, epoch, target, prediction``.

    Raises:
        ConfigError: ``split=test`` on a zoo the predictor was not trained on.
    """
    if not isinstance(predictor, PropertyPredictor):
        predictor = PropertyPredictor.load(predictor)
    zoo = _open(zoo)
    info = predictor.info
    if epochs is None:
        epochs = info.get("epochs", "all")
    rows = select_rows(zoo, epochs)
    same_zoo = str(zoo.root) == info.get("zoo")
    if split == "auto":
        split = "test" if same_zoo and "split" in info else "all"
    if split == "test":
        if not same_zoo or "split" not in info:
            raise ConfigError(
                f"split test: the predictor was trained on {info.get('zoo', 'another zoo')}, "
                f"not {zoo.root}; use --split all"
            )
        rows = rows[rows["model_id"].isin(info["split"]["test"])].reset_index(drop=True)
    elif split != "all":
        raise ConfigError(f"split: expected test, all or auto, got {split!r}")
    if rows.empty:
        raise ConfigError(f"zoo {zoo.root}: no checkpoint to evaluate")
    y = task_targets(predictor.task, rows)
    pred = predictor.predict(load_networks(zoo, rows))
    frame = pd.DataFrame(
        {
            "model_id": rows["model_id"].astype(str),
            "epoch": rows["epoch"].astype(np.int64),
            "target": y,
            "prediction": pred,
        }
    )
    return score_task(predictor.task, y, pred), frame
