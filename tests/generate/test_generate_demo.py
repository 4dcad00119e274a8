"""The demo report's generation section, in quick mode on the tiny zoo."""

from __future__ import annotations

import csv
from pathlib import Path

from weightzoo.generate.demo_section import run_demo_section
from weightzoo.zoo import Zoo


def test_demo_section_reports_the_comparison_it_measured(tiny_zoo: Path, tmp_path: Path) -> None:
    section = run_demo_section(Zoo.open(tiny_zoo), tmp_path, quick=True)
    assert section.title.startswith("Generating networks")
    assert [p.name for p in section.figures] == ["accuracy_vs_epochs.png"]
    assert section.figures[0].is_file()
    rows = {r["method"]: r for r in csv.DictReader((tmp_path / "generate" / "summary.csv").open())}
    gen = next(m for m in rows if m.startswith("kde@"))
    p = float(rows[gen]["p_vs_random_1"])
    assert f"p = {p:.2g}" in section.markdown
    assert f"{float(rows[gen]['acc_1_mean']):.3f} test accuracy" in section.markdown
