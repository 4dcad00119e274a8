"""Catalog helpers shared by the summary, the plots and the report writer."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

# The catalog schema is owned by the zoo package.
from weightzoo.zoo.catalog import HYPERPARAMETERS  # noqa: E402


def require_columns(catalog: pd.DataFrame, columns: Iterable[str]) -> None:
    """Raise if ``catalog`` lacks any of ``columns``.

    Args:
        catalog: A zoo catalog.
        columns: Column names the caller needs.

    Raises:
        ValueError: Naming the missing columns and the ones present.
    """
    missing = [c for c in columns if c not in catalog.columns]
    if missing:
        raise ValueError(
            f"zoo catalog lacks column(s) {missing}; it has {sorted(map(str, catalog.columns))}"
        )


def final_epoch_rows(catalog: pd.DataFrame) -> pd.DataFrame:
    """Return the last row of every model: its final or stopped epoch.

    Rows after a model's ``stopped_epoch`` are ignored even if present, so a
    catalog that kept post-divergence rows still reports the epoch at which
    the model diverged.

    Args:
        catalog: A zoo catalog with at least ``model_id`` and ``epoch``.

    Returns:
        One row per model, sorted by ``model_id``, with a fresh index and the
        catalog's columns unchanged.

    Raises:
        ValueError: If ``model_id`` or ``epoch`` is missing.
    """
    require_columns(catalog, ("model_id", "epoch"))
    ordered = catalog.sort_values(["model_id", "epoch"], kind="stable")
    if "stopped_epoch" in ordered.columns:
        stopped = pd.to_numeric(ordered["stopped_epoch"], errors="coerce").fillna(-1)
        ordered = ordered[(stopped < 0) | (ordered["epoch"] <= stopped)]
    return ordered.groupby("model_id", sort=True).tail(1).reset_index(drop=True)


def model_diverged(catalog: pd.DataFrame) -> pd.Series:
    """Whether each model diverged at any epoch.

    The ``diverged`` flag may be set only on the row of the epoch where
    training blew up, so it is reduced over all of a model's rows; a
    non-negative ``stopped_epoch`` also counts.

    Args:
        catalog: A zoo catalog.

    Returns:
        Boolean series indexed by ``model_id``.
    """
    flags = pd.Series(False, index=catalog.index)
    if "diverged" in catalog.columns:
        flags |= catalog["diverged"].fillna(False).astype(bool)
    if "stopped_epoch" in catalog.columns:
        flags |= pd.to_numeric(catalog["stopped_epoch"], errors="coerce").fillna(-1) >= 0
    return flags.groupby(catalog["model_id"]).any()


def final_rows_with_status(catalog: pd.DataFrame) -> pd.DataFrame:
    """Final rows with ``diverged`` replaced by the model-level flag.

    Args:
        catalog: A zoo catalog.

    Returns:
        One row per model, as :func:`final_epoch_rows`, with a boolean
        ``diverged`` column.
    """
    final = final_epoch_rows(catalog)
    final["diverged"] = final["model_id"].map(model_diverged(catalog)).fillna(False).astype(bool)
    return final


def metric_values(frame: pd.DataFrame, metric: str) -> pd.Series:
    """Metric column as floats, with infinities turned into NaN.

    A diverged loss is often ``inf``; it must not poison means and plot limits.

    Args:
        frame: Catalog rows.
        metric: Column name.

    Returns:
        Float series aligned with ``frame``.

    Raises:
        ValueError: If ``metric`` is not a column.
    """
    require_columns(frame, (metric,))
    values = pd.to_numeric(frame[metric], errors="coerce").astype(float)
    return values.replace([np.inf, -np.inf], np.nan)


def varying_hyperparameters(frame: pd.DataFrame) -> list[str]:
    """Hyperparameter columns of ``frame`` that take more than one value.

    Args:
        frame: Catalog rows.

    Returns:
        Names in :data:`HYPERPARAMETERS` order.
    """
    return [
        hp for hp in HYPERPARAMETERS if hp in frame.columns and frame[hp].nunique(dropna=False) > 1
    ]


def effect_sizes(catalog: pd.DataFrame, metric: str) -> pd.Series:
    """Omega-squared of each varying hyperparameter on the final metric.

    Eta-squared (between-group share of variance) grows with the number of
    values even when a hyperparameter does nothing; a seed with one model per
    value would score 1. Omega-squared subtracts what chance alone explains
    given the degrees of freedom (Hays 1963), so hyperparameters with many
    values are not favoured. Diverged models are left out, as in the summary.

    Args:
        catalog: A zoo catalog.
        metric: Metric column.

    Returns:
        Float series indexed by hyperparameter name, in :data:`HYPERPARAMETERS`
        order; hyperparameters without replicated values (no within-group
        degrees of freedom) are omitted.
    """
    final = final_rows_with_status(catalog)
    final = final.assign(_metric=metric_values(final, metric))
    ok = final[~final["diverged"] & final["_metric"].notna()]
    effects: dict[str, float] = {}
    for hp in varying_hyperparameters(ok):
        groups = ok.groupby(hp, dropna=False)["_metric"]
        n, k = len(ok), groups.ngroups
        if k < 2 or n - k < 1:
            continue
        grand = ok["_metric"].mean()
        ss_between = float((groups.size() * (groups.mean() - grand) ** 2).sum())
        ss_within = float(((ok["_metric"] - groups.transform("mean")) ** 2).sum())
        ms_within = ss_within / (n - k)
        denominator = ss_between + ss_within + ms_within
        effects[hp] = (ss_between - (k - 1) * ms_within) / denominator if denominator > 0 else 0.0
    return pd.Series(effects, dtype=float)


def largest_effect(catalog: pd.DataFrame, metric: str) -> str | None:
    """Hyperparameter with the largest :func:`effect_sizes` value.

    Args:
        catalog: A zoo catalog.
        metric: Metric column.

    Returns:
        Its name (the earlier one in :data:`HYPERPARAMETERS` on ties), or
        ``None`` if no hyperparameter varies with replication.
    """
    effects = effect_sizes(catalog, metric)
    return None if effects.empty else str(effects.idxmax())


def format_value(value: object) -> str:
    """Short human-readable form of a hyperparameter value or statistic.

    Args:
        value: A scalar from the catalog.

    Returns:
        ``"n/a"`` for missing values, ``%g`` for floats, ``str`` otherwise.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value)


def format_stat(value: object, digits: int = 4) -> str:
    """Fixed-point form of a statistic; ``"n/a"`` when missing.

    Args:
        value: A number or NaN.
        digits: Digits after the decimal point.

    Returns:
        The formatted string.
    """
    if value is None or (isinstance(value, (float, np.floating)) and math.isnan(value)):
        return "n/a"
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return str(int(value))
    return f"{float(value):.{digits}f}"
