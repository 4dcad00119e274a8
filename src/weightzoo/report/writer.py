"""The zoo report: Markdown plus a self-contained HTML copy, with figures."""

from __future__ import annotations

import base64
import logging
import mimetypes
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import pandas as pd

from weightzoo.report import _markdown as md
from weightzoo.report._catalog import (
    effect_sizes,
    final_rows_with_status,
    format_stat,
    require_columns,
)
from weightzoo.report._html import html_document, markdown_to_html
from weightzoo.report._io import write_atomic, write_text_atomic
from weightzoo.report._overview import overview_markdown
from weightzoo.report.plots import plot_accuracy_histogram, plot_gap_scatter, plot_learning_curves
from weightzoo.report.summary import SUMMARY_COLUMNS, summarize_by_hyperparameter, summary_cells

__all__ = ["ReportSection", "write_report"]

logger = logging.getLogger(__name__)

FIGURES_DIR = "figures"


@dataclass
class ReportSection:
    """An extra section appended to the report by a later stage.

    Attributes:
        title: Section heading, plain text (escaped when rendered).
        markdown: Body in Markdown: paragraphs, pipe tables, bullet lists,
            code spans, images with paths relative to the report folder.
        figures: Image files shown after the body; files outside the report
            folder are copied into its ``figures/`` so the report is portable.
    """

    title: str
    markdown: str
    figures: list[Path] = field(default_factory=list)


def _distribution_markdown(catalog: pd.DataFrame, metric: str) -> str:
    summary = summarize_by_hyperparameter(catalog, metric)
    totals = summary.assign(total=summary["n_models"] + summary["n_diverged"])
    # A hyperparameter with a distinct value per model (typically the seed in
    # a zoo without replicates) gives one row per model: noise, not a distribution.
    unshared = [
        hp
        for hp, group in totals.groupby("hyperparameter", sort=False)
        if hp != "overall" and (group["total"] <= 1).all()
    ]
    shown = summary[~summary["hyperparameter"].isin(unshared)]
    text = [
        f"Statistics of {md.code(metric)} at each model's final epoch (the stopped epoch for "
        "a diverged model). `n_models` counts the models in the statistics; diverged models "
        "are counted in `n_diverged` only. `std` is the sample standard deviation.",
        "",
        md.pipe_table(list(SUMMARY_COLUMNS), summary_cells(shown), align="ll" + "r" * 7),
    ]
    if unshared:
        names = ", ".join(md.code(hp) for hp in unshared)
        text += ["", f"Not shown, as every value belongs to a single model: {names}."]
    return "\n".join(text)


def _effects_markdown(catalog: pd.DataFrame, metric: str) -> str:
    effects = effect_sizes(catalog, metric).sort_values(ascending=False, kind="stable")
    if effects.empty:
        return "No hyperparameter takes more than one value across replicated models."
    final = final_rows_with_status(catalog)
    rows = [
        [md.code(hp), str(final[hp].nunique(dropna=False)), format_stat(v, 3)]
        for hp, v in effects.items()
    ]
    return "\n".join(
        [
            f"Share of the variance of the final {md.code(metric)} explained by each "
            "hyperparameter (omega-squared, corrected for the number of values; near 0 or "
            "negative means no detectable effect). Diverged models are left out.",
            "",
            md.pipe_table(["hyperparameter", "values", "omega²"], rows, align="lrr"),
        ]
    )


def _figures(catalog: pd.DataFrame, figures_dir: Path, metric: str) -> list[tuple[str, Path]]:
    figures = [
        (
            f"Learning curves of {metric}",
            plot_learning_curves(catalog, figures_dir / f"learning_curves_{metric}.png", metric),
        ),
        (
            f"Distribution of final {metric}",
            plot_accuracy_histogram(catalog, figures_dir / f"histogram_{metric}.png", metric),
        ),
    ]
    if {"train_acc", "test_acc"} <= set(catalog.columns):
        figures.append(
            ("Train vs test accuracy", plot_gap_scatter(catalog, figures_dir / "gap_scatter.png"))
        )
    else:
        logger.info("catalog lacks train_acc or test_acc; skipping the generalization-gap figure")
    return figures


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def _check_section_figures(sections: list[ReportSection]) -> None:
    for section in sections:
        for figure in section.figures:
            if not Path(figure).is_file():
                raise FileNotFoundError(
                    f"report section {section.title!r} lists figure {str(figure)!r}, "
                    "but no image file is there"
                )


def _place_figure(figure: Path, out_dir: Path, section: ReportSection) -> str:
    """Return the report-relative path of ``figure``, copying it in if needed."""
    source = Path(figure).resolve()
    root = out_dir.resolve()
    if not source.is_relative_to(root):
        target = root / FIGURES_DIR / f"{_slug(section.title)}-{source.name}"
        with source.open("rb") as reader:
            write_atomic(target, lambda writer: shutil.copyfileobj(reader, writer))
        source = target
    return source.relative_to(root).as_posix()


def _section_markdown(section: ReportSection, out_dir: Path) -> str:
    parts = [f"## {md.escape(section.title)}", "", section.markdown.strip()]
    for figure in section.figures:
        parts += [
            "",
            md.image(Path(figure).stem.replace("_", " "), _place_figure(figure, out_dir, section)),
        ]
    return "\n".join(parts)


def _data_uri_resolver(out_dir: Path) -> Callable[[str], str]:
    """Map image sources to ``data:`` URIs so the HTML stands alone."""

    def resolve(src: str) -> str:
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", src):
            return src  # already a URL; nothing is fetched
        path = (out_dir / unquote(src)).resolve()
        # Section Markdown must not pull arbitrary local files into a report that gets shared.
        if not path.is_relative_to(out_dir.resolve()):
            raise ValueError(
                f"report image {src!r} lies outside the report folder {str(out_dir)!r}"
            )
        if not path.is_file():
            raise FileNotFoundError(f"report image {src!r} not found at {str(path)!r}")
        mime = mimetypes.guess_type(path.name)[0] or "image/png"
        return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"

    return resolve


def write_report(
    catalog: pd.DataFrame,
    manifest: dict,
    out_dir: Path,
    *,
    title: str = "weightzoo report",
    sections: list[ReportSection] | None = None,
    metric: str = "test_acc",
) -> Path:
    """Write ``report.md`` and a self-contained ``report.html`` describing a zoo.

    The report holds a zoo overview (name, dataset, architectures, counts of
    models, epochs, checkpoints and diverged models), the distribution of
    ``metric`` by hyperparameter, hyperparameter effect sizes, figures (PNG
    files under ``out_dir/figures/``, embedded as base64 in the HTML) and then
    ``sections`` in order. Every file is written atomically; an existing
    report is replaced.

    Args:
        catalog: The zoo catalog, one row per (model_id, epoch).
        manifest: The zoo manifest (``zoo.json``) with ``name``, ``dataset``,
            ``architectures`` and ``config``; missing keys are shown as unknown.
        out_dir: Folder to write into; created if missing.
        title: Report heading and HTML page title (plain text).
        sections: Extra sections appended after the built-in ones.
        metric: Metric column summarized and plotted.

    Returns:
        Path of ``report.md``.

    Raises:
        ValueError: If the catalog is empty or lacks required columns.
        FileNotFoundError: If a section lists a figure that does not exist or
            its Markdown links a local image that does not exist.
        OSError: If writing fails; no partial ``report.md``/``report.html``
            and no temporary files are left.
    """
    require_columns(catalog, ("model_id", "epoch", metric))
    if catalog.empty:
        raise ValueError("zoo catalog is empty: there is nothing to report")
    sections = list(sections or [])
    _check_section_figures(sections)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    figures = _figures(catalog, out_dir / FIGURES_DIR, metric)
    blocks = [
        f"# {md.escape(title)}",
        "## Zoo overview",
        overview_markdown(catalog, manifest, metric),
        f"## Final {md.escape(metric)} by hyperparameter",
        _distribution_markdown(catalog, metric),
        "### Hyperparameter effects",
        _effects_markdown(catalog, metric),
        "## Figures",
        "\n\n".join(md.image(alt, path.relative_to(out_dir).as_posix()) for alt, path in figures),
    ]
    blocks += [_section_markdown(section, out_dir) for section in sections]
    markdown = "\n\n".join(blocks) + "\n"
    page = html_document(title, markdown_to_html(markdown, _data_uri_resolver(out_dir)))

    # HTML first: report.md is the path callers get back, so it appears last.
    write_text_atomic(out_dir / "report.html", page)
    report = write_text_atomic(out_dir / "report.md", markdown)
    logger.info(
        "wrote report %s (%d figures, %d extra sections)", report, len(figures), len(sections)
    )
    return report
