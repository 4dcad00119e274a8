"""Reports on a zoo: summary tables, figures, and a Markdown/HTML report.

Typical use::

    from weightzoo.report import write_report
    write_report(catalog, manifest, out_dir)
"""

from weightzoo.report._catalog import HYPERPARAMETERS, final_epoch_rows
from weightzoo.report.plots import plot_accuracy_histogram, plot_gap_scatter, plot_learning_curves
from weightzoo.report.summary import render_summary, summarize_by_hyperparameter
from weightzoo.report.writer import ReportSection, write_report

__all__ = [
    "HYPERPARAMETERS",
    "ReportSection",
    "final_epoch_rows",
    "plot_accuracy_histogram",
    "plot_gap_scatter",
    "plot_learning_curves",
    "render_summary",
    "summarize_by_hyperparameter",
    "write_report",
]
