"""``weightzoo select benchmark``: how well each method ranks the candidate zoo.

For every held-out target of the candidate zoo (``candidates.py``) and every
method, the weighted Kendall tau, Kendall tau and top-1 regret of its ranking
against the fine-tuning ground truth (``groundtruth.py``), and its wall time
against brute-force fine-tuning of the whole zoo (the speed-up). Methods: every
score of ``SCORES``, Model Spider (leave-one-target-out: trained on the other
targets' ground truth), with and without re-ranking. A domain-shift task
(DomainBed-style: several training domains, one unseen test domain) adds ZooD:
its leave-one-domain-out ranking and its top-K feature-selection ensemble
against the best single model and the top-ranked one.

Outputs in ``out``: ``per_target.csv``, ``summary.csv``, ``ood.csv``,
``benchmark.md``, ``benchmark.png`` and the resolved ``config.yaml``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, field_validator

from weightzoo._threads import torch_threads
from weightzoo.select._bench_ood import OODSettings, run_ood
from weightzoo.select._bench_report import write_outputs
from weightzoo.select._rank_methods import extract_all, score_candidates
from weightzoo.select.candidates import (
    CandidateZoo,
    CandidateZooConfig,
    build_candidate_zoo,
    default_candidate_zoo_config,
)
from weightzoo.select.groundtruth import (
    GroundTruthConfig,
    brute_force_seconds,
    build_ground_truth,
    ground_truth_matrix,
)
from weightzoo.select.ranking import RANKING_METRICS
from weightzoo.select.scores import SCORES
from weightzoo.select.spider import ModelSpider, SpiderTask

__all__ = ["BenchmarkConfig", "BenchmarkResult", "SpiderSettings", "run_benchmark"]

log = logging.getLogger(__name__)
_FROZEN = ConfigDict(frozen=True, extra="forbid")
QUICK_GROUND_TRUTH = GroundTruthConfig(probe_steps=60, finetune_lrs=(1e-3, 3e-3), finetune_epochs=2)


class SpiderSettings(BaseModel):
    """Model Spider's hyperparameters in the benchmark (see ``ModelSpider``)."""

    model_config = _FROZEN
    dim: int = 32
    heads: int = 2
    steps: int = 300
    tasks_per_step: int = 4
    lr: float = 3e-3
    top_k: int = 3
    seed: int = 0


class BenchmarkConfig(BaseModel):
    """What ``weightzoo select benchmark CONFIG`` runs.

    Attributes:
        cache: folder of candidate zoos and their ground truth (built when missing,
            reused after); the quick and full zoos live in separate subfolders.
        out: output folder.
        quick: a 6-model, 5-target zoo and short training (seconds once cached).
        protocol: the ground truth: ``finetune`` or ``linear_probe``.
        scores: registered scores to compare.
        spider: Model Spider settings.
        ood: the domain-shift task of ZooD.
        ground_truth: the fine-tuning protocol (quick mode uses a shorter one unless
            one is given here).
        candidate_zoo: a custom candidate zoo (sources, targets, candidates); None:
            ``default_candidate_zoo_config(quick)``.
    """

    model_config = _FROZEN
    cache: Path = Path("select_cache")
    out: Path = Path("select_benchmark")
    quick: bool = False
    protocol: Literal["finetune", "linear_probe"] = "finetune"
    scores: tuple[str, ...] = (
        "logme",
        "leep",
        "nce",
        "hscore",
        "hscore_shrinkage",
        "gbc",
        "transrate",
    )
    spider: SpiderSettings = SpiderSettings()
    ood: OODSettings = OODSettings()
    ground_truth: GroundTruthConfig | None = None
    candidate_zoo: CandidateZooConfig | None = None

    @field_validator("scores")
    @classmethod
    def _known(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [s for s in v if s not in SCORES]
        if unknown:
            raise ValueError(f"unknown score(s) {unknown}; registered: {sorted(SCORES)}")
        return v


@dataclass
class BenchmarkResult:
    """Tables of a benchmark run and where they were written."""

    per_target: pd.DataFrame
    summary: pd.DataFrame
    ood: pd.DataFrame
    ground_truth: pd.DataFrame
    spider_fit_seconds: float
    out: Path


def _metrics(gt: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    # A score that failed for a model ranks that model last.
    finite = np.isfinite(scores)
    low = scores[finite].min() - 1.0 if finite.any() else 0.0
    filled = np.where(finite, scores, low)
    return {name: fn(gt, filled) for name, fn in RANKING_METRICS.items()}


def _spider_tasks(features: dict, gt: pd.DataFrame, names: list[str]) -> dict[str, SpiderTask]:
    tasks = {}
    for target, (generic, labels, extracted) in features.items():
        tasks[target] = SpiderTask(
            name=target, generic=generic, labels=labels,
            accuracy={n: float(gt.loc[target, n]) for n in names},
            specific={n: extracted[n].out.features for n in names},
        )  # fmt: skip
    return tasks


def _spider_rows(config: BenchmarkConfig, features: dict, gt: pd.DataFrame, names: list[str],
                 generic_seconds: dict[str, float]) -> tuple[list[dict], float]:  # fmt: skip
    """Leave-one-target-out Model Spider, without and with re-ranking."""
    tasks = _spider_tasks(features, gt, names)
    s = config.spider
    rows, fit_seconds = [], 0.0
    for target in tasks:
        train = [t for name, t in tasks.items() if name != target]
        start = time.perf_counter()
        spider = ModelSpider(dim=s.dim, heads=s.heads, steps=s.steps, lr=s.lr, top_k=s.top_k,
                             tasks_per_step=s.tasks_per_step, seed=s.seed).fit(train, names)  # fmt: skip
        fit_seconds += time.perf_counter() - start
        generic, labels, extracted = features[target]
        start = time.perf_counter()
        base = spider.score(generic, labels)
        plain = time.perf_counter() - start + generic_seconds[target]
        start = time.perf_counter()
        ranking = spider.rank(generic, labels, specific=lambda n, ex=extracted: ex[n].out.features)
        forward = sum(extracted[n].seconds for n in ranking.reranked)
        rerank = time.perf_counter() - start + generic_seconds[target] + forward
        truth = gt.loc[target, names].to_numpy(dtype=float)
        rows.append(
            {"target": target, "method": "model_spider", **_metrics(truth, base), "seconds": plain}
        )
        rows.append({"target": target, "method": "model_spider+rerank",
                     **_metrics(truth, ranking.scores), "seconds": rerank})  # fmt: skip
    return rows, fit_seconds / max(len(tasks), 1)


def prepare_zoo(
    config: BenchmarkConfig, progress: Callable[[int, int], None] | None = None
) -> tuple[CandidateZoo, pd.DataFrame]:
    """Build (or reuse) the candidate zoo and its ground-truth table under ``config.cache``."""
    zoo_config = config.candidate_zoo or default_candidate_zoo_config(config.quick)
    default_name = "quick" if config.quick else "default"
    folder = Path(config.cache) / (default_name if config.candidate_zoo is None else "custom")
    zoo = build_candidate_zoo(zoo_config, folder, progress=progress)
    gt_config = config.ground_truth or (QUICK_GROUND_TRUTH if config.quick else GroundTruthConfig())
    return zoo, build_ground_truth(zoo, gt_config, progress=progress)


@torch_threads(1)
def run_benchmark(
    config: BenchmarkConfig, *, progress: Callable[[int, int], None] | None = None
) -> BenchmarkResult:
    """Run the whole benchmark and write its outputs (see the module docstring).

    Args:
        config: the benchmark config.
        progress: ``(done, total)`` callback over targets (and zoo building first).

    Returns:
        The tables and the output folder.
    """
    zoo, table = prepare_zoo(config, progress)
    gt = ground_truth_matrix(table, config.protocol)
    brute = brute_force_seconds(table)
    names = zoo.names
    extractors = {n: zoo.extractor(n) for n in names}
    generic_encoder = zoo.generic_encoder()
    rows: list[dict] = []
    features: dict[str, tuple] = {}
    generic_seconds: dict[str, float] = {}
    targets = zoo.target_names
    for i, target in enumerate(targets):
        data = zoo.target_data(target)
        labels = data.y_train.numpy()
        extracted = extract_all(extractors, data.x_train)
        start = time.perf_counter()
        generic = generic_encoder.extract(data.x_train).features
        generic_seconds[target] = time.perf_counter() - start
        features[target] = (generic, labels, extracted)
        truth = gt.loc[target, names].to_numpy(dtype=float)
        for method in config.scores:
            scores, seconds = score_candidates(method, extracted, labels)
            rows.append(
                {"target": target, "method": method, **_metrics(truth, scores), "seconds": seconds}
            )
        if progress is not None:
            progress(i + 1, len(targets) + 1)
    spider_rows, spider_fit = _spider_rows(config, features, gt, names, generic_seconds)
    rows += spider_rows
    per_target = pd.DataFrame(rows)
    per_target["brute_force_seconds"] = per_target["target"].map(brute)
    per_target["speedup"] = per_target["brute_force_seconds"] / per_target["seconds"]
    summary = (
        per_target.groupby("method", sort=False)[
            ["weighted_tau", "kendall_tau", "top1_regret", "seconds", "speedup"]
        ]  # fmt: skip
        .mean()
        .sort_values("weighted_tau", ascending=False)
        .reset_index()
    )
    ood = run_ood(zoo, config.ood, config.scores, quick=config.quick)
    if progress is not None:
        progress(len(targets) + 1, len(targets) + 1)
    out = Path(config.out)
    result = BenchmarkResult(per_target, summary, ood, gt, spider_fit, out)
    write_outputs(result, config_yaml=yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False),
                  zoo=zoo)  # fmt: skip
    return result
