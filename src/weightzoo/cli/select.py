"""``weightzoo select ...``: choose models: transferability scores, ranking, ensembles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from weightzoo.cli._common import QuietOpt, out_console, setup

select_app = typer.Typer(
    no_args_is_help=True, help="Choose models: transferability scores, ranking, ensembles."
)


def register(app: typer.Typer) -> None:
    """Add the ``select`` command group to the root app."""
    app.add_typer(select_app, name="select")


def _load_npy(path: Path, what: str):  # noqa: ANN202  (np.ndarray; numpy imported lazily)
    import numpy as np

    from weightzoo.select import SelectInputError

    if not path.is_file():
        raise SelectInputError(f"{what}: no file at {path} (expected a .npy array)")
    try:
        # allow_pickle=False: an .npy holding Python objects is refused, never unpickled.
        return np.load(path, allow_pickle=False)
    except ValueError as err:
        raise SelectInputError(f"{what}: {path} is not a plain numeric .npy array ({err})") from err
    except OSError as err:
        raise SelectInputError(f"{what}: cannot read {path} as .npy ({err})") from err


@select_app.command("score")
def select_score(
    features: Annotated[
        Path,
        typer.Argument(
            metavar="FEATURES.npy",
            help="(N, D) features .npy; for leep (N, Z) source softmax outputs; for nce (N,) "
            "source predicted labels or (N, Z) source probabilities (argmax is taken).",
        ),
    ],
    labels: Annotated[
        Path,
        typer.Argument(metavar="LABELS.npy", help="(N,) integer class labels .npy (or targets)."),
    ],
    method: Annotated[
        list[str] | None,
        typer.Option(
            "--method",
            "-m",
            help="Score name (repeatable): logme, leep, nce, hscore, hscore_shrinkage, gbc, "
            "transrate; 'all' = every feature-based score. Default logme.",
        ),
    ] = None,
    regression: Annotated[
        bool, typer.Option(help="LogME only: LABELS are real-valued regression targets.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print {method: score} as JSON.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Score how well FEATURES transfer to LABELS with transferability scores (higher = better)."""
    from weightzoo.select import SCORES, SelectInputError, list_scores

    setup(quiet)
    names = method or ["logme"]
    if "all" in names:
        names = [n for n in names if n != "all"] + list_scores(needs="features")
    names = list(dict.fromkeys(n.lower() for n in names))
    unknown = [n for n in names if n not in SCORES]
    if unknown:
        raise SelectInputError(
            f"--method: unknown score {', '.join(map(repr, unknown))}; "
            f"available: {', '.join(sorted(SCORES))}, all"
        )
    if regression and names != ["logme"]:
        raise SelectInputError("--regression: only logme has a regression mode")
    inputs = _load_npy(features, "FEATURES")
    targets = _load_npy(labels, "LABELS")
    results: dict[str, float] = {}
    for name in names:
        entry = SCORES[name]
        first = inputs
        if entry.needs == "source_labels" and inputs.ndim == 2:
            first = inputs.argmax(axis=1)
        if name == "logme":
            results[name] = entry.fn(first, targets, regression=regression)
        else:
            results[name] = entry.fn(first, targets)
    if as_json:
        out_console.print_json(json.dumps(results))
        return
    table = Table(title=f"transferability of {features.name} to {labels.name}")
    table.add_column("method")
    table.add_column("score", justify="right")
    table.add_column("input")
    table.add_column("paper")
    for name, value in results.items():
        table.add_row(name, f"{value:.6g}", SCORES[name].needs, SCORES[name].url)
    out_console.print(table)
