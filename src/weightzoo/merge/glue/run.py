"""``weightzoo merge glue CONFIG --out DIR``: the recipe on model folders, every step written out."""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from safetensors.torch import save

from weightzoo.config import dump_yaml
from weightzoo.errors import ConfigError, WeightzooError
from weightzoo.merge.finetune_zoo import make_tasks
from weightzoo.merge.glue._models import load_model_ref
from weightzoo.merge.glue._report import glue_markdown
from weightzoo.merge.glue.config import GlueConfig
from weightzoo.merge.glue.recipe import GlueResult, run_glue
from weightzoo.zoo._io import atomic_write_bytes, atomic_write_json

__all__ = ["run_glue_config"]

log = logging.getLogger(__name__)


def _result_json(result: GlueResult, config: GlueConfig) -> dict:
    names, sim = result.similarity
    return {
        "similarity": {
            "models": names,
            "matrix": [[None if np.isnan(v) else float(v) for v in row] for row in sim],
            "kind": config.cluster.similarity,
            "threshold": config.cluster.threshold,
        },
        "clusters": [
            {
                "members": c.members,
                "kept": c.merge.members,
                "coefficients": c.merge.coefficients,
                "val_score": c.merge.score,
                "steps": [
                    {
                        "candidate": s.candidate,
                        "coefficient": s.coefficient,
                        "score": s.score,
                        "best_before": s.best_before,
                        "accepted": s.accepted,
                    }
                    for s in c.merge.steps
                ],
                "expert_tasks": c.tasks,
                "test_acc": c.test_acc,
            }
            for c in result.clusters
        ],
        "mixture": None
        if result.mixture is None
        else {
            "experts": len(result.clusters),
            "top_k": result.mixture.top_k,
            "routing": result.routing,
            "router_losses": result.router_losses,
        },
        "inputs_test": result.inputs_test,
        "final_val": result.final_val,
        "final_test": result.final_test,
    }


def run_glue_config(
    config: GlueConfig, out: str | Path, *, progress: Callable[[str], None] | None = None
) -> tuple[GlueResult, Path]:
    """Load the models, run the recipe, write its results into ``out``.

    ``out`` receives ``config.yaml`` (resolved), ``report.md``, ``result.json``,
    ``cluster_<k>/`` (each merged cluster as a model folder) and, with several
    clusters, ``mixture/gate.safetensors`` + ``mixture/mixture.json``. Files are
    written into a temporary folder renamed to ``out`` at the end, so an
    interrupted run leaves nothing half-written.

    Args:
        config: the recipe.
        out: output folder (must not exist, or be empty).
        progress: step messages.

    Returns:
        The result and the output folder.

    Raises:
        WeightzooError: ``out`` holds files, or a model cannot be read.
        ConfigError: the models' tasks are not among ``eval.domains``.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise WeightzooError(f"{out} exists and is not an empty folder; choose another --out")
    models, expert_tasks = {}, {}
    for m in config.models:
        spec, weights, info = load_model_ref(m.path)
        name = Path(m.path.rstrip("/")).name or m.path
        if name in models:
            name = m.path
        models[name] = (spec, weights)
        tasks = m.tasks if m.tasks is not None else ([info["task"]] if "task" in info else [])
        unknown = [t for t in tasks if t not in config.eval.domains]
        if unknown:
            raise ConfigError(
                f"models[{m.path}].tasks: {unknown} not in eval.domains {config.eval.domains}"
            )
        expert_tasks[name] = tasks
    base = None
    if config.base_model is not None:
        spec, weights, _ = load_model_ref(config.base_model)
        base = (spec, weights)
    tasks = make_tasks(
        config.eval.domains, num_samples=config.eval.num_samples, seed=config.eval.seed
    )
    result = run_glue(
        models, tasks, config=config, expert_tasks=expert_tasks, base=base, progress=progress
    )

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        atomic_write_bytes(tmp / "config.yaml", dump_yaml(config).encode())
        for k, c in enumerate(result.clusters):
            folder = tmp / f"cluster_{k + 1}"
            atomic_write_bytes(
                folder / "model.safetensors",
                save(
                    {n: t.contiguous() for n, t in c.merge.weights.items()},
                    metadata={"format": "pt"},
                ),
            )
            atomic_write_json(
                folder / "config.json",
                {
                    "architecture": c.spec.to_dict(),
                    "model_type": "weightzoo",
                    "merged_from": c.merge.coefficients,
                    "tasks": c.tasks,
                },
            )
        if result.mixture is not None:
            atomic_write_bytes(
                tmp / "mixture" / "gate.safetensors",
                save({"gate": result.mixture.gate.detach().contiguous()}),
            )
            atomic_write_json(
                tmp / "mixture" / "mixture.json",
                {
                    "experts": [f"cluster_{k + 1}" for k in range(len(result.clusters))],
                    "router_model": config.mixture.router_model
                    if base is not None
                    else "first_expert",
                    "layer": config.mixture.layer,
                    "top_k": result.mixture.top_k,
                    "temperature": config.mixture.temperature,
                },
            )
        atomic_write_json(tmp / "result.json", _result_json(result, config))
        md = glue_markdown(
            result, threshold=config.cluster.threshold, similarity=config.cluster.similarity
        )
        atomic_write_bytes(tmp / "report.md", ("# Model-GLUE run\n\n" + md).encode())
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
        raise
    return result, out
