"""Transferability scores: how well a pre-trained model's features fit a target task.

Every score is a plain function ``score(inputs, labels) -> float`` (numpy or
torch arrays in), higher meaning better expected transfer, registered in
``SCORES`` with its paper's URL and the kind of input it needs.
"""

from weightzoo.select.scores._registry import SCORES, ScoreEntry, list_scores, register_score
from weightzoo.select.scores.gbc import gbc
from weightzoo.select.scores.hscore import hscore, hscore_shrinkage
from weightzoo.select.scores.information import leep, nce
from weightzoo.select.scores.logme import logme
from weightzoo.select.scores.transrate import coding_rate, transrate

__all__ = [
    "SCORES",
    "ScoreEntry",
    "coding_rate",
    "gbc",
    "hscore",
    "hscore_shrinkage",
    "leep",
    "list_scores",
    "logme",
    "nce",
    "register_score",
    "transrate",
]
