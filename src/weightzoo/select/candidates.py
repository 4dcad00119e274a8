"""A zoo of pre-trained candidate models, and penultimate features of any torch module.

``build_candidate_zoo(config, root)`` pre-trains small feature extractors
(MLPs and Model Zoos CNNs of several widths and depths) on different source
tasks (datasets, class subsets, domain shifts) and stores them as
safetensors with a JSON manifest. ``CandidateZoo.open(root)`` reads them back.

``FeatureExtractor`` takes the input of a model's classification head with a
forward pre-hook, so any ``nn.Module`` (a weightzoo network, a local timm or
Hugging Face model) can be ranked the same way.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ConfigDict
from safetensors.torch import load_file
from torch import nn

from weightzoo._threads import torch_threads
from weightzoo.arch import ArchSpec, build_model
from weightzoo.config import parse_config
from weightzoo.data import SplitData
from weightzoo.errors import ConfigError, WeightzooError
from weightzoo.select._candidate_config import (
    CandidateSpec,
    CandidateZooConfig,
    default_candidate_zoo_config,
)
from weightzoo.select._candidate_tasks import SHIFTS, TaskSpec, load_task
from weightzoo.train import ModelHP, train_alone
from weightzoo.zoo._io import atomic_save_safetensors, atomic_write_json

__all__ = [
    "SHIFTS",
    "CandidateSpec",
    "CandidateZoo",
    "CandidateZooConfig",
    "ExtractedFeatures",
    "FeatureExtractor",
    "TaskSpec",
    "build_candidate_zoo",
    "default_candidate_zoo_config",
    "load_task",
]

log = logging.getLogger(__name__)
_FROZEN = ConfigDict(frozen=True, extra="forbid")
MANIFEST = "candidates.json"


# ----------------------------------------------------------------- adaptor


@dataclass(frozen=True)
class ExtractedFeatures:
    """What a candidate sees of a dataset.

    Attributes:
        features: (N, D) float32 penultimate features (the head's input, flattened).
        logits: (N, K) float32 outputs of the source head, or None if the model
            returned nothing tensor-like.
    """

    features: np.ndarray
    logits: np.ndarray | None

    @property
    def source_probs(self) -> np.ndarray:
        """(N, K) softmax of the source head (for LEEP)."""
        if self.logits is None:
            raise WeightzooError("this model has no source head output; LEEP/NCE need one")
        return torch.softmax(torch.from_numpy(self.logits).double(), dim=1).numpy()


def last_linear_name(module: nn.Module) -> str:
    """Name of the last ``nn.Linear`` registered in ``module``: the head in most models."""
    names = [n for n, m in module.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise WeightzooError(
            f"{type(module).__name__} has no nn.Linear head; pass head='<module name>' "
            "naming the layer whose input are the features"
        )
    return names[-1]


def _as_logits(out: Any) -> torch.Tensor | None:
    # timm returns a tensor, Hugging Face a ModelOutput with .logits, others tuples or dicts.
    if isinstance(out, torch.Tensor):
        return out
    if hasattr(out, "logits") and isinstance(out.logits, torch.Tensor):
        return out.logits
    if isinstance(out, dict) and isinstance(out.get("logits"), torch.Tensor):
        return out["logits"]
    if isinstance(out, list | tuple) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    return None


class FeatureExtractor:
    """Penultimate features of any ``nn.Module`` through a forward pre-hook on its head.

    Args:
        module: the model; used in eval mode under ``torch.no_grad`` (its mode is restored).
        head: dotted name of the head module whose *input* is the feature
            (``"fc"`` in torchvision/timm ResNets, ``"classifier"`` in Hugging Face
            ``*ForImageClassification``). Default: the last ``nn.Linear``.
        name: a display name.

    Raises:
        WeightzooError: ``head`` names no submodule (the message lists some that exist).
    """

    def __init__(self, module: nn.Module, head: str | None = None, *, name: str = "") -> None:
        self.module = module
        self.head = head if head is not None else last_linear_name(module)
        modules = dict(module.named_modules())
        if self.head not in modules:
            linear = [n for n, m in modules.items() if isinstance(m, nn.Linear)][-5:]
            raise WeightzooError(
                f"head={self.head!r}: no such submodule in {type(module).__name__}; "
                f"its last linear layers are {linear}"
            )
        self._head_module = modules[self.head]
        self.name = name or type(module).__name__

    def extract(self, x: torch.Tensor | np.ndarray, *, batch_size: int = 1024) -> ExtractedFeatures:
        """Run the model on ``x`` and collect the head's input and the model's output.

        Args:
            x: (N, *input_shape) inputs the model accepts.
            batch_size: examples per forward pass.

        Returns:
            Features (N, D) and logits (N, K) as float32 numpy arrays.
        """
        x = torch.as_tensor(x)
        captured: list[torch.Tensor] = []

        def hook(_mod: nn.Module, inputs: tuple[Any, ...]) -> None:
            captured.append(inputs[0].detach().flatten(1).float())

        handle = self._head_module.register_forward_pre_hook(hook)
        was_training = self.module.training
        self.module.eval()
        logits: list[torch.Tensor] = []
        try:
            with torch.no_grad():
                for start in range(0, x.shape[0], batch_size):
                    out = _as_logits(self.module(x[start : start + batch_size]))
                    if out is not None:
                        logits.append(out.detach().float())
        finally:
            handle.remove()
            self.module.train(was_training)
        if len(captured) != -(-x.shape[0] // batch_size):
            raise WeightzooError(
                f"{self.name}: head {self.head!r} ran {len(captured)} times for "
                f"{-(-x.shape[0] // batch_size)} batches; name a head used once per forward"
            )
        feats = torch.cat(captured).numpy()
        out_logits = torch.cat(logits).numpy() if len(logits) == len(captured) else None
        return ExtractedFeatures(features=feats, logits=out_logits)


# ----------------------------------------------------------------- build / open


def _train_one(config: CandidateZooConfig, spec: CandidateSpec) -> tuple[nn.Module, dict]:
    data = load_task(config.source(spec.source), "source", n_train=config.n_source_train,
                     n_eval=config.n_eval, seed=config.seed)  # fmt: skip
    arch = spec.arch(data.num_classes)
    start = time.perf_counter()
    model = train_alone(arch, "adam", ModelHP(seed=spec.seed, lr=spec.lr), data.x_train,
                        data.y_train, batch_size=config.batch_size, epochs=spec.epochs)  # fmt: skip
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        val_acc = (model(data.x_val).argmax(1) == data.y_val).float().mean().item()
    info = {"arch": arch.to_dict(), "source": spec.source, "source_val_acc": val_acc,
            "train_seconds": seconds, "spec": spec.model_dump(mode="json")}  # fmt: skip
    return model, info


def _recipe(config: CandidateZooConfig, spec: CandidateSpec) -> dict:
    data = config.model_dump(
        mode="json", include={"n_source_train", "n_eval", "batch_size", "seed"}
    )
    return {
        "spec": spec.model_dump(mode="json"),
        "source": config.source(spec.source).model_dump(mode="json"),
        **data,
    }


def _file_name(name: str) -> str:
    return name.replace("/", "__") + ".safetensors"


@torch_threads(1)
def build_candidate_zoo(
    config: CandidateZooConfig,
    root: str | Path,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> CandidateZoo:
    """Pre-train every candidate (and the generic encoder) into ``root``; resumable.

    A candidate whose weights already exist is skipped; the manifest is written
    last, atomically, so a crash leaves no manifest naming a missing file.

    Raises:
        ConfigError: ``root`` holds a candidate zoo built from another config.
    """
    root = Path(root)
    manifest_path = root / MANIFEST
    if manifest_path.is_file():
        old = json.loads(manifest_path.read_text())
        if old.get("config") != config.model_dump(mode="json"):
            raise ConfigError(f"{root}: holds a candidate zoo of another config; use a new folder")
        return CandidateZoo.open(root)
    specs = [*config.candidates, config.generic]
    infos: dict[str, dict] = {}
    for i, spec in enumerate(specs):
        path = root / "models" / _file_name(spec.name)
        info_path = path.with_suffix(".json")
        recipe = _recipe(config, spec)
        old = json.loads(info_path.read_text()) if info_path.is_file() else None
        # Resume only from a model trained with exactly this recipe.
        if path.is_file() and old is not None and old.get("recipe") == recipe:
            infos[spec.name] = old
        else:
            model, info = _train_one(config, spec)
            info["recipe"] = recipe
            atomic_save_safetensors(path, model.state_dict(), {"name": spec.name})
            atomic_write_json(info_path, info)
            infos[spec.name] = info
            log.info("candidate %s: source val acc %.3f", spec.name, info["source_val_acc"])
        if progress is not None:
            progress(i + 1, len(specs))
    atomic_write_json(manifest_path, {"config": config.model_dump(mode="json"), "models": infos})
    return CandidateZoo.open(root)


class CandidateZoo:
    """A built candidate zoo on disk (``build_candidate_zoo``)."""

    def __init__(self, root: Path, config: CandidateZooConfig, infos: dict[str, dict]) -> None:
        self.root = root
        self.config = config
        self.infos = infos

    @classmethod
    def open(cls, root: str | Path) -> CandidateZoo:
        """Open a candidate zoo folder.

        Raises:
            WeightzooError: no ``candidates.json`` there.
        """
        root = Path(root)
        path = root / MANIFEST
        if not path.is_file():
            raise WeightzooError(f"{root}: no {MANIFEST}; build it with build_candidate_zoo")
        manifest = json.loads(path.read_text())
        config = parse_config(CandidateZooConfig, manifest["config"], str(path))
        return cls(root, config, manifest["models"])

    @property
    def names(self) -> list[str]:
        """Candidate names in config order (the generic encoder excluded)."""
        return [c.name for c in self.config.candidates]

    @property
    def target_names(self) -> list[str]:
        return [t.name for t in self.config.targets]

    def load(self, name: str) -> nn.Module:
        """The pre-trained module of a candidate (or of the generic encoder), in eval mode."""
        if name not in self.infos:
            raise WeightzooError(f"unknown candidate {name!r}; known: {self.names}")
        model = build_model(ArchSpec.from_dict(self.infos[name]["arch"]))
        model.load_state_dict(load_file(self.root / "models" / _file_name(name)))
        return model.eval()

    def extractor(self, name: str) -> FeatureExtractor:
        return FeatureExtractor(self.load(name), name=name)

    def generic_encoder(self) -> FeatureExtractor:
        """Model Spider's frozen generic encoder."""
        return self.extractor(self.config.generic.name)

    def target_data(self, name: str) -> SplitData:
        """A held-out target's data (train: the target half, capped at ``n_target_train``)."""
        task = next((t for t in self.config.targets if t.name == name), None)
        if task is None:
            raise WeightzooError(f"unknown target {name!r}; known: {self.target_names}")
        c = self.config
        return load_task(task, "target", n_train=c.n_target_train, n_eval=c.n_eval, seed=c.seed)


def zoo_extractors(
    zoo: Any, *, model_ids: Sequence[str] | None = None, epoch: int | str = "last"
) -> dict[str, FeatureExtractor]:
    """Every model of a weightzoo ``Zoo`` (or a ``CandidateZoo``) as a feature extractor.

    Args:
        zoo: a ``weightzoo.zoo.Zoo`` (models at ``epoch``) or a ``CandidateZoo``.
        model_ids: a subset of models (default: all).
        epoch: checkpoint epoch of ``Zoo`` models.

    Returns:
        model id -> extractor of its penultimate features (input of its last linear layer).
    """
    if isinstance(zoo, CandidateZoo):
        ids = list(model_ids) if model_ids is not None else zoo.names
        return {m: zoo.extractor(m) for m in ids}
    ids = list(model_ids) if model_ids is not None else zoo.models()
    return {m: FeatureExtractor(zoo.load_model(m, epoch), name=m) for m in ids}
