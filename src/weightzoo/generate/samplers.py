"""Samplers of new latents around the embeddings of a zoo's models.

Hyper-representations as generative models (Schürholt et al., NeurIPS 2022,
https://arxiv.org/abs/2209.14733) draw new latents from a density fitted on
the latents of *anchor* models, decode them, and get working networks. The
paper's best variant fits a kernel density estimate on the anchors of the
top 30% models by accuracy (``S_KDE30``); it also uses a Gaussian mixture,
neighbourhood sampling (noise around anchors) and, as a weak baseline, a
uniform box.

Every sampler works on flat latents ``(N, D)``: a hyper-representation's
token latents ``(N, T, d)`` are flattened to ``D = T * d`` first and reshaped
after. Bandwidths and noise are per dimension, scaled by that dimension's
standard deviation over the anchors, so no dimension dominates by its scale.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from weightzoo.errors import ConfigError, WeightzooError

log = logging.getLogger(__name__)

PAPER_URL = "https://arxiv.org/abs/2209.14733"


@dataclass(frozen=True)
class SamplerEntry:
    """One registered sampler.

    Attributes:
        name: registry key.
        cls: ``cls(**params)`` builds an unfitted sampler.
        url: the paper that uses it.
        summary: one line for ``--help`` and the docs.
    """

    name: str
    cls: type
    url: str
    summary: str


SAMPLERS: dict[str, SamplerEntry] = {}


def register_sampler(name: str, *, url: str, summary: str) -> Callable[[type], type]:
    """Class decorator that adds a sampler to ``SAMPLERS``."""

    def deco(cls: type) -> type:
        cls.name = name
        SAMPLERS[name] = SamplerEntry(name, cls, url, summary)
        return cls

    return deco


def list_samplers() -> list[str]:
    """Names of the registered samplers."""
    return sorted(SAMPLERS)


def build_sampler(name: str, **params: object) -> LatentSampler:
    """An unfitted sampler from its name and keyword parameters.

    Raises:
        ConfigError: unknown name or parameter.
    """
    if name not in SAMPLERS:
        raise ConfigError(
            f"sampler: unknown sampler {name!r}; expected one of {', '.join(list_samplers())}"
        )
    try:
        return SAMPLERS[name].cls(**params)
    except TypeError as exc:
        raise ConfigError(f"sampler {name!r}: {exc}") from None


def select_top(scores: np.ndarray, top: float) -> np.ndarray:
    """Indices of the best ``top`` fraction by score (descending, ties by index).

    ``floor(top * N)`` models are kept, as "the top 30%" means no more than 30%.

    Args:
        scores: ``(N,)`` accuracies (higher is better); NaN scores are never selected.
        top: fraction in ``(0, 1]``.

    Returns:
        ``(k,)`` int indices, best first.

    Raises:
        ConfigError: ``top`` outside ``(0, 1]``.
        WeightzooError: the fraction selects no model.
    """
    if not (isinstance(top, int | float) and 0.0 < top <= 1.0):
        raise ConfigError(f"top: expected a fraction in (0, 1], got {top!r}")
    scores = np.asarray(scores, dtype=float)
    valid = np.flatnonzero(np.isfinite(scores))
    k = int(math.floor(top * len(scores) + 1e-9))
    k = min(k, len(valid))
    if k < 1:
        raise WeightzooError(
            f"top: a fraction of {top} of {len(scores)} models ({len(valid)} with an accuracy) "
            "selects no model; raise --top or use a larger zoo"
        )
    order = valid[np.argsort(-scores[valid], kind="stable")]
    return order[:k]


class LatentSampler:
    """Base: ``fit(z)`` on anchor latents ``(N, D)``, then ``sample(n, rng) -> (n, D)``."""

    name: str

    def fit(self, z: np.ndarray) -> LatentSampler:
        z = np.asarray(z, dtype=np.float64)
        if z.ndim != 2 or z.shape[0] < 1:
            raise WeightzooError(
                f"sampler {self.name}: expected anchors (N >= 1, D), got shape {z.shape}"
            )
        if not np.isfinite(z).all():
            raise WeightzooError(f"sampler {self.name}: anchor latents contain NaN or inf")
        self.anchors_ = z
        # ddof=0 keeps one anchor legal; a constant dimension gets no spread.
        self.scale_ = z.std(axis=0)
        self._fit(z)
        return self

    def _fit(self, z: np.ndarray) -> None:
        return None

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` new latents ``(n, D)``."""
        if not hasattr(self, "anchors_"):
            raise WeightzooError(f"sampler {self.name}: call fit(anchors) before sample")
        if n < 1:
            raise ConfigError(f"n: expected at least 1 sample, got {n}")
        return self._sample(int(n), rng)

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


def _bandwidth_factor(bandwidth: float | str, n: int, d: int) -> float:
    """Kernel std as a multiple of each dimension's std (Scott / Silverman rules for d dims)."""
    if isinstance(bandwidth, str):
        if bandwidth == "scott":
            return float(n ** (-1.0 / (d + 4)))
        if bandwidth == "silverman":
            return float((n * (d + 2) / 4.0) ** (-1.0 / (d + 4)))
        raise ConfigError(
            f"bandwidth: expected a number, 'scott' or 'silverman', got {bandwidth!r}"
        )
    if not bandwidth > 0:
        raise ConfigError(f"bandwidth: expected a positive number, got {bandwidth!r}")
    return float(bandwidth)


@register_sampler(
    "kde", url=PAPER_URL, summary="KDE per latent dimension (product of 1-D Gaussian KDEs)"
)
class KDEPerDimension(LatentSampler):
    """Independent 1-D Gaussian KDEs, one per latent dimension.

    Each dimension of a sample picks its own anchor at random and adds
    Gaussian noise of std ``h * std_j``; so samples mix anchors dimension by
    dimension (new combinations), while every marginal follows its KDE.

    Args:
        bandwidth: ``"scott"`` / ``"silverman"`` (1-D rules, ``h = N^(-1/5)`` for
            Scott), or a number ``h``: kernel std in units of each dimension's std.
    """

    def __init__(self, *, bandwidth: float | str = "scott") -> None:
        self.bandwidth = bandwidth
        _bandwidth_factor(bandwidth, 2, 1)

    def _fit(self, z: np.ndarray) -> None:
        self.h_ = _bandwidth_factor(self.bandwidth, z.shape[0], 1) * self.scale_

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        N, D = self.anchors_.shape
        pick = rng.integers(0, N, size=(n, D))
        base = self.anchors_[pick, np.arange(D)]
        return base + rng.standard_normal((n, D)) * self.h_


@register_sampler("kde_joint", url=PAPER_URL, summary="joint Gaussian KDE over whole latents")
class KDEJoint(LatentSampler):
    """A Gaussian KDE over whole latent vectors with a diagonal kernel.

    A sample is one anchor plus Gaussian noise of std ``h * std_j`` per dimension
    (the kernel is scaled like the data, as ``scipy.stats.gaussian_kde`` does
    with a diagonal covariance).

    Args:
        bandwidth: ``"scott"`` / ``"silverman"`` (rules for ``D`` dimensions, which
            tend to 1 for large ``D``), or a number ``h`` in units of each dimension's std.
    """

    def __init__(self, *, bandwidth: float | str = 0.3) -> None:
        self.bandwidth = bandwidth
        _bandwidth_factor(bandwidth, 2, 1)

    def _fit(self, z: np.ndarray) -> None:
        self.h_ = _bandwidth_factor(self.bandwidth, z.shape[0], z.shape[1]) * self.scale_

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        pick = rng.integers(0, self.anchors_.shape[0], size=n)
        return self.anchors_[pick] + rng.standard_normal((n, self.anchors_.shape[1])) * self.h_


@register_sampler(
    "gmm", url=PAPER_URL, summary="Gaussian mixture with diagonal covariances (scikit-learn)"
)
class GaussianMixtureSampler(LatentSampler):
    """A Gaussian mixture fitted with scikit-learn (diagonal covariances: D exceeds N).

    Args:
        components: mixture components (capped at the number of anchors).
        reg_covar: variance added to every diagonal entry (scikit-learn's ``reg_covar``).
        seed: seeds the EM initialization.
    """

    def __init__(self, *, components: int = 4, reg_covar: float = 1e-6, seed: int = 0) -> None:
        if components < 1:
            raise ConfigError(f"gmm.components: expected at least 1, got {components}")
        self.components, self.reg_covar, self.seed = components, reg_covar, seed

    def _fit(self, z: np.ndarray) -> None:
        from sklearn.mixture import GaussianMixture

        if z.shape[0] < 2:
            # scikit-learn needs two samples; one anchor is a one-point mixture.
            self.weights_, self.means_ = np.ones(1), z.copy()
            self.covariances_ = np.full_like(z, self.reg_covar)
            return
        k = min(self.components, z.shape[0])
        gmm = GaussianMixture(
            k, covariance_type="diag", reg_covar=self.reg_covar, random_state=self.seed
        ).fit(z)
        self.weights_, self.means_, self.covariances_ = gmm.weights_, gmm.means_, gmm.covariances_

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        # Draw components and Gaussians with our generator (sklearn's sample()
        # uses its own random_state and returns samples grouped by component).
        comp = rng.choice(len(self.weights_), size=n, p=self.weights_ / self.weights_.sum())
        noise = rng.standard_normal((n, self.means_.shape[1]))
        return self.means_[comp] + noise * np.sqrt(self.covariances_[comp])


@register_sampler("uniform", url=PAPER_URL, summary="uniform in the anchors' bounding box")
class UniformBox(LatentSampler):
    """Uniform samples in the per-dimension ``[min, max]`` box of the anchors.

    Args:
        margin: widen the box by this fraction of its width on each side.
    """

    def __init__(self, *, margin: float = 0.0) -> None:
        if margin < 0:
            raise ConfigError(f"uniform.margin: expected >= 0, got {margin}")
        self.margin = margin

    def _fit(self, z: np.ndarray) -> None:
        lo, hi = z.min(axis=0), z.max(axis=0)
        pad = self.margin * (hi - lo)
        self.low_, self.high_ = lo - pad, hi + pad

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.low_, self.high_, size=(n, self.low_.shape[0]))


@register_sampler(
    "neighbourhood", url=PAPER_URL, summary="Gaussian noise around each anchor in turn"
)
class Neighbourhood(LatentSampler):
    """Perturbed anchors: sample ``i`` is anchor ``i mod N`` plus noise of std ``sigma * std_j``.

    Args:
        sigma: noise in units of each dimension's std over the anchors.
    """

    def __init__(self, *, sigma: float = 0.1) -> None:
        if sigma < 0:
            raise ConfigError(f"neighbourhood.sigma: expected >= 0, got {sigma}")
        self.sigma = sigma

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        base = self.anchors_[np.arange(n) % self.anchors_.shape[0]]
        return base + rng.standard_normal(base.shape) * (self.sigma * self.scale_)


__all__ = [
    "SAMPLERS",
    "LatentSampler",
    "SamplerEntry",
    "build_sampler",
    "list_samplers",
    "register_sampler",
    "select_top",
]
