from __future__ import annotations

import io
import statistics

import pandas as pd
import pytest
from report_zoo import DIVERGED_EPOCH, DIVERGED_ID, EPOCHS, RELU_FINAL, TANH_FINAL
from rich.console import Console
from rich.table import Table

from weightzoo.report import (
    HYPERPARAMETERS,
    final_epoch_rows,
    render_summary,
    summarize_by_hyperparameter,
)
from weightzoo.report._catalog import effect_sizes, largest_effect

EXACT = {"rel": 1e-12, "abs": 1e-12}


def check_stats(row: pd.Series, values: list[float], n_diverged: int) -> None:
    assert row["n_models"] == len(values)
    assert row["n_diverged"] == n_diverged
    assert row["mean"] == pytest.approx(statistics.fmean(values), **EXACT)
    assert row["std"] == pytest.approx(statistics.stdev(values), **EXACT)
    assert row["min"] == pytest.approx(min(values), **EXACT)
    assert row["median"] == pytest.approx(statistics.median(values), **EXACT)
    assert row["max"] == pytest.approx(max(values), **EXACT)


def _row(summary: pd.DataFrame, hyperparameter: str, value: object) -> pd.Series:
    match = summary[(summary["hyperparameter"] == hyperparameter) & (summary["value"] == value)]
    assert len(match) == 1, f"expected one row for {hyperparameter}={value}"
    return match.iloc[0]


def test_hyperparameters_are_the_catalog_columns_in_order() -> None:
    assert HYPERPARAMETERS == (
        "seed",
        "init",
        "bias_init",
        "activation",
        "optimizer",
        "lr",
        "weight_decay",
        "momentum",
        "dropout",
        "batch_size",
        "init_std",
    )


def test_final_epoch_rows_picks_stopped_epoch_for_diverged(catalog: pd.DataFrame) -> None:
    final = final_epoch_rows(catalog)
    assert len(final) == 12
    assert list(final["model_id"]) == sorted(final["model_id"])
    by_model = final.set_index("model_id")["epoch"]
    assert by_model[DIVERGED_ID] == DIVERGED_EPOCH
    assert (by_model.drop(DIVERGED_ID) == EPOCHS).all()
    assert set(final.columns) == set(catalog.columns)


def test_final_epoch_rows_ignores_rows_after_stop(catalog: pd.DataFrame) -> None:
    late = catalog[catalog["model_id"] == DIVERGED_ID].iloc[[0]].assign(epoch=DIVERGED_EPOCH + 1)
    final = final_epoch_rows(pd.concat([catalog, late], ignore_index=True))
    assert final.set_index("model_id").loc[DIVERGED_ID, "epoch"] == DIVERGED_EPOCH


def test_summary_matches_hand_computed_values(catalog: pd.DataFrame) -> None:
    summary = summarize_by_hyperparameter(catalog)
    assert list(summary.columns) == [
        "hyperparameter",
        "value",
        "n_models",
        "n_diverged",
        "mean",
        "std",
        "min",
        "median",
        "max",
    ]
    # Only seed, activation and optimizer vary; rows follow HYPERPARAMETERS order.
    order = list(dict.fromkeys(summary["hyperparameter"]))
    assert order == ["overall", "seed", "activation", "optimizer"]
    assert (summary["hyperparameter"] == "seed").sum() == 12

    check_stats(_row(summary, "overall", "all"), RELU_FINAL + TANH_FINAL, n_diverged=1)
    check_stats(_row(summary, "activation", "relu"), RELU_FINAL, n_diverged=0)
    check_stats(_row(summary, "activation", "tanh"), TANH_FINAL, n_diverged=1)
    finals = RELU_FINAL + TANH_FINAL
    check_stats(_row(summary, "optimizer", "adam"), finals[0::2], n_diverged=0)
    check_stats(_row(summary, "optimizer", "sgd"), finals[1::2], n_diverged=1)

    diverged_seed = _row(summary, "seed", 11)
    assert (diverged_seed["n_models"], diverged_seed["n_diverged"]) == (0, 1)
    assert pd.isna(diverged_seed["mean"])
    single = _row(summary, "seed", 0)
    assert single["mean"] == pytest.approx(RELU_FINAL[0], **EXACT)
    assert pd.isna(single["std"])  # sample std of one model


def test_summary_of_another_metric(catalog: pd.DataFrame) -> None:
    summary = summarize_by_hyperparameter(catalog, metric="train_acc")
    check_stats(
        _row(summary, "activation", "relu"), [min(1.0, a + 0.05) for a in RELU_FINAL], n_diverged=0
    )


def test_divergence_detected_from_stopped_epoch_alone(catalog: pd.DataFrame) -> None:
    summary = summarize_by_hyperparameter(catalog.drop(columns="diverged"))
    check_stats(_row(summary, "activation", "tanh"), TANH_FINAL, n_diverged=1)


def test_unknown_metric_names_the_column(catalog: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="no_such_metric"):
        summarize_by_hyperparameter(catalog, metric="no_such_metric")


def test_render_summary_is_a_rich_table(catalog: pd.DataFrame) -> None:
    table = render_summary(catalog)
    assert isinstance(table, Table)
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(table)
    text = console.file.getvalue()
    assert "relu" in text and "tanh" in text
    assert f"{statistics.fmean(RELU_FINAL):.4f}" in text
    assert "1 diverged" in text


def test_largest_effect_is_activation(catalog: pd.DataFrame) -> None:
    effects = effect_sizes(catalog, "test_acc")
    # Seed has one model per value: no within-group variance to compare against.
    assert "seed" not in effects.index
    assert effects["activation"] > 0.8 > 0.1 > effects["optimizer"]
    assert largest_effect(catalog, "test_acc") == "activation"
