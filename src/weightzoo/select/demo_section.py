"""The demo's model-selection section: rank the demo zoo's MLPs for new MNIST-1D tasks.

A few of the zoo's trained models (spread over its range of test accuracy)
are candidates; their penultimate layer is the feature. Targets are MNIST-1D
class subsets and domain shifts of the training split. Ground truth:
fine-tuning every candidate on every target (small learning-rate grid, chosen
on validation); each transferability score is compared to it by weighted tau.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from weightzoo._threads import torch_threads
from weightzoo.data import SplitData, load_dataset
from weightzoo.data.domains import apply_shift
from weightzoo.report import ReportSection
from weightzoo.select._bench_report import _md_table, plot_benchmark
from weightzoo.select._rank_methods import extract_all, score_candidates
from weightzoo.select.candidates import zoo_extractors
from weightzoo.select.groundtruth import finetune
from weightzoo.select.ranking import RANKING_METRICS
from weightzoo.select.scores import SCORES
from weightzoo.zoo.zoo import Zoo

__all__ = ["DEMO_TARGETS", "run_demo_section"]

log = logging.getLogger(__name__)
# (name, kept classes, domain shift)
DEMO_TARGETS = (
    ("0-4", (0, 1, 2, 3, 4), None),
    ("5-9 + noise", (5, 6, 7, 8, 9), "noise:0.5"),
    ("all, contrast 0.3", tuple(range(10)), "contrast:0.3"),
)


def _pick_models(zoo: Zoo, n: int) -> list[str]:
    cat = zoo.catalog
    last = cat.sort_values("epoch").groupby("model_id").tail(1)
    last = last[~last["diverged"].astype(bool)] if "diverged" in last else last
    ordered = last.sort_values(["test_acc", "model_id"])["model_id"].tolist()
    if len(ordered) <= n:
        return ordered
    # Spread over the accuracy range so that the ranking has something to find.
    return [ordered[i] for i in np.linspace(0, len(ordered) - 1, n).round().astype(int)]


def _target(data: SplitData, classes: tuple[int, ...], shift: str | None, n_train: int,
            n_eval: int) -> SplitData:  # fmt: skip
    g = torch.Generator().manual_seed(len(classes))
    parts = {}
    for split in ("train", "val", "test"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        keep = torch.isin(y, torch.tensor(classes))
        x, y = x[keep], y[keep]
        cap = n_train if split == "train" else n_eval
        idx = torch.randperm(len(y), generator=g)[:cap]
        x, y = x[idx], y[idx]
        relabel = torch.full((10,), -1, dtype=torch.int64)
        relabel[torch.tensor(classes)] = torch.arange(len(classes))
        parts[split] = (apply_shift(x, shift) if shift else x, relabel[y])
    return SplitData(name="target", x_train=parts["train"][0], y_train=parts["train"][1],
                     x_val=parts["val"][0], y_val=parts["val"][1], x_test=parts["test"][0],
                     y_test=parts["test"][1], num_classes=len(classes),
                     input_shape=data.input_shape)  # fmt: skip


@torch_threads(1)
def run_demo_section(zoo: Zoo, out_dir: Path, *, quick: bool) -> ReportSection:
    """Rank a few of the demo zoo's models for new tasks; report weighted tau of each score.

    Args:
        zoo: the demo zoo (MNIST-1D MLPs).
        out_dir: folder for the figure and CSV.
        quick: 4 models, 2 targets, shorter fine-tuning.

    Returns:
        The report section.
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    spec = zoo.manifest["dataset"]
    data = load_dataset(spec["name"], num_samples=spec.get("num_samples"),
                        split_seed=spec.get("split_seed", 0),
                        val_fraction=spec.get("val_fraction", 0.1))  # fmt: skip
    ids = _pick_models(zoo, 4 if quick else 10)
    extractors = zoo_extractors(zoo, model_ids=ids)
    targets = DEMO_TARGETS[:2] if quick else DEMO_TARGETS
    lrs, epochs = ((3e-3,), 2) if quick else ((1e-3, 1e-2), 8)
    rows, truth_rows = [], []
    for name, classes, shift in targets:
        target = _target(data, classes, shift, 150 if quick else 300, 150 if quick else 400)
        truth = []
        for m in ids:
            runs = [
                finetune(extractors[m], target, lr=lr, epochs=epochs, batch_size=32) for lr in lrs
            ]
            # Test accuracy at the best validation accuracy (first, smaller lr, on ties).
            truth.append(runs[int(np.argmax([r[0] for r in runs]))][1])
        truth = np.array(truth)
        truth_rows.append({"target": name, **dict(zip(ids, truth.round(3).tolist(), strict=True))})
        extracted = extract_all(extractors, target.x_train)
        labels = target.y_train.numpy()
        for method in SCORES:
            scores, seconds = score_candidates(method, extracted, labels)
            scores = np.where(np.isfinite(scores), scores, np.nanmin(scores) - 1)
            rows.append({"target": name, "method": method, "seconds": seconds,
                         **{k: fn(truth, scores) for k, fn in RANKING_METRICS.items()}})  # fmt: skip
    per_target = pd.DataFrame(rows)
    summary = (per_target.groupby("method")[["weighted_tau", "kendall_tau", "top1_regret", "seconds"]]
               .mean().sort_values("weighted_tau", ascending=False).reset_index())  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    per_target.to_csv(out_dir / "select_per_target.csv", index=False)
    figure = plot_benchmark(per_target, out_dir / "select_weighted_tau.png")
    elapsed = time.perf_counter() - start
    body = "\n\n".join([
        f"Which of the zoo's models should be fine-tuned for a new task? {len(ids)} trained "
        f"models (spread over the zoo's test accuracy) are ranked for {len(targets)} MNIST-1D "
        "target tasks (class subsets and domain shifts) by each transferability score, from "
        "their penultimate-layer features on the target's training examples. Ground truth: "
        f"test accuracy after fine-tuning each model ({epochs} epochs, learning rates "
        f"{list(lrs)}, chosen on validation). Higher weighted tau is better.",
        _md_table(summary),
        "Ground truth (test accuracy after fine-tuning):",
        _md_table(pd.DataFrame(truth_rows)),
        f"Section computed in {elapsed:.1f} s. The full benchmark (a zoo of 17 models "
        "pre-trained on different sources, Model Spider, ZooD) is "
        "`weightzoo select benchmark examples/configs/select_benchmark.yaml`.",
    ])  # fmt: skip
    return ReportSection(title="Choosing a model to fine-tune", markdown=body, figures=[figure])
