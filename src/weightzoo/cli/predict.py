"""``weightzoo predict``: property prediction (train, eval, benchmark)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from weightzoo.cli._common import QuietOpt, out_console, setup, with_progress
from weightzoo.errors import ConfigError

predict_app = typer.Typer(
    no_args_is_help=True,
    help="Predict properties of networks (accuracy, gap, epoch, hyperparameters) from weights.",
)


def register(app: typer.Typer) -> None:
    """Add the ``predict`` command group to the root app."""
    app.add_typer(predict_app, name="predict")


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``key=value`` pairs (values parsed as YAML) into a dict."""
    import yaml

    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--param {item!r}: expected key=value, e.g. dim=32")
        key, value = item.split("=", 1)
        out[key.strip()] = yaml.safe_load(value) if value else None
    return out


def parse_epochs(text: str) -> str | list[int]:
    """``all``, ``last`` or comma-separated epochs (``0,5,10``)."""
    if text in ("all", "last"):
        return text
    try:
        return [int(e) for e in text.split(",") if e.strip()]
    except ValueError:
        raise ConfigError(
            f"--epochs: expected all, last or epochs like 0,5,10; got {text!r}"
        ) from None


def _fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3:
        raise ConfigError(f"--fractions: expected three numbers like 0.7,0.15,0.15; got {text!r}")
    return parts  # type: ignore[return-value]


def _metrics_table(title: str, metrics: dict[str, float]) -> Table:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(name, "n/a" if math.isnan(value) else f"{value:.4f}")
    return table


ThreadsOpt = Annotated[
    int | None,
    typer.Option(
        help="torch threads (default: torch's choice). 1 is much faster on a busy, shared machine."
    ),
]


def _set_threads(threads: int | None) -> None:
    if threads is not None:
        if threads < 1:
            raise ConfigError(f"--threads: expected a positive number, got {threads}")
        import torch

        torch.set_num_threads(threads)


EpochsOpt = Annotated[
    str, typer.Option("--epochs", help="Checkpoints used: all, last, or a list like 0,5,10.")
]


@predict_app.command("train")
def predict_train(
    zoo: Annotated[Path, typer.Argument(help="Zoo folder to train on (split by model).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the trained predictor.")],
    task: Annotated[
        str, typer.Option(help="test_acc, gen_gap, epoch, activation, init or optimizer.")
    ] = "test_acc",
    encoder: Annotated[
        str, typer.Option(help="Encoder name (stats, flat, hyperrep, sne, nfn).")
    ] = "sne",
    protocol: Annotated[
        str, typer.Option(help="e2e (train encoder + head) or linear (probe on frozen embeddings).")
    ] = "e2e",
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Encoder parameter key=value (repeat).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split, fit and training.")] = 0,
    fractions: Annotated[
        str, typer.Option(help="Train,val,test shares of models.")
    ] = "0.7,0.15,0.15",
    epochs: EpochsOpt = "all",
    train_epochs: Annotated[int, typer.Option(help="End-to-end training epochs.")] = 20,
    lr: Annotated[float, typer.Option(help="End-to-end learning rate (AdamW).")] = 1e-3,
    batch_size: Annotated[int, typer.Option(help="Networks per step.")] = 64,
    fit_epochs: Annotated[
        int | None, typer.Option(help="Epochs of the encoder's unsupervised fit (hyperrep).")
    ] = None,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Train a predictor of TASK on ZOO's train models, score it on the test models, save it."""
    from weightzoo.config import parse_config
    from weightzoo.predict.api import train_predictor
    from weightzoo.predict.e2e import E2EConfig

    setup(quiet)
    _set_threads(threads)
    if protocol == "gbt":
        raise ConfigError(
            "--protocol gbt: gradient-boosted trees cannot be saved without pickle; "
            "use linear or e2e here (gbt runs inside `weightzoo predict benchmark`)"
        )
    e2e = parse_config(
        E2EConfig,
        {"epochs": train_epochs, "lr": lr, "batch_size": batch_size, "fit_epochs": fit_epochs},
        "predict train options",
    )
    predictor, metrics = with_progress(
        f"{encoder}+{protocol} on {task}",
        lambda cb: train_predictor(
            zoo,
            task=task,
            encoder=encoder,
            protocol=protocol,
            params=parse_params(param),
            seed=seed,
            fractions=_fractions(fractions),
            epochs=parse_epochs(epochs),
            e2e=e2e,
            progress=cb,
        ),  # fmt: skip
        unit="epochs",
    )
    folder = predictor.save(out)
    out_console.print(_metrics_table(f"{task}: held-out test models", metrics))
    out_console.print(f"predictor written to [bold]{folder}[/bold]")


@predict_app.command("eval")
def predict_eval(
    predictor: Annotated[Path, typer.Argument(help="Folder written by `predict train`.")],
    zoo: Annotated[Path, typer.Argument(help="Zoo folder to predict.")],
    split: Annotated[
        str,
        typer.Option(help="test (held-out models of the training zoo), all, or auto."),
    ] = "auto",
    epochs: Annotated[
        str | None,
        typer.Option("--epochs", help="Checkpoints: all, last or 0,5,10 (default: as trained)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write predictions here (.parquet or .csv).")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Score a saved predictor on ZOO (Kendall tau and R², or accuracy)."""
    from weightzoo.predict.api import evaluate_predictor, write_parquet

    setup(quiet)
    metrics, frame = evaluate_predictor(
        predictor, zoo, split=split, epochs=parse_epochs(epochs) if epochs else None
    )
    out_console.print(
        _metrics_table(f"{len(frame)} checkpoints of {frame['model_id'].nunique()} models", metrics)
    )
    if out is not None:
        if out.suffix == ".csv":
            from weightzoo.report._io import write_text_atomic

            write_text_atomic(out, frame.to_csv(index=False))
        else:
            write_parquet(frame, out)
        out_console.print(f"predictions written to [bold]{out}[/bold]")


@predict_app.command("benchmark")
def predict_benchmark(
    config: Annotated[
        Path, typer.Argument(help="Benchmark YAML (examples/configs/predict_*.yaml).")
    ],
    overrides: Annotated[
        list[str] | None, typer.Argument(help="key=value overrides, e.g. seeds=[0] e2e.epochs=5")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("bench"),
    zoos: Annotated[
        Path | None,
        typer.Option("--zoos", help="Where zoos are built and reused (default OUT/zoos)."),
    ] = None,
    quick: Annotated[
        bool, typer.Option(help="The config's quick overrides: a run of seconds.")
    ] = False,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Run a property-prediction benchmark; write results.csv, results.md, results.png."""
    from weightzoo.predict.benchmark import load_benchmark_config, run_benchmark

    setup(quiet)
    _set_threads(threads)
    cfg = load_benchmark_config(config, overrides, quick=quick)
    result = with_progress(
        f"benchmark {cfg.name}",
        lambda cb: run_benchmark(cfg, out, zoo_cache=zoos, progress=cb),
        unit="runs",
    )
    if "markdown" in result.files:
        out_console.print(result.files["markdown"].read_text(), markup=False, highlight=False)
    out_console.print(
        f"results written to [bold]{out}[/bold] (results.csv, results.md, results.png)"
    )
