"""Procedural 28x28 images of ten drawn shapes, the ``shapes28`` dataset.

Each shape is a signed distance function evaluated on a supersampled pixel
grid, so edges are anti-aliased by averaging sub-pixel coverage. Rotation is
kept small (+-15 degrees): with free rotation square/diamond, plus/X and the
two bars would be the same class.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

__all__ = ["SHAPE_CLASSES", "make_shapes"]

logger = logging.getLogger(__name__)

SHAPE_CLASSES: tuple[str, ...] = (
    "disk",
    "ring",
    "square",
    "triangle",
    "plus",
    "x",
    "hbar",
    "vbar",
    "diamond",
    "star",
)

_SQRT2 = np.float32(np.sqrt(2.0))
# Samples drawn per vectorized block: keeps the (block, 84, 84) temporaries small.
_BLOCK = 256


def _box(u: np.ndarray, v: np.ndarray, bu: np.ndarray, bv: np.ndarray) -> np.ndarray:
    # Exact SDF of an axis-aligned box with half-sizes (bu, bv) (Inigo Quilez).
    du, dv = np.abs(u) - bu, np.abs(v) - bv
    outside = np.sqrt(np.maximum(du, 0) ** 2 + np.maximum(dv, 0) ** 2)
    return outside + np.minimum(np.maximum(du, dv), 0)


def _rot45(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (u + v) / _SQRT2, (v - u) / _SQRT2


def _triangle(u: np.ndarray, v: np.ndarray, r: np.ndarray) -> np.ndarray:
    # Exact SDF of an equilateral triangle with half side r (Inigo Quilez),
    # shifted so its centroid is at the origin.
    k = np.float32(np.sqrt(3.0))
    px, py = np.abs(u) - r, -v + r / k
    flip = px + k * py > 0
    qx = np.where(flip, (px - k * py) / 2, px)
    qy = np.where(flip, (-k * px - py) / 2, py)
    qx = qx - np.clip(qx, -2 * r, 0)
    return -np.sqrt(qx**2 + qy**2) * np.sign(qy)


def _star(u: np.ndarray, v: np.ndarray, s: np.ndarray) -> np.ndarray:
    # Polar radius minus a five-pointed boundary: not an exact SDF, but its
    # sign is right, which is all a filled shape needs.
    theta = np.arctan2(v, u) + np.float32(np.pi / 2)
    frac = (theta * np.float32(5 / (2 * np.pi))) % 1
    tip = np.abs(2 * frac - 1)
    return np.sqrt(u**2 + v**2) - s * (0.42 + 0.58 * tip)


def _coverage(mask: np.ndarray, k: int) -> np.ndarray:
    # Mean of each k x k block of a (B, H*k, W*k) bool mask. Summing k*k strided
    # views is ~10x faster than a reshape-mean over non-adjacent axes.
    hits = np.zeros((mask.shape[0], mask.shape[1] // k, mask.shape[2] // k), dtype=np.float32)
    for i in range(k):
        for j in range(k):
            hits += mask[:, i::k, j::k]
    return hits * np.float32(1 / (k * k))


def _outline(sdf: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.abs(sdf) < t / 2


# Shape name -> bool mask from shape-frame coordinates u, v (B, H, W) and the
# half-size s and stroke thickness t, each (B, 1, 1), all in pixels.
_DRAW: dict[str, Callable[..., np.ndarray]] = {
    "disk": lambda u, v, s, t: np.sqrt(u**2 + v**2) < s,
    "ring": lambda u, v, s, t: _outline(np.sqrt(u**2 + v**2) - s, t),
    "square": lambda u, v, s, t: _outline(_box(u, v, 0.8 * s, 0.8 * s), t),
    "triangle": lambda u, v, s, t: _outline(_triangle(u, v, 0.95 * s), t),
    "plus": lambda u, v, s, t: np.minimum(_box(u, v, s, t / 2), _box(u, v, t / 2, s)) < 0,
    "x": lambda u, v, s, t: (
        np.minimum(_box(*_rot45(u, v), s, t / 2), _box(*_rot45(u, v), t / 2, s)) < 0
    ),
    "hbar": lambda u, v, s, t: _box(u, v, s, 0.2 * s + t / 2) < 0,
    "vbar": lambda u, v, s, t: _box(u, v, 0.2 * s + t / 2, s) < 0,
    "diamond": lambda u, v, s, t: _outline(_box(*_rot45(u, v), 0.75 * s, 0.75 * s), t),
    "star": lambda u, v, s, t: _star(u, v, 1.1 * s) < 0,
}


def make_shapes(
    num_samples: int, *, seed: int = 0, size: int = 28, supersample: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``num_samples`` noisy shape images, classes balanced.

    Every sample gets a random position (+-4 px at size 28), half-size, rotation
    (+-15 degrees), stroke thickness, intensity and Gaussian noise level. All
    random draws happen up front, so the result depends only on the arguments.

    Args:
        num_samples: number of images; labels cycle through the ten classes
            before shuffling, so class counts differ by at most one.
        seed: seed of every random choice.
        size: image side in pixels; geometry scales with it.
        supersample: sub-pixels per pixel side used for anti-aliasing.

    Returns:
        ``(x, y)``: x (N, size, size) float32, roughly in [0, 1] plus noise;
        y (N,) int64 class indices into ``SHAPE_CLASSES``.

    Raises:
        ValueError: if ``num_samples`` is negative or ``size``/``supersample`` < 1.
    """
    if num_samples < 0 or size < 1 or supersample < 1:
        raise ValueError(
            f"need num_samples >= 0, size >= 1, supersample >= 1; got {num_samples}, {size}, {supersample}"
        )
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    n, px = num_samples, np.float32(size / 28)
    y = rng.permutation(np.arange(n, dtype=np.int64) % len(SHAPE_CLASSES))
    f32 = np.float32
    center = (size / 2 + rng.uniform(-4, 4, size=(n, 2)) * px).astype(f32)
    half = (rng.uniform(6.0, 10.0, size=n) * px).astype(f32)
    angle = rng.uniform(-np.pi / 12, np.pi / 12, size=n).astype(f32)
    stroke = (rng.uniform(1.5, 3.0, size=n) * px).astype(f32)
    intensity = rng.uniform(0.7, 1.0, size=n).astype(f32)
    noise_level = rng.uniform(0.03, 0.15, size=n).astype(f32)
    noise = rng.standard_normal((n, size, size), dtype=f32)

    # Sub-pixel centres in pixel units; pixel i covers [i, i + 1).
    grid = ((np.arange(size * supersample, dtype=f32) + 0.5) / supersample).astype(f32)
    x = np.empty((n, size, size), dtype=f32)
    for label, shape in enumerate(SHAPE_CLASSES):
        members = np.flatnonzero(y == label)
        for i in range(0, len(members), _BLOCK):
            idx = members[i : i + _BLOCK]
            cos = np.cos(angle[idx])[:, None, None]
            sin = np.sin(angle[idx])[:, None, None]
            du = grid[None, None, :] - center[idx, 0, None, None]  # columns
            dv = grid[None, :, None] - center[idx, 1, None, None]  # rows
            u, v = cos * du + sin * dv, -sin * du + cos * dv
            mask = _DRAW[shape](u, v, half[idx, None, None], stroke[idx, None, None])
            cover = _coverage(mask, supersample)
            x[idx] = intensity[idx, None, None] * cover + noise_level[idx, None, None] * noise[idx]
    logger.debug("drew %d shapes in %.2f s", n, time.perf_counter() - start)
    return x, y
