"""``weightzoo merge align | cluster | glue``: added to the ``merge`` group at import."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from weightzoo.cli._common import QuietOpt, err_console, out_console, setup
from weightzoo.cli.merge import merge_app

_REF_HELP = "A model folder (config.json + model.safetensors) or ZOO_DIR:MODEL_ID[@EPOCH]."


def register(app: typer.Typer) -> None:
    """Commands are added to the ``merge`` group at import; nothing to add to the root."""


@merge_app.command("align")
def align(
    a: Annotated[str, typer.Argument(help="Reference model. " + _REF_HELP)],
    b: Annotated[str, typer.Argument(help="Model to permute onto A. " + _REF_HELP)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the aligned B.")],
    dataset: Annotated[
        str | None,
        typer.Option(help="Dataset for the loss barrier (default: the models' own, if known)."),
    ] = None,
    barrier: Annotated[bool, typer.Option(help="Measure the loss barrier before/after.")] = True,
    points: Annotated[int, typer.Option(help="Points on the linear path.")] = 21,
    seed: Annotated[int, typer.Option(help="Seed of the group visiting order.")] = 0,
    quiet: QuietOpt = False,
) -> None:
    """Permute B's hidden units onto A (Git Re-Basin weight matching); B's function is unchanged."""
    from weightzoo.merge.glue.align_io import align_models

    setup(quiet)
    report = align_models(a, b, out, dataset=dataset, barrier=barrier, points=points, seed=seed)
    table = Table(title=f"weight matching of {b} onto {a}")
    table.add_column("quantity")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    table.add_row("<A, B>", f"{report['objective_before']:.4g}", f"{report['objective_after']:.4g}")
    table.add_row(
        "||A - B||", f"{report['distance_before']:.4g}", f"{report['distance_after']:.4g}"
    )
    if "barrier_before" in report:
        table.add_row(
            f"loss barrier ({report['dataset']} test)",
            f"{report['barrier_before']:.4f}",
            f"{report['barrier_after']:.4f}",
        )
        table.add_row(
            "accuracy at the midpoint",
            f"{report['mid_acc_before']:.3f}",
            f"{report['mid_acc_after']:.3f}",
        )
    out_console.print(table)
    out_console.print(f"aligned model: {out} ({report['sweeps']} sweeps)")


@merge_app.command("cluster")
def cluster(
    models: Annotated[list[str], typer.Argument(help="Models to cluster. " + _REF_HELP)],
    threshold: Annotated[float, typer.Option(help="Join a cluster above this similarity.")] = 0.95,
    base: Annotated[
        str | None, typer.Option(help="Base model: compare task vectors (model - base).")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Cluster models by mergeability (Model-GLUE: mean per-column cosine similarity of weights)."""
    from weightzoo.merge.glue._models import load_model_ref
    from weightzoo.merge.glue.mergeability import (
        architecture_key,
        cluster_by_mergeability,
        mergeability_matrix,
    )

    setup(quiet)
    loaded = {m: load_model_ref(m)[1] for m in models}
    base_w = load_model_ref(base)[1] if base else None
    clusters = cluster_by_mergeability(loaded, threshold=threshold, base=base_w)
    if len({architecture_key(w) for w in loaded.values()}) == 1:
        sim = mergeability_matrix(loaded, base=base_w)
        table = Table(title="mergeability (" + ("task vectors" if base else "raw weights") + ")")
        table.add_column("model")
        for i in range(len(models)):
            table.add_column(str(i + 1), justify="right")
        for i, m in enumerate(models):
            table.add_row(f"{i + 1} {m}", *(f"{v:.3f}" for v in sim[i]))
        out_console.print(table)
    for k, members in enumerate(clusters):
        out_console.print(f"cluster {k + 1}: " + " ".join(members))


@merge_app.command("glue")
def glue(
    config: Annotated[Path, typer.Argument(help="Model-GLUE recipe YAML.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (new or empty).")],
    overrides: Annotated[
        list[str] | None, typer.Argument(help="key.sub=value overrides (values parsed as YAML).")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Run the Model-GLUE recipe: cluster, merge selectively, mix the clusters; report each step."""
    from weightzoo.config import load_yaml_config
    from weightzoo.merge.glue.config import GlueConfig
    from weightzoo.merge.glue.run import run_glue_config

    setup(quiet)
    cfg = load_yaml_config(config, overrides, model=GlueConfig)
    say = None if quiet else (lambda m: err_console.print(f"[bold]glue[/bold]: {m}"))
    result, folder = run_glue_config(cfg, out, progress=say)
    tasks = list(result.final_test)
    table = Table(title="test accuracy (%)")
    table.add_column("model")
    for t in tasks:
        table.add_column(t, justify="right")
    table.add_column("mean", justify="right")

    def row(label: str, acc: dict[str, float]) -> None:
        vals = [acc[t] for t in tasks]
        table.add_row(
            label, *(f"{100 * v:.1f}" for v in vals), f"{100 * sum(vals) / len(vals):.1f}"
        )

    for name, acc in result.inputs_test.items():
        row(name, acc)
    for k, c in enumerate(result.clusters):
        row(f"cluster {k + 1} ({'+'.join(c.merge.members)})", c.test_acc)
    row("Model-GLUE", result.final_test)
    out_console.print(table)
    out_console.print(f"report: {folder / 'report.md'}")


@merge_app.command("finetune-zoo")
def finetune_zoo(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for base/ and one folder per task.")
    ],
    quick: Annotated[bool, typer.Option(help="Small data and short schedules (seconds).")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the base init and data order.")] = 0,
    quiet: QuietOpt = False,
) -> None:
    """Pre-train a base on MNIST-1D and fine-tune it on four input domains (for merging)."""
    from weightzoo.cli._common import with_progress
    from weightzoo.merge.finetune_zoo import FinetuneZooConfig, build_finetune_zoo

    setup(quiet)
    small = {"num_samples": 1000, "pretrain_epochs": 3, "finetune_epochs": 2} if quick else {}
    cfg = FinetuneZooConfig(seed=seed, **small)
    if out.exists() and any(out.iterdir()):
        from weightzoo.errors import WeightzooError

        raise WeightzooError(f"{out} exists and is not empty; choose another --out")
    zoo = with_progress(
        "fine-tune zoo", lambda cb: build_finetune_zoo(cfg, progress=cb), unit="models"
    )
    zoo.save(out)
    table = Table(title=f"test accuracy (%) of the fine-tune zoo in {out}")
    table.add_column("model")
    for t in zoo.tasks:
        table.add_column(t, justify="right")
    for name, w in {"base": zoo.base, **zoo.finetunes}.items():
        acc = zoo.accuracy(w)
        table.add_row(name, *(f"{100 * acc[t]:.1f}" for t in zoo.tasks))
    out_console.print(table)
