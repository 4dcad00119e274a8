"""Writing a benchmark's results: CSV per seed, Markdown summary (mean ± std), a bar plot."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from weightzoo.report._io import write_bytes_atomic, write_text_atomic
from weightzoo.report._markdown import code, escape, pipe_table

_KEYS = ["run", "encoder", "protocol", "task", "metric"]


def _std(values: pd.Series) -> float:
    """Sample standard deviation of the defined values (NaN for fewer than two)."""
    v = values.dropna().to_numpy(dtype=float)
    return float(np.std(v, ddof=1)) if len(v) > 1 else math.nan


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean, sample standard deviation and count over seeds per (run, task, metric).

    An undefined value (Kendall tau of a constant prediction) is left out of all three.

    Args:
        frame: per-seed rows with the columns of ``results.csv``.

    Returns:
        One row per (run, encoder, protocol, task, metric) with ``mean``,
        ``std`` (NaN for one seed) and ``n_seeds``, in first-seen order.
    """
    if frame.empty:
        return pd.DataFrame(columns=[*_KEYS, "headline", "mean", "std", "n_seeds"])
    grouped = frame.groupby(_KEYS, sort=False)
    out = grouped.agg(
        headline=("headline", "first"),
        mean=("value", "mean"),
        std=("value", _std),
        n_seeds=("value", "count"),
    )
    return out.reset_index()


def _cell(mean: float, std: float) -> str:
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.3f}" if math.isnan(std) else f"{mean:.3f} ± {std:.3f}"


def headline_table(summary: pd.DataFrame) -> str:
    """Markdown table: one row per run, one column per task (Kendall tau or accuracy)."""
    head = summary[summary["headline"]]
    tasks = list(dict.fromkeys(head["task"]))
    runs = list(dict.fromkeys(head["run"]))
    best = {t: head.loc[head["task"] == t, "mean"].max() for t in tasks}
    rows = []
    for run in runs:
        cells = [code(run)]
        for task in tasks:
            hit = head[(head["run"] == run) & (head["task"] == task)]
            if hit.empty:
                cells.append("")
                continue
            mean, std = float(hit["mean"].iloc[0]), float(hit["std"].iloc[0])
            text = _cell(mean, std)
            cells.append(f"**{text}**" if mean == best[task] else text)
        rows.append(cells)
    headers = [
        "run",
        *(
            f"{t} ({'τ' if m == 'kendall_tau' else 'acc'})"
            for t, m in dict.fromkeys(zip(head["task"], head["metric"], strict=True))
        ),
    ]
    return pipe_table(headers, rows, align="l" + "r" * len(tasks))


def full_table(summary: pd.DataFrame) -> str:
    """Markdown table of every metric (τ, R², accuracy) with mean ± std and seed count."""
    rows = [
        [code(r.run), r.task, r.metric, _cell(r.mean, r.std), str(r.n_seeds)]
        for r in summary.itertuples()
    ]
    return pipe_table(["run", "task", "metric", "mean ± std", "seeds"], rows, align="lllrr")


def plot_summary(summary: pd.DataFrame, path: Path, title: str) -> Path:
    """Grouped bars of the headline metric per task, one bar per run, std as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt

    head = summary[summary["headline"]]
    tasks = list(dict.fromkeys(head["task"]))
    runs = list(dict.fromkeys(head["run"]))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(tasks) + 2), 3.8))
    width = 0.8 / max(len(runs), 1)
    for i, run in enumerate(runs):
        sub = head[head["run"] == run].set_index("task")
        means = [float(sub["mean"].get(t, np.nan)) for t in tasks]
        stds = [float(np.nan_to_num(sub["std"].get(t, 0.0))) for t in tasks]
        xs = np.arange(len(tasks)) + (i - (len(runs) - 1) / 2) * width
        ax.bar(xs, means, width, yerr=stds, capsize=2, label=run)
    ax.set_xticks(np.arange(len(tasks)))
    ax.set_xticklabels(tasks)
    ax.set_ylabel("Kendall τ (regression) / accuracy (classification)")
    ax.set_title(title)
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    write_bytes_atomic(path, buf.getvalue())
    return path


def _zoo_line(label: str, zoo: Any) -> str:
    if zoo is None:
        return ""
    manifest = zoo.manifest
    dataset = manifest.get("dataset", {})
    dname = dataset.get("name") if isinstance(dataset, dict) else dataset
    specs = {tuple(s["spec"].get("widths", [])) for s in manifest.get("shards", {}).values()}
    families = {s["spec"].get("family") for s in manifest.get("shards", {}).values()}
    return (
        f"- {label}: {escape(zoo.name)} ({len(zoo.models())} models, dataset {escape(str(dname))}, "
        f"{'/'.join(sorted(map(str, families)))} widths {', '.join(map(str, sorted(specs)))})"
    )


def write_outputs(
    config: Any,
    frame: pd.DataFrame,
    out: Path,
    notes: list[str],
    *,
    zoos: tuple[Any, Any],
    final: bool,
) -> tuple[pd.DataFrame, dict[str, Path]]:
    """Write ``results.csv`` (always) and, when ``final``, ``results.md`` and ``results.png``."""
    out = Path(out)
    files = {"csv": write_text_atomic(out / "results.csv", frame.to_csv(index=False))}
    summary = summarize(frame)
    if not final:
        return summary, files
    if not summary.empty:
        files["plot"] = plot_summary(
            summary, out / "results.png", f"{config.name} ({config.setting})"
        )
    lines = [
        f"# {escape(config.name)}: {config.setting.replace('_', ' ')}",
        "",
        _zoo_line("train zoo", zoos[0]),
        _zoo_line("test zoo", zoos[1])
        if zoos[1] is not None
        else "- test zoo: held-out models of the train zoo",
        f"- seeds: {', '.join(map(str, config.seeds))}; checkpoints: {config.epochs}",
        "",
        "Headline metric per task: Kendall τ for regressions, accuracy for classifications; "
        "mean ± sample std over seeds; the best mean of each column in bold.",
        "",
        headline_table(summary) if not summary.empty else "(no results)",
        "",
        "All metrics:",
        "",
        full_table(summary) if not summary.empty else "(no results)",
        "",
    ]
    if notes:
        lines += ["Notes:", "", *(f"- {escape(n)}" for n in notes), ""]
    if "plot" in files:
        lines += ["![results](results.png)", ""]
    files["markdown"] = write_text_atomic(out / "results.md", "\n".join(lines))
    return summary, files
