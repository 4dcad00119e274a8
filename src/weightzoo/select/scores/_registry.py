"""The score registry: ``SCORES`` maps a name to its function, paper and input kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["SCORES", "ScoreEntry", "list_scores", "register_score"]

Needs = Literal["features", "source_probs", "source_labels"]


@dataclass(frozen=True)
class ScoreEntry:
    """One registered transferability score.

    Attributes:
        name: registry name, as in the literature (``logme``, ``leep``, ...).
        fn: ``fn(inputs, labels) -> float``; higher means the model should transfer better.
        url: the paper that defines the score.
        needs: what the first argument is: ``"features"`` (N, D) penultimate
            features, ``"source_probs"`` (N, Z) source-head softmax outputs, or
            ``"source_labels"`` (N,) source-head predicted classes.
        summary: one line for listings.
    """

    name: str
    fn: Callable[..., float]
    url: str
    needs: Needs
    summary: str


SCORES: dict[str, ScoreEntry] = {}


def register_score(
    name: str, *, url: str, needs: Needs, summary: str
) -> Callable[[Callable[..., float]], Callable[..., float]]:
    """Register a score function under ``name`` (decorator; returns the function unchanged)."""

    def decorator(fn: Callable[..., float]) -> Callable[..., float]:
        if name in SCORES:
            raise ValueError(f"score '{name}' is already registered")
        SCORES[name] = ScoreEntry(name=name, fn=fn, url=url, needs=needs, summary=summary)
        return fn

    return decorator


def list_scores(*, needs: Needs | None = None) -> list[str]:
    """Registered score names, sorted; ``needs`` filters by input kind."""
    return sorted(n for n, e in SCORES.items() if needs is None or e.needs == needs)
