"""The main job: build the default MNIST-1D zoo, summarize it, write a report."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weightzoo.config import ZooConfig, parse_config
from weightzoo.train.build import build_zoo
from weightzoo.zoo.zoo import Zoo

log = logging.getLogger(__name__)

# Same content as examples/configs/mnist1d_hyper.yaml (a test keeps them equal):
# 4 activations x 3 inits x 3 learning rates x 2 weight decays x 3 seeds = 216 MLPs.
DEMO_CONFIG: dict[str, Any] = {
    "name": "mnist1d-mlp-hyper",
    "data": {"name": "mnist1d"},
    "arch": {"family": "mlp", "widths": [32, 32]},
    "space": {
        "seed": [0, 1, 2],
        "init": ["kaiming_uniform", "xavier_uniform", "normal"],
        "activation": ["tanh", "relu", "gelu", "sigmoid"],
        "optimizer": "adam",
        "lr": [0.001, 0.003, 0.01],
        "weight_decay": [0.0, 0.0001],
        "batch_size": 64,
    },
    "sampling": "grid",
    "epochs": 30,
}


def demo_config(quick: bool = False) -> ZooConfig:
    """The default zoo; ``quick`` shrinks it to a few models and epochs (for tests)."""
    raw = {**DEMO_CONFIG}
    if quick:
        raw["space"] = {
            **raw["space"],
            "seed": [0],
            "init": ["kaiming_uniform"],
            "lr": [0.01],
            "weight_decay": [0.0],
        }
        raw["epochs"] = 2
        raw["data"] = {"name": "mnist1d", "num_samples": 1000}
    return parse_config(ZooConfig, raw, "demo config")


# What the main job does after building the zoo, in report order: each module's
# run_demo_section(zoo, figures_dir, quick=...) returns a ReportSection.
DEMO_SECTIONS: list[tuple[str, str]] = [
    ("property prediction", "weightzoo.predict.demo_section"),
    ("generation", "weightzoo.generate.demo_section"),
    ("model selection", "weightzoo.select.demo_section"),
    ("merging", "weightzoo.merge.demo_section"),
]


@dataclass
class DemoResult:
    zoo: Zoo
    report: Path
    sections: list = field(default_factory=list)


def run_demo(
    out: str | Path, *, quick: bool = False, progress: Callable[[int, int], None] | None = None
) -> DemoResult:
    """Build (or resume) the default zoo under ``out/zoo`` and write ``out/report``.

    Args:
        out: output folder.
        quick: a tiny version for smoke tests.
        progress: ``(done, total)`` callback for model-epochs.

    Returns:
        The zoo and the path of ``report.md``.
    """
    from weightzoo.report import write_report

    out = Path(out)
    zoo = build_zoo(demo_config(quick), out / "zoo", progress=progress)
    figures = out / "report" / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    sections = []
    for title, module in DEMO_SECTIONS:
        log.info("demo: %s", title)
        run_section = importlib.import_module(module).run_demo_section
        sections.append(run_section(zoo, figures, quick=quick))
    report = write_report(
        zoo.catalog,
        zoo.manifest,
        out / "report",
        title=f"weightzoo demo: {zoo.name}",
        sections=sections,
    )
    return DemoResult(zoo=zoo, report=report, sections=sections)
