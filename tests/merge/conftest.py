"""Fixtures for merge tests: tiny Llama-shaped checkpoints (2 layers, hidden 32)."""

from __future__ import annotations

from pathlib import Path

import pytest

from weightzoo.merge.synthetic import LlamaShape, write_synthetic_llama

TINY = LlamaShape(hidden=32, layers=2, intermediate=64, vocab=64)


@pytest.fixture(scope="session")
def tiny_llamas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with base/, ft0/, ft1/, ft2/ (float32, same as the mergekit fixtures)."""
    root = tmp_path_factory.mktemp("llamas")
    write_synthetic_llama(root / "base", TINY, seed=0)
    for i in range(3):
        write_synthetic_llama(root / f"ft{i}", TINY, seed=0, finetune=i)
    return root
