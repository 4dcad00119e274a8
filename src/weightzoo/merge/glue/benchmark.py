"""Compare every applicable merge method, an output ensemble and the Model-GLUE recipe on a fine-tune zoo.

Used by ``benchmarks/merge_finetunes.py`` and the demo's merging section. Each
method's hyperparameters are chosen on the validation split (mean accuracy
over the tasks) from a small grid; every number reported is on the test split.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from weightzoo.arch import build_model
from weightzoo.merge.finetune_zoo import FinetuneZoo, evaluate_accuracy, weights_predictor
from weightzoo.merge.glue.config import ClusterConfig, GlueConfig, MergeConfig, MixtureConfig

__all__ = ["METHOD_GRIDS", "MethodRow", "compare_merges"]

log = logging.getLogger(__name__)

# Hyperparameter grids searched on the validation split; the first entry is the quick one.
METHOD_GRIDS: dict[str, list[dict]] = {
    "linear": [{}],
    "task_arithmetic": [{"lambda": lam} for lam in (0.5, 0.3, 0.7, 1.0)],
    "ties": [{"density": d, "lambda": lam} for d in (0.3, 0.6) for lam in (1.0, 0.7)],
    "dare_linear": [{"density": d, "lambda": lam} for d in (0.5, 0.3) for lam in (0.5, 0.7)],
    "dare_ties": [{"density": d, "lambda": lam} for d in (0.5, 0.3) for lam in (1.0, 0.7)],
    "breadcrumbs": [
        {"density": d, "gamma": 0.01, "lambda": lam} for d in (0.5, 0.3) for lam in (0.5, 0.7)
    ],
    "model_stock": [{}],
    "fisher": [{}],
    "regmean": [{}],
    "slerp": [{"t": 0.5}],
}


@dataclass(frozen=True)
class MethodRow:
    """One line of the comparison: test accuracy per task, mean, chosen parameters."""

    name: str
    kind: str
    test_acc: dict[str, float]
    params: str = ""
    seconds: float = 0.0

    @property
    def mean(self) -> float:
        return float(np.mean(list(self.test_acc.values())))


def _mean_val(zoo: FinetuneZoo, w: dict[str, Tensor]) -> float:
    return float(np.mean(list(zoo.accuracy(w, "val").values())))


def _aux(zoo: FinetuneZoo, method: str, n: int) -> dict:
    """Per-fine-tune statistics on its own task's training inputs (Fisher, RegMean)."""
    from weightzoo.merge import collect_grams, estimate_fisher

    out = []
    for task, w in zoo.finetunes.items():
        model = build_model(zoo.spec)
        model.load_state_dict(w)
        x, y = zoo.tasks[task].x_train[:n], zoo.tasks[task].y_train[:n]
        batches = [(x[s : s + 128], y[s : s + 128]) for s in range(0, n, 128)]
        if method == "fisher":
            out.append(estimate_fisher(model, batches))
        else:
            out.append(collect_grams(model, [b[0] for b in batches]))
    return {"fishers" if method == "fisher" else "grams": out}


def _run_method(zoo: FinetuneZoo, method: str, quick: bool, aux_examples: int) -> MethodRow:
    from weightzoo.merge import MERGE_METHODS, merge_state_dicts

    entry = MERGE_METHODS[method]
    fts = list(zoo.finetunes.values())
    grid = METHOD_GRIDS.get(method, [{}])[:1] if quick else METHOD_GRIDS.get(method, [{}])
    start = time.perf_counter()
    if method == "slerp":
        # SLERP merges two models: every pair, scored like the others; the row is the pair mean.
        accs, pairs = [], list(itertools.combinations(list(zoo.finetunes), 2))
        for a, b in pairs:
            w = merge_state_dicts([zoo.finetunes[b]], "slerp", base=zoo.finetunes[a], **grid[0])
            accs.append(zoo.accuracy(w))
        test = {t: float(np.mean([a[t] for a in accs])) for t in zoo.tasks}
        return MethodRow(
            "slerp (mean of pairs)", "merge", test, "t=0.5", time.perf_counter() - start
        )
    extra = _aux(zoo, method, aux_examples) if entry.aux else {}
    base = zoo.base if entry.needs_base else None
    best: tuple[float, dict, dict[str, Tensor]] | None = None
    for params in grid:
        kwargs = dict(params)
        if "weight" in entry.model_params:
            kwargs["weights"] = [1.0] * len(fts)
        w = merge_state_dicts(fts, method, base=base, **kwargs, **extra)
        score = _mean_val(zoo, w)
        if best is None or score > best[0]:
            best = (score, params, w)
    assert best is not None
    label = ", ".join(f"{k}={v}" for k, v in best[1].items())
    return MethodRow(method, "merge", zoo.accuracy(best[2]), label, time.perf_counter() - start)


def compare_merges(
    zoo: FinetuneZoo,
    *,
    methods: list[str] | None = None,
    quick: bool = False,
    glue: GlueConfig | None = None,
    router_epochs: int = 2,
    aux_examples: int = 512,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Per-task test accuracy of the base, each fine-tune, an ensemble, each merge method and Model-GLUE.

    Args:
        zoo: the fine-tune zoo (base + one fine-tune per task).
        methods: merge methods to run (default: every registered one that
            merges several fine-tunes of one base; ``passthrough`` is left out).
        quick: one grid point per method.
        glue: the recipe's settings (default: raw similarity at 0.95, greedy
            linear merging with coefficient search, hidden-state gates).
        router_epochs: epochs of the extra "router trained" Model-GLUE row (0: no such row).
        aux_examples: examples per fine-tune for Fisher and RegMean statistics.
        progress: step messages.

    Returns:
        One row per model or method: ``name``, ``kind``, ``params``, ``seconds``,
        one column per task and ``mean`` (accuracies in [0, 1]).
    """
    from weightzoo.merge import MERGE_METHODS
    from weightzoo.merge.glue.recipe import run_glue

    say = progress or (lambda _m: None)
    if methods is None:
        methods = [m for m in METHOD_GRIDS if m in MERGE_METHODS]
    rows = [MethodRow("base (pre-trained)", "single", zoo.accuracy(zoo.base))]
    rows += [
        MethodRow(f"fine-tune: {t}", "single", zoo.accuracy(w)) for t, w in zoo.finetunes.items()
    ]
    experts = [weights_predictor(zoo.spec, w) for w in zoo.finetunes.values()]

    def ensemble(x: Tensor) -> Tensor:
        return torch.stack([torch.softmax(e(x), -1) for e in experts]).mean(0)

    with torch.no_grad():
        rows.append(
            MethodRow(
                "output ensemble (mean probability)",
                "ensemble",
                evaluate_accuracy(ensemble, zoo.tasks),
            )
        )
    for m in methods:
        say(f"merge method {m}")
        try:
            rows.append(_run_method(zoo, m, quick, aux_examples))
        except Exception as e:  # noqa: BLE001  (one failing method must not hide the others)
            log.warning("merge method %s failed: %s", m, e)
            nan = {t: float("nan") for t in zoo.tasks}
            rows.append(MethodRow(m, "merge", nan, f"failed: {type(e).__name__}: {str(e)[:80]}"))

    models = {t: (zoo.spec, w) for t, w in zoo.finetunes.items()}
    experts_of = {t: [t] for t in zoo.finetunes}
    grid = [0.3, 0.5, 0.7] if quick else list(MergeConfig().grid)
    glue = glue or GlueConfig(
        models=[{"path": t} for t in zoo.finetunes],
        eval={"domains": list(zoo.tasks)},
        cluster=ClusterConfig(),
        merge=MergeConfig(coefficient_search=not quick, grid=grid),
        mixture=MixtureConfig(),
    )
    # The recipe with the paper's settings, then its mixture step alone over every
    # fine-tune (a threshold above 1 puts each model in its own cluster).
    variants = [
        (f"Model-GLUE ({glue.cluster.similarity} similarity > {glue.cluster.threshold})", glue),
        (
            "model-level mixture of the fine-tunes (hidden gates)",
            glue.model_copy(update={"cluster": ClusterConfig(threshold=1.0)}),
        ),
    ]
    for i, (label, cfg) in enumerate(variants):
        if i == 1 and len(rows[-1].params.split(" | ")) == len(models):
            break  # the recipe already put every fine-tune in its own cluster: same mixture
        say(label)
        start = time.perf_counter()
        result = run_glue(
            models, zoo.tasks, config=cfg, expert_tasks=experts_of, base=(zoo.spec, zoo.base)
        )
        clusters = " | ".join("+".join(c.merge.members) for c in result.clusters)
        rows.append(
            MethodRow(label, "glue", result.final_test, clusters, time.perf_counter() - start)
        )
        if router_epochs > 0 and result.mixture is not None:
            from weightzoo.merge.moe import train_router

            x = torch.cat([t.x_train[:500] for t in zoo.tasks.values()])
            y = torch.cat([t.y_train[:500] for t in zoo.tasks.values()])
            train_router(
                result.mixture, x, y, epochs=router_epochs, lr=cfg.mixture.lr, seed=cfg.seed
            )
            with torch.no_grad():
                acc = evaluate_accuracy(result.mixture, zoo.tasks)
            rows.append(
                MethodRow(f"{label} + router trained {router_epochs} epochs", "glue", acc, clusters)
            )
    tasks = list(zoo.tasks)
    return pd.DataFrame(
        [
            {
                "name": r.name,
                "kind": r.kind,
                **{t: r.test_acc[t] for t in tasks},
                "mean": r.mean,
                "params": r.params,
                "seconds": round(r.seconds, 3),
            }
            for r in rows
        ]
    )
