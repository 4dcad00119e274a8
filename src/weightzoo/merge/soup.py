"""Model soups (Wortsman et al., ICML 2022): uniform and greedy averages of fine-tunes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from weightzoo.merge._apply import merge_state_dicts

SOUP_URL = "https://arxiv.org/abs/2203.05482"

StateDict = dict[str, torch.Tensor]


@dataclass(frozen=True)
class SoupResult:
    """A greedy soup: the averaged weights, which models went in, and the scores.

    Attributes:
        state_dict: the uniform average of the chosen models.
        chosen: indices (into the input list) of the models in the soup, in the order added.
        individual: held-out score of each input model.
        score: held-out score of the soup.
    """

    state_dict: StateDict
    chosen: tuple[int, ...]
    individual: tuple[float, ...]
    score: float


def uniform_soup(models: Sequence[StateDict]) -> StateDict:
    """The plain average of the models' weights (all with the same names and shapes)."""
    return merge_state_dicts(list(models), "linear")


def greedy_soup(
    models: Sequence[StateDict],
    score: Callable[[StateDict], float],
    *,
    individual: Sequence[float] | None = None,
) -> SoupResult:
    """Greedy soup: visit models from best to worst held-out score and keep each one
    whose addition to the uniform average does not lower the soup's score.

    Args:
        models: fine-tunes of one base (same names and shapes).
        score: held-out score of a state dict, higher is better (e.g. accuracy).
        individual: precomputed ``score`` of each model (computed if None).

    Returns:
        A SoupResult; with one model, that model.
    """
    if not models:
        raise ValueError("greedy_soup: no models")
    ind = [float(s) for s in individual] if individual is not None else [score(m) for m in models]
    if len(ind) != len(models):
        raise ValueError(f"greedy_soup: {len(ind)} scores for {len(models)} models")
    order = sorted(range(len(models)), key=lambda i: -ind[i])
    chosen = [order[0]]
    soup, best = models[order[0]], ind[order[0]]
    for i in order[1:]:
        candidate = uniform_soup([models[j] for j in (*chosen, i)])
        s = float(score(candidate))
        if s >= best:
            chosen.append(i)
            soup, best = candidate, s
    return SoupResult(dict(soup), tuple(chosen), tuple(ind), best)
