"""The merge-method registry: a dict filled by a decorator; tests walk it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from weightzoo.errors import ConfigError

REQUIRED = object()
"""Default marking a parameter the user must give (mergekit's ``required=True``)."""

TensorKernel = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class MergeMethodEntry:
    """One merge method.

    The kernel ``fn(tensors, base, **model_params, **params)`` merges ONE tensor:
    ``tensors`` is a list of the models' values of that tensor (all the same shape,
    float32), ``base`` the base model's value or None, each per-model parameter a
    list with one value per model, each global parameter a scalar. It returns a
    float32 tensor of the same shape.

    Attributes:
        name: registry key, as in mergekit's ``merge_method``.
        fn: the per-tensor kernel.
        url: the paper.
        needs_base: a base model is required (task-vector methods, slerp, model_stock).
        model_params: per-model parameters and their defaults (``REQUIRED`` if none).
        params: global parameters and their defaults.
        aux: names of extra per-model, per-tensor inputs (``fishers``, ``grams``).
        random: the kernel draws random numbers (takes a ``generator`` keyword).
        native_dtype: the kernel takes tensors in their stored dtype and an
            ``out_dtype`` keyword, and does its own (chunked) float32 compute.
        min_models: fewest non-base models the method accepts.
        max_models: most non-base models (None: any number).
    """

    name: str
    fn: TensorKernel
    url: str
    needs_base: bool = False
    model_params: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    aux: tuple[str, ...] = ()
    random: bool = False
    min_models: int = 1
    max_models: int | None = None
    summary: str = ""
    native_dtype: bool = False


MERGE_METHODS: dict[str, MergeMethodEntry] = {}


def register_merge_method(
    name: str,
    *,
    url: str,
    needs_base: bool = False,
    model_params: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    aux: tuple[str, ...] = (),
    random: bool = False,
    min_models: int = 1,
    max_models: int | None = None,
    native_dtype: bool = False,
) -> Callable[[TensorKernel], TensorKernel]:
    """Decorator adding a per-tensor kernel to :data:`MERGE_METHODS`."""

    def deco(fn: TensorKernel) -> TensorKernel:
        if name in MERGE_METHODS:
            raise ValueError(f"merge method {name!r} registered twice")
        MERGE_METHODS[name] = MergeMethodEntry(
            name=name,
            fn=fn,
            url=url,
            needs_base=needs_base,
            model_params=dict(model_params or {}),
            params=dict(params or {}),
            aux=aux,
            random=random,
            min_models=min_models,
            max_models=max_models,
            summary=(fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else "",
            native_dtype=native_dtype,
        )
        return fn

    return deco


def get_method(name: str) -> MergeMethodEntry:
    """The registry entry of ``name``; ConfigError listing the known names otherwise."""
    try:
        return MERGE_METHODS[name]
    except KeyError:
        known = ", ".join(sorted(MERGE_METHODS))
        raise ConfigError(
            f"merge_method: unknown method {name!r}; expected one of {known}"
        ) from None
