"""Model-GLUE selective merging: grow a merge greedily, keeping a candidate only if it does not hurt.

Model-GLUE (https://arxiv.org/abs/2410.05357, Sec. 3.2 and ``heuristic_merge.py``)
orders the models of a mergeable cluster by their held-out score, starts from
the best one and, for each next candidate, merges it into the current model
with coefficient ``c`` for the current model and ``1 - c`` for the candidate.
With coefficient search ``c`` is the best of a grid (0.1 ... 0.9); without it,
``c = (k + 1) / (k + 2)`` after ``k`` accepted candidates (a running average).
The candidate is kept when the merged score is not below the best so far
(``>=``, as in the paper's code), else dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from weightzoo.errors import ConfigError

__all__ = ["MergeStep", "SelectiveMergeResult", "selective_merge"]

log = logging.getLogger(__name__)

Weights = dict[str, Tensor]
DEFAULT_GRID = tuple(i / 10 for i in range(1, 10))


@dataclass(frozen=True)
class MergeStep:
    """One round: a candidate tried at its best coefficient.

    Attributes:
        candidate: the model tried.
        coefficient: weight of the current merge (the candidate gets ``1 - c``).
        score: held-out score of that merge.
        best_before: best score before this round.
        accepted: whether the candidate stays in.
        tried: ``(coefficient, score)`` of every grid point evaluated.
    """

    candidate: str
    coefficient: float
    score: float
    best_before: float
    accepted: bool
    tried: tuple[tuple[float, float], ...] = ()


@dataclass
class SelectiveMergeResult:
    """The merged model and how it was grown.

    Attributes:
        weights: the merged weights.
        members: models kept, in the order they were added.
        coefficients: member -> its effective coefficient in the final merge
            (products of the rounds' ``c`` and ``1 - c``; they sum to 1).
        score: held-out score of the result.
        initial_scores: each model's own held-out score.
        steps: one per candidate tried.
    """

    weights: Weights
    members: list[str]
    coefficients: dict[str, float]
    score: float
    initial_scores: dict[str, float]
    steps: list[MergeStep] = field(default_factory=list)


def selective_merge(
    models: Mapping[str, Weights],
    score: Callable[[Weights], float],
    *,
    merge: Callable[[list[Weights], list[float]], Weights] | None = None,
    method: str = "linear",
    base: Weights | None = None,
    method_params: Mapping[str, Any] | None = None,
    coefficient_search: bool = True,
    grid: Sequence[float] = DEFAULT_GRID,
) -> SelectiveMergeResult:
    """Greedy selective merging of one cluster (Model-GLUE's heuristic).

    Args:
        models: name -> weights of one mergeable cluster.
        score: held-out score of a weight set, higher is better (e.g. mean
            validation accuracy over the tasks).
        merge: ``(two weight sets, two coefficients) -> merged``; default
            ``merge_state_dicts([current, candidate], method, base=base,
            weights=[c, 1 - c], **method_params)``.
        method: a ``MERGE_METHODS`` name for the default ``merge``.
        base: base model for task-vector methods.
        method_params: further parameters of the method (``density`` ...).
        coefficient_search: search ``c`` over ``grid`` (else the running average).
        grid: coefficients of the current merge to try, each in (0, 1).

    Returns:
        The merge, its members, effective coefficients and every step.

    Raises:
        ConfigError: no model, or a grid value outside (0, 1).
    """
    if not models:
        raise ConfigError("selective merge: expected at least one model")
    if coefficient_search and (not grid or any(not 0.0 < c < 1.0 for c in grid)):
        raise ConfigError(f"merge.grid: expected coefficients in (0, 1), got {list(grid)}")
    if merge is None:
        from weightzoo.merge import merge_state_dicts

        params = dict(method_params or {})

        def merge(pair: list[Weights], coefs: list[float]) -> Weights:
            return merge_state_dicts(pair, method, base=base, weights=coefs, **params)

    initial = {name: float(score(w)) for name, w in models.items()}
    # Best first (stable for ties: input order), as Model-GLUE's "acc" ordering.
    order = sorted(models, key=lambda n: -initial[n])
    current, best = models[order[0]], initial[order[0]]
    members, coefs = [order[0]], {order[0]: 1.0}
    steps: list[MergeStep] = []
    for cand in order[1:]:
        candidates = grid if coefficient_search else [len(members) / (len(members) + 1)]
        tried = []
        round_best: tuple[float, float, Weights] | None = None
        for c in candidates:
            merged = merge([current, models[cand]], [float(c), 1.0 - float(c)])
            s = float(score(merged))
            tried.append((float(c), s))
            if round_best is None or s > round_best[1]:
                round_best = (float(c), s, merged)
        assert round_best is not None
        c, s, merged = round_best
        accepted = s >= best
        steps.append(MergeStep(cand, c, s, best, accepted, tuple(tried)))
        log.info(
            "selective merge: %s at c=%.2f -> %.4f (best %.4f): %s",
            cand,
            c,
            s,
            best,
            "kept" if accepted else "dropped",
        )
        if accepted:
            current, best = merged, s
            coefs = {m: v * c for m, v in coefs.items()}
            coefs[cand] = 1.0 - c
            members.append(cand)
    return SelectiveMergeResult(
        weights=current,
        members=members,
        coefficients=coefs,
        score=best,
        initial_scores=initial,
        steps=steps,
    )
