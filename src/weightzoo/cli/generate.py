"""``weightzoo generate``: sample new networks from a hyper-representation of a zoo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from weightzoo.cli._common import QuietOpt, err_console, out_console, setup, with_progress

generate_app = typer.Typer(
    invoke_without_command=True,
    add_completion=False,
    help="Sample new networks from a hyper-representation (Schürholt et al. 2022).",
)

ZooOpt = Annotated[Path, typer.Option("--zoo", help="Source zoo folder.")]
EncoderOpt = Annotated[
    str,
    typer.Option(
        "--encoder",
        help="A saved hyperrep encoder folder, or 'train' to train one on the zoo first.",
    ),
]
ActivationOpt = Annotated[
    str | None,
    typer.Option(help="With --encoder train: use the zoo's models with this activation "
                      "(default: the architecture of the zoo's best model)."),
]  # fmt: skip
EncoderEpochsOpt = Annotated[int, typer.Option(help="With --encoder train: autoencoder epochs.")]
SaveEncoderOpt = Annotated[
    Path | None, typer.Option(help="With --encoder train: save the trained encoder here.")
]
SeedOpt = Annotated[int, typer.Option(help="Seed of encoder training and sampling.")]


def register(app: typer.Typer) -> None:
    """Add the ``generate`` group (generate; generate evaluate) to the root app."""
    app.add_typer(generate_app, name="generate")


def _encoder_and_source(
    zoo: Any, encoder: str, activation: str | None, encoder_epochs: int, seed: int,
    save_encoder: Path | None, tops: list[float],
) -> tuple[Any, Any, str]:  # fmt: skip
    """The encoder and the source models; every bad input fails before training."""
    from weightzoo.encode import load_encoder
    from weightzoo.generate import select_top, source_models, train_encoder
    from weightzoo.generate.decode import check_decoder

    if encoder == "train":
        source = source_models(zoo, activation=activation)
        for top in tops:
            select_top(source.scores, top)
        enc = with_progress(
            "train hyperrep",
            lambda cb: train_encoder(zoo, source, seed=seed, epochs=encoder_epochs, progress=cb),
            unit="epochs",
        )
        ref = "trained on the source zoo"
        if save_encoder is not None:
            enc.save(save_encoder)
            ref = str(save_encoder.resolve())
        return enc, source, ref
    enc = load_encoder(encoder)
    check_decoder(enc)
    source = source_models(zoo, spec=enc.spec)
    for top in tops:
        select_top(source.scores, top)
    return enc, source, str(Path(encoder).resolve())


@generate_app.callback()
def generate(
    ctx: typer.Context,
    zoo: ZooOpt = None,  # type: ignore[assignment]
    encoder: EncoderOpt = "train",
    sampler: Annotated[
        str, typer.Option(help="kde, kde_joint, gmm, uniform or neighbourhood.")
    ] = "kde",
    top: Annotated[
        float, typer.Option(help="Fit the sampler on this fraction of the best models.")
    ] = 0.3,
    n: Annotated[int, typer.Option("-n", "--n", help="Networks to generate.")] = 100,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="The new zoo's folder.")] = None,
    bandwidth: Annotated[
        str | None,
        typer.Option(help="KDE bandwidth: scott, silverman or a number (x per-dim std)."),
    ] = None,
    activation: ActivationOpt = None,
    encoder_epochs: EncoderEpochsOpt = 60,
    save_encoder: SaveEncoderOpt = None,
    seed: SeedOpt = 0,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing zoo at --out.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Generate N networks into a new zoo: weightzoo generate --zoo Z --encoder train --out NEW."""
    if ctx.invoked_subcommand is not None:
        return
    from weightzoo.errors import ConfigError
    from weightzoo.generate import generate as run_generate
    from weightzoo.generate import write_generated_zoo, zoo_data
    from weightzoo.generate.api import check_request, default_settings
    from weightzoo.zoo import Zoo

    setup(quiet)
    if zoo is None or out is None:
        raise ConfigError("generate: --zoo and --out are required (see weightzoo generate --help)")
    check_request(n, top, sampler)
    params: dict[str, Any] = {}
    if bandwidth is not None:
        if sampler not in ("kde", "kde_joint"):
            raise ConfigError(f"--bandwidth: only for the kde samplers, not {sampler!r}")
        try:
            params["bandwidth"] = float(bandwidth)
        except ValueError:
            params["bandwidth"] = bandwidth
    source_zoo = Zoo.open(zoo)
    enc, source, ref = _encoder_and_source(source_zoo, encoder, activation, encoder_epochs, seed,
                                           save_encoder, [top])  # fmt: skip
    data = zoo_data(source_zoo)
    gen = run_generate(source_zoo, enc, sampler=sampler, sampler_params=params, top=top, n=n,
                       seed=seed, source=source, data=data)  # fmt: skip
    new = write_generated_zoo(gen, out, data=data, settings=default_settings(source),
                              provenance={"encoder_ref": ref}, overwrite=overwrite)  # fmt: skip
    acc = new.catalog["test_acc"]
    out_console.print(
        f"{n} networks from {sampler} on the top {top:.0%} ({len(gen.anchor_ids)} anchors) "
        f"written to [bold]{new.root}[/bold]; test accuracy without training: "
        f"mean {acc.mean():.3f}, max {acc.max():.3f}"
    )


@generate_app.command("evaluate")
def evaluate(
    zoo: ZooOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the tables and the plot.")],
    encoder: EncoderOpt = "train",
    methods: Annotated[
        str, typer.Option(help="Comma-separated sampler@top list.")
    ] = "kde@0.3,kde@1.0,kde_joint@0.3,gmm@0.3,neighbourhood@0.3,uniform@0.3",
    n: Annotated[int, typer.Option("-n", "--n", help="Models per method (>= 30 for tests).")] = 30,
    epochs: Annotated[int, typer.Option(help="Fine-tuning epochs k.")] = 5,
    transfer: Annotated[str, typer.Option(help="Domain shift for transfer, or 'none'.")] = "invert",
    activation: ActivationOpt = None,
    encoder_epochs: EncoderEpochsOpt = 60,
    save_encoder: SaveEncoderOpt = None,
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Generate with each method, fine-tune against random init and the zoo, write a report."""
    from weightzoo.config import parse_config
    from weightzoo.generate import EvalConfig, evaluate_generation, write_evaluation
    from weightzoo.zoo import Zoo

    setup(quiet)
    config = parse_config(EvalConfig, {
        "methods": [m.strip() for m in methods.split(",") if m.strip()], "n": n, "epochs": epochs,
        "seed": seed, "transfer": None if transfer == "none" else transfer,
    }, "generate evaluate")  # fmt: skip
    source_zoo = Zoo.open(zoo)
    from weightzoo.generate.evaluate import parse_method

    tops = [parse_method(m)[1] for m in config.methods]
    enc, source, _ = _encoder_and_source(source_zoo, encoder, activation, encoder_epochs, seed,
                                         save_encoder, tops)  # fmt: skip
    result = with_progress(
        "fine-tune", lambda cb: evaluate_generation(source_zoo, enc, config, source=source, progress=cb),
        unit="population-epochs",
    )  # fmt: skip
    paths = write_evaluation(result, out)
    out_console.print(paths["summary"].read_text())
    err_console.print(f"tables and plot in {out}")
