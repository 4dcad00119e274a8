"""Registry of weight-space encoders, filled by ``@register_encoder``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from weightzoo.errors import ConfigError


@dataclass(frozen=True)
class EncoderEntry:
    """One registered encoder.

    Attributes:
        name: registry key.
        cls: the class; ``cls(**params)`` builds an unfitted encoder.
        url: the paper it implements.
        any_architecture: whether one encoder takes networks of any architecture.
        can_decode: whether it can decode latents into weights.
    """

    name: str
    cls: type
    url: str
    any_architecture: bool
    can_decode: bool


ENCODERS: dict[str, EncoderEntry] = {}


def register_encoder(
    name: str, *, url: str, any_architecture: bool, can_decode: bool = False
) -> Callable[[type], type]:
    """Class decorator that adds an encoder to ``ENCODERS``."""

    def deco(cls: type) -> type:
        cls.name = name
        cls.any_architecture = any_architecture
        cls.can_decode = can_decode
        ENCODERS[name] = EncoderEntry(name, cls, url, any_architecture, can_decode)
        return cls

    return deco


def list_encoders() -> list[str]:
    """Names of the registered encoders."""
    return sorted(ENCODERS)


def build_encoder(name: str, **params: Any) -> Any:
    """An unfitted encoder from its name and keyword parameters.

    Raises:
        ConfigError: unknown name or parameter.
    """
    if name not in ENCODERS:
        raise ConfigError(
            f"encoder: unknown encoder {name!r}; expected one of {', '.join(list_encoders())}"
        )
    try:
        return ENCODERS[name].cls(**params)
    except TypeError as exc:
        raise ConfigError(f"encoder {name!r}: {exc}") from None
