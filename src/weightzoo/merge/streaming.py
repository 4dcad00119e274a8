"""Run a mergekit-style merge over checkpoint folders, one tensor at a time.

For each output tensor the driver reads that tensor from each input, merges it
and appends it to the current output shard; memory stays at a few tensors
whatever the model size. The output is assembled in a temporary folder next to
the destination and renamed into place only when complete, so an interrupted
merge leaves nothing under the output name.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import torch

from weightzoo.errors import WeightzooError
from weightzoo.merge._apply import merge_tensor
from weightzoo.merge._plan import MergePlan, build_plan
from weightzoo.merge.checkpoint_io import PlannedOutput, ShardedWriter
from weightzoo.merge.config import MergeConfig, load_merge_config

log = logging.getLogger(__name__)

DEFAULT_SHARD_BYTES = 5 * 10**9
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "generation_config.json",
)


class OutputExistsError(WeightzooError):
    """The output folder exists and is not empty (pass overwrite / --force)."""


def merge_from_config(
    config: MergeConfig | str | Path,
    out_dir: str | Path,
    *,
    max_shard_bytes: int = DEFAULT_SHARD_BYTES,
    overwrite: bool = False,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Merge the models of a mergekit config into a Hugging Face folder.

    Args:
        config: a MergeConfig, or the path of its YAML (relative model paths are
            then also looked up next to the YAML).
        out_dir: the output folder; must not exist (or be empty) unless ``overwrite``.
        max_shard_bytes: output shards are at most this large (one bigger tensor excepted).
        overwrite: replace an existing output folder (only once the new one is complete).
        seed: seeds the random methods (DARE); each tensor's draw depends only on
            the seed and the tensor's name.
        progress: called with (tensors done, total).

    Returns:
        The output folder.

    Raises:
        ConfigError, MergeInputError, CheckpointError: bad input, found before writing.
        OutputExistsError: ``out_dir`` holds files and ``overwrite`` is False.
    """
    config_dir = None
    if not isinstance(config, MergeConfig):
        config_dir = Path(config).resolve().parent
        config = load_merge_config(config)
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise OutputExistsError(
            f"{out_dir}: already exists and is not empty (use --force to replace it)"
        )
    plan = build_plan(config, config_dir=config_dir)
    try:
        tok_dir = _tokenizer_source(plan)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
        try:
            _run(plan, tmp, max_shard_bytes=max_shard_bytes, seed=seed, progress=progress)
            _write_extras(plan, tmp, tok_dir)
            _move_into_place(tmp, out_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    finally:
        plan.close()
    log.info("merged %d tensors into %s", len(plan.jobs), out_dir)
    return out_dir


def _tensor_generator(seed: int, name: str) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + zlib.crc32(name.encode())) % 2**63)


def _run(
    plan: MergePlan,
    folder: Path,
    *,
    max_shard_bytes: int,
    seed: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    outputs = [
        PlannedOutput(job.out_name, plan.out_shape(job), plan.out_tensor_dtype(job))
        for job in plan.jobs
    ]
    writer = ShardedWriter(
        folder,
        outputs,
        max_shard_bytes=max_shard_bytes,
        metadata={"weightzoo.merge_method": plan.method.name},
    )
    in_dtype = plan.config.torch_dtype()
    try:
        for done, (job, out) in enumerate(zip(plan.jobs, outputs, strict=True), 1):

            def read(ref: tuple[int, str]) -> torch.Tensor:
                t = plan.checkpoints[ref[0]].read(ref[1])
                # mergekit casts inputs to `dtype` before merging; same rounding here.
                return t.to(in_dtype) if in_dtype is not None and t.is_floating_point() else t

            base = read(job.base) if job.base is not None else None
            tensors = [read(ref) for ref in job.inputs]
            merged = merge_tensor(
                plan.method,
                tensors,
                base,
                model_params=job.model_params,
                params=job.params,
                generator=_tensor_generator(seed, job.out_name) if plan.method.random else None,
                out_dtype=out.dtype,
            )
            del base, tensors
            writer.write(job.out_name, merged)
            del merged
            if progress is not None:
                progress(done, len(plan.jobs))
        writer.finish()
    except BaseException:
        writer.abort()
        raise


def _tokenizer_source(plan: MergePlan) -> Path | None:
    src = plan.config.tokenizer_source
    if src is None or src == "base":
        return plan.paths[plan.config_source]
    from weightzoo.merge._plan import resolve_model_path

    return resolve_model_path(src, plan.config_dir)


def _write_extras(plan: MergePlan, folder: Path, tok_dir: Path | None) -> None:
    cfg = dict(plan.checkpoints[plan.config_source].config)
    if cfg:
        if plan.config.slices and plan.n_layers is not None and "num_hidden_layers" in cfg:
            cfg["num_hidden_layers"] = plan.n_layers
        dtype = plan.config.out_dtype or plan.config.dtype
        if dtype:
            cfg["torch_dtype"] = str(plan.config.torch_out_dtype()).removeprefix("torch.")
        (folder / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    resolved = plan.config.model_copy()
    (folder / "mergekit_config.yml").write_text(resolved.to_yaml())
    if tok_dir is not None:
        for name in TOKENIZER_FILES:
            if (tok_dir / name).is_file():
                shutil.copy2(tok_dir / name, folder / name)
    (folder / "README.md").write_text(model_card(plan))


def model_card(plan: MergePlan) -> str:
    """A Hugging Face model card: what was merged, how, and the config to redo it."""
    cfg = plan.config
    lines = [
        "---",
        "library_name: transformers",
        "tags:",
        "- merge",
        "- weightzoo",
        "---",
        "# Merged model",
        "",
        f"Made with [weightzoo](https://github.com/) `weightzoo merge` using the "
        f"**{plan.method.name}** method ({plan.method.url}).",
        "",
    ]
    if cfg.base_model:
        lines += [f"Base model: `{cfg.base_model}`", ""]
    lines += ["Models merged:", ""]
    refs = [m.model for m in cfg.models or []] or [
        f"{src.model} layers {list(src.layer_range)}" for s in cfg.slices or [] for src in s.sources
    ]
    lines += [f"- `{r}`" for r in refs]
    lines += ["", "## Configuration", "", "```yaml", cfg.to_yaml().rstrip(), "```", ""]
    return "\n".join(lines)


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    if out_dir.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        os.rename(out_dir, trash / "old")
        try:
            os.rename(tmp, out_dir)
        except BaseException:
            os.rename(trash / "old", out_dir)
            raise
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.rename(tmp, out_dir)
    with contextlib.suppress(OSError):
        fd = os.open(out_dir.parent, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
