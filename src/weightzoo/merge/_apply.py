"""Apply a registry method to one tensor or to whole state dicts (in memory)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from weightzoo.errors import ConfigError, WeightzooError
from weightzoo.merge.methods import REQUIRED, MergeMethodEntry, get_method


class MergeInputError(WeightzooError):
    """Models that cannot be merged: names, shapes or dtypes differ, a tensor is missing."""


def merge_tensor(
    entry: MergeMethodEntry,
    tensors: Sequence[torch.Tensor],
    base: torch.Tensor | None,
    *,
    model_params: Mapping[str, Sequence[Any]],
    params: Mapping[str, Any],
    aux: Mapping[str, Sequence[Any]] | None = None,
    generator: torch.Generator | None = None,
    out_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Merge one tensor: float32 compute, result cast to ``out_dtype``.

    Args:
        entry: the method.
        tensors: M (...) tensors, one per non-base model.
        base: (...) base tensor or None.
        model_params: per-model parameter -> M values (resolved, no REQUIRED left).
        params: global parameter -> value.
        aux: e.g. ``{"fishers": [M tensors]}``.
        generator: for random methods.
        out_dtype: result dtype (default: dtype of base, else of the first tensor).

    Returns:
        (...) merged tensor.
    """
    ref = base if base is not None else tensors[0]
    dtype = out_dtype or ref.dtype
    if not ref.dtype.is_floating_point:
        # Integer buffers (counters, indices) are not averaged: the reference's value is kept.
        return ref.clone()
    kwargs: dict[str, Any] = {**model_params, **params, **(aux or {})}
    if entry.random:
        kwargs["generator"] = generator
    if entry.native_dtype:
        return entry.fn(list(tensors), base, out_dtype=dtype, **kwargs)
    out = entry.fn([t.float() for t in tensors], None if base is None else base.float(), **kwargs)
    return out.to(dtype)


def resolve_model_params(
    entry: MergeMethodEntry, n_models: int, given: Mapping[str, Any], *, where: str = "parameters"
) -> dict[str, list[Any]]:
    """Per-model parameter lists: a scalar applies to every model, a list gives one per model."""
    out = {}
    for name, default in entry.model_params.items():
        value = given.get(name, default)
        if value is REQUIRED:
            raise ConfigError(f"{where}.{name}: required by merge method {entry.name!r}")
        if isinstance(value, list | tuple):
            if len(value) != n_models:
                raise ConfigError(
                    f"{where}.{name}: expected {n_models} values (one per model), got {len(value)}"
                )
            out[name] = list(value)
        else:
            out[name] = [value] * n_models
    return out


def resolve_params(
    entry: MergeMethodEntry, given: Mapping[str, Any], *, where: str = "parameters"
) -> dict[str, Any]:
    """Global parameters with defaults filled in; a missing required one is a ConfigError."""
    out = {}
    for name, default in entry.params.items():
        value = given.get(name, default)
        if value is REQUIRED:
            raise ConfigError(f"{where}.{name}: required by merge method {entry.name!r}")
        out[name] = value
    return out


def check_model_count(entry: MergeMethodEntry, n_models: int, has_base: bool) -> None:
    """ConfigError when the method needs a base or a different number of models."""
    if entry.needs_base and not has_base:
        raise ConfigError(
            f"base_model: merge method {entry.name!r} needs a base model "
            "(task vectors are differences from it)"
        )
    if n_models < entry.min_models:
        raise ConfigError(
            f"models: merge method {entry.name!r} needs at least {entry.min_models} "
            f"model(s) besides the base, got {n_models}"
        )
    if entry.max_models is not None and n_models > entry.max_models:
        raise ConfigError(
            f"models: merge method {entry.name!r} takes at most {entry.max_models} "
            f"model(s) besides the base, got {n_models}"
        )


def check_same_tensors(
    names: Sequence[str], specs: Sequence[Mapping[str, tuple[tuple[int, ...], Any]]]
) -> None:
    """MergeInputError naming the first tensor whose presence, shape or dtype differs.

    Args:
        names: a label per model (path or "model 0").
        specs: per model, tensor name -> (shape, dtype).
    """
    ref_name, ref = names[0], specs[0]
    for label, spec in zip(names[1:], specs[1:], strict=True):
        missing = sorted(set(ref) - set(spec))
        extra = sorted(set(spec) - set(ref))
        if missing:
            raise MergeInputError(
                f"{label}: missing tensor {missing[0]!r} (present in {ref_name}); "
                f"{len(missing)} missing in all"
            )
        if extra:
            raise MergeInputError(
                f"{label}: unexpected tensor {extra[0]!r} (absent from {ref_name}); "
                f"{len(extra)} extra in all"
            )
        for key, (shape, dtype) in ref.items():
            other_shape, other_dtype = spec[key]
            if tuple(other_shape) != tuple(shape):
                raise MergeInputError(
                    f"{label}: tensor {key!r} has shape {tuple(other_shape)}, "
                    f"expected {tuple(shape)} as in {ref_name}"
                )
            if other_dtype != dtype:
                raise MergeInputError(
                    f"{label}: tensor {key!r} has dtype {other_dtype}, "
                    f"expected {dtype} as in {ref_name}"
                )


def merge_state_dicts(
    models: list[dict[str, torch.Tensor]],
    method: str,
    *,
    base: dict[str, torch.Tensor] | None = None,
    weights: list[float] | None = None,
    **params: Any,
) -> dict[str, torch.Tensor]:
    """Merge in-memory state dicts with a registered method.

    Args:
        models: M state dicts with the same names, shapes and dtypes (not the base).
        method: a key of ``MERGE_METHODS``.
        base: the base model (required by task-vector methods, slerp, model_stock).
        weights: M per-model weights (default 1.0 each; ``linear`` normalizes).
        **params: the method's parameters: per-model ones (``density``, ``gamma``) as a
            scalar or a list of M values, global ones (``t``, ``normalize``...),
            ``fishers`` / ``grams`` (M dicts keyed like the models) for fisher /
            regmean, and ``seed`` (int) or ``generator`` for random methods.

    Returns:
        The merged state dict (dtype of the base, else of the first model).

    Raises:
        ConfigError: unknown method or parameter, missing base, wrong model count.
        MergeInputError: names, shapes or dtypes differ between models.
    """
    entry = get_method(method)
    params = dict(params)
    if not models:
        raise ConfigError("models: expected at least one model to merge")
    check_model_count(entry, len(models), base is not None)
    generator = params.pop("generator", None)
    seed = params.pop("seed", None)
    if entry.random and generator is None:
        generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
    aux_given = {k: params.pop(k) for k in entry.aux if k in params}
    for k in entry.aux:
        if k not in aux_given:
            raise ConfigError(f"{k}: required by merge method {method!r} (one dict per model)")
        if len(aux_given[k]) != len(models):
            raise ConfigError(f"{k}: expected {len(models)} dicts, got {len(aux_given[k])}")
    if weights is not None:
        if "weight" not in entry.model_params:
            raise ConfigError(f"weights: merge method {method!r} takes no per-model weights")
        params["weight"] = list(weights)
    unknown = sorted(set(params) - set(entry.params) - set(entry.model_params))
    if unknown:
        known = ", ".join(sorted({*entry.params, *entry.model_params})) or "none"
        raise ConfigError(
            f"{unknown[0]}: not a parameter of merge method {method!r} (known: {known})"
        )
    if "weight" in entry.model_params and "weight" not in params:
        params["weight"] = 1.0
    model_params = resolve_model_params(entry, len(models), params)
    global_params = resolve_params(entry, params)

    everyone = ([base] if base is not None else []) + list(models)
    labels = (["base"] if base is not None else []) + [f"model {i}" for i in range(len(models))]
    check_same_tensors(
        labels, [{k: (tuple(v.shape), v.dtype) for k, v in sd.items()} for sd in everyone]
    )
    out = {}
    for name in everyone[0]:
        aux = {k: [d.get(name) for d in v] for k, v in aux_given.items()}
        if entry.name == "fisher" and any(f is None for f in aux["fishers"]):
            raise MergeInputError(f"fishers: no Fisher for tensor {name!r}")
        out[name] = merge_tensor(
            entry,
            [m[name] for m in models],
            None if base is None else base[name],
            model_params=model_params,
            params=global_params,
            aux=aux,
            generator=generator,
        )
    return out
