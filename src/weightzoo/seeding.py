"""One seed function, and the derivation of every other seed from it."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import torch


def set_seed(seed: int) -> int:
    """Seed torch, numpy and random with ``seed`` and return it.

    Args:
        seed: a non-negative integer.

    Returns:
        The seed, so a caller can record it.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002  (set_seed seeds the legacy global RNG on purpose)
    torch.manual_seed(seed)
    return seed


def derive_seed(seed: int, *keys: object) -> int:
    """Derive an independent 63-bit seed for one purpose from a parent seed.

    Hashing (rather than ``seed + k``) keeps streams of neighbouring seeds
    unrelated: model 3's data order must not equal model 4's init stream.

    Args:
        seed: the parent seed.
        keys: what the seed is for (e.g. ``"init"``, ``"data"``).

    Returns:
        A seed in ``[0, 2**63)``.
    """
    text = "/".join([str(int(seed)), *map(str, keys)])
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def generator(seed: int, *keys: object, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``derive_seed(seed, *keys)``."""
    return torch.Generator(device=device).manual_seed(derive_seed(seed, *keys))
