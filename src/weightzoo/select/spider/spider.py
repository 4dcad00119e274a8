"""``ModelSpider``: learn to rank pre-trained models from training tasks.

Model Spider (Zhang et al., NeurIPS 2023): https://arxiv.org/abs/2306.03900

Training tasks carry the ground-truth accuracy of every model; the scorer
is trained with the listwise Plackett–Luce loss on the ground-truth order.
Each step draws a random subset of each task's examples (at least half of
every class), so the prototypes the scorer sees vary like those of a new
task would. With re-ranking, the top-k models of the generic ranking run
forward on the target and are re-scored with their own features.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import numpy as np
import torch
from safetensors.torch import load_file

from weightzoo._threads import torch_threads
from weightzoo.errors import WeightzooError
from weightzoo.seeding import generator
from weightzoo.select.spider.loss import plackett_luce_loss
from weightzoo.select.spider.scorer import SpiderScorer, task_prototypes
from weightzoo.zoo._io import atomic_save_safetensors, atomic_write_json

__all__ = ["SPIDER_URL", "ModelSpider", "SpiderRanking", "SpiderTask"]

log = logging.getLogger(__name__)
SPIDER_URL = "https://arxiv.org/abs/2306.03900"


@dataclass
class SpiderTask:
    """A training task of Model Spider.

    Attributes:
        name: task name.
        generic: (N, D_g) features of the task's examples from the frozen generic encoder.
        labels: (N,) integer labels.
        accuracy: model name -> ground-truth accuracy on this task.
        specific: optional model name -> (N, D_m) that model's own features
            (trains the re-ranking path).
    """

    name: str
    generic: np.ndarray
    labels: np.ndarray
    accuracy: dict[str, float]
    specific: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class SpiderRanking:
    """Result of ``ModelSpider.rank``.

    Attributes:
        names: model names, in the order of ``scores``.
        scores: (M,) final scores (higher = better): the re-ranked top-k first.
        generic_scores: (M,) scores from the generic task tokens alone.
        reranked: names of the models re-scored with their own features, best first.
    """

    names: list[str]
    scores: np.ndarray
    generic_scores: np.ndarray
    reranked: list[str]

    def order(self) -> list[str]:
        """Model names best first."""
        return [self.names[i] for i in np.argsort(-self.scores, kind="stable")]


class ModelSpider:
    """Learned ranker of pre-trained models (model tokens, task tokens, attention).

    Args:
        dim: token dimension.
        heads: attention heads.
        dropout: attention dropout.
        steps: optimizer steps of ``fit``.
        add_model_steps: optimizer steps of ``add_model``.
        lr: Adam learning rate.
        weight_decay: Adam (L2) weight decay.
        tasks_per_step: training tasks per step (each sub-sampled afresh).
        min_fraction: smallest fraction of a class's examples a sub-sampled task keeps.
        top_k: models re-ranked with their own features by ``rank`` (0: none).
        seed: seed of initialization and sub-sampling.
    """

    def __init__(
        self,
        *,
        dim: int = 32,
        heads: int = 2,
        dropout: float = 0.1,
        steps: int = 300,
        add_model_steps: int = 150,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        tasks_per_step: int = 4,
        min_fraction: float = 0.5,
        top_k: int = 3,
        seed: int = 0,
    ) -> None:
        self.dim, self.heads, self.dropout = dim, heads, dropout
        self.steps, self.add_model_steps = steps, add_model_steps
        self.lr, self.weight_decay = lr, weight_decay
        self.tasks_per_step, self.min_fraction = tasks_per_step, min_fraction
        self.top_k, self.seed = top_k, seed

    def _params(self) -> dict:
        keys = ("dim", "heads", "dropout", "steps", "add_model_steps", "lr", "weight_decay",
                "tasks_per_step", "min_fraction", "top_k", "seed")  # fmt: skip
        return {k: getattr(self, k) for k in keys}

    # ------------------------------------------------------------ training

    def _keys(self, names: Sequence[str]) -> list[str]:
        try:
            return [self.keys_[n] for n in names]
        except KeyError as e:
            raise WeightzooError(
                f"model {e.args[0]!r} has no token; known: {self.names_}"
            ) from None

    def _subsample(self, labels: np.ndarray, g: torch.Generator) -> torch.Tensor:
        y = torch.as_tensor(labels)
        keep = []
        for c in torch.unique(y):
            idx = torch.nonzero(y == c).squeeze(1)
            frac = self.min_fraction + (1 - self.min_fraction) * torch.rand((), generator=g).item()
            n = max(1, round(frac * len(idx)))
            keep.append(idx[torch.randperm(len(idx), generator=g)[:n]])
        return torch.cat(keep)

    def _task_loss(self, task: SpiderTask, names: list[str], g: torch.Generator) -> torch.Tensor:
        idx = self._subsample(task.labels, g)
        labels = task.labels[idx.numpy()]
        keys = self._keys(names)
        gt = torch.tensor([task.accuracy[n] for n in names], dtype=torch.float32)
        generic = task_prototypes(task.generic[idx.numpy()], labels)
        loss = plackett_luce_loss(self.scorer_(keys, generic), gt)
        usable = [
            n for n in names if n in task.specific and self.keys_[n] in self.scorer_.specific_proj
        ]
        if len(usable) >= 2:
            specific = {
                self.keys_[n]: task_prototypes(task.specific[n][idx.numpy()], labels)
                for n in usable
            }
            gt_s = torch.tensor([task.accuracy[n] for n in usable], dtype=torch.float32)
            loss = loss + plackett_luce_loss(
                self.scorer_(self._keys(usable), generic, specific), gt_s
            )
        return loss

    def _train(self, tasks: Sequence[SpiderTask], params: list[torch.nn.Parameter], steps: int,
               stream: str, progress: Callable[[int, int], None] | None) -> list[float]:  # fmt: skip
        g = generator(self.seed, "spider", stream)
        torch.manual_seed(int(torch.randint(0, 2**31, (), generator=g)))  # dropout stream
        opt = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        self.scorer_.train()
        losses = []
        for step in range(steps):
            picks = torch.randint(
                0, len(tasks), (min(self.tasks_per_step, len(tasks)),), generator=g
            )
            loss = sum(
                self._task_loss(tasks[i], [n for n in self.names_ if n in tasks[i].accuracy], g)
                for i in picks.tolist()
            ) / len(picks)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if progress is not None:
                progress(step + 1, steps)
        self.scorer_.eval()
        return losses

    @torch_threads(1)
    def fit(
        self,
        tasks: Sequence[SpiderTask],
        model_names: Sequence[str],
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> Self:
        """Train tokens and scorer on tasks with known ground truth.

        Args:
            tasks: training tasks; each gives the accuracy of (some of) the models.
            model_names: the zoo's models.
            progress: ``(step, steps)`` callback.

        Returns:
            self, with ``scorer_``, ``names_``, ``keys_`` and ``losses_`` set.

        Raises:
            WeightzooError: no tasks, or generic features of different widths.
        """
        if not tasks:
            raise WeightzooError("tasks: Model Spider needs at least one training task")
        widths = {t.generic.shape[1] for t in tasks}
        if len(widths) != 1:
            raise WeightzooError(
                f"tasks: generic features must share one width, got {sorted(widths)}"
            )
        g = generator(self.seed, "spider-init")
        torch.manual_seed(int(torch.randint(0, 2**31, (), generator=g)))
        self.scorer_ = SpiderScorer(
            widths.pop(), dim=self.dim, heads=self.heads, dropout=self.dropout
        )
        self.names_: list[str] = []
        self.keys_: dict[str, str] = {}
        for name in model_names:
            self._add_token(name, tasks, g)
        self.losses_ = self._train(
            tasks, list(self.scorer_.parameters()), self.steps, "fit", progress
        )
        return self

    def _add_token(self, name: str, tasks: Sequence[SpiderTask], g: torch.Generator) -> None:
        if name in self.keys_:
            raise WeightzooError(f"model {name!r} already has a token")
        dims = {t.specific[name].shape[1] for t in tasks if name in t.specific}
        key = f"m{len(self.names_)}"
        self.scorer_.add_model(key, g, dims.pop() if dims else None)
        self.names_.append(name)
        self.keys_[name] = key

    @torch_threads(1)
    def add_model(
        self,
        name: str,
        tasks: Sequence[SpiderTask],
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> Self:
        """Add a model to a fitted ranker, training only what belongs to it.

        Its token (and, if ``tasks`` carry its own features, its specific
        projection) is trained on the tasks' rankings among all models; every
        existing parameter stays bit-identical.

        Args:
            name: the new model.
            tasks: tasks with the accuracy of the new model (and of others to rank against).

        Returns:
            self.
        """
        if not any(name in t.accuracy for t in tasks):
            raise WeightzooError(f"tasks: none gives the accuracy of the new model {name!r}")
        self._add_token(name, tasks, generator(self.seed, "spider-add", name))
        key = self.keys_[name]
        new = [self.scorer_.model_tokens[key]]
        if key in self.scorer_.specific_proj:
            new += list(self.scorer_.specific_proj[key].parameters())
        new_ids = {id(p) for p in new}
        frozen = [p for p in self.scorer_.parameters() if id(p) not in new_ids and p.requires_grad]
        for p in frozen:
            p.requires_grad_(False)
        try:
            tasks_with = [t for t in tasks if name in t.accuracy]
            self._train(tasks_with, new, self.add_model_steps, f"add/{name}", progress)
        finally:
            for p in frozen:
                p.requires_grad_(True)
        return self

    # ------------------------------------------------------------ inference

    def score(
        self, generic: np.ndarray, labels: np.ndarray, names: Sequence[str] | None = None
    ) -> np.ndarray:
        """(M,) scores of ``names`` (default all models) from generic task tokens alone.

        Args:
            generic: (N, D_g) generic-encoder features of the target's examples.
            labels: (N,) target labels.
        """
        names = list(names) if names is not None else self.names_
        with torch.no_grad():
            return self.scorer_(self._keys(names), task_prototypes(generic, labels)).numpy()

    def rank(
        self,
        generic: np.ndarray,
        labels: np.ndarray,
        *,
        specific: Callable[[str], np.ndarray] | None = None,
        top_k: int | None = None,
    ) -> SpiderRanking:
        """Rank all models for a target task, optionally re-ranking the top-k.

        Args:
            generic: (N, D_g) generic-encoder features of the target's examples.
            labels: (N,) target labels.
            specific: ``name -> (N, D_m)`` the model's own features on the same
                examples; called only for the top-k models (the forward passes
                re-ranking pays for). None: no re-ranking.
            top_k: models to re-rank (default: the constructor's).

        Returns:
            The ranking; re-ranked models keep the top-k places, reordered.
        """
        names = list(self.names_)
        base = self.score(generic, labels)
        k = self.top_k if top_k is None else top_k
        able = [i for i in np.argsort(-base, kind="stable")[: max(k, 0)]
                if self.keys_[names[i]] in self.scorer_.specific_proj]  # fmt: skip
        final = base.copy()
        reranked: list[str] = []
        if specific is not None and len(able) >= 2:
            keys = [self.keys_[names[i]] for i in able]
            own = {
                key: task_prototypes(specific(names[i]), labels)
                for key, i in zip(keys, able, strict=True)
            }
            with torch.no_grad():
                s = self.scorer_(keys, task_prototypes(generic, labels), own).numpy()
            top = float(base.max()) + 1.0
            for place, j in enumerate(np.argsort(-s, kind="stable")):
                final[able[j]] = top + (len(able) - place)
                reranked.append(names[able[j]])
        return SpiderRanking(names=names, scores=final, generic_scores=base, reranked=reranked)

    # ------------------------------------------------------------ io

    def save(self, path: str | Path) -> Path:
        """Write ``spider.safetensors`` and ``spider.json`` into folder ``path``."""
        path = Path(path)
        specific = {k: m.in_features for k, m in self.scorer_.specific_proj.items()}
        atomic_save_safetensors(
            path / "spider.safetensors", self.scorer_.state_dict(), {"url": SPIDER_URL}
        )
        atomic_write_json(path / "spider.json", {
            "params": self._params(), "names": self.names_, "keys": self.keys_, "url": SPIDER_URL,
            "generic_dim": self.scorer_.generic_proj.in_features, "specific_dims": specific,
        })  # fmt: skip
        return path

    @classmethod
    def load(cls, path: str | Path) -> ModelSpider:
        """Read a ranker written by ``save``."""
        path = Path(path)
        if not (path / "spider.json").is_file():
            raise WeightzooError(f"{path}: no spider.json (ModelSpider.save writes it)")
        meta = json.loads((path / "spider.json").read_text())
        spider = cls(**meta["params"])
        spider.scorer_ = SpiderScorer(meta["generic_dim"], dim=spider.dim, heads=spider.heads,
                                      dropout=spider.dropout)  # fmt: skip
        g = torch.Generator().manual_seed(0)
        for name in meta["names"]:
            key = meta["keys"][name]
            spider.scorer_.add_model(key, g, meta["specific_dims"].get(key))
        spider.scorer_.load_state_dict(load_file(path / "spider.safetensors"))
        spider.scorer_.eval()
        spider.names_, spider.keys_ = list(meta["names"]), dict(meta["keys"])
        return spider
