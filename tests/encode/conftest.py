"""Fixtures of the encoder tests."""

from __future__ import annotations

import pytest
from encode_nets import make_nets

from weightzoo._threads import torch_threads
from weightzoo.arch import ArchSpec

MLP = ArchSpec("mlp", (1, 40), widths=(16, 12))


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors gain nothing from a second thread, and lose a lot on a busy machine."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def mlp_nets() -> list:
    """12 MLPs 40-16-12-10."""
    return make_nets(MLP, 12)


@pytest.fixture(scope="session")
def mixed_nets() -> list:
    """MLPs, 1-D CNNs and CNN-s together."""
    return (
        make_nets(MLP, 3, seed=1)
        + make_nets(ArchSpec("cnn1d", (1, 40), widths=(6, 5)), 3, seed=2)
        + make_nets(ArchSpec("cnn_s", (1, 28, 28)), 2, seed=3)
    )
