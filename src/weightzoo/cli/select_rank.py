"""``weightzoo select rank | ensemble | benchmark`` (added to the ``select`` group at import)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from weightzoo.cli._common import QuietOpt, out_console, setup, with_progress
from weightzoo.cli.select import select_app
from weightzoo.errors import ConfigError, WeightzooError

ZooOpt = Annotated[
    Path,
    typer.Option(
        "--zoo", help="A weightzoo zoo folder (zoo.json) or a candidate zoo (candidates.json)."
    ),
]


def register(app: typer.Typer) -> None:
    """Commands are added to the ``select`` group at import; nothing to add to the root."""


def _open_candidates(path: Path, max_models: int | None):  # noqa: ANN202
    from weightzoo.select.candidates import CandidateZoo, zoo_extractors

    if (path / "candidates.json").is_file():
        zoo = CandidateZoo.open(path)
        ids = zoo.names
    elif (path / "zoo.json").is_file():
        from weightzoo.zoo import Zoo

        zoo = Zoo.open(path)
        ids = zoo.models()
    else:
        raise WeightzooError(f"--zoo {path}: expected a folder with zoo.json or candidates.json")
    return zoo, zoo_extractors(zoo, model_ids=ids[:max_models] if max_models else ids)


def _target(zoo, name: str, classes: str | None, domain: str | None, num_samples: int | None):  # noqa: ANN001, ANN202
    import torch

    from weightzoo.data import load_dataset
    from weightzoo.select.candidates import CandidateZoo

    if isinstance(zoo, CandidateZoo) and name in zoo.target_names:
        data = zoo.target_data(name)
    else:
        data = load_dataset(name, num_samples=num_samples)
    x, y = data.x_train, data.y_train
    if classes:
        try:
            keep = [int(c) for c in classes.split(",")]
        except ValueError:
            raise ConfigError(
                f"--classes: expected comma-separated integers, got {classes!r}"
            ) from None
        mask = torch.isin(y, torch.tensor(keep))
        x, y = x[mask], y[mask]
        if len(torch.unique(y)) < 2:
            raise ConfigError(f"--classes {classes}: fewer than 2 of these classes in {name!r}")
    if domain:
        from weightzoo.data.domains import apply_shift

        x = apply_shift(x, domain)
    return x, y.numpy()


@select_app.command("rank")
def select_rank(
    zoo_path: ZooOpt,
    target: Annotated[str, typer.Option(help="Target dataset name (or a candidate zoo's target).")],
    method: Annotated[
        str, typer.Option(help="A score from `weightzoo select score --help`.")
    ] = "logme",
    classes: Annotated[str | None, typer.Option(help="Keep these classes, e.g. 0,1,2.")] = None,
    domain: Annotated[str | None, typer.Option(help="Shift the target, e.g. rotate:45.")] = None,
    num_samples: Annotated[int | None, typer.Option(help="Generate/subsample this many.")] = None,
    max_models: Annotated[int | None, typer.Option(help="Rank only the first N models.")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the ranking as CSV.")] = None,
    quiet: QuietOpt = False,
) -> None:
    """Rank a zoo's models for a target dataset by a transferability score."""
    from weightzoo.select._rank_methods import extract_all, rank_table, score_candidates
    from weightzoo.select.scores import SCORES
    from weightzoo.zoo._io import atomic_write_bytes

    setup(quiet)
    if method not in SCORES:
        raise ConfigError(
            f"--method: unknown score {method!r}; available: {', '.join(sorted(SCORES))}"
        )
    zoo, extractors = _open_candidates(zoo_path, max_models)
    x, y = _target(zoo, target, classes, domain, num_samples)
    try:
        extracted = extract_all(extractors, x)
    except RuntimeError as err:  # a shape mismatch inside the models
        raise WeightzooError(
            f"--target {target}: inputs of shape {tuple(x.shape[1:])} do not fit the zoo's "
            f"models ({str(err).splitlines()[0]})"
        ) from None
    scores, seconds = score_candidates(method, extracted, y)
    table = rank_table(list(extractors), scores)
    out_console.print(table.to_string(index=False))
    out_console.print(f"{method} on {len(y)} examples of {target}: {seconds:.2f} s")
    if out is not None:
        atomic_write_bytes(out, table.to_csv(index=False).encode())


@select_app.command("ensemble")
def select_ensemble(
    zoo_path: ZooOpt,
    dataset: Annotated[
        str, typer.Option(help="Offline dataset to build domains from.")
    ] = "digits28",
    train_domains: Annotated[
        str, typer.Option(help="Comma-separated training domains.")
    ] = "identity,rotate:45,noise:0.8,contrast:0.3",
    test_domain: Annotated[str, typer.Option(help="The unseen test domain.")] = "blur:1.0",
    top_k: Annotated[int, typer.Option(help="Models in the ensemble.")] = 3,
    max_models: Annotated[int | None, typer.Option(help="Use only the first N models.")] = None,
    num_samples: Annotated[
        int | None, typer.Option(help="Pool size passed to the dataset.")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """ZooD: rank by leave-one-domain-out, ensemble the top-K with feature selection."""
    import numpy as np

    from weightzoo.data.domains import make_domain_data
    from weightzoo.select._rank_methods import extract_all
    from weightzoo.select.zood import ZooDEnsemble, zood_rank

    setup(quiet)
    train = [d.strip() for d in train_domains.split(",") if d.strip()]
    if test_domain in train:
        raise ConfigError(f"--test-domain {test_domain} is also a training domain")
    _, extractors = _open_candidates(zoo_path, max_models)
    data = make_domain_data(dataset, [*train, test_domain], num_samples=num_samples)
    held = data.domain_names.index(test_domain)
    is_test = (data.domain == held).numpy()
    extracted = extract_all(extractors, data.x)
    feats = {m: ex.out.features[~is_test] for m, ex in extracted.items()}
    test = {m: ex.out.features[is_test] for m, ex in extracted.items()}
    y = data.y.numpy()
    table = with_progress(
        "zood",
        lambda cb: zood_rank(feats, y[~is_test], data.domain.numpy()[~is_test], progress=cb),
        unit="models",
    )
    out_console.print(table.to_string(index=False))
    scores = dict(zip(table["model"], table["score"], strict=True))
    ens = ZooDEnsemble(top_k=top_k).fit(feats, y[~is_test], scores=scores)
    acc = ens.score({m: test[m] for m in ens.models_}, y[is_test])
    single = ZooDEnsemble(top_k=1).fit(feats, y[~is_test], scores=scores)
    acc1 = single.score({m: test[m] for m in single.models_}, y[is_test])
    kept = ", ".join(f"{m}: {k}" for m, k in ens.selected_by_model().items())
    out_console.print(
        f"out-of-domain ({test_domain}) accuracy: ensemble of top-{top_k} {acc:.3f} "
        f"(features kept {kept}); top-1 model alone {acc1:.3f}; "
        f"{int(np.sum(is_test))} test examples"
    )


@select_app.command("benchmark")
def select_benchmark(
    config: Annotated[Path | None, typer.Argument(help="YAML benchmark config.")] = None,
    overrides: Annotated[
        list[str] | None, typer.Argument(help="key=value overrides, e.g. spider.steps=100")
    ] = None,
    quick: Annotated[bool, typer.Option(help="Tiny zoo and short training (seconds).")] = False,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder.")] = None,
    quiet: QuietOpt = False,
) -> None:
    """Weighted tau, speed-up and ZooD ensemble of every ranking method (CSV, Markdown, plot)."""
    from weightzoo.config import load_yaml_config
    from weightzoo.select.benchmark import BenchmarkConfig, run_benchmark

    setup(quiet)
    extra = [*(overrides or [])]
    if config is not None and "=" in str(config) and not config.is_file():
        extra.insert(0, str(config))  # `benchmark --quick key=value`: no config file given
        config = None
    if quick:
        extra.append("quick=true")
    if out is not None:
        extra.append(f"out={out}")
    cfg = load_yaml_config(config, extra, model=BenchmarkConfig)
    result = with_progress("benchmark", lambda cb: run_benchmark(cfg, progress=cb), unit="steps")
    out_console.print(result.summary.round(3).to_string(index=False))
    out_console.print(f"written: {result.out}/benchmark.md (and CSV, PNG, config.yaml)")
