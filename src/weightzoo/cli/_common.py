"""Shared pieces of the CLI: consoles, progress bars, logging set-up, common options."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

T = TypeVar("T")

# Piped output gets a wide console so tables keep model ids whole (grep-able).
out_console = Console() if Console().is_terminal else Console(width=200)
err_console = Console(stderr=True)
_STATE = {"quiet": False}

QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or info logs.")]


class _RateColumn(ProgressColumn):
    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task) -> Text:  # noqa: ANN001
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f} {self.unit}/s" if speed else "", style="cyan")


def progress_bar(
    description: str, unit: str = "model-epochs"
) -> tuple[Progress | None, Callable[[int, int], None] | None]:
    """A rich progress bar and its ``update(done, total)`` callback (both None with --quiet)."""
    if _STATE["quiet"]:
        return None, None
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(unit),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )
    task = bar.add_task(description, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


def with_progress(
    description: str,
    run: Callable[[Callable[[int, int], None] | None], T],
    unit: str = "model-epochs",
) -> T:
    """Call ``run(progress_callback)`` under a progress bar (none with --quiet)."""
    bar, update = progress_bar(description, unit)
    if bar is None:
        return run(None)
    with bar:
        return run(update)


def setup(quiet: bool) -> None:
    """Remember --quiet and configure logging (INFO, or WARNING when quiet)."""
    _STATE["quiet"] = quiet
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
