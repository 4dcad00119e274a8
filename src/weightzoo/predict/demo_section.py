"""The demo's property-prediction section: predict test accuracy from weights alone.

On the demo zoo (ten checkpoints per model, epochs 0 to 30), models are
split 70/15/15 by model (seed 0); three
predictors learn test accuracy from the training models' checkpoints and are
scored on the held-out models' checkpoints with Kendall tau and R²:

- ``stats+gbt``: per-layer weight statistics and gradient-boosted trees
  (Unterthiner et al. 2020, https://arxiv.org/abs/2002.11448);
- ``stats+linear``: the same statistics with a ridge probe;
- ``flat+e2e``: an MLP on the flattened weights trained end to end with a
  sigmoid head and binary cross-entropy, checkpoint chosen by validation tau.

SNE is left to ``weightzoo predict benchmark``: training it end to end on the
demo zoo takes minutes, not the demo's seconds.
"""

from __future__ import annotations

import io
import logging
import time
from pathlib import Path

import numpy as np

from weightzoo._threads import torch_threads
from weightzoo.predict._data import load_networks, select_rows
from weightzoo.predict.e2e import E2EConfig, train_end_to_end
from weightzoo.predict.metrics import score_task
from weightzoo.predict.predictor import fit_probe_predictor
from weightzoo.predict.splits import split_by_model
from weightzoo.predict.tasks import task_targets
from weightzoo.report import ReportSection
from weightzoo.report._io import write_bytes_atomic
from weightzoo.report._markdown import code, pipe_table
from weightzoo.zoo.zoo import Zoo

__all__ = ["run_demo_section"]

log = logging.getLogger(__name__)

_TASK = "test_acc"
# Ten checkpoints per model, denser early where accuracy moves most: the
# full demo zoo has 31 per model, and all 6,696 would not fit the demo's time.
_EPOCHS = (0, 1, 2, 3, 5, 8, 12, 17, 23, 30)


def _num(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{value:.3f}"


def _scatter(results: list[tuple[str, np.ndarray, np.ndarray, float]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(3.2 * len(results), 3.2), squeeze=False)
    for ax, (name, y, pred, tau) in zip(axes[0], results, strict=True):
        ax.scatter(y, pred, s=4, alpha=0.4)
        lo, hi = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
        ax.plot([lo, hi], [lo, hi], color="black", linewidth=0.6)
        ax.set_title(f"{name} (τ = {tau:.3f})", fontsize=9)
        ax.set_xlabel("true test accuracy")
    axes[0][0].set_ylabel("predicted")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return write_bytes_atomic(path, buf.getvalue())


def run_demo_section(zoo: Zoo, out_dir: Path, *, quick: bool) -> ReportSection:
    """Train and score three test-accuracy predictors on ``zoo``; return the report section.

    Runs on one torch thread (restored afterwards).

    Args:
        zoo: the demo zoo.
        out_dir: folder for the figure (``predict_scatter.png``).
        quick: a smoke run (the quick demo zoo has a handful of models).

    Returns:
        A section with a table (Kendall tau, R², seconds) and a scatter figure.
    """
    with torch_threads(1):  # see torch_threads: 59 s vs 9 s here
        return _run(zoo, Path(out_dir), quick=quick)


def _run(zoo: Zoo, out_dir: Path, *, quick: bool) -> ReportSection:
    rows = select_rows(zoo, "all" if quick else list(_EPOCHS))
    n_models = rows["model_id"].nunique()
    small = n_models < 10
    # A handful of models cannot spare validation models: the quick run picks its
    # end-to-end checkpoint on the training models (said in the section).
    split = split_by_model(rows, fractions=(0.5, 0.0, 0.5) if small else (0.7, 0.15, 0.15), seed=0)
    parts = {s: split.rows(rows, s) for s in ("train", "val", "test")}
    counts = {s: p["model_id"].nunique() for s, p in parts.items()}
    if small:
        parts["val"] = parts["train"]
    nets = {s: load_networks(zoo, p) for s, p in parts.items()}
    y = {s: task_targets(_TASK, p) for s, p in parts.items()}
    from weightzoo.encode import build_encoder

    results = []
    table = []
    stats = build_encoder("stats").fit(nets["train"])
    emb_train, emb_test = stats.encode(nets["train"]), stats.encode(nets["test"])
    for probe in ("gbt", "linear"):
        start = time.perf_counter()
        predictor = fit_probe_predictor(
            stats, _TASK, nets["train"], y["train"], probe=probe, embeddings=emb_train,
            probe_params={"max_iter": 50} if quick and probe == "gbt" else None,
        )  # fmt: skip
        pred = predictor.head.predict_from_embeddings(emb_test)
        results.append((f"stats+{probe}", pred, time.perf_counter() - start))
    start = time.perf_counter()
    config = E2EConfig(epochs=2 if quick else 10, batch_size=64, lr=1e-3)
    predictor = train_end_to_end(
        build_encoder("flat"),
        _TASK,
        nets["train"],
        y["train"],
        nets["val"],
        y["val"],
        config=config,
    )
    results.append(("flat+e2e", predictor.predict(nets["test"]), time.perf_counter() - start))
    scatter = []
    for name, pred, seconds in results:
        m = score_task(_TASK, y["test"], pred)
        table.append([code(name), _num(m["kendall_tau"]), _num(m["r2"]), f"{seconds:.1f}"])
        scatter.append((name, y["test"], np.asarray(pred, dtype=float), m["kendall_tau"]))
    figure = _scatter(scatter, out_dir / "predict_scatter.png")
    text = [
        "Predicting each checkpoint's test accuracy from its weights alone "
        f"(checkpoints at epochs {', '.join(map(str, sorted(rows['epoch'].unique())))}). The "
        f"{n_models} models are split by model (seed 0): {counts['train']} train, "
        f"{counts['val']} validation, {counts['test']} held-out test models; every checkpoint of a "
        f"model stays in its split ({len(parts['train'])} training and {len(parts['test'])} test "
        "checkpoints). Scores are on the held-out models.",
        "",
        pipe_table(["predictor", "Kendall τ", "R²", "seconds"], table, align="lrrr"),
        "",
        "`stats`: per-layer mean, variance and quantiles of weights and biases (Unterthiner et al. "
        "2020) with gradient-boosted trees or a ridge probe; `flat+e2e`: an MLP on the flattened "
        "weights trained end to end (sigmoid head, binary cross-entropy, best validation τ). "
        "More encoders (SNE, hyper-representations), tasks and cross-dataset / "
        "cross-architecture settings: `weightzoo predict benchmark` (docs/predict.md).",
    ]
    if small:
        text += [
            "",
            "Quick run: too few models for a validation split; the end-to-end checkpoint was "
            "chosen on the training models.",
        ]
    return ReportSection(
        title="Property prediction from weights", markdown="\n".join(text), figures=[figure]
    )
