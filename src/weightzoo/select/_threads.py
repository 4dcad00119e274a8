"""One intra-op thread for the tiny models of model selection."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one intra-op thread inside the block (or decorated function), then restore.

    The candidate models are tiny: splitting their matrix products over threads
    costs more in synchronisation than it gains, and on a busy machine the
    threads' spin-waits made fine-tuning about 10x slower (measured on 2 cores).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
