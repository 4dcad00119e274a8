"""``weightzoo encode``: encode a zoo's weights into embeddings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from weightzoo.cli._common import QuietOpt, out_console, setup, with_progress


def register(app: typer.Typer) -> None:
    """Add the ``encode`` command to the root app."""
    app.command("encode")(encode)


def encode(
    zoo: Annotated[Path, typer.Argument(help="Zoo folder.")],
    encoder: Annotated[
        str,
        typer.Option(
            help="A registered encoder name (fitted on this zoo first) or a saved encoder folder."
        ),
    ] = "sne",
    out: Annotated[Path, typer.Option("--out", "-o", help="Parquet file to write.")] = Path(
        "embeddings.parquet"
    ),
    epochs: Annotated[
        str, typer.Option("--epochs", help="Checkpoints: all, last, or a list like 0,5,10.")
    ] = "all",
    fit_epochs: Annotated[
        int | None,
        typer.Option(help="Epochs of the unsupervised fit of a named encoder (hyperrep)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of that fit.")] = 0,
    batch_size: Annotated[int, typer.Option(help="Networks per forward pass.")] = 256,
    quiet: QuietOpt = False,
) -> None:
    """Write one embedding per checkpoint of ZOO (model_id, epoch, emb_0 ...) to a Parquet file."""
    from weightzoo.cli.predict import parse_epochs
    from weightzoo.predict.api import embed_zoo, write_parquet

    setup(quiet)
    frame = with_progress(
        f"encode with {encoder}",
        lambda cb: embed_zoo(
            zoo,
            encoder,
            epochs=parse_epochs(epochs),
            seed=seed,
            fit_epochs=fit_epochs,
            batch_size=batch_size,
            progress=cb,
        ),  # fmt: skip
        unit="networks",
    )
    write_parquet(frame, out)
    dim = frame.shape[1] - 2
    out_console.print(f"{len(frame)} embeddings of dimension {dim} written to [bold]{out}[/bold]")
