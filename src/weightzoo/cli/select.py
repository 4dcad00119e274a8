"""``weightzoo select ...``: choose models: transferability scores, ranking, ensembles."""

from __future__ import annotations

import typer

select_app = typer.Typer(
    no_args_is_help=True, help="Choose models: transferability scores, ranking, ensembles."
)


def register(app: typer.Typer) -> None:
    """Add the ``select`` command group to the root app."""
    app.add_typer(select_app, name="select")
