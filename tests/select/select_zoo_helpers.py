"""A tiny candidate zoo shared by the model-selection tests (built once per session)."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from weightzoo.config import parse_config
from weightzoo.select.candidates import CandidateZoo, CandidateZooConfig, build_candidate_zoo
from weightzoo.select.groundtruth import GroundTruthConfig

TINY_GROUND_TRUTH = GroundTruthConfig(
    probe_lrs=(0.1,), probe_steps=20, finetune_lrs=(1e-3, 1e-2), finetune_epochs=1
)


def tiny_zoo_config() -> CandidateZooConfig:
    def cand(name, source, widths, act="relu"):
        return {"name": name, "source": source, "family": "mlp", "widths": widths,
                "activation": act, "epochs": 1}  # fmt: skip

    raw = {
        "sources": [
            {"name": "digits", "datasets": ["digits28"]},
            {"name": "shapes", "datasets": ["shapes28"]},
        ],
        "targets": [
            {"name": "digits-5to9", "datasets": ["digits28"], "classes": [5, 6, 7, 8, 9]},
            {"name": "shapes-invert", "datasets": ["shapes28"], "shift": "invert"},
            {"name": "digits-noise", "datasets": ["digits28"], "shift": "noise"},
        ],
        "candidates": [
            cand("digits/mlp16", "digits", [16]),
            cand("shapes/mlp16", "shapes", [16]),
            cand("digits/mlp8-tanh", "digits", [8], "tanh"),
        ],
        "generic": cand("generic/mlp12", "shapes", [12]),
        "n_source_train": 200,
        "n_target_train": 60,
        "n_eval": 60,
    }
    return parse_config(CandidateZooConfig, raw, "tiny zoo")


@functools.cache
def tiny_zoo() -> CandidateZoo:
    root = Path(tempfile.mkdtemp(prefix="weightzoo-select-tiny-")) / "zoo"
    return build_candidate_zoo(tiny_zoo_config(), root)
