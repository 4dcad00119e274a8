"""Registry of architecture families, filled by ``@register_arch``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from weightzoo.arch.layers import Layer
from weightzoo.arch.seqnet import SeqNet
from weightzoo.arch.spec import ArchSpec
from weightzoo.errors import ConfigError


@dataclass(frozen=True)
class ArchFamily:
    """How to build one family.

    Attributes:
        name: registry key.
        layers: ``spec -> layer IR`` for sequential families (the population
            trainer can then batch them); ``None`` for families built as modules.
        module: ``spec -> nn.Module`` for families without a layer IR.
        default_widths: widths used when a spec gives none.
        url: the paper or code the architecture comes from.
    """

    name: str
    layers: Callable[[ArchSpec], list[Layer]] | None
    module: Callable[[ArchSpec], nn.Module] | None
    default_widths: tuple[int, ...]
    url: str


ARCHITECTURES: dict[str, ArchFamily] = {}


def register_arch(
    name: str, *, default_widths: tuple[int, ...] = (), url: str = "", layers: bool = True
) -> Callable:
    """Register a family builder: with ``layers=True`` it returns a layer IR, else a module."""

    def deco(fn: Callable) -> Callable:
        ARCHITECTURES[name] = ArchFamily(
            name=name,
            layers=fn if layers else None,
            module=None if layers else fn,
            default_widths=default_widths,
            url=url,
        )
        return fn

    return deco


def list_archs() -> list[str]:
    """Names of the registered families."""
    return sorted(ARCHITECTURES)


def get_family(name: str) -> ArchFamily:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ConfigError(
            f"arch.family: unknown architecture {name!r}; expected one of {', '.join(list_archs())}"
        ) from None


def resolve_spec(spec: ArchSpec) -> ArchSpec:
    """Fill in the family's default widths so the stored spec is complete."""
    fam = get_family(spec.family)
    if not spec.widths and fam.default_widths:
        return spec.replace(widths=fam.default_widths)
    return spec


def arch_layers(spec: ArchSpec) -> list[Layer] | None:
    """The layer IR of a sequential family, or ``None``."""
    fam = get_family(spec.family)
    return fam.layers(resolve_spec(spec)) if fam.layers else None


def build_model(spec: ArchSpec) -> nn.Module:
    """Build the ``nn.Module`` of a spec (parameters get PyTorch's default init).

    Args:
        spec: the architecture.

    Returns:
        A fresh module; use ``weightzoo.arch.init_model`` for a zoo's init schemes.

    Raises:
        ConfigError: unknown family or sizes that do not fit the input shape.
    """
    spec = resolve_spec(spec)
    fam = get_family(spec.family)
    if fam.layers is not None:
        return SeqNet(fam.layers(spec), spec.activation, spec.dropout)
    assert fam.module is not None
    return fam.module(spec)


def num_params(spec: ArchSpec) -> int:
    """Number of trainable parameters of a spec."""
    return sum(p.numel() for p in build_model(spec).parameters())
