"""``weightzoo zoo import|export``: zoos to and from other tools' layouts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from weightzoo.cli._common import QuietOpt, err_console, out_console, setup, with_progress
from weightzoo.cli.zoo import zoo_app

IMPORT_FORMATS = ("modelzoos", "cnn-zoo")
EXPORT_FORMATS = ("hf", "cnn-zoo")


def register(app: typer.Typer) -> None:
    """Commands are added to the ``zoo`` group at import; nothing to add to the root."""


def _print_report(report, console) -> None:  # noqa: ANN001
    t = Table(title=f"import {report.format} from {report.source}", show_header=False)
    t.add_row("imported", f"{report.models} models, {report.checkpoints} checkpoints")
    by_kind = {
        k: sum(s.kind == k for s in report.skipped) for k in ("model", "checkpoint", "metrics")
    }
    t.add_row(
        "skipped",
        f"{by_kind['model']} models, {by_kind['checkpoint']} checkpoints, "
        f"{by_kind['metrics']} metric records",
    )
    console.print(t)
    if report.skipped:
        s = Table("skipped", "what", "why", title="skipped items")
        for item in report.skipped:
            s.add_row(item.kind, item.item, item.reason)
        console.print(s)


@zoo_app.command("import")
def zoo_import(
    src: Annotated[Path, typer.Argument(help="Source folder in the given format.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The weightzoo zoo to create.")],
    format: Annotated[
        str, typer.Option("--format", "-f", help="Source layout: modelzoos or cnn-zoo.")
    ],
    name: Annotated[str | None, typer.Option(help="Zoo name (default: SRC's name).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing zoo at --out.")] = False,
    input_size: Annotated[
        int | None,
        typer.Option(help="cnn-zoo: image side when config.dataset is not a released one."),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Import a zoo from another tool's layout (Model Zoos, Small CNN Zoo) into a new zoo."""
    from weightzoo.errors import ConfigError
    from weightzoo.zoo.importers import IMPORTERS, NothingImportedError

    setup(quiet)
    if format not in IMPORTERS:
        raise ConfigError(f"--format: expected one of {', '.join(IMPORT_FORMATS)}, got {format!r}")
    kwargs = {"name": name, "overwrite": overwrite}
    if format == "cnn-zoo":
        kwargs["input_size"] = input_size
    run = IMPORTERS[format]
    try:
        report = with_progress(
            f"import {format}", lambda cb: run(src, out, progress=cb, **kwargs), unit="items"
        )
    except NothingImportedError as e:
        _print_report(e.report, err_console)
        raise
    _print_report(report, out_console)
    out_console.print(f"zoo written to [bold]{report.zoo.root}[/bold]")


@zoo_app.command("export")
def zoo_export(
    path: Annotated[Path, typer.Argument(help="Zoo folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="Model id (hf: required; cnn-zoo: repeat to subset)."),
    ] = None,
    epoch: Annotated[
        str | None,
        typer.Option(help="hf: epoch number or 'last'; cnn-zoo: one epoch (default all)."),
    ] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="hf or cnn-zoo.")] = "hf",
    overwrite: Annotated[bool, typer.Option(help="cnn-zoo: replace an earlier export.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Export one model (hf: config.json + model.safetensors) or a whole zoo (cnn-zoo layout)."""
    import numpy as np

    from weightzoo.errors import ConfigError
    from weightzoo.zoo import Zoo
    from weightzoo.zoo.exporters import export_cnn_zoo

    setup(quiet)
    if format not in EXPORT_FORMATS:
        raise ConfigError(f"--format: expected one of {', '.join(EXPORT_FORMATS)}, got {format!r}")
    if epoch not in (None, "last") and not epoch.isdigit():
        raise ConfigError(f"--epoch: expected an epoch number or 'last', got {epoch!r}")
    zoo = Zoo.open(path)
    if format == "hf":
        if not model or len(model) != 1:
            raise ConfigError("--model: hf export takes exactly one model id")
        ep = "last" if epoch in (None, "last") else int(epoch)
        dest = zoo.export_hf(model[0], out, epoch=ep)
        out_console.print(f"exported {model[0]} to {dest}")
        return
    if epoch == "last":
        raise ConfigError("--epoch: cnn-zoo export takes an epoch number (default: all epochs)")
    epochs = None if epoch is None else [int(epoch)]
    dest = with_progress(
        "export cnn-zoo",
        lambda cb: export_cnn_zoo(
            zoo, out, model_ids=model or None, epochs=epochs, overwrite=overwrite, progress=cb
        ),
        unit="epochs",
    )
    rows, width = np.load(dest / "weights.npy", mmap_mode="r").shape
    out_console.print(
        f"exported {rows} checkpoints x {width} parameters to {dest} (cnn-zoo layout)"
    )
