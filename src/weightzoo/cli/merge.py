"""``weightzoo merge ...``: combine models: merge, align, cluster, model-glue."""

from __future__ import annotations

import typer

merge_app = typer.Typer(
    no_args_is_help=True, help="Combine models: merge, align, cluster, Model-GLUE."
)


def register(app: typer.Typer) -> None:
    """Add the ``merge`` command group to the root app."""
    app.add_typer(merge_app, name="merge")
