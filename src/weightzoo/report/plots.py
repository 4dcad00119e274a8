"""Figures of a zoo catalog, written as PNG files.

The object-oriented ``Figure`` API with an explicit Agg canvas is used
instead of pyplot: pyplot keeps a global registry of open figures (a leak in
long runs) and picks an interactive backend on desktops, which fails on
headless workers.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from weightzoo.report._catalog import (
    final_rows_with_status,
    format_value,
    largest_effect,
    metric_values,
    model_diverged,
    require_columns,
)
from weightzoo.report._io import write_bytes_atomic

__all__ = ["plot_accuracy_histogram", "plot_gap_scatter", "plot_learning_curves"]

logger = logging.getLogger(__name__)

_DPI = 110


def _new_figure(width: float = 6.4, height: float = 4.2) -> Figure:
    figure = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path) -> Path:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    # Drop the canvas and artists now rather than at the next GC cycle.
    figure.clear()
    path = write_bytes_atomic(Path(path), buffer.getvalue())
    logger.debug("wrote figure %s", path)
    return path


def _is_fraction(metric: str) -> bool:
    return metric.endswith("_acc")


def _excluded_note(n_diverged: int) -> str:
    return f" ({n_diverged} diverged excluded)" if n_diverged else ""


def _require_rows(catalog: pd.DataFrame) -> None:
    require_columns(catalog, ("model_id", "epoch"))
    if catalog.empty:
        raise ValueError("zoo catalog is empty: there is nothing to plot")


def plot_learning_curves(
    catalog: pd.DataFrame,
    path: Path,
    metric: str = "test_acc",
    by: str | None = None,
) -> Path:
    """Plot the mean and a ±1 std band of ``metric`` against epoch, per value of ``by``.

    Diverged models are left out entirely so the curves show what training
    reaches; their number is given in the title.

    Args:
        catalog: A zoo catalog, one row per (model_id, epoch).
        path: PNG file to write; parent folders are created.
        metric: Metric column on the y axis.
        by: Column whose values get one curve each. ``None`` picks the
            hyperparameter with the largest effect (omega-squared) on the final
            metric, or a single curve over all models if none varies.

    Returns:
        ``path``.

    Raises:
        ValueError: If the catalog is empty or lacks ``metric`` or ``by``.
    """
    _require_rows(catalog)
    require_columns(catalog, (metric,) if by is None else (metric, by))
    if by is None:
        by = largest_effect(catalog, metric)
        logger.debug("learning curves grouped by %s", by)
    diverged = model_diverged(catalog)
    rows = catalog[~catalog["model_id"].map(diverged).fillna(False).astype(bool)]
    rows = rows.assign(_metric=metric_values(rows, metric))

    figure = _new_figure()
    axes = figure.subplots()
    groups = [(None, rows)] if by is None else rows.groupby(by, sort=True, dropna=False)
    for value, group in groups:
        stats = group.groupby("epoch")["_metric"].agg(["mean", "std"]).sort_index()
        epochs = stats.index.to_numpy(dtype=float)
        mean = stats["mean"].to_numpy()
        # One model gives no spread; draw the line without a band.
        std = stats["std"].fillna(0.0).to_numpy()
        n = group["model_id"].nunique()
        label = f"all models (n={n})" if by is None else f"{format_value(value)} (n={n})"
        (line,) = axes.plot(epochs, mean, marker="o", markersize=3, label=label)
        axes.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.2)

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel(f"{metric} (mean ± std over models)")
    grouping = "" if by is None else f" by {by}"
    axes.set_title(f"Learning curves of {metric}{grouping}{_excluded_note(int(diverged.sum()))}")
    if _is_fraction(metric):
        axes.set_ylim(-0.02, 1.02)
    if axes.lines:
        axes.legend(title=by, fontsize="small")
    axes.grid(alpha=0.3)
    return _save(figure, path)


def plot_accuracy_histogram(catalog: pd.DataFrame, path: Path, metric: str = "test_acc") -> Path:
    """Plot a histogram of ``metric`` at each model's final epoch.

    Args:
        catalog: A zoo catalog.
        path: PNG file to write; parent folders are created.
        metric: Metric column.

    Returns:
        ``path``.

    Raises:
        ValueError: If the catalog is empty or lacks ``metric``.
    """
    _require_rows(catalog)
    final = final_rows_with_status(catalog)
    values = metric_values(final, metric)[~final["diverged"]].dropna().to_numpy()

    figure = _new_figure()
    axes = figure.subplots()
    if values.size:
        # Bins span the data, not [0, 1]: zoo accuracies often sit in a narrow band.
        bins = int(np.clip(np.ceil(np.sqrt(values.size)) * 2, 10, 40))
        axes.hist(values, bins=bins, edgecolor="white")
        axes.axvline(
            values.mean(), color="black", linestyle="--", label=f"mean {values.mean():.3f}"
        )
        axes.legend(fontsize="small")
    else:
        axes.text(0.5, 0.5, f"no finite {metric} values", ha="center", va="center")
    axes.set_xlabel(f"final-epoch {metric}")
    axes.set_ylabel("number of models")
    note = _excluded_note(int(final["diverged"].sum()))
    axes.set_title(f"Distribution of final {metric} over {values.size} models{note}")
    axes.grid(alpha=0.3)
    return _save(figure, path)


def plot_gap_scatter(catalog: pd.DataFrame, path: Path) -> Path:
    """Scatter final train accuracy against test accuracy, one point per model.

    Points below the diagonal generalize worse than they fit; diverged models
    are drawn as crosses where their accuracies are finite.

    Args:
        catalog: A zoo catalog with ``train_acc`` and ``test_acc``.
        path: PNG file to write; parent folders are created.

    Returns:
        ``path``.

    Raises:
        ValueError: If the catalog is empty or lacks either accuracy column.
    """
    _require_rows(catalog)
    require_columns(catalog, ("train_acc", "test_acc"))
    final = final_rows_with_status(catalog)
    train = metric_values(final, "train_acc")
    test = metric_values(final, "test_acc")

    figure = _new_figure(5.2, 5.0)
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="train = test")
    for diverged, marker, label in ((False, "o", "trained"), (True, "x", "diverged")):
        mask = (final["diverged"] == diverged) & train.notna() & test.notna()
        if mask.any():
            axes.scatter(train[mask], test[mask], marker=marker, s=18, alpha=0.7, label=label)
    axes.set_xlim(-0.02, 1.02)
    axes.set_ylim(-0.02, 1.02)
    axes.set_aspect("equal")
    axes.set_xlabel("final train_acc")
    axes.set_ylabel("final test_acc")
    axes.set_title("Generalization gap: train vs test accuracy")
    axes.legend(fontsize="small", loc="upper left")
    axes.grid(alpha=0.3)
    return _save(figure, path)
