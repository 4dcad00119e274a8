"""Align networks trained from different initializations: Git Re-Basin weight matching.

Two networks of one architecture that start from different random
initializations compute similar functions with their hidden units in a
different order, so averaging their weights averages unrelated neurons and the
loss along the straight line between them rises (a *barrier*). Weight matching
(Ainsworth et al. 2023, https://arxiv.org/abs/2209.04836, Algorithm 1) finds the
hidden-unit permutation of model B that makes its weights closest to model A's:
coordinate descent over the permutation groups, each step a linear assignment
problem solved exactly by ``scipy.optimize.linear_sum_assignment``, until no
group improves. The permuted B computes the same function as B.

``interpolation_curve`` and ``loss_barrier`` measure the linear path before and
after alignment (the quantity Git Re-Basin reports).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import Tensor
from torch.func import functional_call

from weightzoo.arch import ArchSpec, build_model
from weightzoo.errors import WeightzooError
from weightzoo.weightspace.symmetry import PermGroup, apply_permutation, permutation_groups

__all__ = [
    "REBASIN_URL",
    "AlignmentResult",
    "InterpolationCurve",
    "align_weights",
    "interpolate_weights",
    "interpolation_curve",
    "loss_barrier",
    "weight_matching",
]

REBASIN_URL = "https://arxiv.org/abs/2209.04836"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlignmentResult:
    """What weight matching found.

    Attributes:
        perms: group name -> permutation ``(size,)`` to apply to model B
            (``apply_permutation`` convention: new unit ``i`` is old unit ``perm[i]``).
        aligned: model B's weights with ``perms`` applied.
        objective_before: sum over groups of ``<A, B>`` restricted to their
            members, before alignment (the quantity weight matching maximizes).
        objective_after: the same after alignment (never smaller).
        sweeps: coordinate-descent passes over all groups until none improved.
        distance_before: L2 distance ``||A - B||`` over all permuted parameters.
        distance_after: ``||A - P(B)||``.
    """

    perms: dict[str, Tensor]
    aligned: dict[str, Tensor]
    objective_before: float
    objective_after: float
    sweeps: int
    distance_before: float
    distance_after: float
    history: list[float] = field(default_factory=list)


def _unit_rows(t: Tensor, axis: int, size: int) -> Tensor:
    """``t`` with ``axis`` moved first and reshaped to ``(size, -1)``: row ``i`` is unit ``i``.

    Unit ``i`` owns a block of consecutive indices along ``axis``, so a
    row-major reshape keeps each block (and everything else) in one row.
    """
    return t.movedim(axis, 0).reshape(size, -1)


def _check_pair(a: dict[str, Tensor], b: dict[str, Tensor], groups: list[PermGroup]) -> None:
    if set(a) != set(b):
        diff = sorted(set(a) ^ set(b))
        raise WeightzooError(f"alignment: the two models have different parameters: {diff[:5]}")
    for name in a:
        if a[name].shape != b[name].shape:
            raise WeightzooError(
                f"alignment: parameter {name!r} has shape {tuple(a[name].shape)} in model A "
                f"and {tuple(b[name].shape)} in model B"
            )
    for g in groups:
        for pname, _, _ in g.members:
            if pname not in a:
                raise WeightzooError(f"alignment: weights have no parameter {pname!r}")


def _group_cost(a: dict[str, Tensor], b: dict[str, Tensor], group: PermGroup) -> Tensor:
    """``C[i, j] = sum_members <A unit i, B unit j>``: shape ``(size, size)``, float64."""
    cost = torch.zeros(group.size, group.size, dtype=torch.float64)
    for pname, axis, _ in group.members:
        ra = _unit_rows(a[pname].double(), axis, group.size)
        rb = _unit_rows(b[pname].double(), axis, group.size)
        cost += ra @ rb.T
    return cost


def _distance(a: dict[str, Tensor], b: dict[str, Tensor], names: set[str]) -> float:
    return float(sum(((a[n].double() - b[n].double()) ** 2).sum() for n in names) ** 0.5)


def weight_matching(
    groups: list[PermGroup],
    a: dict[str, Tensor],
    b: dict[str, Tensor],
    *,
    max_sweeps: int = 100,
    seed: int = 0,
    tol: float = 1e-12,
) -> AlignmentResult:
    """Permute model B's hidden units to bring its weights closest to model A's.

    Each step fixes every group's permutation but one and solves that group's
    linear assignment problem ``max_P <A, P(B)>`` exactly; groups are visited
    in a seeded random order per sweep (as in the paper), until a whole sweep
    improves nothing by more than ``tol`` (relative).

    Args:
        groups: permutation groups of the architecture (``permutation_groups(spec)``).
        a: the reference model's weights, name -> tensor.
        b: the model to permute (same names and shapes).
        max_sweeps: stop after this many sweeps even if still improving.
        seed: seed of the group visiting order.
        tol: relative improvement below which a step counts as none.

    Returns:
        The permutations, the aligned weights of B and the objective history.

    Raises:
        WeightzooError: different parameter names or shapes, or a group member
            that is not a parameter.
    """
    _check_pair(a, b, groups)
    perms = {g.name: torch.arange(g.size) for g in groups}
    permuted = {p for g in groups for p, _, _ in g.members}
    rng = np.random.default_rng(seed)

    def objective(bp: dict[str, Tensor]) -> float:
        return float(sum(float((a[p].double() * bp[p].double()).sum()) for p in permuted))

    start = objective(b)
    history = [start]
    sweeps = 0
    for sweeps in range(1, max_sweeps + 1):  # noqa: B007  (sweeps is reported)
        improved = False
        for gi in rng.permutation(len(groups)):
            group = groups[gi]
            others = {k: v for k, v in perms.items() if k != group.name}
            b_others = apply_permutation(b, groups, others)
            cost = _group_cost(a, b_others, group).numpy()
            _, cols = linear_sum_assignment(cost, maximize=True)
            old = cost[np.arange(group.size), perms[group.name].numpy()].sum()
            new = cost[np.arange(group.size), cols].sum()
            if new > old + tol * max(abs(old), 1.0):
                perms[group.name] = torch.as_tensor(cols, dtype=torch.long)
                improved = True
        history.append(objective(apply_permutation(b, groups, perms)))
        if not improved:
            break
    aligned = apply_permutation(b, groups, perms)
    log.info("weight matching: %d sweeps, <A,B> %.4g -> %.4g", sweeps, start, history[-1])
    return AlignmentResult(
        perms=perms,
        aligned=aligned,
        objective_before=start,
        objective_after=history[-1],
        sweeps=sweeps,
        distance_before=_distance(a, b, permuted),
        distance_after=_distance(a, aligned, permuted),
        history=history,
    )


def align_weights(
    spec: ArchSpec, a: dict[str, Tensor], b: dict[str, Tensor], *, seed: int = 0
) -> AlignmentResult:
    """Weight matching of B onto A for a sequential architecture (mlp, cnn1d, cnn_s, cnn_l).

    Args:
        spec: the shared architecture.
        a: reference weights.
        b: weights to permute.
        seed: seed of the visiting order.

    Returns:
        See ``weight_matching``.

    Raises:
        WeightzooError: the family has no permutation groups (e.g. ``resnet``).
    """
    return weight_matching(permutation_groups(spec), a, b, seed=seed)


def interpolate_weights(a: dict[str, Tensor], b: dict[str, Tensor], t: float) -> dict[str, Tensor]:
    """``(1 - t) * A + t * B`` for every floating-point tensor (others taken from A)."""
    return {
        k: ((1 - t) * v + t * b[k]) if v.is_floating_point() else v.clone() for k, v in a.items()
    }


@dataclass(frozen=True)
class InterpolationCurve:
    """Loss and accuracy along ``(1 - t) A + t B``.

    Attributes:
        t: ``(P,)`` interpolation coefficients, 0 and 1 included.
        loss: ``(P,)`` mean cross-entropy at each point.
        acc: ``(P,)`` accuracy at each point.
    """

    t: np.ndarray
    loss: np.ndarray
    acc: np.ndarray

    @property
    def barrier(self) -> float:
        """Loss barrier of the path (see ``loss_barrier``)."""
        return loss_barrier(self.t, self.loss)

    @property
    def acc_barrier(self) -> float:
        """Largest drop of accuracy below the straight line between the end points."""
        line = (1 - self.t) * self.acc[0] + self.t * self.acc[-1]
        return float(np.max(line - self.acc))


def loss_barrier(t: np.ndarray, loss: np.ndarray) -> float:
    """``max_t [L((1-t)A + tB) - ((1-t) L(A) + t L(B))]``, the barrier of Git Re-Basin (eq. 1).

    Args:
        t: ``(P,)`` interpolation coefficients from 0 to 1.
        loss: ``(P,)`` losses at those points.

    Returns:
        The barrier height (0 when the path is never above the chord).
    """
    t, loss = np.asarray(t, dtype=float), np.asarray(loss, dtype=float)
    chord = (1 - t) * loss[0] + t * loss[-1]
    return float(max(np.max(loss - chord), 0.0))


@torch.no_grad()
def interpolation_curve(
    spec: ArchSpec,
    a: dict[str, Tensor],
    b: dict[str, Tensor],
    x: Tensor,
    y: Tensor,
    *,
    num_points: int = 21,
    batch_size: int = 4096,
) -> InterpolationCurve:
    """Evaluate the models on the straight line between two weight sets.

    Args:
        spec: architecture of both models.
        a: weights at ``t = 0``.
        b: weights at ``t = 1`` (aligned or not).
        x: ``(N, *input_shape)`` evaluation inputs.
        y: ``(N,)`` labels.
        num_points: points on the path, end points included (>= 2).
        batch_size: evaluation batch size.

    Returns:
        Loss and accuracy per point.
    """
    if num_points < 2:
        raise WeightzooError(f"interpolation_curve: num_points must be >= 2, got {num_points}")
    model = build_model(spec).eval()
    ts = np.linspace(0.0, 1.0, num_points)
    losses, accs = [], []
    for t in ts:
        w = interpolate_weights(a, b, float(t))
        total_loss, correct = 0.0, 0
        for s in range(0, x.shape[0], batch_size):
            out = functional_call(model, w, (x[s : s + batch_size],))
            yb = y[s : s + batch_size]
            total_loss += float(F.cross_entropy(out, yb, reduction="sum"))
            correct += int((out.argmax(1) == yb).sum())
        losses.append(total_loss / x.shape[0])
        accs.append(correct / x.shape[0])
    return InterpolationCurve(t=ts, loss=np.array(losses), acc=np.array(accs))
