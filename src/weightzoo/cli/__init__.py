"""The ``weightzoo`` command. Parses, calls the library, prints; nothing more.

Each command group lives in its own module with a ``register(app)`` function.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markdown import Markdown
from rich.markup import escape
from typer.exceptions import TyperException

from weightzoo.cli import (
    encode,
    generate,
    merge,
    merge_glue,
    predict,
    select,
    select_rank,
    zoo,
    zoo_io,
)
from weightzoo.cli._common import QuietOpt, err_console, out_console, setup, with_progress
from weightzoo.errors import WeightzooError

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="weightzoo: build and use model zoos."
)


@app.callback(epilog="Add --debug anywhere to see Python tracebacks of errors.")
def _root() -> None:
    """weightzoo: build and use model zoos."""


for _module in (zoo, zoo_io, predict, encode, generate, select, select_rank, merge, merge_glue):
    _module.register(app)


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("demo_out"),
    quick: Annotated[bool, typer.Option(help="A tiny zoo, for a smoke test.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Run the main job: build the default MNIST-1D zoo, summarize it, write a report."""
    from weightzoo.demo import run_demo

    setup(quiet)
    result = with_progress("demo zoo", lambda cb: run_demo(out, quick=quick, progress=cb))
    zoo._print_summary(result.zoo)
    for section in result.sections:
        out_console.rule(section.title)
        out_console.print(Markdown(section.markdown))
    out_console.print(f"zoo: {result.zoo.root}\nreport: {result.report} (and report.html)")


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors become one line on stderr and an exit code, no traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    try:
        rc = app(args=args, prog_name="weightzoo", standalone_mode=False)
        return rc if isinstance(rc, int) else 0
    except WeightzooError as e:
        if debug:
            raise
        err_console.print(f"[red]error:[/red] {escape(str(e))}", highlight=False, soft_wrap=True)
        return e.exit_code
    except typer.Exit as e:
        return e.exit_code
    except TyperException as e:  # usage errors: typer prints them like click
        show = getattr(e, "show", None)
        if show is not None:
            show()
        else:
            err_console.print(f"error: {escape(e.format_message())}")
        return e.exit_code
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("interrupted; rerun the same command to resume")
        return 130
    except OSError as e:
        if debug:
            raise
        where = f" ({e.filename})" if e.filename else ""
        err_console.print(
            f"[red]error:[/red] {escape(str(e.strerror or e) + where)}",
            highlight=False,
            soft_wrap=True,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
