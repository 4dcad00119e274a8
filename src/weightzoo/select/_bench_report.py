"""Outputs of the model-selection benchmark: CSV tables, a Markdown page and a plot."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from weightzoo.zoo._io import atomic_write_bytes

if TYPE_CHECKING:
    from weightzoo.select.benchmark import BenchmarkResult
    from weightzoo.select.candidates import CandidateZoo

LEARNED = ("model_spider", "model_spider+rerank")


def _csv(path: Path, df: pd.DataFrame) -> None:
    atomic_write_bytes(path, df.to_csv(index=False, float_format="%.4f").encode())


def _md_table(df: pd.DataFrame, digits: int = 3) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for _, row in df.iterrows():
        cells = [f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_benchmark(per_target: pd.DataFrame, path: Path) -> Path:
    """Bar chart of mean weighted tau per method with each target as a dot."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.pyplot as plt

    means = per_target.groupby("method", sort=False)["weighted_tau"].mean().sort_values()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(means) + 1.2))
    colors = ["tab:orange" if m in LEARNED else "tab:blue" for m in means.index]
    ax.barh(list(means.index), means.to_numpy(), color=colors, alpha=0.8)
    for i, method in enumerate(means.index):
        vals = per_target.loc[per_target["method"] == method, "weighted_tau"]
        ax.scatter(vals, [i] * len(vals), color="black", s=10, zorder=3)
    ax.axvline(0, color="gray", lw=0.8)
    ax.set_xlabel("weighted Kendall tau vs fine-tuning ground truth (dots: targets)")
    ax.set_title("Ranking the candidate zoo: mean over held-out targets")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def benchmark_markdown(result: BenchmarkResult, zoo: CandidateZoo) -> str:
    """The Markdown page of a benchmark run."""
    s = result.summary.copy()
    pivot = result.per_target.pivot(index="target", columns="method", values="weighted_tau")
    pivot = pivot[list(s["method"])].reset_index()
    best_learned = s[s["method"].isin(LEARNED)].head(1)
    logme = s[s["method"] == "logme"]
    verdict = ""
    if len(best_learned) and len(logme):
        a, b = float(best_learned["weighted_tau"].iloc[0]), float(logme["weighted_tau"].iloc[0])
        verdict = (f"Best learned ranker `{best_learned['method'].iloc[0]}`: mean weighted tau "
                   f"{a:.3f} vs LogME {b:.3f} ({'ahead of' if a > b else 'not ahead of'} LogME).")  # fmt: skip
    gt = result.ground_truth
    ood = result.ood
    dom = ood.attrs.get("domains", {})
    return "\n\n".join([
        "# Model selection benchmark",
        f"{len(zoo.names)} candidates, {len(zoo.target_names)} held-out targets "
        f"({', '.join(zoo.target_names)}). Ground truth: test accuracy after fine-tuning "
        "each candidate on each target, learning rate chosen on validation.",
        verdict,
        "## Mean over targets\n\n`seconds`: wall time of the method per target (forward "
        "passes included); `speedup`: brute-force fine-tuning time of the whole zoo "
        "over the learning-rate grid divided by it. Model Spider's training on the other "
        f"targets ({result.spider_fit_seconds:.1f} s per fold) is paid once and not counted.",
        _md_table(s),
        "## Weighted tau per target",
        _md_table(pivot),
        "## Ground truth (test accuracy; targets x candidates)",
        _md_table(gt.T.reset_index().rename(columns={"candidate": "candidate"})),
        f"## Domain shift: ZooD\n\nTrain domains {dom.get('train')}, unseen test domain "
        f"`{dom.get('test')}` ({dom.get('n_train')} training, {dom.get('n_test')} test "
        "examples). Rankings are scored against each model's out-of-domain accuracy with "
        "a logistic-regression head.",
        _md_table(ood.astype(object).where(ood.notna(), "")),
        "![benchmark](benchmark.png)",
    ])  # fmt: skip


def write_outputs(result: BenchmarkResult, *, config_yaml: str, zoo: CandidateZoo) -> None:
    """Write CSVs, Markdown, plot and the resolved config into ``result.out``."""
    out = result.out
    out.mkdir(parents=True, exist_ok=True)
    _csv(out / "per_target.csv", result.per_target)
    _csv(out / "summary.csv", result.summary)
    _csv(out / "ood.csv", result.ood)
    _csv(out / "ground_truth.csv", result.ground_truth.reset_index())
    plot_benchmark(result.per_target, out / "benchmark.png")
    atomic_write_bytes(out / "benchmark.md", benchmark_markdown(result, zoo).encode())
    atomic_write_bytes(out / "config.yaml", config_yaml.encode())
