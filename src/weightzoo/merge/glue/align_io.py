"""``weightzoo merge align A B --out DIR``: weight matching between two stored models."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from safetensors.torch import save

from weightzoo.errors import WeightzooError
from weightzoo.merge.glue._models import load_model_ref
from weightzoo.weightspace.alignment import REBASIN_URL, align_weights, interpolation_curve
from weightzoo.zoo._io import atomic_write_bytes, atomic_write_json

__all__ = ["align_models"]


def align_models(
    a: str,
    b: str,
    out: str | Path,
    *,
    dataset: str | None = None,
    barrier: bool = True,
    points: int = 21,
    seed: int = 0,
) -> dict[str, Any]:
    """Align model B onto model A and write the permuted B as a model folder.

    ``out`` gets ``model.safetensors`` and ``config.json`` (the aligned B),
    ``permutations.safetensors`` (one permutation per group) and
    ``alignment.json`` (objective, distances and, when a dataset is known,
    the loss barrier of the linear path before and after).

    Args:
        a: reference model (folder or ``ZOO_DIR:MODEL_ID``).
        b: model to permute.
        out: new or empty folder.
        dataset: dataset name for the barrier (default: B's own dataset when
            it comes from a zoo or its config names one).
        barrier: whether to measure the barrier.
        points: points on the path.
        seed: seed of the group visiting order.

    Returns:
        The content of ``alignment.json``.

    Raises:
        WeightzooError: unreadable models, different architectures, non-empty ``out``.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise WeightzooError(f"{out} exists and is not an empty folder; choose another --out")
    spec_a, wa, info_a = load_model_ref(a)
    spec_b, wb, info_b = load_model_ref(b)
    if spec_a != spec_b:
        raise WeightzooError(
            f"align: {a} and {b} have different architectures ({spec_a} vs {spec_b})"
        )
    result = align_weights(spec_a, wa, wb, seed=seed)
    report: dict[str, Any] = {
        "method": "weight matching (Git Re-Basin)",
        "url": REBASIN_URL,
        "a": a,
        "b": b,
        "sweeps": result.sweeps,
        "objective_before": result.objective_before,
        "objective_after": result.objective_after,
        "distance_before": result.distance_before,
        "distance_after": result.distance_after,
    }
    own = info_b.get("dataset") or info_a.get("dataset")
    dataset = dataset or own
    if barrier and dataset:
        from weightzoo.data import load_dataset

        # The zoo's own split (size, seed) when the dataset is the zoo's.
        zoo_data = (info_b.get("data") or info_a.get("data") or {}) if dataset == own else {}
        data = load_dataset(
            dataset,
            path=zoo_data.get("path"),
            num_samples=zoo_data.get("num_samples"),
            split_seed=zoo_data.get("split_seed", 0),
            val_fraction=zoo_data.get("val_fraction", 0.1),
        )
        if tuple(data.input_shape) != tuple(spec_a.input_shape):
            raise WeightzooError(
                f"--dataset {dataset}: inputs of shape {data.input_shape} do not fit the models' "
                f"{spec_a.input_shape}"
            )
        before = interpolation_curve(spec_a, wa, wb, data.x_test, data.y_test, num_points=points)
        after = interpolation_curve(
            spec_a, wa, result.aligned, data.x_test, data.y_test, num_points=points
        )
        mid = points // 2
        report |= {
            "dataset": dataset,
            "t": before.t.tolist(),
            "loss_before": before.loss.tolist(),
            "loss_after": after.loss.tolist(),
            "acc_before": before.acc.tolist(),
            "acc_after": after.acc.tolist(),
            "barrier_before": before.barrier,
            "barrier_after": after.barrier,
            "mid_acc_before": float(before.acc[mid]),
            "mid_acc_after": float(after.acc[mid]),
        }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        atomic_write_bytes(
            tmp / "model.safetensors",
            save({k: v.contiguous() for k, v in result.aligned.items()}, metadata={"format": "pt"}),
        )
        atomic_write_bytes(tmp / "permutations.safetensors", save(dict(result.perms)))
        atomic_write_json(
            tmp / "config.json",
            {
                "architecture": spec_b.to_dict(),
                "model_type": "weightzoo",
                "aligned_to": a,
                "source": b,
                **({"dataset": dataset} if dataset else {}),
            },
        )
        atomic_write_json(tmp / "alignment.json", report)
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
        raise
    return report
