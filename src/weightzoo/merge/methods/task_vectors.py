"""Task-vector methods: task arithmetic, TIES, DARE, Model Breadcrumbs.

All of them are ``base + lambda * combine(sparsify(model_i - base))`` with
mergekit's "generalized task arithmetic" semantics and parameters: per-model
``weight`` and ``density`` (and ``gamma`` for breadcrumbs), global ``normalize``
(divide by the sum of the weights that contributed to each entry), ``rescale``
(after dropping entries, scale the task vector back to its L1 norm: DARE's
1/density, made exact per tensor), ``lambda`` and ``int8_mask`` (a memory
option of mergekit; no effect here). Every method accepts every one of these
parameters, as in mergekit, even where it has no effect (density for
task_arithmetic), so mergekit configs run unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from weightzoo.merge.methods._chunked import gta_chunked
from weightzoo.merge.methods._registry import REQUIRED, register_merge_method
from weightzoo.merge.methods._sparsify import magnitude_prune, outlier_prune, random_drop


def _combine(
    deltas: list[torch.Tensor],
    weights: Sequence[float],
    *,
    sign_consensus: bool,
    normalize: bool,
) -> torch.Tensor:
    """Weighted sum of task vectors, optionally restricted to the elected sign (TIES).

    Args:
        deltas: M tensors of the same shape (...).
        weights: M floats.
        sign_consensus: keep, per entry, only deltas whose sign agrees with the sign
            of the total (weighted) mass; TIES' "elect" and "disjoint merge" steps.
        normalize: divide by the sum of the weights that contributed to each entry.

    Returns:
        The merged delta, shape (...).
    """
    # A loop over the (few) models, not a stacked (M, ...) tensor: peak memory stays at
    # a few copies of one tensor even for 50M-entry embedding matrices.
    if sign_consensus:
        # Multiply, then add (not a fused add with alpha): the same rounding as the
        # chunked kernel and mergekit, so signs elected on near-zero totals agree.
        total = torch.zeros_like(deltas[0])
        for d, w in zip(deltas, weights, strict=True):
            total.add_(d * w)
        elected = total >= 0
        del total
        mixed = torch.zeros_like(deltas[0])
        divisor = torch.zeros_like(deltas[0])
        for d, w in zip(deltas, weights, strict=True):
            wd = d * w
            # sign(w d) == elected sign; zeros never agree (as mergekit's sign() == +-1).
            agree = torch.where(elected, wd > 0, wd < 0)
            mixed.add_(wd.mul_(agree))
            divisor.add_(agree, alpha=w)
        divisor[divisor == 0] = 1
    else:
        mixed = torch.zeros_like(deltas[0])
        for d, w in zip(deltas, weights, strict=True):
            mixed.add_(d * w)
        divisor = float(sum(weights))
        if abs(divisor) < 1e-8:
            divisor = 1.0
    return mixed / divisor if normalize else mixed


def _rescale_l1(kept: torch.Tensor, delta: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    before = float(delta.abs().sum())
    after = float(kept.abs().sum())
    if before < eps or after < eps:
        return kept
    return kept.mul_(before / after)


Sparsifier = Callable[[torch.Tensor, int, dict[str, Any]], torch.Tensor]


def _merge(
    tensors: list[torch.Tensor],
    base: torch.Tensor,
    *,
    weight: Sequence[float],
    sparsify: Sparsifier | None,
    per_model: dict[str, Sequence[Any]],
    sign_consensus: bool,
    normalize: bool,
    rescale: bool,
    scale: float,
) -> torch.Tensor:
    deltas = []
    for i, t in enumerate(tensors):
        d = t - base
        if sparsify is not None:
            kept = sparsify(d, i, {k: v[i] for k, v in per_model.items()})
            d = _rescale_l1(kept, d) if rescale and kept is not d else kept
        deltas.append(d)
    mixed = _combine(deltas, weight, sign_consensus=sign_consensus, normalize=normalize)
    del deltas
    return base + mixed * scale if scale != 1 else base + mixed


def _gta(
    name: str,
    *,
    url: str,
    doc: str,
    sparsify: Sparsifier | None,
    sign_consensus: bool,
    normalize: bool,
    rescale: bool,
    extra_model_params: dict[str, Any] | None = None,
    random: bool = False,
    chunked: bool = False,
):  # noqa: ANN202
    model_params = {"weight": REQUIRED, "density": 1.0, **(extra_model_params or {})}
    if name == "task_arithmetic":
        model_params["weight"] = 1.0  # the lambdas of the paper, 1 by default

    def kernel(
        tensors: list[torch.Tensor],
        base: torch.Tensor,
        *,
        weight: Sequence[float],
        density: Sequence[float],
        normalize: bool = normalize,
        rescale: bool = rescale,
        int8_mask: bool = False,
        generator: torch.Generator | None = None,
        out_dtype: torch.dtype | None = None,
        **options: Any,
    ) -> torch.Tensor:
        scale = float(options.pop("lambda", 1.0))
        if chunked and not rescale:
            # TIES / task arithmetic: the cache-friendly path, in the stored dtype.
            return gta_chunked(
                tensors,
                base,
                weight=weight,
                density=density if sparsify is not None else None,
                sign_consensus=sign_consensus,
                normalize=normalize,
                scale=scale,
                out_dtype=out_dtype or base.dtype,
            )
        if chunked:
            tensors = [t.float() for t in tensors]
            base = base.float()
        per_model = {"density": density, **options}
        if generator is not None:
            per_model["generator"] = [generator] * len(tensors)
        merged = _merge(
            tensors,
            base,
            weight=weight,
            sparsify=sparsify,
            per_model=per_model,
            sign_consensus=sign_consensus,
            normalize=normalize,
            rescale=rescale,
            scale=scale,
        )
        return merged.to(out_dtype) if chunked and out_dtype is not None else merged

    kernel.__doc__ = doc
    kernel.__name__ = name
    return register_merge_method(
        name,
        url=url,
        needs_base=True,
        model_params=model_params,
        params={"normalize": normalize, "rescale": rescale, "int8_mask": False, "lambda": 1.0},
        random=random,
        native_dtype=chunked,
    )(kernel)


task_arithmetic = _gta(
    "task_arithmetic",
    url="https://arxiv.org/abs/2212.04089",
    doc="Task arithmetic: base + lambda * sum_i weight_i (model_i - base).",
    sparsify=None,
    sign_consensus=False,
    normalize=False,
    rescale=False,
    chunked=True,
)
ties = _gta(
    "ties",
    url="https://arxiv.org/abs/2306.01708",
    doc="TIES: trim each task vector to its top-density magnitudes, elect signs, average agreeing.",
    sparsify=lambda d, i, p: magnitude_prune(d, p["density"]),
    sign_consensus=True,
    normalize=True,
    rescale=False,
    chunked=True,
)
_DARE_URL = "https://arxiv.org/abs/2311.03099"


def _drop(d: torch.Tensor, i: int, p: dict[str, Any]) -> torch.Tensor:
    # Rescaling is done by _merge (L1, as mergekit), not by 1/density here.
    return random_drop(d, p["density"], rescale=False, generator=p.get("generator"))


dare_linear = _gta(
    "dare_linear",
    url=_DARE_URL,
    doc="DARE: drop each delta entry with probability 1-density, rescale, add.",
    sparsify=_drop,
    sign_consensus=False,
    normalize=False,
    rescale=True,
    random=True,
)
dare_ties = _gta(
    "dare_ties",
    url=_DARE_URL,
    doc="DARE drop-and-rescale, then TIES sign election and disjoint mean.",
    sparsify=_drop,
    sign_consensus=True,
    normalize=False,
    rescale=True,
    random=True,
)
breadcrumbs = _gta(
    "breadcrumbs",
    url="https://arxiv.org/abs/2312.06795",
    doc="Model Breadcrumbs: drop the largest (outliers) and smallest deltas, then add.",
    sparsify=lambda d, i, p: outlier_prune(d, p["density"], p["gamma"]),
    sign_consensus=False,
    normalize=False,
    rescale=False,
    extra_model_params={"gamma": 0.01},
)
