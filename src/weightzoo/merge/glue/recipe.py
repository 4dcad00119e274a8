"""The Model-GLUE recipe end to end: cluster, merge selectively, mix the clusters.

Model-GLUE (Zhao et al. 2024, https://arxiv.org/abs/2410.05357, Fig. 1):
(1) cluster the zoo by architecture and weight similarity; (2)+(3) merge
within each cluster, keeping only candidates that do not lower the held-out
score; (4) combine the merged clusters with a model-level mixture whose router
reads a pooled hidden state. ``run_glue`` does this on in-memory models and
``run_glue_config`` on model folders from a ``GlueConfig`` (the CLI's
``weightzoo merge glue``), writing every step's result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from weightzoo.arch import ArchSpec, build_model
from weightzoo.errors import ConfigError
from weightzoo.merge.finetune_zoo import TaskData, evaluate_accuracy
from weightzoo.merge.glue.config import GlueConfig
from weightzoo.merge.glue.mergeability import (
    architecture_key,
    cluster_by_mergeability,
    mergeability_matrix,
)
from weightzoo.merge.glue.selective import SelectiveMergeResult, selective_merge
from weightzoo.merge.moe import ModelMixture, hidden_gate_vectors, train_router

__all__ = ["ClusterResult", "GlueResult", "run_glue"]

log = logging.getLogger(__name__)

Model = tuple[ArchSpec, dict[str, Tensor]]


@dataclass
class ClusterResult:
    """One mergeable cluster and its selective merge.

    Attributes:
        members: input models in the cluster.
        merge: the selective merge (members kept, coefficients, steps).
        spec: the cluster's architecture.
        tasks: tasks its kept members are experts in (the router's examples).
        val_acc, test_acc: per-task accuracy of the merged model.
    """

    members: list[str]
    merge: SelectiveMergeResult
    spec: ArchSpec
    tasks: list[str]
    val_acc: dict[str, float]
    test_acc: dict[str, float]


@dataclass
class GlueResult:
    """Everything the recipe did, step by step.

    Attributes:
        inputs_val, inputs_test: model -> task -> accuracy of each input model.
        similarity: model names and the ``(M, M)`` mergeability matrix (within
            each architecture; NaN across architectures).
        clusters: one per cluster.
        mixture: the final mixture (None when there is one cluster).
        gate_init: ``(E, d)`` the router's initial gate vectors (None without a mixture).
        router_losses: mean loss per router-training epoch (empty without training).
        routing: task -> fraction of its test inputs routed to a cluster that is expert in
            it (tasks whose experts were all dropped by selective merging are absent).
        final_val, final_test: task -> accuracy of the final model.
    """

    inputs_val: dict[str, dict[str, float]]
    inputs_test: dict[str, dict[str, float]]
    similarity: tuple[list[str], np.ndarray]
    clusters: list[ClusterResult]
    mixture: ModelMixture | None
    gate_init: Tensor | None
    router_losses: list[float] = field(default_factory=list)
    routing: dict[str, float] = field(default_factory=dict)
    final_val: dict[str, float] = field(default_factory=dict)
    final_test: dict[str, float] = field(default_factory=dict)

    def predictor(self) -> Callable[[Tensor], Tensor]:
        """``x -> logits`` of the final model (the mixture, or the single cluster's merge)."""
        if self.mixture is not None:
            return self.mixture
        c = self.clusters[0]
        return _module(c.spec, c.merge.weights)


def _module(spec: ArchSpec, weights: Mapping[str, Tensor]) -> nn.Module:
    m = build_model(spec)
    m.load_state_dict(dict(weights))
    return m.eval()


def _mean(d: Mapping[str, float]) -> float:
    return float(np.mean(list(d.values())))


def _similarity(models: Mapping[str, Model], base: Model | None, use_base: bool) -> np.ndarray:
    names = list(models)
    sim = np.full((len(names), len(names)), np.nan)
    groups: dict[tuple, list[int]] = {}
    for i, n in enumerate(names):
        groups.setdefault(architecture_key(models[n][1]), []).append(i)
    base_key = None if base is None else architecture_key(base[1])
    for key, idx in groups.items():
        b = base[1] if (use_base and base is not None and key == base_key) else None
        sub = mergeability_matrix({names[i]: models[names[i]][1] for i in idx}, base=b)
        sim[np.ix_(idx, idx)] = sub
    return sim


def run_glue(
    models: Mapping[str, Model],
    tasks: Mapping[str, TaskData],
    *,
    config: GlueConfig,
    expert_tasks: Mapping[str, list[str]] | None = None,
    base: Model | None = None,
    progress: Callable[[str], None] | None = None,
) -> GlueResult:
    """Run the recipe on in-memory models.

    Args:
        models: name -> (spec, weights).
        tasks: evaluation tasks (``val`` is the held-out score, ``test`` is reported).
        config: the recipe's settings (its ``models``/``base_model``/``eval``
            entries are not read here).
        expert_tasks: model -> tasks it is an expert in (the router's examples);
            required for ``mixture.gate = hidden`` when there are several clusters.
        base: the base model, for task-vector similarity and methods.
        progress: called with a short message at each step.

    Returns:
        The result of every step.
    """
    say = progress or (lambda _m: None)
    expert_tasks = dict(expert_tasks or {})
    tasks = dict(tasks)
    use_base = config.cluster.similarity == "task_vector"

    def val_score(spec: ArchSpec, on: list[str]) -> Callable[[dict[str, Tensor]], float]:
        sub = {t: tasks[t] for t in on} if on else tasks
        return lambda w: _mean(evaluate_accuracy(_module(spec, w), sub, "val"))

    say("scoring the input models")
    inputs_val = {n: evaluate_accuracy(_module(*m), tasks, "val") for n, m in models.items()}
    inputs_test = {n: evaluate_accuracy(_module(*m), tasks, "test") for n, m in models.items()}

    say("clustering by mergeability")
    sim = _similarity(models, base, use_base)
    raw = {n: m[1] for n, m in models.items()}
    base_w = base[1] if (use_base and base is not None) else None
    clusters = cluster_by_mergeability(raw, threshold=config.cluster.threshold, base=base_w)

    results = []
    for k, members in enumerate(clusters):
        say(f"selective merging of cluster {k + 1}/{len(clusters)} ({len(members)} models)")
        spec = models[members[0]][0]
        same_arch = base is not None and architecture_key(base[1]) == architecture_key(
            raw[members[0]]
        )
        member_tasks = sorted({t for n in members for t in expert_tasks.get(n, []) if t in tasks})
        on = member_tasks if config.merge.score_on == "member_tasks" else []
        sm = selective_merge(
            {n: raw[n] for n in members},
            val_score(spec, on),
            method=config.merge.method,
            base=base[1] if same_arch else None,
            method_params=config.merge.parameters,
            coefficient_search=config.merge.coefficient_search,
            grid=config.merge.grid,
        )
        own = sorted({t for n in sm.members for t in expert_tasks.get(n, [])})
        merged = _module(spec, sm.weights)
        results.append(
            ClusterResult(
                members=members,
                merge=sm,
                spec=spec,
                tasks=own,
                val_acc=evaluate_accuracy(merged, tasks, "val"),
                test_acc=evaluate_accuracy(merged, tasks, "test"),
            )
        )

    result = GlueResult(inputs_val, inputs_test, (list(models), sim), results, None, None)
    if len(results) == 1:
        result.final_val, result.final_test = results[0].val_acc, results[0].test_acc
        return result

    say(f"model-level mixture of {len(results)} clusters")
    mix_cfg = config.mixture
    experts = [_module(c.spec, c.merge.weights) for c in results]
    if mix_cfg.router_model == "base" and base is not None:
        router = _module(*base)
    else:
        router = experts[0]
    if mix_cfg.gate == "hidden":
        missing = [i for i, c in enumerate(results) if not c.tasks]
        if missing:
            raise ConfigError(
                f"mixture.gate 'hidden' needs example inputs per expert, but cluster "
                f"{missing[0] + 1} ({', '.join(results[missing[0]].members)}) has no tasks; "
                "give each model's tasks, or use mixture.gate: random"
            )
        examples = [
            torch.cat(
                [tasks[t].x_train[: mix_cfg.examples_per_expert] for t in c.tasks if t in tasks]
            )
            for c in results
        ]
        gate = hidden_gate_vectors(router, examples, layer=mix_cfg.layer)
    else:
        d = _probe_dim(router, next(iter(tasks.values())).x_val[:1], mix_cfg.layer)
        gate = torch.randn(len(results), d, generator=torch.Generator().manual_seed(config.seed))
    mixture = ModelMixture(
        experts,
        router,
        gate,
        top_k=min(mix_cfg.top_k, len(experts)),
        layer=mix_cfg.layer,
        temperature=mix_cfg.temperature,
    )
    result.mixture, result.gate_init = mixture, gate.clone()
    if mix_cfg.train_epochs > 0:
        say("training the router")
        per_task = max(1, mix_cfg.train_examples // len(tasks))
        x = torch.cat([t.x_train[:per_task] for t in tasks.values()])
        y = torch.cat([t.y_train[:per_task] for t in tasks.values()])
        result.router_losses = train_router(
            mixture, x, y, epochs=mix_cfg.train_epochs, lr=mix_cfg.lr, seed=config.seed
        )
    with torch.no_grad():
        result.final_val = evaluate_accuracy(mixture, tasks, "val")
        result.final_test = evaluate_accuracy(mixture, tasks, "test")
        for name, task in tasks.items():
            experts_of = [i for i, c in enumerate(results) if name in c.tasks]
            if not experts_of:  # its fine-tune was dropped by selective merging
                continue
            chosen = mixture.route(task.x_test)
            result.routing[name] = float(
                torch.isin(chosen, torch.tensor(experts_of, dtype=torch.long)).float().mean()
            )
    return result


def _probe_dim(router: nn.Module, x: Tensor, layer: str | None) -> int:
    from weightzoo.merge.moe import pooled_hidden

    return int(pooled_hidden(router, x, layer=layer).shape[1])
