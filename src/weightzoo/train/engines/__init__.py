"""Engines run a zoo's shards: here, in local worker processes, or as Ray tasks.

Every engine follows the ``Engine`` protocol and is registered by name in
``ENGINES`` (``local``, ``ray``). An engine only decides where ``ShardJob.run``
executes: the zoo's content is the same whichever runs it, because each shard
is seeded by itself and writes its files atomically, in an order that makes a
rerun (a retry, a resume) idempotent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from weightzoo.errors import ConfigError

if TYPE_CHECKING:
    from weightzoo.config import ZooConfig
    from weightzoo.data import SplitData
    from weightzoo.train.shard import ShardJob

# (shard, model-epochs of that shard done so far): absolute, so a retried
# shard that resumes reports where it stands instead of counting twice.
ShardProgress = Callable[[str, int], None]


class Engine(Protocol):
    """Runs shard jobs to completion; raises ``WeightzooError`` when one cannot finish."""

    name: str

    def run(
        self, jobs: Sequence[ShardJob], data: SplitData, progress: ShardProgress | None = None
    ) -> None: ...


ENGINES: dict[str, Callable[[ZooConfig], Engine]] = {}


def register_engine(name: str) -> Callable[[Callable[[ZooConfig], Engine]], Callable]:
    """Decorator: register a factory ``config -> Engine`` under ``name``."""

    def deco(factory: Callable[[ZooConfig], Engine]) -> Callable[[ZooConfig], Engine]:
        ENGINES[name] = factory
        return factory

    return deco


def make_engine(config: ZooConfig) -> Engine:
    """The engine a config asks for (``config.engine``), set up from its fields.

    Raises:
        ConfigError: unknown engine, or its optional dependency is missing.
    """
    try:
        factory = ENGINES[config.engine]
    except KeyError:
        raise ConfigError(
            f"engine: expected one of {', '.join(ENGINES)}, got {config.engine!r}"
        ) from None
    return factory(config)


# Registration happens on import of the engine modules.
from weightzoo.train.engines import local, ray_engine  # noqa: E402, F401

__all__ = ["ENGINES", "Engine", "ShardProgress", "make_engine", "register_engine"]
