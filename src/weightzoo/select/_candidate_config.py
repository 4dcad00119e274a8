"""Configs of the candidate zoo: candidates, sources, targets, and the default zoo."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from weightzoo.arch import ArchSpec
from weightzoo.config import parse_config
from weightzoo.select._candidate_tasks import TaskSpec

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class CandidateSpec(BaseModel):
    """One pre-trained candidate: a source task, an architecture and its training.

    Attributes:
        name: unique name.
        source: name of a task in ``CandidateZooConfig.sources``.
        family: architecture family (``mlp``, ``cnn_s``, ``cnn_l``; see ``weightzoo.arch``).
        widths: family widths (MLP hidden sizes); empty for the fixed CNNs.
        activation: activation function.
        epochs: pre-training epochs (Adam).
        lr: pre-training learning rate.
        seed: init and data-order seed.
    """

    model_config = _FROZEN
    name: str
    source: str
    family: str
    widths: tuple[int, ...] = ()
    activation: str = "relu"
    epochs: int = 8
    lr: float = 1e-3
    seed: int = 0

    def arch(self, num_classes: int) -> ArchSpec:
        """The architecture for a head of ``num_classes`` outputs."""
        return ArchSpec(
            family=self.family,
            input_shape=(1, 28, 28),
            num_classes=num_classes,
            activation=self.activation,
            widths=self.widths,
        )


class CandidateZooConfig(BaseModel):
    """Sources, held-out targets, candidates and the generic encoder of Model Spider.

    Attributes:
        sources: pre-training tasks.
        targets: held-out target tasks (fine-tuned on the other half of each dataset).
        candidates: the candidate models.
        generic: the frozen generic encoder of Model Spider's task tokens (trained
            like a candidate but never ranked).
        n_source_train: cap on pre-training examples per source (None: all).
        n_target_train: training examples per target (few-shot transfer).
        n_eval: cap on validation and test examples per target.
        batch_size: pre-training batch size.
        seed: seed of data halves and subsets.
    """

    model_config = _FROZEN
    sources: tuple[TaskSpec, ...]
    targets: tuple[TaskSpec, ...]
    candidates: tuple[CandidateSpec, ...]
    generic: CandidateSpec
    n_source_train: int | None = None
    n_target_train: int = 250
    n_eval: int = 400
    batch_size: int = 64
    seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> CandidateZooConfig:
        sources = {s.name for s in self.sources}
        for c in (*self.candidates, self.generic):
            if c.source not in sources:
                raise ValueError(
                    f"candidate {c.name!r}: source {c.source!r} not in {sorted(sources)}"
                )
        for what, items in (("candidates", self.candidates), ("targets", self.targets)):
            names = [i.name for i in items]
            if len(set(names)) != len(names):
                raise ValueError(f"{what}: names must be unique, got {names}")
        if len(self.candidates) < 2 or len(self.targets) < 2:
            raise ValueError("need at least 2 candidates and 2 targets")
        return self

    def source(self, name: str) -> TaskSpec:
        return next(s for s in self.sources if s.name == name)


def _task(name: str, *datasets: str, classes: Sequence[int] | None = None, shift: str = "none"):
    return {"name": name, "datasets": list(datasets), "classes": classes, "shift": shift}


def default_candidate_zoo_config(quick: bool = False) -> CandidateZooConfig:
    """The default zoo: 17 candidates, 7 sources, 8 held-out targets (quick: 6, 3, 5).

    Full: pre-training about a minute on 2 cores. Quick: a few seconds (tests).
    """
    lo, hi = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]
    sources = [
        _task("digits", "digits28"),
        _task("digits-0to4", "digits28", classes=lo),
        _task("shapes", "shapes28"),
        _task("shapes-0to4", "shapes28", classes=lo),
        _task("digits-rot90", "digits28", shift="rot90"),
        _task("shapes-noise", "shapes28", shift="noise"),
        _task("digits+shapes", "digits28", "shapes28"),
    ]
    targets = [
        _task("digits-5to9", "digits28", classes=hi),
        _task("shapes-5to9", "shapes28", classes=hi),
        _task("digits-invert", "digits28", shift="invert"),
        _task("shapes-translate", "shapes28", shift="translate"),
        _task("digits-noise", "digits28", shift="noise"),
        _task("shapes-rot90", "shapes28", shift="rot90"),
        _task("digits-blur", "digits28", shift="blur"),
        _task("shapes-invert-5to9", "shapes28", classes=hi, shift="invert"),
    ]

    def cand(name: str, source: str, family: str, widths=(), act="relu", epochs=6, seed=0):
        # The small Model Zoos CNNs learn slowly at Adam's default rate.
        lr = 1e-3 if family == "mlp" else 4e-3
        return {"name": name, "source": source, "family": family, "widths": list(widths),
                "activation": act, "epochs": epochs, "lr": lr, "seed": seed}  # fmt: skip

    candidates = [
        cand("digits/mlp128-64", "digits", "mlp", (128, 64)),
        cand("digits/cnn_s", "digits", "cnn_s"),
        cand("digits/cnn_l", "digits", "cnn_l"),
        cand("digits-0to4/mlp256-tanh", "digits-0to4", "mlp", (256,), "tanh"),
        cand("digits-0to4/cnn_s", "digits-0to4", "cnn_s"),
        cand("shapes/mlp128-64", "shapes", "mlp", (128, 64)),
        cand("shapes/cnn_s", "shapes", "cnn_s"),
        cand("shapes/cnn_l", "shapes", "cnn_l"),
        cand("shapes-0to4/mlp64-tanh", "shapes-0to4", "mlp", (64,), "tanh"),
        cand("shapes-0to4/cnn_s-gelu", "shapes-0to4", "cnn_s", act="gelu"),
        cand("digits-rot90/mlp128-64", "digits-rot90", "mlp", (128, 64)),
        cand("digits-rot90/cnn_s", "digits-rot90", "cnn_s"),
        cand("shapes-noise/cnn_s", "shapes-noise", "cnn_s"),
        cand("shapes-noise/mlp256-128", "shapes-noise", "mlp", (256, 128)),
        cand("digits+shapes/cnn_l", "digits+shapes", "cnn_l"),
        cand("digits+shapes/mlp64-32-tanh", "digits+shapes", "mlp", (64, 32), "tanh"),
        cand("digits/mlp32-1epoch", "digits", "mlp", (32,), epochs=1),
    ]
    generic = cand("generic/mlp128", "digits+shapes", "mlp", (128,), seed=100)
    raw: dict[str, Any] = {"sources": sources, "targets": targets, "candidates": candidates,
                           "generic": generic, "n_source_train": 1000}  # fmt: skip
    if quick:
        raw["sources"] = [sources[0], sources[2], sources[6]]
        raw["targets"] = targets[:5]
        raw["candidates"] = [
            {**c, "epochs": 2}
            for c in (candidates[0], candidates[1], candidates[5], candidates[6], candidates[15])
        ] + [candidates[16]]
        raw["generic"] = {**generic, "epochs": 2, "widths": [32]}
        raw |= {"n_source_train": 300, "n_target_train": 80, "n_eval": 100}
    return parse_config(CandidateZooConfig, raw, "candidate zoo config")
