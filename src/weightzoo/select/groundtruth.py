"""Ground truth of model selection: every candidate fine-tuned on every target.

Two protocols, each over a small learning-rate grid (Adam):

- ``linear_probe``: a linear head on the frozen, standardized penultimate features;
- ``finetune``: the source head replaced by a fresh linear head, every parameter trained.

The learning rate is chosen by validation accuracy and the ground truth is the
test accuracy at that learning rate (choosing on test would let noise pick the
grid point). The long table (one row per candidate, target, protocol and
learning rate, with wall time) is cached as ``groundtruth.parquet`` with its
protocol in ``groundtruth.json``; a different protocol is refused, never mixed.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, field_validator
from torch import nn

from weightzoo._threads import torch_threads
from weightzoo.data import SplitData
from weightzoo.errors import ConfigError, WeightzooError
from weightzoo.seeding import generator
from weightzoo.select.candidates import CandidateZoo, FeatureExtractor
from weightzoo.zoo._io import atomic_write_bytes, atomic_write_json, parquet_bytes

__all__ = [
    "PROTOCOLS",
    "GroundTruthConfig",
    "brute_force_seconds",
    "build_ground_truth",
    "finetune",
    "ground_truth_matrix",
    "linear_probe",
    "load_ground_truth",
]

log = logging.getLogger(__name__)
PROTOCOLS = ("finetune", "linear_probe")
TABLE = "groundtruth.parquet"
SIDECAR = "groundtruth.json"


class GroundTruthConfig(BaseModel):
    """The fine-tuning protocol of the ground truth.

    Attributes:
        probe_lrs: learning rates of the linear probe (full-batch Adam).
        probe_steps: full-batch steps of the linear probe.
        finetune_lrs: learning rates of full fine-tuning (Adam).
        finetune_epochs: epochs of full fine-tuning.
        batch_size: fine-tuning batch size.
        seed: seed of head initialization and data order.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    probe_lrs: tuple[float, ...] = (0.003, 0.03, 0.3)
    probe_steps: int = 150
    finetune_lrs: tuple[float, ...] = (3e-4, 1e-3, 3e-3)
    finetune_epochs: int = 10
    batch_size: int = 32
    seed: int = 0

    @field_validator("probe_lrs", "finetune_lrs")
    @classmethod
    def _positive(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if not v or any(lr <= 0 for lr in v):
            raise ValueError(f"expected a non-empty list of positive learning rates, got {v}")
        return v


def _accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return (logits.argmax(1) == y).double().mean().item()


def linear_probe(
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    *,
    lr: float,
    steps: int,
    seed: int = 0,
) -> tuple[float, float]:
    """Train a linear head on frozen features; return (val, test) accuracy.

    Args:
        train: features (N, D) and labels (N,); the same for ``val`` and ``test``.
        lr: Adam learning rate.
        steps: full-batch steps.
        seed: head initialization seed.

    Returns:
        Validation and test accuracy.
    """
    xs = [torch.as_tensor(s[0], dtype=torch.float32) for s in (train, val, test)]
    ys = [torch.as_tensor(s[1], dtype=torch.int64) for s in (train, val, test)]
    mean, std = xs[0].mean(0), xs[0].std(0) + 1e-6
    xs = [(x - mean) / std for x in xs]
    num_classes = int(max(int(y.max()) for y in ys)) + 1
    head = nn.Linear(xs[0].shape[1], num_classes)
    g = generator(seed, "probe-head")
    with torch.no_grad():
        head.weight.normal_(0, 0.01, generator=g)
        head.bias.zero_()
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    for _ in range(steps):
        loss = F.cross_entropy(head(xs[0]), ys[0])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return _accuracy(head(xs[1]), ys[1]), _accuracy(head(xs[2]), ys[2])


def with_new_head(module: nn.Module, head: str, num_classes: int, seed: int) -> nn.Module:
    """A deep copy of ``module`` whose ``head`` (an ``nn.Linear``) has ``num_classes`` outputs."""
    model = copy.deepcopy(module)
    old = model.get_submodule(head)
    if not isinstance(old, nn.Linear):
        raise WeightzooError(f"head {head!r} is a {type(old).__name__}, expected nn.Linear")
    new = nn.Linear(old.in_features, num_classes)
    g = generator(seed, "finetune-head")
    bound = 1.0 / old.in_features**0.5
    with torch.no_grad():
        new.weight.uniform_(-bound, bound, generator=g)
        new.bias.zero_()
    parent_name, _, attr = head.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, attr, new)
    return model


def finetune(
    extractor: FeatureExtractor,
    data: SplitData,
    *,
    lr: float,
    epochs: int,
    batch_size: int,
    seed: int = 0,
) -> tuple[float, float]:
    """Fine-tune every parameter with a fresh head; return (val, test) accuracy.

    The extractor's module is copied, never modified.
    """
    model = with_new_head(extractor.module, extractor.head, data.num_classes, seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = generator(seed, "finetune-data")
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(data.x_train.shape[0], generator=g)
        for start in range(0, perm.numel(), batch_size):
            idx = perm[start : start + batch_size]
            loss = F.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        return _accuracy(model(data.x_val), data.y_val), _accuracy(model(data.x_test), data.y_test)


def _pair_rows(
    extractor: FeatureExtractor, data: SplitData, config: GroundTruthConfig
) -> list[dict]:
    rows = []
    start = time.perf_counter()
    splits = [
        (extractor.extract(x).features, y.numpy())
        for x, y in (
            (data.x_train, data.y_train),
            (data.x_val, data.y_val),
            (data.x_test, data.y_test),
        )
    ]
    feature_seconds = time.perf_counter() - start
    for lr in config.probe_lrs:
        start = time.perf_counter()
        val, test = linear_probe(*splits, lr=lr, steps=config.probe_steps, seed=config.seed)
        seconds = time.perf_counter() - start + feature_seconds / len(config.probe_lrs)
        rows.append({"protocol": "linear_probe", "lr": lr, "val_acc": val, "test_acc": test,
                     "seconds": seconds})  # fmt: skip
    for lr in config.finetune_lrs:
        start = time.perf_counter()
        val, test = finetune(extractor, data, lr=lr, epochs=config.finetune_epochs,
                             batch_size=config.batch_size, seed=config.seed)  # fmt: skip
        rows.append({"protocol": "finetune", "lr": lr, "val_acc": val, "test_acc": test,
                     "seconds": time.perf_counter() - start})  # fmt: skip
    return rows


def _protocol(zoo: CandidateZoo, config: GroundTruthConfig) -> dict:
    return {
        "ground_truth": config.model_dump(mode="json"),
        "candidate_zoo": zoo.config.model_dump(mode="json"),
        "selection": "learning rate with the best validation accuracy; ground truth = its "
        "test accuracy",
        "protocols": list(PROTOCOLS),
    }


@torch_threads(1)
def build_ground_truth(
    zoo: CandidateZoo,
    config: GroundTruthConfig | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Fine-tune every candidate on every target (or read the cached table).

    Args:
        zoo: the candidate zoo; the table is cached in its folder.
        config: the protocol (default ``GroundTruthConfig()``).
        progress: ``(done, total)`` callback over (candidate, target) pairs.

    Returns:
        The long table: candidate, target, protocol, lr, val_acc, test_acc, seconds.

    Raises:
        ConfigError: a cached table was made with another protocol.
    """
    config = config or GroundTruthConfig()
    protocol = _protocol(zoo, config)
    cached = load_ground_truth(zoo.root, missing_ok=True)
    if cached is not None:
        table, old = cached
        if old != protocol:
            raise ConfigError(
                f"{zoo.root / SIDECAR}: the cached ground truth used another protocol; "
                "delete groundtruth.* or use a new folder"
            )
        return table
    rows: list[dict] = []
    total = len(zoo.names) * len(zoo.target_names)
    done = 0
    for target in zoo.target_names:
        data = zoo.target_data(target)
        for name in zoo.names:
            for row in _pair_rows(zoo.extractor(name), data, config):
                rows.append({"candidate": name, "target": target, **row})
            done += 1
            if progress is not None:
                progress(done, total)
        log.info("ground truth of target %s done", target)
    table = pd.DataFrame(rows)
    atomic_write_json(zoo.root / SIDECAR, protocol)
    atomic_write_bytes(zoo.root / TABLE, parquet_bytes(table))
    return table


def load_ground_truth(
    root: str | Path, *, missing_ok: bool = False
) -> tuple[pd.DataFrame, dict] | None:
    """Read a cached table and its protocol from ``root``.

    Raises:
        WeightzooError: it is missing (unless ``missing_ok``) or one of its two files is.
    """
    root = Path(root)
    table, sidecar = root / TABLE, root / SIDECAR
    if not table.is_file() or not sidecar.is_file():
        if missing_ok and not table.is_file():
            return None
        raise WeightzooError(f"{root}: expected {TABLE} and {SIDECAR} (build_ground_truth)")
    return pd.read_parquet(table), json.loads(sidecar.read_text())


def ground_truth_matrix(table: pd.DataFrame, protocol: str = "finetune") -> pd.DataFrame:
    """Test accuracy at the best-validation learning rate, (targets x candidates).

    Ties in validation accuracy go to the smaller learning rate.
    """
    if protocol not in PROTOCOLS:
        raise ConfigError(f"protocol: expected one of {PROTOCOLS}, got {protocol!r}")
    rows = table[table["protocol"] == protocol].sort_values(["candidate", "target", "lr"])
    best = rows.loc[rows.groupby(["target", "candidate"], sort=False)["val_acc"].idxmax()]
    matrix = best.pivot(index="target", columns="candidate", values="test_acc")
    order_t = list(dict.fromkeys(table["target"]))
    order_c = list(dict.fromkeys(table["candidate"]))
    return matrix.loc[order_t, order_c]


def brute_force_seconds(table: pd.DataFrame, protocol: str = "finetune") -> pd.Series:
    """Seconds spent fine-tuning the whole zoo on each target over the whole grid."""
    rows = table[table["protocol"] == protocol]
    return rows.groupby("target", sort=False)["seconds"].sum()
