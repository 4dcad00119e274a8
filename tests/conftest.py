"""Shared fixtures: one tiny real zoo, built once per test session."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from weightzoo.config import ZooConfig

# 2 activations (one shard each) x 2 learning rates x 2 seeds = 8 MLPs, epochs 0..2.
_TINY_CONFIG: dict[str, Any] = {
    "name": "t",
    "data": {"name": "mnist1d", "num_samples": 400},
    "arch": {"family": "mlp", "widths": [8]},
    "space": {"lr": [0.001, 0.003], "activation": ["tanh", "relu"], "seed": [0, 1]},
    "epochs": 2,
}


@pytest.fixture
def tiny_config_dict() -> dict[str, Any]:
    """The raw config of ``tiny_zoo`` (a fresh copy, free to modify)."""
    return copy.deepcopy(_TINY_CONFIG)


@pytest.fixture(scope="session")
def tiny_config() -> ZooConfig:
    """The ``ZooConfig`` of ``tiny_zoo``."""
    from weightzoo.config import ZooConfig, parse_config

    return parse_config(ZooConfig, copy.deepcopy(_TINY_CONFIG))


@pytest.fixture(scope="session")
def tiny_zoo(tmp_path_factory: pytest.TempPathFactory, tiny_config: ZooConfig) -> Path:
    """Path of a finished tiny zoo. Shared: tests that modify a zoo copy it first."""
    from weightzoo import build_zoo

    out = tmp_path_factory.mktemp("tiny") / "zoo"
    build_zoo(tiny_config, out)
    return out
