from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from report_zoo import check_png

from weightzoo.report import plot_accuracy_histogram, plot_gap_scatter, plot_learning_curves


@pytest.mark.parametrize(
    ("plot", "kwargs"),
    [
        (plot_learning_curves, {}),
        (plot_learning_curves, {"by": "optimizer", "metric": "train_loss"}),
        (plot_learning_curves, {"by": "init"}),
        (plot_accuracy_histogram, {}),
        (plot_accuracy_histogram, {"metric": "val_loss"}),
        (plot_gap_scatter, {}),
    ],
)
def test_plots_write_pngs(plot, kwargs: dict, catalog: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "nested" / "figure.png"
    assert plot(catalog, path, **kwargs) == path
    check_png(path)
    assert [p.name for p in path.parent.iterdir()] == ["figure.png"]  # no temp files left


def test_learning_curves_reject_unknown_grouping(catalog: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="colour"):
        plot_learning_curves(catalog, tmp_path / "x.png", by="colour")


def test_plots_reject_empty_catalog(catalog: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty"):
        plot_accuracy_histogram(catalog.iloc[:0], tmp_path / "x.png")
