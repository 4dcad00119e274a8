"""Fixtures of the training tests (helpers live in train_zoo_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_zoo_helpers import ENGINE_CONFIG


@pytest.fixture(scope="session")
def engine_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``ENGINE_CONFIG`` built in this process with one torch thread (what each worker uses)."""
    from weightzoo import build_zoo
    from weightzoo.config import ZooConfig, parse_config

    cfg = parse_config(ZooConfig, {**ENGINE_CONFIG, "workers": 1, "threads_per_worker": 1})
    out = tmp_path_factory.mktemp("engine_ref") / "zoo"
    build_zoo(cfg, out)
    return out
