"""Source and target tasks of the candidate zoo, built from offline datasets.

A task is a dataset (or two stacked with disjoint labels), an optional class
subset and an optional domain shift. Every dataset's training split is cut in
two by a seeded permutation: sources pre-train on the first half, targets
fine-tune on the second, so no target image was seen in pre-training.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, field_validator

from weightzoo.data import SplitData, load_dataset
from weightzoo.errors import ConfigError
from weightzoo.seeding import generator

_FROZEN = ConfigDict(frozen=True, extra="forbid")
# Image datasets generated offline that share the 1x28x28 input space.
IMAGE_DATASETS = ("digits28", "shapes28")


def _rot90(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return torch.rot90(x, 1, dims=(-2, -1))


def _invert(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    # Inputs are standardized, so negation is a contrast inversion around the mean.
    return -x


def _noise(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return x + 0.8 * torch.randn(x.shape, generator=g)


def _translate(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return torch.roll(x, shifts=(5, 5), dims=(-2, -1))


def _blur(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return F.avg_pool2d(x, 5, stride=1, padding=2, count_include_pad=False)


SHIFTS: dict[str, Callable[[torch.Tensor, torch.Generator], torch.Tensor]] = {
    "none": lambda x, g: x,
    "rot90": _rot90,
    "invert": _invert,
    "noise": _noise,
    "translate": _translate,
    "blur": _blur,
}


class TaskSpec(BaseModel):
    """One classification task of the candidate zoo.

    Attributes:
        name: unique name, e.g. ``digits-5to9``.
        datasets: one or more offline 1x28x28 datasets; several are stacked with
            labels offset by 10 per dataset.
        classes: the kept classes (relabelled 0..k-1 in this order); None keeps all.
        shift: a domain shift from ``SHIFTS`` applied to every split.
    """

    model_config = _FROZEN
    name: str
    datasets: tuple[str, ...]
    classes: tuple[int, ...] | None = None
    shift: str = "none"

    @field_validator("datasets")
    @classmethod
    def _check_datasets(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [d for d in v if d not in IMAGE_DATASETS]
        if not v or bad:
            raise ValueError(f"expected datasets among {IMAGE_DATASETS}, got {list(v)}")
        return v

    @field_validator("shift")
    @classmethod
    def _check_shift(cls, v: str) -> str:
        if v not in SHIFTS:
            raise ValueError(f"expected a shift among {sorted(SHIFTS)}, got {v!r}")
        return v


@functools.lru_cache(maxsize=8)
def _dataset(name: str) -> SplitData:
    return load_dataset(name)


def _half(n: int, part: str, seed: int) -> torch.Tensor:
    perm = torch.randperm(n, generator=generator(seed, "candidate-zoo-halves"))
    return perm[: n // 2] if part == "source" else perm[n // 2 :]


def _cap(x: torch.Tensor, y: torch.Tensor, cap: int | None, g: torch.Generator):
    if cap is None or x.shape[0] <= cap:
        return x, y
    idx = torch.randperm(x.shape[0], generator=g)[:cap]
    return x[idx], y[idx]


def load_task(
    task: TaskSpec,
    part: str,
    *,
    n_train: int | None = None,
    n_eval: int | None = None,
    seed: int = 0,
) -> SplitData:
    """The task's data: train from the ``part`` half of the training split.

    Args:
        task: the task.
        part: ``"source"`` (pre-training half) or ``"target"`` (fine-tuning half).
        n_train: cap on training examples (seeded subset); None keeps all.
        n_eval: cap on validation and test examples each.
        seed: seed of the halves, the subsets and the noise of ``shift="noise"``.

    Returns:
        A ``SplitData`` named after the task, inputs of shape (1, 28, 28).

    Raises:
        ConfigError: unknown part, or a class subset with a class the data lacks.
    """
    if part not in ("source", "target"):
        raise ConfigError(f"task part: expected 'source' or 'target', got {part!r}")
    splits: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {
        "train": [],
        "val": [],
        "test": [],
    }
    for offset, name in enumerate(task.datasets):
        data = _dataset(name)
        half = _half(data.x_train.shape[0], part, seed)
        splits["train"].append((data.x_train[half], data.y_train[half] + 10 * offset))
        splits["val"].append((data.x_val, data.y_val + 10 * offset))
        splits["test"].append((data.x_test, data.y_test + 10 * offset))
    shift = SHIFTS[task.shift]
    out: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    n_classes = 10 * len(task.datasets)
    classes = task.classes if task.classes is not None else tuple(range(n_classes))
    if any(c < 0 or c >= n_classes for c in classes) or len(set(classes)) < 2:
        raise ConfigError(
            f"task {task.name!r}: classes must be >= 2 distinct values in [0, {n_classes}), "
            f"got {list(classes)}"
        )
    relabel = torch.full((n_classes,), -1, dtype=torch.int64)
    relabel[torch.tensor(classes)] = torch.arange(len(classes))
    for split, parts in splits.items():
        x = torch.cat([p[0] for p in parts])
        y = relabel[torch.cat([p[1] for p in parts])]
        keep = y >= 0
        x, y = x[keep], y[keep]
        g = generator(seed, "candidate-task", task.name, part, split)
        x, y = _cap(x, y, n_train if split == "train" else n_eval, g)
        out[split] = (shift(x, g).contiguous(), y)
    return SplitData(
        name=task.name,
        x_train=out["train"][0],
        y_train=out["train"][1],
        x_val=out["val"][0],
        y_val=out["val"][1],
        x_test=out["test"][0],
        y_test=out["test"][1],
        num_classes=len(classes),
        input_shape=(1, 28, 28),
        info={"task": task.model_dump(mode="json"), "part": part, "seed": seed},
    )
