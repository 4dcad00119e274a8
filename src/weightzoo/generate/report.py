"""Tables and plots of a generation evaluation: Markdown, CSV, JSON and a PNG."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from weightzoo.generate.evaluate import RANDOM, ZOO, EvalResult
from weightzoo.zoo._io import atomic_write_bytes, atomic_write_json


def _pm(mean: float, std: float) -> str:
    if math.isnan(mean):
        return "–"
    return f"{mean:.3f} ± {std:.3f}" if not math.isnan(std) else f"{mean:.3f}"


def _p(p: float) -> str:
    if p is None or math.isnan(p):
        return "–"
    return f"{p:.1e}" if p < 1e-3 else f"{p:.3f}"


def _num(v: float, fmt: str = "{:.3f}") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return fmt.format(v)


def summary_markdown(result: EvalResult) -> str:
    """The main table: accuracy after 0, 1 and k epochs, p-values, diversity, ensembles."""
    k = result.config.epochs
    eps = sorted({0, 1, k})
    p_eps = sorted({1, k})
    cols = (
        ["method", "n"] + [f"acc ep {e}" for e in eps] + [f"p vs random ep {e}" for e in p_eps]
        + ["p vs zoo ep 1", "NN dist to zoo (median)", "pairwise dist", "disagreement",
           "ensemble ep 0", f"ensemble ep {k}"]
    )  # fmt: skip
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in result.summary.iterrows():
        cells = [str(r["method"]), str(r["n"])]
        cells += [_pm(r[f"acc_{e}_mean"], r[f"acc_{e}_std"]) for e in eps]
        cells += [_p(r[f"p_vs_random_{e}"]) for e in p_eps]
        cells += [_p(r["p_vs_zoo_1"]), _num(r.get("nn_to_zoo"), "{:.2f}"),
                  _num(r.get("pairwise_l2"), "{:.2f}"), _num(r.get("disagreement")),
                  _num(r.get("ensemble_acc_0")), _num(r.get(f"ensemble_acc_{k}"))]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    notes = (
        f"\nAccuracy: test split, mean ± std over models. p: one-sided Mann–Whitney U "
        f"(scipy) that the row's accuracies are greater. `{RANDOM}`: the same architecture "
        f"and training settings from a random initialization. `{ZOO}`: the source models "
        "after the same epochs of their own training (catalog); its distance columns are "
        "among the source models themselves (nearest *other* model), the scale a copy would "
        "have to beat. Distances are L2 in raw weight space at epoch 0 (before fine-tuning)."
    )
    return "\n".join(lines) + "\n" + notes


def transfer_markdown(result: EvalResult) -> str:
    """Accuracy on the second dataset after 0, 1 and k epochs, generated against random init."""
    from weightzoo.generate.evaluate import mann_whitney_greater

    t = result.transfer
    if t is None or t.empty:
        return ""
    k = result.config.epochs
    methods = list(t["method"].unique())
    eps, p_eps = sorted({0, 1, k}), sorted({1, k})
    cols = (
        ["dataset", "method"]
        + [f"acc ep {e}" for e in eps]
        + [f"p vs random ep {e}" for e in p_eps]
    )
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for m in methods:
        a = {e: t[(t.method == m) & (t.epoch == e)]["test_acc"].to_numpy() for e in eps}
        r = {e: t[(t.method == RANDOM) & (t.epoch == e)]["test_acc"].to_numpy() for e in p_eps}
        cells = [str(t["dataset"].iloc[0]), str(m)]
        cells += [
            _pm(a[e].mean(), a[e].std(ddof=1) if len(a[e]) > 1 else float("nan")) for e in eps
        ]
        cells += ["–" if m == RANDOM else _p(mann_whitney_greater(a[e], r[e])) for e in p_eps]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_curves(
    curves: pd.DataFrame, path: Path, title: str = "fine-tuning from generated weights"
) -> Path:
    """Mean test accuracy against fine-tuning epochs per method, with a ±1 std band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    for method, g in curves.groupby("method", sort=False):
        agg = g.groupby("epoch")["test_acc"].agg(["mean", "std"]).fillna(0.0)
        style = {"ls": "--", "color": "black"} if method == RANDOM else (
            {"ls": ":", "color": "grey"} if method == ZOO else {})  # fmt: skip
        (line,) = ax.plot(agg.index, agg["mean"], marker="o", ms=3, label=method, **style)
        ax.fill_between(
            agg.index, agg["mean"] - agg["std"], agg["mean"] + agg["std"], alpha=0.12,
            color=line.get_color(),
        )  # fmt: skip
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("fine-tuning epochs")
    ax.set_ylabel("test accuracy")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_evaluation(result: EvalResult, out_dir: str | Path) -> dict[str, Path]:
    """Write ``curves.csv``, ``summary.csv``, ``summary.md``, ``transfer.csv``, ``config.json``, the plot."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "curves": out / "curves.csv",
        "summary_csv": out / "summary.csv",
        "summary": out / "summary.md",
        "config": out / "config.json",
        "plot": out / "accuracy_vs_epochs.png",
    }
    atomic_write_bytes(paths["curves"], result.curves.to_csv(index=False).encode())
    atomic_write_bytes(paths["summary_csv"], result.summary.to_csv(index=False).encode())
    md = summary_markdown(result)
    tr = transfer_markdown(result)
    if tr:
        md += "\n\nTransfer (second dataset):\n\n" + tr
    atomic_write_bytes(paths["summary"], (md + "\n").encode())
    if result.transfer is not None:
        paths["transfer"] = out / "transfer.csv"
        atomic_write_bytes(paths["transfer"], result.transfer.to_csv(index=False).encode())
    atomic_write_json(paths["config"], {"config": result.config.model_dump(mode="json"),
                                        "info": json.loads(json.dumps(result.info, default=str))})  # fmt: skip
    plot_curves(result.curves, paths["plot"])
    return paths


__all__ = ["plot_curves", "summary_markdown", "transfer_markdown", "write_evaluation"]
