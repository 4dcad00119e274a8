"""Domain shifts built from real transformations of offline datasets (no download).

A DomainBed-style benchmark needs several domains that share classes but
differ in appearance. Here each domain is a disjoint part of one offline
dataset (``digits28``, ``shapes28``, ``mnist1d``, ...) passed through one
transformation: rotation, additive noise, scale and translation, contrast
reduction, blur, or inversion. Models are trained on some domains and tested
on a held-out one (``leave_one_domain_out``).

Domains are named ``"shift"`` or ``"shift:strength"`` (e.g. ``"rotate:45"``);
every shift is registered in ``DOMAIN_SHIFTS`` with its default strength.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from weightzoo.data.base import DataError
from weightzoo.data.registry import load_dataset
from weightzoo.seeding import derive_seed, generator

__all__ = [
    "DEFAULT_DOMAINS",
    "DOMAIN_SHIFTS",
    "DomainData",
    "ShiftEntry",
    "apply_shift",
    "leave_one_domain_out",
    "make_domain_data",
    "parse_domain",
    "register_shift",
]

ShiftFn = Callable[[torch.Tensor, float, torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class ShiftEntry:
    """A registered shift: ``fn(x, strength, generator) -> x'`` on (N, C, *spatial) float32."""

    name: str
    fn: ShiftFn
    default: float
    summary: str


DOMAIN_SHIFTS: dict[str, ShiftEntry] = {}

# Five domains: the original look and four different real transformations.
DEFAULT_DOMAINS = ("identity", "rotate:45", "noise:0.8", "scale_translate:0.6", "contrast:0.3")


def register_shift(name: str, *, default: float, summary: str) -> Callable[[ShiftFn], ShiftFn]:
    """Register a shift function under ``name`` (decorator)."""

    def decorator(fn: ShiftFn) -> ShiftFn:
        if name in DOMAIN_SHIFTS:
            raise ValueError(f"shift '{name}' is already registered")
        DOMAIN_SHIFTS[name] = ShiftEntry(name, fn, default, summary)
        return fn

    return decorator


def _affine(x: torch.Tensor, matrix: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """Resample x (N, C, H, W) or (N, C, L) at ``matrix @ p + offset`` (normalized coordinates).

    Border padding repeats the edge, i.e. the background, instead of inventing zeros
    (which after normalization would be a visible grey frame).
    """
    one_d = x.dim() == 3
    img = x.unsqueeze(2) if one_d else x
    theta = torch.cat([matrix, offset[:, None]], dim=1).to(img.dtype)
    theta = theta.unsqueeze(0).expand(img.shape[0], 2, 3)
    grid = F.affine_grid(theta, list(img.shape), align_corners=False)
    out = F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.squeeze(2) if one_d else out


@register_shift("identity", default=0.0, summary="the original inputs")
def _identity(x: torch.Tensor, strength: float, gen: torch.Generator) -> torch.Tensor:
    return x.clone()


@register_shift(
    "rotate", default=45.0, summary="rotate images by `strength` degrees (counter-clockwise)"
)
def _rotate(x: torch.Tensor, strength: float, gen: torch.Generator) -> torch.Tensor:
    if x.dim() != 4:
        raise DataError(f"shift 'rotate' needs 2-D images (N, C, H, W), got shape {tuple(x.shape)}")
    a = math.radians(strength)
    # affine_grid maps output (x, y) coordinates to input ones, with y pointing down the
    # screen; this matrix turns the content counter-clockwise as displayed (rotate:90 is
    # torch.rot90(x, 1, dims=(2, 3)), checked in the tests).
    matrix = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return _affine(x, matrix, torch.zeros(2))


@register_shift("noise", default=0.8, summary="add Gaussian noise of std `strength` (input units)")
def _noise(x: torch.Tensor, strength: float, gen: torch.Generator) -> torch.Tensor:
    return x + strength * torch.randn(x.shape, generator=gen, dtype=x.dtype)


@register_shift(
    "scale_translate",
    default=0.6,
    summary="shrink by `strength` and move the content towards the bottom-right corner",
)
def _scale_translate(x: torch.Tensor, strength: float, gen: torch.Generator) -> torch.Tensor:
    if not 0.0 < strength <= 1.0:
        raise DataError(f"shift 'scale_translate': strength must be in (0, 1], got {strength}")
    # Output point p shows input point (p - t) / s: content shrunk by s, centre moved to t,
    # with t the largest shift that keeps the shrunk content inside the frame.
    shift = 1.0 - strength
    matrix = torch.eye(2) / strength
    return _affine(x, matrix, torch.full((2,), -shift / strength))


@register_shift(
    "contrast", default=0.3, summary="scale each input's deviation from its mean by `strength`"
)
def _contrast(x: torch.Tensor, strength: float, gen: torch.Generator) -> torch.Tensor:
    dims = tuple(range(1, x.dim()))
    mean = x.mean(dim=dims, keepdim=True)
    return mean + strength * (x - mean)


@register_shift("blur", default=1.5, summary="Gaussian blur with std `strength` pixels")
def _blur(x: torch.Tensor, strength: float, gen: torch.Generator) -> torch.Tensor:
    if strength <= 0:
        return x.clone()
    radius = max(1, math.ceil(3 * strength))
    taps = torch.arange(-radius, radius + 1, dtype=x.dtype)
    kernel = torch.exp(-0.5 * (taps / strength) ** 2)
    kernel = kernel / kernel.sum()
    channels = x.shape[1]
    out = x
    spatial = x.dim() - 2
    for axis in range(spatial):  # separable: one 1-D convolution per spatial axis
        shape = [1] * spatial
        shape[axis] = kernel.numel()
        weight = kernel.reshape(1, 1, *shape).repeat(channels, 1, *([1] * spatial))
        pad = [0, 0] * spatial
        pad[2 * (spatial - 1 - axis)] = radius
        pad[2 * (spatial - 1 - axis) + 1] = radius
        padded = F.pad(out, pad, mode="replicate")
        conv = F.conv2d if spatial == 2 else F.conv1d
        out = conv(padded, weight, groups=channels)
    return out


@register_shift("invert", default=1.0, summary="negate the inputs (a photographic negative)")
def _invert(x: torch.Tensor, strength: float, gen: torch.Generator) -> torch.Tensor:
    return -x


def parse_domain(spec: str) -> tuple[str, float]:
    """Split ``"shift:strength"`` into its parts (the shift's default strength when omitted).

    Raises:
        DataError: unknown shift or a strength that is not a number.
    """
    name, _, value = spec.partition(":")
    name = name.strip().lower()
    if name not in DOMAIN_SHIFTS:
        raise DataError(
            f"domain {spec!r}: unknown shift {name!r}; available: {', '.join(sorted(DOMAIN_SHIFTS))}"
        )
    if not value:
        return name, DOMAIN_SHIFTS[name].default
    try:
        strength = float(value)
    except ValueError:
        raise DataError(f"domain {spec!r}: strength {value!r} is not a number") from None
    if not math.isfinite(strength):
        raise DataError(f"domain {spec!r}: strength must be finite")
    return name, strength


def apply_shift(x: torch.Tensor, spec: str, *, seed: int = 0) -> torch.Tensor:
    """Apply one domain shift to a batch.

    Args:
        x: (N, C, H, W) images or (N, C, L) signals, float32.
        spec: ``"shift"`` or ``"shift:strength"``, a name from ``DOMAIN_SHIFTS``.
        seed: seed of the shift's randomness (noise); same seed, same output.

    Returns:
        The shifted batch, same shape and dtype.

    Raises:
        DataError: unknown shift, bad strength, or a shift that does not fit
            the input (rotation of 1-D signals).
    """
    if x.dim() not in (3, 4):
        raise DataError(
            f"apply_shift: expected (N, C, L) or (N, C, H, W) inputs, got {tuple(x.shape)}"
        )
    name, strength = parse_domain(spec)
    gen = generator(seed, "domain", spec)
    return DOMAIN_SHIFTS[name].fn(x.float(), strength, gen)


@dataclass(frozen=True, eq=False, repr=False)
class DomainData:
    """Samples of several domains of one dataset.

    Attributes:
        dataset: registry name of the source dataset.
        x: (N, *input_shape) float32 shifted inputs.
        y: (N,) int64 class labels.
        domain: (N,) int64 index into ``domain_names``.
        domain_names: the domain specs, e.g. ``("identity", "rotate:45", ...)``.
        num_classes: number of classes.
        input_shape: shape of one input.
        info: provenance (dataset, seed, samples per domain).
    """

    dataset: str
    x: torch.Tensor
    y: torch.Tensor
    domain: torch.Tensor
    domain_names: tuple[str, ...]
    num_classes: int
    input_shape: tuple[int, ...]
    info: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"DomainData(dataset={self.dataset!r}, N={self.y.shape[0]}, "
            f"domains={list(self.domain_names)}, num_classes={self.num_classes})"
        )

    def select(self, domains: Sequence[str | int]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)`` of the samples of the given domains (names or indices)."""
        wanted = [self._index(d) for d in domains]
        mask = torch.isin(self.domain, torch.tensor(wanted, dtype=torch.int64))
        return self.x[mask], self.y[mask]

    def _index(self, domain: str | int) -> int:
        if isinstance(domain, int) and 0 <= domain < len(self.domain_names):
            return domain
        if domain in self.domain_names:
            return self.domain_names.index(domain)
        raise DataError(f"domain {domain!r} is not one of {list(self.domain_names)}")


def make_domain_data(
    dataset: str = "digits28",
    domains: Sequence[str] = DEFAULT_DOMAINS,
    *,
    num_samples: int | None = None,
    seed: int = 0,
) -> DomainData:
    """Build a multi-domain dataset: disjoint parts of ``dataset``, one shift each.

    All splits of the dataset are pooled, shuffled with ``seed`` and dealt into
    ``len(domains)`` equal parts (so no sample appears in two domains, as in
    DomainBed where domains are different photos), then each part is
    transformed by its domain's shift.

    Args:
        dataset: a dataset name from ``weightzoo.data.list_datasets(needs_path=False)``.
        domains: domain specs (``"shift"`` or ``"shift:strength"``), at least 2, distinct.
        num_samples: passed to ``load_dataset`` (a smaller pool), or None.
        seed: seed of the shuffle and of random shifts.

    Returns:
        The samples of every domain.

    Raises:
        DataError: unknown dataset or shift, fewer than 2 or repeated domains,
            a shift that does not fit the inputs, or too few samples.
    """
    if isinstance(domains, str) or len(domains) < 2:
        raise DataError(f"domains: need a list of at least 2 domain specs, got {domains!r}")
    if len(set(domains)) != len(domains):
        raise DataError(f"domains: specs must be distinct, got {list(domains)}")
    for spec in domains:
        parse_domain(spec)
    data = load_dataset(dataset, num_samples=num_samples, split_seed=seed)
    x = torch.cat([data.x_train, data.x_val, data.x_test])
    y = torch.cat([data.y_train, data.y_val, data.y_test])
    per_domain = x.shape[0] // len(domains)
    if per_domain < data.num_classes:
        raise DataError(
            f"domains: {x.shape[0]} samples of {dataset!r} give {per_domain} per domain, "
            f"fewer than its {data.num_classes} classes"
        )
    order = np.random.default_rng(derive_seed(seed, "domains", dataset)).permutation(x.shape[0])
    order = torch.from_numpy(order[: per_domain * len(domains)])
    parts_x, parts_y, parts_d = [], [], []
    for d, spec in enumerate(domains):
        idx = order[d * per_domain : (d + 1) * per_domain]
        parts_x.append(apply_shift(x[idx], spec, seed=seed))
        parts_y.append(y[idx])
        parts_d.append(torch.full((per_domain,), d, dtype=torch.int64))
    return DomainData(
        dataset=data.name,
        x=torch.cat(parts_x).contiguous(),
        y=torch.cat(parts_y),
        domain=torch.cat(parts_d),
        domain_names=tuple(domains),
        num_classes=data.num_classes,
        input_shape=data.input_shape,
        info={
            "dataset": data.name,
            "seed": seed,
            "samples_per_domain": per_domain,
            "domains": list(domains),
            "source": data.info.get("source"),
        },
    )


def leave_one_domain_out(
    domain: torch.Tensor | np.ndarray,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """DomainBed's protocol: each domain in turn is the test domain.

    Args:
        domain: (N,) domain index of each sample.

    Yields:
        ``(held_out, train_idx, test_idx)`` for every distinct domain, in
        increasing order; the index arrays partition ``range(N)``.
    """
    d = np.asarray(domain)
    for held in np.unique(d):
        yield int(held), np.flatnonzero(d != held), np.flatnonzero(d == held)
