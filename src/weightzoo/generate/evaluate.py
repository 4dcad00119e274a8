"""Do generated networks work? Fine-tuning curves, baselines, diversity, ensembles, transfer.

For each method (a sampler fitted on the top fraction of a zoo), ``n`` models
are generated and fine-tuned for ``epochs`` epochs on the zoo's training split
with the settings of the best anchor model; their test accuracy after 0, 1,
..., k epochs is compared with (a) the same architecture from random
initialization trained identically and (b) the zoo's own models after the
same number of epochs of their own training (from the catalog). One-sided
Mann–Whitney U tests (scipy) give the p-value that a method's accuracies are
greater. Diversity (pairwise weight distance, prediction disagreement,
nearest-neighbour distance to every source model) shows whether generated
models are new or copies; ensembles average generated models' softmax; and
transfer fine-tunes generated and random models on a shifted copy of the data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from scipy.stats import mannwhitneyu

from weightzoo.data import SplitData
from weightzoo.generate._finetune import make_population, predict_proba, train_curve
from weightzoo.generate.api import default_settings, generate
from weightzoo.generate.samplers import SAMPLERS, select_top
from weightzoo.generate.source import SourceModels, source_models, zoo_data
from weightzoo.seeding import derive_seed
from weightzoo.zoo.zoo import Zoo

log = logging.getLogger(__name__)

RANDOM = "random init"
ZOO = "zoo (own training)"


class EvalConfig(BaseModel):
    """What ``evaluate_generation`` runs.

    Attributes:
        methods: ``"sampler@top"`` entries, e.g. ``"kde@0.3"`` (KDE on the top 30%).
        n: generated models per method (and random-init models); the issue asks >= 30.
        epochs: fine-tuning epochs k (accuracy is recorded after every epoch).
        seed: seeds sampling and the random-init baseline.
        transfer: a domain shift (``weightzoo.data.domains``) of the zoo's data as the
            second dataset, or None to skip transfer.
        transfer_method: the method whose models are transferred.
        sampler_params: per sampler name, keyword parameters.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    methods: list[str] = [
        "kde@0.3",
        "kde@1.0",
        "kde_joint@0.3",
        "gmm@0.3",
        "neighbourhood@0.3",
        "uniform@0.3",
    ]
    n: int = Field(30, ge=1)
    epochs: int = Field(5, ge=1)
    seed: int = 0
    transfer: str | None = "invert"
    transfer_method: str = "kde@0.3"
    sampler_params: dict[str, dict[str, Any]] = {}

    @field_validator("methods")
    @classmethod
    def _methods(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("expected at least one method")
        for m in v:
            parse_method(m)
        return v


def parse_method(method: str) -> tuple[str, float]:
    """``"kde@0.3"`` -> ``("kde", 0.3)``; a bare sampler name means the top 30%.

    Raises:
        ValueError: unknown sampler or a top fraction outside ``(0, 1]``.
    """
    name, _, top = method.partition("@")
    if name not in SAMPLERS:
        raise ValueError(
            f"method {method!r}: unknown sampler {name!r}; expected one of {sorted(SAMPLERS)}"
        )
    try:
        frac = float(top) if top else 0.3
    except ValueError:
        raise ValueError(f"method {method!r}: top fraction {top!r} is not a number") from None
    if not 0.0 < frac <= 1.0:
        raise ValueError(f"method {method!r}: top fraction must be in (0, 1], got {frac}")
    return name, frac


def mann_whitney_greater(a: np.ndarray, b: np.ndarray) -> float:
    """One-sided Mann–Whitney U p-value that ``a`` tends to be greater than ``b`` (scipy)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    return float(mannwhitneyu(a, b, alternative="greater").pvalue)


def _flat(weights: list[dict[str, torch.Tensor]]) -> torch.Tensor:
    names = [k for k in weights[0] if weights[0][k].is_floating_point()]
    return torch.stack([torch.cat([w[k].reshape(-1).double() for k in names]) for w in weights])


def _mean_offdiag(m: torch.Tensor) -> float:
    n = m.shape[0]
    if n < 2:
        return float("nan")
    return float((m.sum() - m.diagonal().sum()) / (n * (n - 1)))


def diversity(
    generated: list[dict[str, torch.Tensor]],
    zoo_weights: list[dict[str, torch.Tensor]],
    probs: torch.Tensor,
) -> dict[str, float]:
    """Pairwise distance, prediction disagreement and nearest-neighbour distance to the zoo.

    Args:
        generated: the generated models' state dicts.
        zoo_weights: every source model (the set a copy would come from).
        probs: ``(n, N, C)`` the generated models' test predictions.

    Returns:
        ``pairwise_l2`` (mean over pairs), ``disagreement`` (mean fraction of test
        inputs on which two models' predicted classes differ), ``nn_to_zoo``
        (median L2 distance to the nearest source model), ``min_nn_to_zoo``.
    """
    g, z = _flat(generated), _flat(zoo_weights)
    pred = probs.argmax(-1)
    disagree = (pred[:, None, :] != pred[None, :, :]).double().mean(-1)
    nn = torch.cdist(g, z).min(dim=1).values
    return {
        "pairwise_l2": _mean_offdiag(torch.cdist(g, g)),
        "disagreement": _mean_offdiag(disagree),
        "nn_to_zoo": float(nn.median()),
        "min_nn_to_zoo": float(nn.min()),
    }


def zoo_reference_diversity(
    zoo_weights: list[dict[str, torch.Tensor]], probs: torch.Tensor
) -> dict[str, float]:
    """The same statistics among the source models themselves (leave-one-out nearest neighbour)."""
    z = _flat(zoo_weights)
    d = torch.cdist(z, z)
    d.fill_diagonal_(float("inf"))
    pred = probs.argmax(-1)
    disagree = (pred[:, None, :] != pred[None, :, :]).double().mean(-1)
    nn = d.min(dim=1).values
    d.fill_diagonal_(0.0)
    return {
        "pairwise_l2": _mean_offdiag(d),
        "disagreement": _mean_offdiag(disagree),
        "nn_to_zoo": float(nn.median()),
        "min_nn_to_zoo": float(nn.min()),
    }


def _ensemble_acc(probs: torch.Tensor, y: torch.Tensor) -> float:
    return float((probs.mean(0).argmax(-1) == y).double().mean())


@dataclass(eq=False)
class EvalResult:
    """Everything ``evaluate_generation`` measured.

    Attributes:
        curves: one row per (method, model, epoch): ``test_acc``; methods include
            ``RANDOM`` and ``ZOO``.
        summary: one row per method: accuracy mean/std at epochs 0, 1 and k, p-values
            against random init and against the zoo at epochs 1 and k, diversity, ensembles.
        transfer: one row per (method, model, epoch) on the shifted data, or None.
        config: the resolved config.
        info: source architecture, anchors, fine-tuning settings.
    """

    curves: pd.DataFrame
    summary: pd.DataFrame
    transfer: pd.DataFrame | None
    config: EvalConfig
    info: dict[str, Any]


def _curve_rows(method: str, acc: np.ndarray) -> list[dict[str, Any]]:
    return [
        {"method": method, "model": i, "epoch": e, "test_acc": float(acc[i, e])}
        for i in range(acc.shape[0])
        for e in range(acc.shape[1])
    ]


def evaluate_generation(
    zoo: Zoo,
    encoder: Any,
    config: EvalConfig | None = None,
    *,
    source: SourceModels | None = None,
    data: SplitData | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvalResult:
    """Generate with every method of ``config`` and measure the models against the baselines.

    Args:
        zoo: the source zoo.
        encoder: a fitted decoding encoder (``hyperrep``).
        config: what to run (defaults: ``EvalConfig()``).
        source: the source models (default: the zoo's models of the encoder's architecture).
        data: the zoo's dataset (loaded from ``zoo.json`` by default).
        progress: ``(done, total)`` over fine-tuning epochs of all populations.
    """
    config = config or EvalConfig()
    source = source or source_models(zoo, spec=encoder.spec)
    for m in config.methods:  # fail on an empty selection before any work
        select_top(source.scores, parse_method(m)[1])
    data = data or zoo_data(zoo)
    settings = default_settings(source)
    k = config.epochs
    n_pops = len(config.methods) + 1 + (2 if config.transfer else 0)
    total, done = n_pops * k, 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    x_tr, y_tr, x_te, y_te = data.x_train, data.y_train, data.x_test, data.y_test
    last_epoch = int(source.final["epoch"].max())
    stacked = zoo.stacked(last_epoch, source.model_ids)
    zoo_weights = [{kk: v[i] for kk, v in stacked.items()} for i in range(len(source.model_ids))]
    zoo_pop = make_population(source.spec, settings, range(len(zoo_weights)), zoo_weights)
    zoo_probs = predict_proba(zoo_pop, x_te)
    top_idx = (
        select_top(source.scores, 0.3) if len(source.scores) >= 4 else np.arange(len(source.scores))
    )

    rows: list[dict[str, Any]] = []
    stats: dict[str, dict[str, float]] = {}
    generated_for_transfer = None
    for method in config.methods:
        sampler, top = parse_method(method)
        gen = generate(zoo, encoder, sampler=sampler, top=top, n=config.n, seed=config.seed,
                       sampler_params=config.sampler_params.get(sampler), source=source, data=data)  # fmt: skip
        if method == config.transfer_method:
            generated_for_transfer = gen.weights
        pop = make_population(source.spec, settings, range(config.n), gen.weights)
        probs0 = predict_proba(pop, x_te)
        ens: dict[str, float] = {"ensemble_acc_0": _ensemble_acc(probs0, y_te)}
        acc = train_curve(pop, x_tr, y_tr, x_te, y_te, k, tick)
        ens[f"ensemble_acc_{k}"] = _ensemble_acc(predict_proba(pop, x_te), y_te)
        rows += _curve_rows(method, acc)
        stats[method] = {**diversity(gen.weights, zoo_weights, probs0), **ens}

    seeds = [derive_seed(config.seed, "random-init", i) % 2**31 for i in range(config.n)]
    rand = make_population(source.spec, settings, seeds)
    probs0 = predict_proba(rand, x_te)
    rand_w0 = [{kk: v[i] for kk, v in rand.weights().items()} for i in range(config.n)]
    acc = train_curve(rand, x_tr, y_tr, x_te, y_te, k, tick)
    rows += _curve_rows(RANDOM, acc)
    stats[RANDOM] = {
        **diversity(rand_w0, zoo_weights, probs0),
        "ensemble_acc_0": _ensemble_acc(probs0, y_te),
        f"ensemble_acc_{k}": _ensemble_acc(predict_proba(rand, x_te), y_te),
    }
    # The zoo's own models after the same epochs of their own training (catalog).
    cat = zoo.catalog
    own = cat[cat["model_id"].isin(source.model_ids) & (cat["epoch"] <= k)]
    for i, (_, g) in enumerate(own.sort_values("epoch").groupby("model_id", sort=True)):
        rows += [{"method": ZOO, "model": i, "epoch": int(e), "test_acc": float(a)}
                 for e, a in zip(g["epoch"], g["test_acc"], strict=True)]  # fmt: skip
    stats[ZOO] = {
        **zoo_reference_diversity(zoo_weights, zoo_probs),
        "ensemble_acc_0": float("nan"),
        f"ensemble_acc_{k}": float("nan"),
        "ensemble_top_final": _ensemble_acc(zoo_probs[torch.as_tensor(top_idx)], y_te),
    }
    curves = pd.DataFrame(rows)
    summary = summarize(curves, stats, k)

    transfer = None
    if config.transfer and generated_for_transfer is not None:
        transfer = _transfer(config, source, settings, data, generated_for_transfer, seeds, tick)
    info = {
        "spec": source.spec.to_dict(),
        "source_models": len(source.model_ids),
        "score_column": source.score_column,
        "finetune_settings": settings,
        "dataset": data.name,
    }
    return EvalResult(curves=curves, summary=summary, transfer=transfer, config=config, info=info)


def _transfer(config: EvalConfig, source: SourceModels, settings: dict[str, Any], data: SplitData,
              generated: list[dict[str, torch.Tensor]], seeds: list[int],
              tick: Callable[[], None]) -> pd.DataFrame:  # fmt: skip
    from weightzoo.data.domains import apply_shift

    shift = config.transfer
    assert shift is not None
    x_tr = apply_shift(data.x_train, shift, seed=derive_seed(config.seed, "transfer", "train"))
    x_te = apply_shift(data.x_test, shift, seed=derive_seed(config.seed, "transfer", "test"))
    rows = []
    for method, weights in ((config.transfer_method, generated), (RANDOM, None)):
        pop = make_population(
            source.spec, settings, seeds if weights is None else range(config.n), weights
        )
        acc = train_curve(pop, x_tr, data.y_train, x_te, data.y_test, config.epochs, tick)
        rows += _curve_rows(method, acc)
    return pd.DataFrame(rows).assign(dataset=f"{data.name}+{shift}")


def summarize(curves: pd.DataFrame, stats: dict[str, dict[str, float]], k: int) -> pd.DataFrame:
    """One row per method: accuracies at 0/1/k, p-values against random init and the zoo, stats."""
    out = []
    at = {
        (m, e): g["test_acc"].to_numpy()
        for (m, e), g in curves.groupby(["method", "epoch"], sort=False)
    }
    epochs = sorted({0, 1, k})
    for method in curves["method"].unique():
        row: dict[str, Any] = {
            "method": method,
            "n": int(at[(method, 0)].shape[0]) if (method, 0) in at else 0,
        }
        for e in epochs:
            a = at.get((method, e), np.array([]))
            row[f"acc_{e}_mean"] = float(a.mean()) if len(a) else float("nan")
            row[f"acc_{e}_std"] = float(a.std(ddof=1)) if len(a) > 1 else float("nan")
        for e in sorted({1, k}):
            a = at.get((method, e), np.array([]))
            row[f"p_vs_random_{e}"] = (
                mann_whitney_greater(a, at.get((RANDOM, e), np.array([])))
                if method != RANDOM
                else float("nan")
            )
            row[f"p_vs_zoo_{e}"] = (
                mann_whitney_greater(a, at.get((ZOO, e), np.array([])))
                if method != ZOO
                else float("nan")
            )
        row.update(stats.get(method, {}))
        out.append(row)
    return pd.DataFrame(out)


__all__ = [
    "RANDOM",
    "ZOO",
    "EvalConfig",
    "EvalResult",
    "diversity",
    "evaluate_generation",
    "mann_whitney_greater",
    "parse_method",
    "summarize",
]
