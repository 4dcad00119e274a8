"""Fixtures of the weightspace tests."""

from __future__ import annotations

import pytest

from weightzoo._threads import torch_threads


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors gain nothing from a second thread, and lose a lot on a busy machine."""
    with torch_threads(1):
        yield
