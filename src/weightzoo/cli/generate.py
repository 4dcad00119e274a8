"""``weightzoo generate``: sample new networks from a hyper-representation."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app (filled in by its issue)."""
