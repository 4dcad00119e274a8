"""``PropertyPredictor``: an encoder and a head, trained for one task; save and load.

A saved predictor is a folder::

    config.json         format, task, protocol, head kind, class labels, target scaling, info
    head.safetensors    the head's arrays (linear probe or end-to-end linear layer)
    encoder/            the fitted encoder (its own config.json + model.safetensors)

Nothing is pickled. Gradient-boosted trees cannot be written without pickle
and are therefore only used inside benchmarks, never saved.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as st_save
from torch import Tensor, nn

from weightzoo.errors import ConfigError, WeightzooError
from weightzoo.predict.probe import PROBES, LinearProbe, build_probe
from weightzoo.predict.tasks import Task, get_task
from weightzoo.zoo._io import atomic_write_bytes, atomic_write_json

__all__ = ["ProbeHead", "PropertyPredictor", "TorchHead", "fit_probe_predictor"]

log = logging.getLogger(__name__)

FORMAT = "weightzoo-predictor"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
HEAD_FILE = "head.safetensors"
ENCODER_DIR = "encoder"


class TorchHead:
    """The linear layer trained end to end, and how its outputs become predictions.

    Args:
        task: the task.
        linear: ``embed_dim -> 1`` (regression) or ``-> C`` (classification).
        classes: ``(C,)`` class labels of a classification.
        mean: target mean (regressions other than accuracies are trained standardized).
        std: target standard deviation.
    """

    kind = "torch_linear"

    def __init__(
        self, task: Task, linear: nn.Linear, *, classes: np.ndarray, mean: float, std: float
    ) -> None:
        self.task, self.linear = task, linear
        self.classes = np.asarray(classes, dtype=str)
        self.mean, self.std = float(mean), float(std)

    def predict_from_embeddings(self, embeddings: Tensor | np.ndarray) -> np.ndarray:
        """``(N, embed_dim)`` embeddings -> ``(N,)`` predictions (values or labels)."""
        param = next(self.linear.parameters())
        emb = torch.as_tensor(
            np.asarray(embeddings) if isinstance(embeddings, np.ndarray) else embeddings
        )
        with torch.no_grad():
            out = self.linear(emb.to(device=param.device, dtype=param.dtype)).cpu().double()
        if self.task.kind == "classification":
            return self.classes[out.argmax(dim=1).numpy()]
        if self.task.unit_interval:
            return torch.sigmoid(out[:, 0]).numpy()
        return out[:, 0].numpy() * self.std + self.mean

    def tensors(self) -> dict[str, Tensor]:
        return {k: v.detach().cpu().contiguous() for k, v in self.linear.state_dict().items()}

    def config(self) -> dict[str, Any]:
        return {"classes": self.classes.tolist(), "mean": self.mean, "std": self.std}

    @classmethod
    def restore(cls, task: Task, config: dict[str, Any], tensors: dict[str, Tensor]) -> TorchHead:
        weight = tensors["weight"]
        linear = nn.Linear(weight.shape[1], weight.shape[0])
        linear.load_state_dict(tensors)
        return cls(
            task,
            linear,
            classes=np.asarray(config["classes"]),
            mean=config["mean"],
            std=config["std"],
        )


class ProbeHead:
    """A probe fitted on frozen embeddings (``linear`` is saveable, ``gbt`` is not)."""

    def __init__(self, probe_name: str, probe: Any) -> None:
        self.probe_name, self.probe = probe_name, probe
        self.kind = f"probe_{probe_name}"

    def predict_from_embeddings(self, embeddings: np.ndarray) -> np.ndarray:
        """``(N, embed_dim)`` embeddings -> ``(N,)`` predictions."""
        return np.asarray(self.probe.predict(np.asarray(embeddings, dtype=np.float64)))

    def tensors(self) -> dict[str, Tensor]:
        if not PROBES[self.probe_name].saveable:
            raise WeightzooError(
                f"probe {self.probe_name!r} cannot be saved without pickle; "
                "train with --probe linear or --protocol e2e to get a saveable predictor"
            )
        return {
            k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in self.probe.to_arrays().items()
        }

    def config(self) -> dict[str, Any]:
        return {"classes": [str(c) for c in getattr(self.probe, "classes_", [])]}

    @classmethod
    def restore(cls, task: Task, config: dict[str, Any], tensors: dict[str, Tensor]) -> ProbeHead:
        arrays = {k: v.numpy() for k, v in tensors.items()}
        probe = LinearProbe.from_arrays(arrays, kind=task.kind, classes=config["classes"])
        return cls("linear", probe)


class PropertyPredictor:
    """A fitted encoder plus a head that predicts one task from weights.

    Attributes:
        encoder: the fitted ``WeightSpaceEncoder``.
        task: the task.
        protocol: ``"linear"``, ``"gbt"`` or ``"e2e"``.
        head: a ``TorchHead`` or ``ProbeHead``.
        info: JSON-able facts about training (split, metrics, history).
    """

    def __init__(
        self,
        encoder: Any,
        task: Task,
        *,
        protocol: str,
        head: Any,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.encoder, self.task, self.protocol, self.head = encoder, task, protocol, head
        self.info = dict(info or {})

    def predict(self, nets: Sequence[Any], *, batch_size: int = 256) -> np.ndarray:
        """``(N,)`` predictions (values, or labels for a classification) for networks."""
        return self.head.predict_from_embeddings(self.encoder.encode(nets, batch_size=batch_size))

    def save(self, path: str | Path) -> Path:
        """Write the predictor into folder ``path`` (created; an older predictor there is replaced).

        Raises:
            WeightzooError: ``path`` exists and is not a predictor folder, or the head is unsaveable.
        """
        out = Path(path)
        if out.exists() and (
            not out.is_dir() or (any(out.iterdir()) and not (out / CONFIG_FILE).is_file())
        ):
            raise WeightzooError(
                f"predictor save: {out} exists and is not a predictor folder; choose another --out"
            )
        head_bytes = st_save(self.head.tensors(), metadata={"format": FORMAT})
        out.mkdir(parents=True, exist_ok=True)
        # Stage the encoder beside its final place so a failed save keeps the old one.
        staging = out / f".{ENCODER_DIR}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        self.encoder.save(staging)
        shutil.rmtree(out / ENCODER_DIR, ignore_errors=True)
        staging.rename(out / ENCODER_DIR)
        atomic_write_bytes(out / HEAD_FILE, head_bytes)
        from weightzoo import __version__

        atomic_write_json(
            out / CONFIG_FILE,
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "task": self.task.name,
                "protocol": self.protocol,
                "head": self.head.kind,
                "head_config": self.head.config(),
                "encoder": self.encoder.name,
                "info": _jsonable(self.info),
                "weightzoo_version": __version__,
            },
        )
        log.info("saved predictor (%s, %s) to %s", self.task.name, self.protocol, out)
        return out

    @classmethod
    def load(cls, path: str | Path, *, device: str = "cpu") -> PropertyPredictor:
        """Read a predictor saved by ``save``.

        Raises:
            WeightzooError: not a predictor folder, or damaged files (named).
        """
        from weightzoo.encode import load_encoder

        folder = Path(path)
        cfg_path = folder / CONFIG_FILE
        try:
            config = json.loads(cfg_path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise WeightzooError(f"predictor: cannot read {cfg_path} ({e})") from None
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            raise WeightzooError(f"predictor: {cfg_path} is not a weightzoo predictor config")
        if config.get("format_version") != FORMAT_VERSION:
            raise WeightzooError(
                f"predictor: {cfg_path} has format_version {config.get('format_version')!r}, "
                f"expected {FORMAT_VERSION}"
            )
        task = get_task(config["task"])
        try:
            tensors = load_file(str(folder / HEAD_FILE))
        except (OSError, SafetensorError) as e:
            raise WeightzooError(f"predictor: cannot read {folder / HEAD_FILE} ({e})") from None
        heads = {TorchHead.kind: TorchHead, "probe_linear": ProbeHead}
        if config.get("head") not in heads:
            raise WeightzooError(f"predictor: {cfg_path} has unknown head {config.get('head')!r}")
        try:
            head = heads[config["head"]].restore(task, config["head_config"], tensors)
        except (KeyError, RuntimeError) as e:
            raise WeightzooError(
                f"predictor: {folder / HEAD_FILE} does not match its config ({e})"
            ) from None
        encoder = load_encoder(folder / ENCODER_DIR, device=device)
        return cls(encoder, task, protocol=config["protocol"], head=head, info=config.get("info"))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def fit_probe_predictor(
    encoder: Any,
    task: str | Task,
    train_nets: Sequence[Any],
    y_train: np.ndarray,
    *,
    probe: str = "linear",
    seed: int = 0,
    fit_epochs: int | None = None,
    embeddings: np.ndarray | None = None,
    probe_params: dict[str, Any] | None = None,
) -> PropertyPredictor:
    """Fit the encoder (unsupervised) on training networks, then a probe on their embeddings.

    Args:
        encoder: an unfitted encoder (or a fitted one when ``embeddings`` is given).
        task: the task or its name.
        train_nets: training networks.
        y_train: ``(N,)`` targets.
        probe: a name in ``PROBES`` (``linear`` or ``gbt``).
        seed: seeds the encoder fit and the probe.
        fit_epochs: passed to ``encoder.fit``.
        embeddings: ``(N, D)`` embeddings of ``train_nets`` already computed by
            this (already fitted) encoder; skips fit and encode, so one fitted
            encoder serves several tasks.

    Returns:
        The predictor.
    """
    task = get_task(task)
    if probe not in PROBES:
        raise ConfigError(f"probe: unknown probe {probe!r}; expected one of {', '.join(PROBES)}")
    if embeddings is None:
        encoder.fit(train_nets, seed=seed, epochs=fit_epochs)
        embeddings = encoder.encode(train_nets)
    fitted = build_probe(probe, kind=task.kind, seed=seed, **(probe_params or {})).fit(
        embeddings, np.asarray(y_train)
    )
    return PropertyPredictor(encoder, task, protocol=probe, head=ProbeHead(probe, fitted))
