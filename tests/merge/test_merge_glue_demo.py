"""The demo's merging section on the tiny zoo: runs in quick mode, reports real comparisons."""

from __future__ import annotations

from pathlib import Path

from weightzoo import Zoo
from weightzoo.merge.demo_section import run_demo_section


def test_demo_section_aligns_a_seed_pair_and_compares_merges(
    tiny_zoo: Path, tmp_path: Path
) -> None:
    section = run_demo_section(Zoo.open(tiny_zoo), tmp_path, quick=True)
    md = section.markdown
    assert section.title == "Combining models"
    # The tiny zoo has models that differ only in seed: the re-basin table is there.
    assert "loss barrier of the linear path" in md
    assert [p.name for p in section.figures] == ["rebasin_barrier.png"]
    assert section.figures[0].is_file()
    for row in ("fine-tune: negated", "output ensemble", "| linear |", "| ties |", "Model-GLUE"):
        assert row in md, row
