"""More ``weightzoo merge`` commands (added to its group at import)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Commands are added to the ``merge`` group at import; nothing to add to the root."""
