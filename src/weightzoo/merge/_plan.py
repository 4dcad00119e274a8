"""From a MergeConfig and model folders to a list of per-tensor jobs, validated.

Everything that can be wrong with the input (missing folders, tensors that differ
in name, shape or dtype, a base model a method needs, parameters that are
missing, unknown or unresolvable) is found here, before any byte is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from weightzoo.errors import ConfigError
from weightzoo.merge._apply import check_model_count, check_same_tensors
from weightzoo.merge.checkpoint_io import Checkpoint
from weightzoo.merge.config import MergeConfig, OutputSlice, evaluate_setting
from weightzoo.merge.methods import REQUIRED, MergeMethodEntry, get_method

# "<prefix>.layers.<i>.<rest>": the layer stack of decoder-style models (Llama:
# model.layers, GPT-2: h, many others: blocks / layer). The first match wins.
_LAYER = re.compile(
    r"^(?P<prefix>(?:.*?\.)?(?:layers|h|blocks|block|layer)\.)(?P<idx>\d+)(?P<rest>\..+)$"
)
# Tensors outside layers that come before them (taken from the first slice).
_PRE = re.compile(r"embed|wte|wpe|tok_emb")


@dataclass(frozen=True)
class TensorJob:
    """How to make one output tensor.

    Attributes:
        out_name: its name in the output.
        base: (model index, tensor name) of the base input, or None.
        inputs: (model index, tensor name) of each non-base input.
        model_params: per-model parameter -> one value per input.
        params: global parameters.
        t: depth in its slice (0..1); 0 outside layers.
    """

    out_name: str
    base: tuple[int, str] | None
    inputs: tuple[tuple[int, str], ...]
    model_params: dict[str, list[Any]]
    params: dict[str, Any]
    t: float


@dataclass
class MergePlan:
    """Everything needed to run a merge: the models, the jobs, the output dtype."""

    config: MergeConfig
    method: MergeMethodEntry
    paths: list[Path]
    checkpoints: list[Checkpoint]
    jobs: list[TensorJob]
    out_dtype: torch.dtype | None
    n_layers: int | None
    config_source: int  # model whose config.json is copied
    config_dir: Path | None = None  # relative model paths are also looked up here

    def out_shape(self, job: TensorJob) -> tuple[int, ...]:
        idx, name = job.base or job.inputs[0]
        return self.checkpoints[idx].tensors[name].shape

    def out_tensor_dtype(self, job: TensorJob) -> torch.dtype:
        idx, name = job.base or job.inputs[0]
        src = self.checkpoints[idx].tensors[name].dtype
        if not src.is_floating_point:
            return src
        return self.out_dtype or src

    def close(self) -> None:
        for c in self.checkpoints:
            c.close()


def resolve_model_path(model: str, config_dir: Path | None) -> Path:
    """A model reference as a local folder: as given, else relative to the config file."""
    if "+" in model and not Path(model).exists():
        raise ConfigError(f"model {model!r}: LoRA references (model+lora) are not supported")
    path = Path(model).expanduser()
    if not path.exists() and config_dir is not None and not path.is_absolute():
        path = config_dir / path
    if not path.is_dir():
        raise ConfigError(
            f"model {model!r}: not a local folder; weightzoo never downloads, so fetch hub "
            "models first (e.g. `huggingface-cli download NAME --local-dir DIR`)"
        )
    return path.resolve()


def _check_parameter_names(config: MergeConfig, entry: MergeMethodEntry) -> None:
    known = set(entry.params) | set(entry.model_params)
    scopes: list[tuple[str, dict | None]] = [("parameters", config.parameters)]
    for i, m in enumerate(config.models or []):
        scopes.append((f"models.{i}.parameters", m.parameters))
    for i, s in enumerate(config.slices or []):
        scopes.append((f"slices.{i}.parameters", s.parameters))
        for j, src in enumerate(s.sources):
            scopes.append((f"slices.{i}.sources.{j}.parameters", src.parameters))
    for where, params in scopes:
        for key in params or {}:
            if key not in known:
                names = ", ".join(sorted(known)) or "none"
                raise ConfigError(
                    f"{where}.{key}: not a parameter of merge method {entry.name!r} "
                    f"(it takes: {names})"
                )
            if ".sources." in where or where.startswith("models."):
                if key in entry.params:
                    # mergekit reads shared parameters only from slice and global
                    # scopes: here it would be ignored without a word.
                    raise ConfigError(
                        f"{where}.{key}: {key!r} applies to the whole merge; "
                        "put it under the top-level (or slice) parameters"
                    )


def _resolve(
    name: str,
    default: Any,
    scopes: list[dict | None],
    tensor: str,
    t: float,
    *,
    method: str,
    who: str,
) -> Any:
    for scope in scopes:
        if scope and name in scope:
            value = evaluate_setting(tensor, scope[name], t)
            if value is not None:
                return value
    if default is REQUIRED:
        raise ConfigError(
            f"parameters.{name}: required by merge method {method!r} "
            f"(missing for {who}, tensor {tensor!r})"
        )
    return default


def _layer_parts(name: str) -> tuple[str, int, str] | None:
    m = _LAYER.match(name)
    return (m["prefix"], int(m["idx"]), m["rest"]) if m else None


class _Planner:
    def __init__(self, config: MergeConfig, config_dir: Path | None) -> None:
        self.config = config
        self.entry = get_method(config.merge_method)
        if self.entry.aux:
            raise ConfigError(
                f"merge_method: {self.entry.name!r} needs data ({', '.join(self.entry.aux)}); "
                "use weightzoo.merge.merge_state_dicts from Python"
            )
        _check_parameter_names(config, self.entry)
        self.config_dir = config_dir
        self.paths: list[Path] = []
        self.index: dict[Path, int] = {}

    def model(self, ref: str) -> int:
        path = resolve_model_path(ref, self.config_dir)
        if path not in self.index:
            self.index[path] = len(self.paths)
            self.paths.append(path)
        return self.index[path]

    def job(
        self,
        out_name: str,
        base: tuple[int, str] | None,
        inputs: list[tuple[int, str]],
        model_scopes: list[list[dict | None]],
        shared_scopes: list[dict | None],
        t: float,
    ) -> TensorJob:
        e = self.entry
        mp = {
            name: [
                _resolve(name, d, scopes, src, t, method=e.name, who=str(self.paths[i]))
                for (i, src), scopes in zip(inputs, model_scopes, strict=True)
            ]
            for name, d in e.model_params.items()
        }
        gp = {
            name: _resolve(name, d, shared_scopes, out_name, t, method=e.name, who="the merge")
            for name, d in e.params.items()
        }
        return TensorJob(out_name, base, tuple(inputs), mp, gp, t)


def _layer_count(names: list[str]) -> int | None:
    idx = [p[1] for n in names if (p := _layer_parts(n))]
    return max(idx) + 1 if idx else None


def build_plan(config: MergeConfig, *, config_dir: Path | None = None) -> MergePlan:
    """Validate a config against the model folders and list the tensor jobs.

    Raises:
        ConfigError: bad config (unknown or missing parameters, missing base model...).
        MergeInputError: the models' tensors differ in names, shapes or dtypes.
        CheckpointError: a folder is not a readable Hugging Face checkpoint.
    """
    p = _Planner(config, config_dir)
    if config.slices:
        return _plan_slices(p, config)
    entry = p.entry
    base_idx = p.model(config.base_model) if config.base_model else None
    members = [(p.model(m.model), m.parameters) for m in config.models or []]
    if base_idx is not None and base_idx not in [i for i, _ in members] and not entry.needs_base:
        # mergekit adds a base that is not listed as one more input.
        members.append((base_idx, None))
    if entry.needs_base:
        non_base = [(i, prm) for i, prm in members if i != base_idx]
    else:
        non_base, base_idx = members, None
    check_model_count(entry, len(non_base), base_idx is not None)
    ckpts = _open_all(p.paths)
    order = ([base_idx] if base_idx is not None else []) + [i for i, _ in non_base]
    _check_inputs(config, ckpts, p.paths, order)
    ref = ckpts[order[0]]
    names = sorted(ref.tensors, key=lambda n: (str(ref.tensors[n].file), ref.tensors[n].offset))
    n_layers = _layer_count(names)
    jobs = []
    for name in names:
        parts = _layer_parts(name)
        if parts and n_layers:
            t = parts[1] / (n_layers - 1) if n_layers > 1 else 1.0
        else:
            t = 0.0
        jobs.append(
            p.job(
                name,
                None if base_idx is None else (base_idx, name),
                [(i, name) for i, _ in non_base],
                [[prm, config.parameters] for _, prm in non_base],
                [config.parameters],
                t,
            )
        )
    return MergePlan(
        config,
        entry,
        p.paths,
        ckpts,
        jobs,
        config.torch_out_dtype(),
        n_layers,
        order[0],
        config_dir,
    )


def _open_all(paths: list[Path]) -> list[Checkpoint]:
    return [Checkpoint(path) for path in paths]


def _check_inputs(
    config: MergeConfig, ckpts: list[Checkpoint], paths: list[Path], order: list[int]
) -> None:
    cast = config.torch_dtype() is not None
    specs = [
        {
            k: (v.shape, "float" if cast and v.dtype.is_floating_point else v.dtype)
            for k, v in ckpts[i].tensors.items()
        }
        for i in order
    ]
    check_same_tensors([str(paths[i]) for i in order], specs)


def _plan_slices(p: _Planner, config: MergeConfig) -> MergePlan:
    entry = p.entry
    slice_inputs = []
    for k, s in enumerate(config.slices or []):
        srcs = [(p.model(src.model), src) for src in s.sources]
        base_ref = s.base_model or config.base_model
        base_idx = p.model(base_ref) if base_ref else None
        if entry.needs_base:
            if base_idx not in [i for i, _ in srcs]:
                raise ConfigError(
                    f"slices.{k}: merge method {entry.name!r} needs the base model among the "
                    "slice's sources"
                    if base_idx is not None
                    else f"base_model: merge method {entry.name!r} needs a base model"
                )
            base_src = next(src for i, src in srcs if i == base_idx)
            non_base = [(i, src) for i, src in srcs if i != base_idx]
        else:
            base_idx, base_src, non_base = None, None, srcs
        check_model_count(entry, len(non_base), base_idx is not None)
        slice_inputs.append((s, base_idx, base_src, non_base))
    ckpts = _open_all(p.paths)
    everyone = sorted(p.index.values())
    ref_idx = slice_inputs[0][1] if slice_inputs[0][1] is not None else slice_inputs[0][3][0][0]
    _check_inputs(config, ckpts, p.paths, [ref_idx] + [i for i in everyone if i != ref_idx])
    ref = ckpts[ref_idx]
    names = sorted(ref.tensors, key=lambda n: (str(ref.tensors[n].file), ref.tensors[n].offset))
    n_src_layers = _layer_count(names)
    layer_names = [n for n in names if _layer_parts(n)]
    others = [n for n in names if not _layer_parts(n)]
    pre = [n for n in others if _PRE.search(n)]
    post = [n for n in others if not _PRE.search(n)]
    for s, *_ in slice_inputs:
        for src in s.sources:
            if n_src_layers is None or src.layer_range[1] > n_src_layers:
                raise ConfigError(
                    f"slices: layer_range {list(src.layer_range)} of {src.model} is past its "
                    f"{n_src_layers or 0} layers"
                )
    suffixes = [(pp[0], pp[2]) for n in layer_names if (pp := _layer_parts(n)) and pp[1] == 0]

    def slice_job(sl: OutputSlice, base_idx, base_src, non_base, out_name, src_name, t):  # noqa: ANN001
        return p.job(
            out_name,
            None if base_idx is None else (base_idx, src_name(base_src)),
            [(i, src_name(src)) for i, src in non_base],
            [[src.parameters, sl.parameters, config.parameters] for _, src in non_base],
            [sl.parameters, config.parameters],
            t,
        )

    jobs = []
    first, last = slice_inputs[0], slice_inputs[-1]
    for name in pre:
        jobs.append(slice_job(*first, name, lambda _s, n=name: n, 0.0))
    out_layer = 0
    for sl, base_idx, base_src, non_base in slice_inputs:
        n = sl.sources[0].layer_range[1] - sl.sources[0].layer_range[0]
        for offset in range(n):
            t = offset / (n - 1) if n > 1 else 1.0
            for prefix, rest in suffixes:
                jobs.append(
                    slice_job(
                        sl,
                        base_idx,
                        base_src,
                        non_base,
                        f"{prefix}{out_layer}{rest}",
                        lambda src, pr=prefix, r=rest, o=offset: f"{pr}{src.layer_range[0] + o}{r}",
                        t,
                    )
                )
            out_layer += 1
    for name in post:
        jobs.append(slice_job(*last, name, lambda _s, n=name: n, 0.0))
    return MergePlan(
        config,
        entry,
        p.paths,
        ckpts,
        jobs,
        config.torch_out_dtype(),
        out_layer,
        ref_idx,
        p.config_dir,
    )
