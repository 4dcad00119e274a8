"""``weightzoo zoo ...``: build, inspect, verify and export zoos."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from weightzoo.cli._common import QuietOpt, err_console, out_console, setup, with_progress

zoo_app = typer.Typer(no_args_is_help=True, help="Build, inspect, verify, import and export zoos.")


def register(app: typer.Typer) -> None:
    """Add the ``zoo`` command group to the root app."""
    app.add_typer(zoo_app, name="zoo")


@zoo_app.command("create")
def zoo_create(
    config: Annotated[Path, typer.Argument(help="YAML zoo config.")],
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="key=value overrides, e.g. epochs=5 space.lr=[0.001,0.01]"),
    ] = None,
    out: Annotated[
        str,
        typer.Option(
            "--out",
            "-o",
            help="Zoo folder or fsspec URL, e.g. s3://bucket/zoo (created; rerun to resume).",
        ),
    ] = "zoo",
    device: Annotated[
        str | None, typer.Option(help="torch device, e.g. cuda:0 (default: config's, cpu).")
    ] = None,
    engine: Annotated[
        str | None, typer.Option(help="'local' (default) or 'ray' (pip install 'weightzoo[ray]').")
    ] = None,
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address, e.g. auto or ray://head:10001.")
    ] = None,
    workers: Annotated[
        str | None, typer.Option(help="Local worker processes: a number or 'auto' (default).")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(help="torch threads per local worker (default: cores / workers).")
    ] = None,
    ray_cpus: Annotated[
        float | None, typer.Option("--ray-cpus", help="CPUs per Ray shard task (default 1).")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Train a zoo from CONFIG into --out; resumes after a crash."""
    from weightzoo.config import load_yaml_config
    from weightzoo.train import build_zoo
    from weightzoo.train.engines import make_engine

    setup(quiet)
    flags = {
        "device": device,
        "engine": engine,
        "ray.address": address,
        "workers": workers,
        "threads_per_worker": threads,
        "ray.num_cpus": ray_cpus,
    }
    extra = [f"{k}={v}" for k, v in flags.items() if v is not None]
    cfg = load_yaml_config(config, [*(overrides or []), *extra])
    runner = make_engine(cfg)  # a missing optional dependency fails before anything is written
    zoo = with_progress(
        f"zoo {cfg.name}", lambda cb: build_zoo(cfg, out, progress=cb, engine=runner)
    )
    _print_summary(zoo)
    out_console.print(f"zoo written to [bold]{zoo.root}[/bold]")


def _print_summary(zoo) -> None:  # noqa: ANN001
    from weightzoo.report import render_summary

    if not zoo.catalog.empty:
        out_console.print(render_summary(zoo.catalog))


@zoo_app.command("info")
def zoo_info(path: Annotated[str, typer.Argument(help="Zoo folder or fsspec URL.")]) -> None:
    """Summarize a zoo: dataset, architectures, models, epochs, accuracy by hyperparameter."""
    from weightzoo.zoo import Zoo

    zoo = Zoo.open(path)
    m = zoo.manifest
    cat = zoo.catalog
    t = Table(show_header=False, box=None)
    t.add_row("name", str(zoo.name))
    t.add_row(
        "format",
        f"v{m['format_version']} ({m.get('creator', '?')}, created {m.get('created', '?')})",
    )
    t.add_row("dataset", f"{m['dataset'].get('name')} {m['dataset'].get('sizes', '')}")
    for shard, spec in m.get("architectures", {}).items():
        t.add_row(
            f"arch {shard}",
            f"{spec['family']} {spec.get('widths', [])} {spec['activation']}, {spec.get('num_params', '?'):,} params",
        )
    n_models = len(m.get("models", {}))
    t.add_row(
        "models",
        f"{n_models} planned, {cat['model_id'].nunique()} with checkpoints, {int(cat.groupby('model_id')['diverged'].first().sum())} diverged",
    )
    t.add_row(
        "epochs",
        f"{m.get('epochs')} (checkpoints: {len(m.get('checkpoint_epochs', []))}, present up to {int(cat['epoch'].max()) if len(cat) else '-'})",
    )
    out_console.print(t)
    _print_summary(zoo)


@zoo_app.command("ls")
def zoo_ls(
    path: Annotated[str, typer.Argument(help="Zoo folder or fsspec URL.")],
    epoch: Annotated[str, typer.Option(help="Epoch number or 'last'.")] = "last",
    sort: Annotated[str, typer.Option(help="Catalog column to sort by (descending).")] = "test_acc",
    top: Annotated[int, typer.Option(help="Rows to show (0 = all).")] = 20,
) -> None:
    """List models with their hyperparameters and metrics at one epoch."""
    from weightzoo.errors import ConfigError
    from weightzoo.zoo import Zoo

    cat = Zoo.open(path).catalog
    if sort not in cat.columns:
        raise ConfigError(
            f"--sort: unknown column {sort!r}; expected one of {', '.join(cat.columns)}"
        )
    if epoch == "last":
        rows = cat.sort_values("epoch").groupby("model_id").tail(1)
    else:
        rows = cat[cat["epoch"] == int(epoch)]
    rows = rows.sort_values(sort, ascending=False)
    if top:
        rows = rows.head(top)
    cols = [
        "model_id",
        "epoch",
        "activation",
        "init",
        "optimizer",
        "lr",
        "weight_decay",
        "dropout",
        "seed",
        "train_acc",
        "test_acc",
        "gen_gap",
    ]
    t = Table(*cols)
    for _, r in rows.iterrows():
        t.add_row(*[f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c]) for c in cols])
    out_console.print(t)


@zoo_app.command("verify")
def zoo_verify(
    path: Annotated[str, typer.Argument(help="Zoo folder or fsspec URL.")],
    rebuild: Annotated[
        bool, typer.Option(help="Rewrite catalog.parquet from the shards if it disagrees.")
    ] = False,
    quiet: QuietOpt = False,
) -> None:
    """Check every checkpoint's checksum and the catalog against the shards."""
    from weightzoo.zoo import verify_zoo

    setup(quiet)
    report = with_progress("verify", lambda cb: verify_zoo(path, rebuild=rebuild, progress=cb))
    for p in report.problems:
        err_console.print(f"[red]problem:[/red] {p}")
    for shard, epochs in report.missing_epochs.items():
        err_console.print(
            f"[yellow]incomplete:[/yellow] shard {shard} lacks epochs {epochs} (rerun `zoo create` to resume)"
        )
    if not report.ok:
        raise typer.Exit(1)
    out_console.print(f"ok: {report.files_checked} files, every checksum matches")
