"""``weightzoo merge ...``: combine models: merge, align, cluster, model-glue.

``weightzoo merge CONFIG.yaml --out DIR`` runs a mergekit-style YAML merge (the
group falls back to its ``run`` command when the first argument is not one of
its subcommands); ``align``, ``cluster`` and ``glue`` come from merge_glue.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import click
import typer
from typer.core import TyperGroup

from weightzoo.cli._common import QuietOpt, out_console, setup, with_progress
from weightzoo.errors import ConfigError

_DEFAULT_COMMAND = "run"


class _DefaultCommandGroup(TyperGroup):
    """A group whose first argument may be a file instead of a subcommand name:
    ``merge CONFIG.yaml`` means ``merge run CONFIG.yaml``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [_DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)


merge_app = typer.Typer(
    cls=_DefaultCommandGroup,
    no_args_is_help=True,
    help="Combine models. `weightzoo merge CONFIG.yaml --out DIR` runs a mergekit YAML merge\n(same as `merge run`); align, cluster and glue are subcommands.",
)

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def parse_size(text: str) -> int:
    """``"5GB"``, ``"500MiB"``, ``"1e9"``-free plain integers -> bytes."""
    m = _SIZE.match(text)
    if not m:
        raise ConfigError(f"--shard-size: expected a size like 5GB or 500MB, got {text!r}")
    unit = (m[2] or "").lower()
    factor = _UNITS[unit[:1]] if unit[:1] in _UNITS else 1
    if "i" in unit:
        factor = {10**3: 2**10, 10**6: 2**20, 10**9: 2**30, 10**12: 2**40}.get(factor, factor)
    size = int(float(m[1]) * factor)
    if size <= 0:
        raise ConfigError(f"--shard-size: expected a positive size, got {text!r}")
    return size


@merge_app.command(_DEFAULT_COMMAND)
def run(
    config: Annotated[Path, typer.Argument(help="mergekit YAML config.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output model folder.")],
    shard_size: Annotated[
        str, typer.Option("--shard-size", help="Largest output shard, e.g. 5GB, 500MB.")
    ] = "5GB",
    force: Annotated[bool, typer.Option("--force", help="Replace an existing output.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of random methods (DARE).")] = 0,
    quiet: QuietOpt = False,
) -> None:
    """Merge models as a mergekit YAML says; write a Hugging Face folder to --out."""
    from weightzoo.merge import merge_from_config

    setup(quiet)
    size = parse_size(shard_size)
    result = with_progress(
        "merging",
        lambda cb: merge_from_config(
            config, out, max_shard_bytes=size, overwrite=force, seed=seed, progress=cb
        ),
        unit="tensors",
    )
    shards = sorted(p.name for p in result.glob("*.safetensors"))
    total = sum((result / s).stat().st_size for s in shards)
    out_console.print(
        f"merged model: {result} ({len(shards)} shard(s), {total / 1e6:,.1f} MB)", highlight=False
    )


def register(app: typer.Typer) -> None:
    """Add the ``merge`` command group to the root app."""
    app.add_typer(merge_app, name="merge")
