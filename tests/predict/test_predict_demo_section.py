"""The demo's property-prediction section on a real (tiny) zoo."""

from __future__ import annotations

from weightzoo import Zoo
from weightzoo.predict.demo_section import run_demo_section


def test_demo_section(tiny_zoo, tmp_path):
    section = run_demo_section(Zoo.open(tiny_zoo), tmp_path, quick=True)
    assert section.title == "Property prediction from weights"
    for name in ("`stats+gbt`", "`stats+linear`", "`flat+e2e`"):
        assert f"| {name} |" in section.markdown
    assert "8 models are split by model" in section.markdown
    assert section.figures == [tmp_path / "predict_scatter.png"]
    assert section.figures[0].stat().st_size > 1000
