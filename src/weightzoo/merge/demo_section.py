"""The demo report's merging section: re-basin two seeds, then merge fine-tunes of the best model.

``run_demo_section(zoo, out_dir, quick=...)`` takes the main job's MNIST-1D zoo
and (1) aligns two models that differ only in their seed with Git Re-Basin
weight matching, measuring the loss barrier of the linear path before and
after; (2) fine-tunes the zoo's best model on four input domains (see
``weightzoo.merge.finetune_zoo``) and compares merge methods, an output
ensemble and the Model-GLUE recipe on them.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from weightzoo.config import ZooConfig, parse_config
from weightzoo.report import ReportSection
from weightzoo.zoo.zoo import Zoo

__all__ = ["run_demo_section"]

log = logging.getLogger(__name__)

_DOMAINS = ["shifted", "reversed", "negated", "smoothed"]
_HP = ("init", "activation", "optimizer", "lr", "weight_decay", "dropout", "batch_size", "momentum")


def _final_rows(zoo: Zoo) -> pd.DataFrame:
    cat = zoo.catalog
    last = cat.loc[cat.groupby("model_id")["epoch"].idxmax()]
    return last.sort_values("test_acc", ascending=False, kind="stable")


def _seed_pair(zoo: Zoo, final: pd.DataFrame) -> tuple[str, str] | None:
    """Two models of one architecture that differ only in seed, from the best such group."""
    hp = [c for c in _HP if c in final.columns]
    best: tuple[float, tuple[str, str]] | None = None
    for _, group in final.groupby(hp, dropna=False, sort=False) if hp else []:
        if len(group) >= 2:
            ids = list(group["model_id"][:2])
            score = float(group["test_acc"].mean())
            if zoo.spec(ids[0]) == zoo.spec(ids[1]) and (best is None or score > best[0]):
                best = (score, (ids[0], ids[1]))
    return None if best is None else best[1]


def _rebasin(zoo: Zoo, final: pd.DataFrame, out_dir: Path, data) -> tuple[str, list[Path]]:  # noqa: ANN001
    import matplotlib.pyplot as plt

    from weightzoo.merge.glue.mergeability import mergeability
    from weightzoo.weightspace.alignment import align_weights, interpolation_curve

    pair = _seed_pair(zoo, final)
    if pair is None:
        return (
            "No two models of the zoo differ only in their seed, so there is no pair to align.",
            [],
        )
    a_id, b_id = pair
    spec, a, b = zoo.spec(a_id), zoo.weights(a_id), zoo.weights(b_id)
    res = align_weights(spec, a, b)
    before = interpolation_curve(spec, a, b, data.x_test, data.y_test, num_points=11)
    after = interpolation_curve(spec, a, res.aligned, data.x_test, data.y_test, num_points=11)
    sim_before, sim_after = mergeability(a, b), mergeability(a, res.aligned)
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.plot(before.t, before.loss, "o-", label=f"naive (barrier {before.barrier:.3f})")
    ax.plot(after.t, after.loss, "s-", label=f"weight matching (barrier {after.barrier:.3f})")
    ax.set_xlabel(f"t: (1-t) {a_id} + t {b_id}")
    ax.set_ylabel("test loss")
    ax.legend()
    fig.tight_layout()
    path = out_dir / "rebasin_barrier.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    ratio = after.barrier / before.barrier if before.barrier > 0 else float("nan")
    text = "\n".join(
        [
            f"Models {a_id} and {b_id} share every hyperparameter but the seed. Git Re-Basin "
            "weight matching (https://arxiv.org/abs/2209.04836) permutes the hidden units of "
            f"{b_id} onto {a_id} in {res.sweeps} sweeps; the permuted model computes the same "
            "function.",
            "",
            "| | naive | aligned |",
            "|---|---:|---:|",
            f"| loss barrier of the linear path (test) | {before.barrier:.4f} | {after.barrier:.4f} |",
            f"| test accuracy at the midpoint | {before.acc[5]:.3f} | {after.acc[5]:.3f} |",
            f"| weight distance ‖A − B‖ | {res.distance_before:.3f} | {res.distance_after:.3f} |",
            f"| mergeability (mean column cosine) | {sim_before:.3f} | {sim_after:.3f} |",
            "",
            f"Barrier ratio after/before: {ratio:.2f}.",
        ]
    )
    return text, [path]


def run_demo_section(zoo: Zoo, out_dir: Path, *, quick: bool) -> ReportSection:
    """Alignment and merging on the demo zoo, as a report section.

    Args:
        zoo: the demo's MNIST-1D zoo (MLPs).
        out_dir: where figures go.
        quick: a smaller fine-tune schedule and one setting per merge method.

    Returns:
        The section (Markdown with tables, and figures).
    """
    from weightzoo._threads import torch_threads
    from weightzoo.merge.finetune_zoo import FinetuneZooConfig, build_finetune_zoo
    from weightzoo.merge.glue.benchmark import compare_merges
    from weightzoo.train.build import load_config_data

    start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = parse_config(ZooConfig, zoo.manifest["config"], "zoo config")
    data = load_config_data(config)
    final = _final_rows(zoo)
    with torch_threads(1):
        rebasin_md, figures = _rebasin(zoo, final, out_dir, data)
    best = str(final["model_id"].iloc[0])
    spec = zoo.spec(best)
    parts = ["### Aligning two seeds", "", rebasin_md, ""]
    if (
        tuple(spec.input_shape) != (1, 40)
        or spec.num_classes != 10
        or config.data.name != "mnist1d"
    ):
        parts.append("The zoo is not an MNIST-1D zoo; the fine-tune merging part is skipped.")
        return ReportSection("Combining models", "\n".join(parts), figures)
    ft_config = FinetuneZooConfig(
        num_samples=config.data.num_samples,
        tasks=_DOMAINS,
        finetune_epochs=1 if quick else 3,
        finetune_lr=3e-3,
    )
    ft = build_finetune_zoo(ft_config, base=(spec, zoo.weights(best)))
    methods = ["linear", "task_arithmetic", "ties"] if quick else None
    df = compare_merges(
        ft, methods=methods, quick=quick, router_epochs=0 if quick else 1, aux_examples=256
    )
    tasks = list(ft.tasks)
    rows = [
        "| model / method | " + " | ".join(tasks) + " | mean |",
        "|---|" + "---:|" * (len(tasks) + 1),
    ]
    for _, r in df.iterrows():
        cells = ["—" if np.isnan(r[t]) else f"{100 * r[t]:.1f}" for t in tasks]
        mean = "—" if np.isnan(r["mean"]) else f"**{100 * r['mean']:.1f}**"
        rows.append(f"| {r['name']} | " + " | ".join(cells) + f" | {mean} |")
    parts += [
        "### Merging fine-tunes of the best model",
        "",
        f"The zoo's best model ({best}, {spec.activation}) was fine-tuned for "
        f"{ft_config.finetune_epochs} epoch(s) on each of four input domains of MNIST-1D "
        f"({', '.join(tasks)}; same digit labels). Test accuracy (%) of the base, each "
        "fine-tune, their output ensemble, each merge method (settings chosen on the "
        "validation split) and the Model-GLUE recipe:",
        "",
        "\n".join(rows),
        "",
        f"Section computed in {time.perf_counter() - start:.1f} s. The full benchmark: "
        "`python benchmarks/merge_finetunes.py` (docs/model_glue.md).",
    ]
    return ReportSection("Combining models", "\n".join(parts), figures)
