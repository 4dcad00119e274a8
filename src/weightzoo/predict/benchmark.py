"""Property-prediction benchmarks: in distribution, cross-dataset, cross-architecture.

A benchmark config (YAML, ``BenchmarkConfig``) names the zoos (built with
``weightzoo.train.build_zoo`` and cached, or existing folders), the tasks, and
the encoder runs (an encoder plus a protocol: ``linear`` / ``gbt`` probes on
frozen embeddings, or ``e2e`` supervised training). ``run_benchmark`` repeats
every run for each seed (the seed drives the split by model, the encoder's
fit and the head) and writes ``results.csv`` (one row per run, task, seed and
metric), ``results.md`` (mean ± std over seeds), ``results.png`` and the
resolved ``config.yaml``.

Settings:
    ``in_distribution``: one zoo, split by model into train/val/test.
    ``cross_dataset``: train/val on zoo A's models, test on every model of zoo
    B (same architecture, another dataset).
    ``cross_architecture``: as cross-dataset with zoo B of another depth or
    width; only encoders that accept any architecture can run it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from weightzoo.config import ZooConfig, dump_yaml, load_yaml_config
from weightzoo.errors import ConfigError
from weightzoo.predict._bench_report import write_outputs
from weightzoo.predict._data import load_networks, select_rows
from weightzoo.predict.benchmark_config import (
    BenchmarkConfig,
    EncoderRun,
    ZooSource,
    benchmark_config_from_dict,
    load_benchmark_config,
)
from weightzoo.predict.e2e import train_end_to_end
from weightzoo.predict.metrics import score_task
from weightzoo.predict.predictor import fit_probe_predictor
from weightzoo.predict.splits import split_across_zoos, split_by_model
from weightzoo.predict.tasks import get_task, task_targets
from weightzoo.zoo.zoo import Zoo

__all__ = [
    "BenchmarkConfig",
    "BenchmarkResult",
    "EncoderRun",
    "ZooSource",
    "benchmark_config_from_dict",
    "build_benchmark_encoder",
    "load_benchmark_config",
    "run_benchmark",
]

log = logging.getLogger(__name__)


def resolve_zoo(
    source: ZooSource, cache: Path, *, progress: Callable[[int, int], None] | None = None
) -> Zoo:
    """Open an existing zoo, or build (or reuse) the configured one under ``cache``.

    The folder name holds the config's fingerprint, so a changed config builds
    a new zoo instead of failing on the old one, and a rerun reuses it.
    """
    if source.path is not None:
        return Zoo.open(source.path)
    from weightzoo.train.build import build_zoo, config_fingerprint

    overrides = [
        f"{k}={yaml.safe_dump(v, default_flow_style=True).strip()}"
        for k, v in source.overrides.items()
    ]
    config: ZooConfig = load_yaml_config(source.config, overrides)
    folder = Path(cache) / f"{config.name}-{config_fingerprint(config)[:10]}"
    log.info("zoo %s -> %s", config.name, folder)
    return build_zoo(config, folder, progress=progress)


def build_benchmark_encoder(run: EncoderRun) -> Any:
    """A fresh encoder for a run (registry of ``weightzoo.encode`` or a local baseline)."""
    from weightzoo.encode import ENCODERS, build_encoder
    from weightzoo.predict.baselines import LOCAL_ENCODERS

    if run.encoder in LOCAL_ENCODERS:
        try:
            return LOCAL_ENCODERS[run.encoder](**run.params)
        except TypeError as e:
            raise ConfigError(f"encoder {run.encoder!r}: {e}") from None
    if run.encoder not in ENCODERS:
        known = ", ".join([*ENCODERS, *LOCAL_ENCODERS])
        raise ConfigError(f"encoder: unknown encoder {run.encoder!r}; expected one of {known}")
    return build_encoder(run.encoder, **run.params)


@dataclass
class BenchmarkResult:
    """Per-seed results (``frame``), their summary and the files written."""

    frame: pd.DataFrame
    summary: pd.DataFrame
    files: dict[str, Path]
    notes: list[str]


@dataclass
class _Part:
    rows: pd.DataFrame
    nets: list[Any]


def _parts(
    config: BenchmarkConfig, train_zoo: Zoo, test_zoo: Zoo | None, seed: int, data: dict[str, _Part]
) -> dict[str, _Part]:
    """Train/val/test rows and networks for one seed (networks loaded once per zoo)."""
    a = data["a"]
    if test_zoo is None:
        split = split_by_model(a.rows, fractions=config.fractions, seed=seed)
        test = a
    else:
        split = split_across_zoos(
            a.rows, data["b"].rows, val_fraction=config.val_fraction, seed=seed
        )
        test = data["b"]

    def take(part: _Part, ids: tuple[str, ...]) -> _Part:
        keep = np.flatnonzero(part.rows["model_id"].isin(ids).to_numpy())
        return _Part(part.rows.iloc[keep].reset_index(drop=True), [part.nets[i] for i in keep])

    return {
        "train": take(a, split.train),
        "val": take(a, split.val),
        "test": take(test, split.test),
    }


def _check_architectures(run: EncoderRun, encoder: Any, setting: str) -> None:
    if setting == "cross_architecture" and not getattr(encoder, "any_architecture", False):
        raise ConfigError(
            f"encoder run {run.name!r}: encoder {run.encoder!r} takes one architecture only; "
            "remove it from a cross_architecture benchmark"
        )


def _run_one(
    config: BenchmarkConfig, run: EncoderRun, parts: dict[str, _Part], seed: int, notes: list[str]
) -> list[dict[str, Any]]:
    tasks = [get_task(t) for t in (run.tasks or config.tasks)]
    records: list[dict[str, Any]] = []
    train, val, test = parts["train"], parts["val"], parts["test"]
    usable = []
    for task in tasks:
        y = task_targets(task, train.rows)
        if task.kind == "classification" and len(set(y.tolist())) < 2:
            note = f"{task.name}: skipped, the training zoo has one {task.column} only ({y[0]})"
            if note not in notes:
                notes.append(note)
            continue
        usable.append(task)
    shared = None
    for task in usable:
        start = time.perf_counter()
        y_train = task_targets(task, train.rows)
        if run.protocol == "e2e":
            encoder = build_benchmark_encoder(run)
            _check_architectures(run, encoder, config.setting)
            predictor = train_end_to_end(
                encoder, task, train.nets, y_train, val.nets, task_targets(task, val.rows),
                config=config.e2e.model_copy(update={"fit_epochs": run.fit_epochs}) if run.fit_epochs is not None else config.e2e,
                seed=seed,
            )  # fmt: skip
            pred = predictor.predict(test.nets)
        else:
            if shared is None:
                # Probes share one unsupervised fit and one encoding per seed across tasks.
                encoder = build_benchmark_encoder(run)
                _check_architectures(run, encoder, config.setting)
                encoder.fit(train.nets, seed=seed, epochs=run.fit_epochs)
                shared = (encoder, encoder.encode(train.nets), encoder.encode(test.nets))
            encoder, emb_train, emb_test = shared
            predictor = fit_probe_predictor(
                encoder,
                task,
                train.nets,
                y_train,
                probe=run.protocol,
                seed=seed,
                embeddings=emb_train,
            )
            pred = predictor.head.predict_from_embeddings(emb_test)
        seconds = time.perf_counter() - start
        for metric, value in score_task(task, task_targets(task, test.rows), pred).items():
            records.append({
                "benchmark": config.name, "setting": config.setting, "run": run.name,
                "encoder": run.encoder, "protocol": run.protocol, "task": task.name, "seed": seed,
                "metric": metric, "value": value, "headline": metric == task.headline,
                "train_models": train.rows["model_id"].nunique(), "test_models": test.rows["model_id"].nunique(),
                "train_rows": len(train.rows), "test_rows": len(test.rows), "seconds": seconds,
            })  # fmt: skip
        headline = next(r["value"] for r in records[::-1] if r["headline"])
        log.info("%s %s seed %d: %s %.4f", run.name, task.name, seed, task.headline, headline)
    return records


def run_benchmark(
    config: BenchmarkConfig,
    out: str | Path,
    *,
    zoo_cache: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BenchmarkResult:
    """Run every encoder run for every seed and write the results.

    Args:
        config: the benchmark.
        out: output folder (``results.csv``, ``results.md``, ``results.png``, ``config.yaml``).
        zoo_cache: where configured zoos are built and reused (default ``out/zoos``).
        progress: ``(done, total)`` over (run, seed) pairs.

    Returns:
        The results and the files written.
    """
    out = Path(out)
    cache = Path(zoo_cache) if zoo_cache is not None else out / "zoos"
    from weightzoo.report._io import write_text_atomic

    write_text_atomic(out / "config.yaml", dump_yaml(config))
    train_zoo = resolve_zoo(config.train_zoo, cache)
    test_zoo = resolve_zoo(config.test_zoo, cache) if config.test_zoo is not None else None
    data = {"a": _load(train_zoo, config.epochs)}
    if test_zoo is not None:
        data["b"] = _load(test_zoo, config.epochs)
    records: list[dict[str, Any]] = []
    notes: list[str] = []
    total, done = len(config.seeds) * len(config.encoders), 0
    for seed in config.seeds:
        parts = _parts(config, train_zoo, test_zoo, seed, data)
        for run in config.encoders:
            records += _run_one(config, run, parts, seed, notes)
            done += 1
            if progress is not None:
                progress(done, total)
            write_outputs(
                config, pd.DataFrame(records), out, notes, zoos=(train_zoo, test_zoo), final=False
            )
    frame = pd.DataFrame(records)
    summary, files = write_outputs(
        config, frame, out, notes, zoos=(train_zoo, test_zoo), final=True
    )
    files["config"] = out / "config.yaml"
    return BenchmarkResult(frame=frame, summary=summary, files=files, notes=notes)


def _load(zoo: Zoo, epochs: Any) -> _Part:
    rows = select_rows(zoo, epochs)
    return _Part(rows, load_networks(zoo, rows))
