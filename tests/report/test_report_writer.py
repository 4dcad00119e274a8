from __future__ import annotations

import base64
import os
import re
import statistics
from pathlib import Path

import pandas as pd
import pytest
from report_zoo import RELU_FINAL, TANH_FINAL, build_catalog, build_manifest, check_png

from weightzoo.report import ReportSection, write_report


def _write_extra_figure(path: Path) -> Path:
    """A real (tiny) PNG made with the same plotting stack as the report."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 2))
    FigureCanvasAgg(figure)
    figure.subplots().plot([0, 1], [1, 0])
    figure.savefig(path, format="png")
    return path


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


TITLE = "Report <for> & co"


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One report shared by the read-only tests below: rendering figures is the slow part.

    Returns:
        The report folder and the source of the extra section's figure.
    """
    root = tmp_path_factory.mktemp("written")
    extra = _write_extra_figure(root / "merge_curve.png")
    section = ReportSection(
        title="Merging <results>",
        markdown="Merged models beat the mean.\n\n| method | test_acc |\n| --- | ---: |\n| `ties` | 0.9100 |",
        figures=[extra],
    )
    out = root / "report"
    assert write_report(
        build_catalog(), build_manifest(), out, title=TITLE, sections=[section]
    ) == (out / "report.md")
    return out, extra


def test_write_report_outputs(written: tuple[Path, Path]) -> None:
    out, _ = written
    figures = sorted((out / "figures").glob("*.png"))
    assert [p.name for p in figures] == [
        "gap_scatter.png",
        "histogram_test_acc.png",
        "learning_curves_test_acc.png",
        "merging-results-merge_curve.png",
    ]
    for figure in figures[:3]:
        check_png(figure)
    assert not [name for name in _files(out) if name.endswith(".tmp")]

    text = (out / "report.md").read_text(encoding="utf-8")
    for fact in (
        "**Models:** 12",
        "**Checkpoints:** 47",
        "**Diverged models:** 1 (8.3%)",
        "**Epochs:** 3",
    ):
        assert fact in text
    assert "| `mlp` | 12 | 1,234 |" in text
    assert "](figures/learning_curves_test_acc.png)" in text

    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<table>" in page
    relu, tanh = statistics.fmean(RELU_FINAL), statistics.fmean(TANH_FINAL)
    row = re.search(r"<tr><td[^>]*>activation</td><td[^>]*>tanh</td>(.*?)</tr>", page)
    assert row is not None
    cells = re.findall(r">([^<]*)</td>", row.group(1))
    assert cells[:3] == ["5", "1", f"{tanh:.4f}"]
    assert f"{relu:.4f}" in page
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 4
    assert all(base64.b64decode(b).startswith(b"\x89PNG") for b in images)
    body = re.sub(r"<figcaption>.*?</figcaption>", "", page).split("<body>")[1]
    assert "figures/" not in body  # nothing links outside the HTML file


def test_zoo_name_is_escaped_in_html(written: tuple[Path, Path]) -> None:
    page = (written[0] / "report.html").read_text(encoding="utf-8")
    assert "<b>zoo</b>" not in page
    assert "tiny &lt;b&gt;zoo&lt;/b&gt; &amp; &quot;friends&quot;" in page
    assert "<title>Report &lt;for&gt; &amp; co</title>" in page
    assert "<h1>Report &lt;for&gt; &amp; co</h1>" in page


def test_extra_section_in_both_outputs(written: tuple[Path, Path]) -> None:
    out, extra = written
    text = (out / "report.md").read_text(encoding="utf-8")
    assert text.index("## Figures") < text.index("## Merging \\<results\\>")
    assert "| `ties` | 0.9100 |" in text
    copied = out / "figures" / "merging-results-merge_curve.png"
    assert copied.read_bytes() == extra.read_bytes()
    assert "](figures/merging-results-merge_curve.png)" in text

    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<h2>Merging &lt;results&gt;</h2>" in page
    assert '<td><code>ties</code></td><td style="text-align: right">0.9100</td>' in page
    assert page.index("<h2>Figures</h2>") < page.index("<h2>Merging &lt;results&gt;</h2>")


def test_missing_section_figure_is_named(
    catalog: pd.DataFrame, manifest: dict, tmp_path: Path
) -> None:
    section = ReportSection("Generation", "text", figures=[tmp_path / "nope.png"])
    with pytest.raises(FileNotFoundError, match="nope.png"):
        write_report(catalog, manifest, tmp_path / "out", sections=[section])
    assert not (tmp_path / "out").exists()


def test_minimal_manifest(catalog: pd.DataFrame, tmp_path: Path) -> None:
    report = write_report(catalog.drop(columns=["shard"]), {"name": "bare"}, tmp_path)
    text = report.read_text(encoding="utf-8")
    assert "**Dataset:** unknown" in text
    assert "No architectures are listed" in text


def test_failed_write_leaves_nothing_partial(
    catalog: pd.DataFrame, manifest: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_replace(src: str | os.PathLike, dst: str | os.PathLike) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_report(catalog, manifest, tmp_path / "fresh")
    assert _files(tmp_path / "fresh") == []  # no report, no figure, no temp file


def test_failed_report_write_keeps_previous_report(
    catalog: pd.DataFrame, manifest: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "report.md").write_text("previous report")
    real_replace = os.replace

    def failing_replace(src: str | os.PathLike, dst: str | os.PathLike) -> None:
        if Path(dst).name.startswith("report."):
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_report(catalog, manifest, tmp_path)
    names = _files(tmp_path)
    assert "report.html" not in names
    assert (tmp_path / "report.md").read_text() == "previous report"
    assert not [name for name in names if name.endswith(".tmp") or "/." in f"/{name}"]


def test_section_image_outside_report_is_refused(
    catalog: pd.DataFrame, manifest: dict, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not for the report")
    section = ReportSection("Sneaky", "![x](../secret.png)")
    with pytest.raises(ValueError, match="outside the report folder"):
        write_report(catalog, manifest, tmp_path / "out", sections=[section])
    assert not (tmp_path / "out" / "report.html").exists()
