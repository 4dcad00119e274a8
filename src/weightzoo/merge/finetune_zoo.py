"""A zoo of fine-tunes: one base model pre-trained on the CPU, fine-tuned on several tasks.

Design (the issue left it open). Merging is studied on fine-tunes of one
pre-trained model (task arithmetic, TIES, Model-GLUE's Llama-2 zoo), and
Model-GLUE's recipe ends in a *mixture* whose experts must speak the same
output language, as LLMs share a vocabulary. So the tasks here share one label
space: the ten MNIST-1D digits, each task a different **input domain**
(a deterministic transform of the signal: time-reversed, sign-flipped, shifted,
noisy, ...). The base is pre-trained on the clean signals; each fine-tune
adapts every layer to one domain. A merged model, an output ensemble or a
routed mixture is then judged on every domain's test split with the same
head, and nothing task-specific is kept outside the merged weights. Digits
stay digits across domains, so the tasks share features (merging can work)
while the input statistics differ (it can also fail: reversal and negation
move the fine-tunes far from each other).

Everything is generated (``weightzoo.data``: MNIST-1D) and trains in seconds
on two cores: a 1-D CNN (``cnn1d``, 16-16 channels, 3.0k parameters) by default,
as CNNs are far better than MLPs on MNIST-1D (Greydanus 2020).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, field_validator
from safetensors.torch import load_file, save
from torch import Tensor
from torch.func import functional_call

from weightzoo._threads import torch_threads
from weightzoo.arch import ArchSpec, build_model
from weightzoo.config import dump_yaml
from weightzoo.data import load_dataset
from weightzoo.errors import ConfigError, WeightzooError
from weightzoo.merge.moe import FlatAdam
from weightzoo.seeding import derive_seed, generator
from weightzoo.zoo._io import atomic_write_bytes, atomic_write_json

__all__ = [
    "DOMAINS",
    "FinetuneZoo",
    "FinetuneZooConfig",
    "TaskData",
    "build_finetune_zoo",
    "evaluate_accuracy",
    "finetune",
    "load_hf_weights",
    "make_tasks",
    "train_weights",
    "weights_predictor",
]

log = logging.getLogger(__name__)

Transform = Callable[[Tensor, torch.Generator], Tensor]
DOMAINS: dict[str, tuple[Transform, str]] = {}


def register_domain(name: str, description: str) -> Callable[[Transform], Transform]:
    """Register an input-domain transform ``(x (N, C, L), generator) -> x`` by name."""

    def deco(fn: Transform) -> Transform:
        DOMAINS[name] = (fn, description)
        return fn

    return deco


@register_domain("clean", "the signals as generated")
def _clean(x: Tensor, g: torch.Generator) -> Tensor:
    return x.clone()


@register_domain("reversed", "time-reversed signals")
def _reversed(x: Tensor, g: torch.Generator) -> Tensor:
    return x.flip(-1)


@register_domain("negated", "sign-flipped signals")
def _negated(x: Tensor, g: torch.Generator) -> Tensor:
    return -x


@register_domain("shifted", "signals circularly shifted by a quarter of their length")
def _shifted(x: Tensor, g: torch.Generator) -> Tensor:
    return torch.roll(x, x.shape[-1] // 4, dims=-1)


@register_domain("noisy", "signals plus Gaussian noise of standard deviation 0.5")
def _noisy(x: Tensor, g: torch.Generator) -> Tensor:
    return x + 0.5 * torch.randn(x.shape, generator=g)


@register_domain("smoothed", "signals averaged over a sliding window of 5 steps")
def _smoothed(x: Tensor, g: torch.Generator) -> Tensor:
    return F.avg_pool1d(x.reshape(-1, 1, x.shape[-1]), 5, 1, 2, count_include_pad=False).reshape(
        x.shape
    )


class FinetuneZooConfig(BaseModel):
    """How to build the fine-tune zoo (defaults: the benchmark's zoo)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    num_samples: int | None = Field(None, ge=100, description="MNIST-1D samples (default 5000)")
    family: Literal["mlp", "cnn1d"] = "cnn1d"
    widths: list[int] = [16, 16]
    activation: str = "relu"
    pretrain_domain: str = "clean"
    pretrain_epochs: int = Field(15, ge=1)
    pretrain_lr: float = Field(1e-2, gt=0)
    tasks: list[str] = ["shifted", "reversed", "negated", "smoothed"]
    finetune_epochs: int = Field(5, ge=1)
    finetune_lr: float = Field(3e-3, gt=0)
    batch_size: int = Field(64, ge=1)
    seed: int = 0

    @field_validator("tasks")
    @classmethod
    def _tasks(cls, v: list[str]) -> list[str]:
        unknown = [t for t in v if t not in DOMAINS]
        if unknown:
            raise ValueError(f"unknown domain(s) {unknown}; expected some of {sorted(DOMAINS)}")
        if len(set(v)) != len(v) or not v:
            raise ValueError("expected a non-empty list of distinct domains")
        return v

    @field_validator("pretrain_domain")
    @classmethod
    def _pretrain(cls, v: str) -> str:
        if v not in DOMAINS:
            raise ValueError(f"unknown domain {v!r}; expected one of {sorted(DOMAINS)}")
        return v


@dataclass(frozen=True, eq=False)
class TaskData:
    """One task: MNIST-1D under one domain transform, split like the dataset.

    Attributes:
        name: the domain name.
        x_train, x_val, x_test: ``(N, 1, 40)`` float32 inputs.
        y_train, y_val, y_test: ``(N,)`` int64 digit labels.
    """

    name: str
    x_train: Tensor
    y_train: Tensor
    x_val: Tensor
    y_val: Tensor
    x_test: Tensor
    y_test: Tensor

    def split(self, split: str) -> tuple[Tensor, Tensor]:
        """``(x, y)`` of ``train``, ``val`` or ``test``."""
        if split not in ("train", "val", "test"):
            raise WeightzooError(f"split: expected train, val or test, got {split!r}")
        return getattr(self, f"x_{split}"), getattr(self, f"y_{split}")


def make_tasks(
    domains: list[str], *, num_samples: int | None = None, seed: int = 0
) -> dict[str, TaskData]:
    """MNIST-1D under each domain transform (train, val and test transformed alike).

    Args:
        domains: names from ``DOMAINS``.
        num_samples: MNIST-1D size (default 5000).
        seed: seeds the random transforms (noise), per domain and split.

    Returns:
        Domain name -> its data.
    """
    data = load_dataset("mnist1d", num_samples=num_samples)
    tasks = {}
    for name in domains:
        if name not in DOMAINS:
            raise ConfigError(f"tasks: unknown domain {name!r}; expected one of {sorted(DOMAINS)}")
        fn = DOMAINS[name][0]
        xs = {
            s: fn(getattr(data, f"x_{s}"), generator(seed, "domain", name, s))
            for s in ("train", "val", "test")
        }
        tasks[name] = TaskData(
            name, xs["train"], data.y_train, xs["val"], data.y_val, xs["test"], data.y_test
        )
    return tasks


@torch_threads(1)
def train_weights(
    spec: ArchSpec,
    weights: dict[str, Tensor],
    x: Tensor,
    y: Tensor,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
) -> dict[str, Tensor]:
    """Train all parameters with Adam from ``weights``; returns new weights (inputs untouched)."""
    model = build_model(spec)
    model.load_state_dict(weights)
    model.train()
    opt = FlatAdam(list(model.parameters()), lr)
    g = generator(seed, "data order")
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0], generator=g)
        for s in range(0, x.shape[0], batch_size):
            idx = perm[s : s + batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@torch.no_grad()
def evaluate_accuracy(
    predict: Callable[[Tensor], Tensor], tasks: dict[str, TaskData], split: str = "test"
) -> dict[str, float]:
    """Accuracy of ``predict(x) -> logits or probabilities (N, classes)`` on each task.

    Args:
        predict: any classifier (a module, a weight set through ``weights_predictor``,
            an ensemble, a mixture).
        tasks: the tasks.
        split: which split.

    Returns:
        Task name -> accuracy in [0, 1].
    """
    out = {}
    with torch_threads(1):  # the zoo's models are tiny; see ``torch_threads``
        for name, task in tasks.items():
            x, y = task.split(split)
            out[name] = float((predict(x).argmax(1) == y).float().mean())
    return out


def weights_predictor(spec: ArchSpec, weights: dict[str, Tensor]) -> Callable[[Tensor], Tensor]:
    """A ``predict(x) -> logits`` closure over one weight set (eval mode)."""
    model = build_model(spec).eval()
    return lambda x: functional_call(model, weights, (x,))


def finetune(
    spec: ArchSpec,
    base: dict[str, Tensor],
    tasks: dict[str, TaskData],
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, dict[str, Tensor]]:
    """Fine-tune ``base`` on each task's train split; returns task -> weights."""
    out = {}
    for i, (name, task) in enumerate(tasks.items()):
        out[name] = train_weights(
            spec,
            base,
            task.x_train,
            task.y_train,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            seed=derive_seed(seed, "finetune", name),
        )
        if progress is not None:
            progress(i + 1, len(tasks))
    return out


@dataclass(eq=False)
class FinetuneZoo:
    """A base model, its fine-tunes (one per task) and the tasks' data.

    Attributes:
        spec: the shared architecture.
        base: the pre-trained weights.
        finetunes: task name -> fine-tuned weights.
        tasks: task name -> data (the fine-tune's own task and every other one).
        config: what built it (None when assembled by hand).
    """

    spec: ArchSpec
    base: dict[str, Tensor]
    finetunes: dict[str, dict[str, Tensor]]
    tasks: dict[str, TaskData]
    config: FinetuneZooConfig | None = None

    def accuracy(self, weights: dict[str, Tensor], split: str = "test") -> dict[str, float]:
        """Per-task accuracy of one weight set."""
        return evaluate_accuracy(weights_predictor(self.spec, weights), self.tasks, split)

    def save(self, out: str | Path) -> Path:
        """Write each model in the Hugging Face layout (``base/``, ``<task>/``) plus ``zoo.yaml``.

        Every folder holds ``config.json`` (architecture) and ``model.safetensors``,
        readable by ``weightzoo merge`` and ``weightzoo merge cluster``.
        """
        out = Path(out)
        for name, w in {"base": self.base, **self.finetunes}.items():
            config = {"architecture": self.spec.to_dict(), "model_type": "weightzoo", "task": name}
            atomic_write_bytes(
                out / name / "model.safetensors",
                save({k: v.contiguous() for k, v in w.items()}, metadata={"format": "pt"}),
            )
            atomic_write_json(out / name / "config.json", config)
        if self.config is not None:
            atomic_write_bytes(out / "zoo.yaml", dump_yaml(self.config).encode())
        return out


def load_hf_weights(folder: str | Path) -> tuple[ArchSpec, dict[str, Tensor]]:
    """Read a weightzoo model in the Hugging Face layout (``config.json`` + ``model.safetensors``)."""
    folder = Path(folder)
    cfg_path, weights_path = folder / "config.json", folder / "model.safetensors"
    if not cfg_path.is_file() or not weights_path.is_file():
        raise WeightzooError(
            f"{folder}: expected a model folder with config.json and model.safetensors"
        )
    try:
        cfg = json.loads(cfg_path.read_text())
        spec = ArchSpec.from_dict(cfg["architecture"])
    except (KeyError, ValueError, TypeError) as e:
        raise WeightzooError(f"{cfg_path}: no weightzoo 'architecture' entry ({e})") from None
    return spec, load_file(str(weights_path))


def build_finetune_zoo(
    config: FinetuneZooConfig | None = None,
    *,
    base: tuple[ArchSpec, dict[str, Tensor]] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FinetuneZoo:
    """Pre-train a base on the clean domain (unless given), then fine-tune it on each task.

    Args:
        config: sizes, domains and schedules (default ``FinetuneZooConfig()``).
        base: an already trained ``(spec, weights)`` to start from (e.g. the best
            model of a zoo); its input must be MNIST-1D shaped ``(1, 40)``.
        progress: ``(done, total)`` over the pre-training and fine-tunes.

    Returns:
        The zoo, with the tasks' data.
    """
    config = config or FinetuneZooConfig()
    tasks = make_tasks(list(config.tasks), num_samples=config.num_samples, seed=config.seed)
    total = len(config.tasks) + (base is None)
    if base is None:
        spec = ArchSpec(
            config.family,
            (1, 40),
            num_classes=10,
            activation=config.activation,
            widths=tuple(config.widths),
        )
        torch.manual_seed(derive_seed(config.seed, "base init") % 2**63)
        init = {k: v.detach().clone() for k, v in build_model(spec).state_dict().items()}
        pre = make_tasks([config.pretrain_domain], num_samples=config.num_samples, seed=config.seed)
        task = pre[config.pretrain_domain]
        base_w = train_weights(
            spec,
            init,
            task.x_train,
            task.y_train,
            epochs=config.pretrain_epochs,
            lr=config.pretrain_lr,
            batch_size=config.batch_size,
            seed=derive_seed(config.seed, "pretrain"),
        )
        if progress is not None:
            progress(1, total)
    else:
        spec, base_w = base
        if tuple(spec.input_shape) != (1, 40) or spec.num_classes != 10:
            raise ConfigError(
                f"base: expected a model of MNIST-1D (input (1, 40), 10 classes), got {spec.input_shape}"
            )
    offset = total - len(config.tasks)
    finetunes = finetune(
        spec,
        base_w,
        tasks,
        epochs=config.finetune_epochs,
        lr=config.finetune_lr,
        batch_size=config.batch_size,
        seed=config.seed,
        progress=None if progress is None else (lambda d, _t: progress(d + offset, total)),
    )
    return FinetuneZoo(spec=spec, base=base_w, finetunes=finetunes, tasks=tasks, config=config)
