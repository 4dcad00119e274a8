"""Torch's intra-op thread count, set for a block and restored after."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch on ``n`` intra-op threads inside the block (or decorated function).

    The zoo's networks are tiny: for them a second thread costs more in
    synchronisation than it gains, and on a busy 2-core machine the threads'
    spin-waits made fine-tuning and the demo sections 6-20x slower (measured:
    59 s vs 9 s for property prediction, 116 ms vs 3.4 ms per Adam step).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
