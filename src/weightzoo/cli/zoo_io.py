"""``weightzoo zoo import|export``: zoos to and from other tools' layouts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from weightzoo.cli._common import out_console
from weightzoo.cli.zoo import zoo_app


def register(app: typer.Typer) -> None:
    """Commands are added to the ``zoo`` group at import; nothing to add to the root."""


@zoo_app.command("export")
def zoo_export(
    path: Annotated[Path, typer.Argument(help="Zoo folder.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model id, e.g. m00012.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    epoch: Annotated[str, typer.Option(help="Epoch number or 'last'.")] = "last",
    format: Annotated[str, typer.Option("--format", help="Export format: hf.")] = "hf",
) -> None:
    """Export one model (Hugging Face layout: config.json + model.safetensors)."""
    from weightzoo.errors import ConfigError
    from weightzoo.zoo import Zoo

    if format != "hf":
        raise ConfigError(f"--format: expected 'hf', got {format!r}")
    zoo = Zoo.open(path)
    dest = zoo.export_hf(model, out, epoch=epoch if epoch == "last" else int(epoch))
    out_console.print(f"exported {model} to {dest}")
