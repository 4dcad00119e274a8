"""Shared steps of ranking: extract features of every candidate, score them, time it."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from weightzoo.select._validate import SelectInputError
from weightzoo.select.candidates import ExtractedFeatures, FeatureExtractor
from weightzoo.select.scores import SCORES

log = logging.getLogger(__name__)


@dataclass
class Extracted:
    """Features of one candidate on one dataset and the seconds the forward pass took."""

    out: ExtractedFeatures
    seconds: float


def extract_all(extractors: Mapping[str, FeatureExtractor], x) -> dict[str, Extracted]:  # noqa: ANN001
    """Run every candidate on ``x`` (N, *input_shape); timed per candidate."""
    result = {}
    for name, extractor in extractors.items():
        start = time.perf_counter()
        out = extractor.extract(x)
        result[name] = Extracted(out, time.perf_counter() - start)
    return result


def score_input(entry_needs: str, out: ExtractedFeatures) -> np.ndarray:
    """The first argument a score needs: features, source probabilities or source labels."""
    if entry_needs == "features":
        return out.features
    if entry_needs == "source_probs":
        return out.source_probs
    return out.source_probs.argmax(1)


def score_candidates(
    method: str, extracted: Mapping[str, Extracted], labels: np.ndarray
) -> tuple[np.ndarray, float]:
    """Scores of every candidate with a registered score, and the total seconds.

    The seconds include each candidate's forward pass (every score needs one).
    A score that rejects a candidate's input (e.g. constant features) gives
    NaN for it and a warning.

    Returns:
        (M,) scores in the order of ``extracted`` and the wall time.
    """
    entry = SCORES[method]
    scores = []
    total = 0.0
    for name, ex in extracted.items():
        start = time.perf_counter()
        try:
            value = float(entry.fn(score_input(entry.needs, ex.out), labels))
        except SelectInputError as err:
            log.warning("%s of %s: %s", method, name, err)
            value = float("nan")
        total += time.perf_counter() - start + ex.seconds
        scores.append(value)
    return np.asarray(scores), total


def rank_table(names: Sequence[str], scores: np.ndarray):  # noqa: ANN201
    """A DataFrame of models best first: ``rank``, ``model``, ``score`` (NaN last)."""
    import pandas as pd

    order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(order) + 1),
            "model": [names[i] for i in order],
            "score": scores[order],
        }  # fmt: skip
    )
