"""Distribution of a final-epoch metric over the zoo, split by hyperparameter."""

from __future__ import annotations

import pandas as pd
from rich.table import Table
from rich.text import Text

from weightzoo.report._catalog import (
    HYPERPARAMETERS,
    final_epoch_rows,
    final_rows_with_status,
    format_stat,
    format_value,
    metric_values,
    varying_hyperparameters,
)

__all__ = [
    "HYPERPARAMETERS",
    "SUMMARY_COLUMNS",
    "final_epoch_rows",
    "render_summary",
    "summarize_by_hyperparameter",
]

SUMMARY_COLUMNS: tuple[str, ...] = (
    "hyperparameter",
    "value",
    "n_models",
    "n_diverged",
    "mean",
    "std",
    "min",
    "median",
    "max",
)
OVERALL = "overall"

_STAT_COLUMNS = ("mean", "std", "min", "median", "max")


def _stats_row(hyperparameter: str, value: object, group: pd.DataFrame) -> dict[str, object]:
    # A diverged model's last metric measures the blow-up, not what the
    # hyperparameter value achieves, so it is counted but kept out of the stats.
    ok = group.loc[~group["diverged"], "_metric"]
    if hasattr(value, "item"):
        value = value.item()  # numpy scalar -> plain Python for tables and equality
    return {
        "hyperparameter": hyperparameter,
        "value": value,
        "n_models": int(len(ok)),
        "n_diverged": int(group["diverged"].sum()),
        "mean": float(ok.mean()),
        "std": float(ok.std(ddof=1)),
        "min": float(ok.min()),
        "median": float(ok.median()),
        "max": float(ok.max()),
    }


def summarize_by_hyperparameter(catalog: pd.DataFrame, metric: str = "test_acc") -> pd.DataFrame:
    """Statistics of ``metric`` at each model's final epoch, per hyperparameter value.

    The first row (``hyperparameter == "overall"``, ``value == "all"``) covers
    every model; then, for each hyperparameter column that takes more than one
    value, one row per value in sorted order. ``n_models`` counts the models
    that did not diverge and whose metric enters the statistics; diverged
    models are counted in ``n_diverged`` only. Statistics skip NaN metrics and
    ``std`` is the sample standard deviation (``ddof=1``, NaN for one model).

    Args:
        catalog: A zoo catalog, one row per (model_id, epoch).
        metric: Metric column to summarize.

    Returns:
        A frame with columns :data:`SUMMARY_COLUMNS`.

    Raises:
        ValueError: If ``model_id``, ``epoch`` or ``metric`` is missing.
    """
    final = final_rows_with_status(catalog)
    final = final.assign(_metric=metric_values(final, metric))
    rows = [_stats_row(OVERALL, "all", final)]
    for hp in varying_hyperparameters(final):
        for value, group in final.groupby(hp, sort=True, dropna=False):
            rows.append(_stats_row(hp, value, group))
    summary = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    return summary.astype(
        {"n_models": int, "n_diverged": int, **dict.fromkeys(_STAT_COLUMNS, float)}
    )


def summary_cells(summary: pd.DataFrame) -> list[list[str]]:
    """Format :func:`summarize_by_hyperparameter` rows as strings for tables.

    Args:
        summary: Output of :func:`summarize_by_hyperparameter`.

    Returns:
        One list of strings per row, in :data:`SUMMARY_COLUMNS` order.
    """
    cells = []
    for row in summary.itertuples(index=False):
        record = row._asdict()
        cells.append(
            [
                str(record["hyperparameter"]),
                format_value(record["value"]),
                str(record["n_models"]),
                str(record["n_diverged"]),
                *(format_stat(record[c]) for c in _STAT_COLUMNS),
            ]
        )
    return cells


def render_summary(catalog: pd.DataFrame, metric: str = "test_acc") -> Table:
    """Summary table for the terminal.

    Args:
        catalog: A zoo catalog.
        metric: Metric column to summarize.

    Returns:
        A rich table, one section per hyperparameter, for ``Console.print``.

    Raises:
        ValueError: As :func:`summarize_by_hyperparameter`.
    """
    summary = summarize_by_hyperparameter(catalog, metric)
    n_diverged = int(summary["n_diverged"].iloc[0])
    table = Table(
        title=f"Final-epoch {metric} by hyperparameter",
        caption=f"{n_diverged} diverged model(s) excluded from the statistics",
    )
    for name in SUMMARY_COLUMNS:
        table.add_column(name, justify="left" if name in ("hyperparameter", "value") else "right")
    previous = None
    for hp, cells in zip(summary["hyperparameter"], summary_cells(summary), strict=True):
        if previous is not None and hp != previous:
            table.add_section()
        previous = hp
        # Text, not str: values such as "[relu]" must not be read as rich markup.
        table.add_row(*(Text(cell) for cell in cells))
    return table
