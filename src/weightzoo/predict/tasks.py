"""Property-prediction tasks: which catalog column to predict, and how.

A task names a column of a zoo's catalog (one row per model and epoch) and
whether it is a regression (test accuracy, generalization gap, epoch) or a
classification (activation, init, optimizer). Tasks are registered with
``register_task`` so tests and benchmarks walk ``TASKS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from weightzoo.errors import ConfigError

__all__ = ["TASKS", "Task", "get_task", "register_task", "task_targets"]


@dataclass(frozen=True)
class Task:
    """One thing to predict from a network's weights.

    Attributes:
        name: registry name, e.g. ``"test_acc"``.
        column: the catalog column holding the target.
        kind: ``"regression"`` or ``"classification"``.
        unit_interval: a regression target known to lie in [0, 1] (an
            accuracy): end-to-end training then uses a sigmoid head with binary
            cross-entropy, as the SNE and NFN papers do for accuracy.
        description: one line for tables and ``--help``.
    """

    name: str
    column: str
    kind: Literal["regression", "classification"]
    unit_interval: bool = False
    description: str = ""

    @property
    def headline(self) -> str:
        """The metric a table reports for this task: Kendall tau or accuracy."""
        return "kendall_tau" if self.kind == "regression" else "accuracy"


TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    """Add ``task`` to ``TASKS`` and return it.

    Raises:
        ValueError: if the name is taken.
    """
    if task.name in TASKS:
        raise ValueError(f"task {task.name!r} is already registered")
    TASKS[task.name] = task
    return task


register_task(Task("test_acc", "test_acc", "regression", True, "test accuracy"))
register_task(Task("gen_gap", "gen_gap", "regression", False, "train minus test accuracy"))
register_task(Task("epoch", "epoch", "regression", False, "training epoch of the checkpoint"))
register_task(Task("activation", "activation", "classification", False, "activation function"))
register_task(Task("init", "init", "classification", False, "weight initialization"))
register_task(Task("optimizer", "optimizer", "classification", False, "optimizer"))


def get_task(name: str | Task) -> Task:
    """The registered task of that name (a ``Task`` passes through).

    Raises:
        ConfigError: unknown name (the message lists the known ones).
    """
    if isinstance(name, Task):
        return name
    if name not in TASKS:
        raise ConfigError(f"task: unknown task {name!r}; expected one of {', '.join(TASKS)}")
    return TASKS[name]


def task_targets(task: str | Task, rows: pd.DataFrame) -> np.ndarray:
    """The targets of ``task`` for catalog rows.

    Args:
        task: a task or its name.
        rows: catalog rows (one per model and epoch).

    Returns:
        ``(N,)`` float64 for a regression, ``(N,)`` of ``str`` labels for a
        classification.

    Raises:
        ConfigError: the column is missing, or a regression target is not finite.
    """
    task = get_task(task)
    if task.column not in rows.columns:
        raise ConfigError(
            f"task {task.name!r}: the catalog has no column {task.column!r} "
            f"(columns: {', '.join(map(str, rows.columns))})"
        )
    values = rows[task.column].to_numpy()
    if task.kind == "classification":
        return np.asarray([str(v) for v in values], dtype=object).astype(str)
    out = values.astype(np.float64)
    if not np.isfinite(out).all():
        bad = int((~np.isfinite(out)).sum())
        raise ConfigError(f"task {task.name!r}: {bad} catalog row(s) have a non-finite target")
    return out
