"""Import Model Zoos (Schürholt et al., NeurIPS 2022 D&B) from their Ray Tune layout.

Paper: https://arxiv.org/abs/2209.14764 ; data and code: https://modelzoos.cc

Layout read (one folder per trained model, as Ray Tune writes it)::

    <zoo>/<experiment>/<trial>/params.json        the trial's config
    <zoo>/<experiment>/<trial>/result.json        one JSON object per line
    <zoo>/<experiment>/<trial>/checkpoint_000000/checkpoints   torch state dict

Epochs: ``checkpoint_NNNNNN`` is epoch ``NNNNNN``. The Model Zoos trainable sets
``_iteration = -1`` in ``setup`` and its first ``step()`` only evaluates the
untrained model, so the ``result.json`` line with ``training_iteration == N``
holds the metrics of the weights in ``checkpoint_{N:06d}``; epoch 0 is the
initialization, as in weightzoo.

Weights: ``module_list.{i}.weight`` / ``.bias``. The indices shift with
``model::dropout > 0`` (``nn.Dropout`` modules sit in the list: conv layers at
0, 4, 8 and linears at 11, 14 instead of 0, 3, 6 and 9, 11), and a later
variant applies dropout functionally without shifting them; both are mapped by
the order of the parameterized modules, checked against the shapes of
weightzoo's ``cnn_s`` / ``cnn_l``. Checkpoints are read with
``torch.load(weights_only=True)`` only.

Memory: a published zoo holds thousands of trials, so no tensor is kept between
checkpoints. A first pass reads and validates every checkpoint and keeps only
the plan (file, epoch, key order, a BLAKE2 digest of its bytes); ``write_zoo``
then asks a lazy mapping for one epoch of one shard at a time, which reads each
checkpoint once more. Peak memory is about one epoch of one shard plus one
checkpoint. A file that changes or disappears between the passes aborts the
import with an error naming it (the zoo is built in a temporary folder, so
nothing half-written remains).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import pickle
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from weightzoo.arch import ArchSpec, arch_layers, param_shapes
from weightzoo.errors import ConfigError, ZooFormatError
from weightzoo.zoo.importers.report import ImportReport, NothingImportedError
from weightzoo.zoo.writer import ZooShard, shard_groups, write_zoo

log = logging.getLogger(__name__)

URL = "https://arxiv.org/abs/2209.14764"
_CHECKPOINT_DIR = re.compile(r"^checkpoint_(\d+)$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PARAM_KEY = re.compile(r"^module_list\.(\d+)\.(weight|bias)$")
# Model Zoos' nonlinearity names -> weightzoo's (nn.LeakyReLU's default slope is F.leaky_relu's).
_NLIN = {
    "leakyrelu": "leaky_relu",
    "leaky_relu": "leaky_relu",
    "relu": "relu",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
    "gelu": "gelu",
}
_METRIC_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc")
# config key -> (weightzoo hyperparameter, type)
_CONFIG_KEYS = {
    "seed": ("seed", int),
    "model::init_type": ("init", str),
    "model::nlin": ("activation", str),
    "model::dropout": ("dropout", float),
    "optim::optimizer": ("optimizer", str),
    "optim::lr": ("lr", float),
    "optim::wd": ("weight_decay", float),
    "optim::momentum": ("momentum", float),
    "training::batchsize": ("batch_size", int),
    "model::type": ("source_model_type", str),
}


class _Skip(Exception):
    """Raised inside the reader for an item that is left out (message = reason)."""


def _find_trials(src: Path) -> list[Path]:
    trials = sorted(p.parent for p in src.glob("*/*/params.json"))
    if not trials:  # SRC may be one experiment folder
        trials = sorted(p.parent for p in src.glob("*/params.json"))
    return trials


def _read_params(trial: Path) -> dict[str, Any]:
    try:
        params = json.loads((trial / "params.json").read_text())
    except (OSError, ValueError) as e:
        raise _Skip(f"params.json is not readable JSON ({e})") from None
    if not isinstance(params, dict):
        raise _Skip("params.json does not hold a JSON object")
    return params


def _hyperparameters(params: dict[str, Any]) -> dict[str, Any]:
    hp: dict[str, Any] = {}
    for key, (name, kind) in _CONFIG_KEYS.items():
        if params.get(key) is None:
            continue
        try:
            value = kind(params[key])
        except (TypeError, ValueError):
            raise _Skip(f"params.json: {key} = {params[key]!r} is not a {kind.__name__}") from None
        hp[name] = (
            value.lower() if isinstance(value, str) and name != "source_model_type" else value
        )
    if "activation" not in hp:
        raise _Skip("params.json lacks model::nlin (the activation)")
    if hp["activation"] not in _NLIN:
        raise _Skip(
            f"params.json: model::nlin {hp['activation']!r} is not one of {', '.join(sorted(_NLIN))}"
        )
    hp["activation"] = _NLIN[hp["activation"]]
    hp.setdefault("dropout", 0.0)
    if not 0.0 <= hp["dropout"] < 1.0:
        raise _Skip(f"params.json: model::dropout {hp['dropout']} is not in [0, 1)")
    return hp


def _read_results(trial: Path, report: ImportReport) -> dict[int, dict[str, float | None]]:
    """``training_iteration -> metrics``; each malformed line is reported and skipped."""
    path = trial / "result.json"
    if not path.is_file():
        report.skip(path, "missing: the model's metrics are left empty", "metrics")
        return {}
    out: dict[int, dict[str, float | None]] = {}
    for lineno, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            it = int(row["training_iteration"])
            metrics = {}
            for k in _METRIC_KEYS:
                v = row.get(k)
                metrics[k] = None if v is None or not math.isfinite(float(v)) else float(v)
        except (ValueError, KeyError, TypeError) as e:
            what = (
                "no training_iteration" if isinstance(e, KeyError) else f"not a valid record ({e})"
            )
            report.skip(
                f"{path}:{lineno}", f"{what}; that epoch's metrics are left empty", "metrics"
            )
            continue
        out[it] = metrics
    return out


def _first_line(e: Exception) -> str:
    """The first line of an error message, without terminal colour codes."""
    text = _ANSI.sub("", str(e)).strip()
    # torch's refusal starts with generic advice; the line naming the class is the useful one
    for line in text.splitlines():
        if "WeightsUnpickler error:" in line:
            return line.split("WeightsUnpickler error:", 1)[1].split(". ")[0].strip()[:200]
    return (text.splitlines()[0] if text else type(e).__name__)[:200]


def _load_state(path: Path) -> tuple[dict[str, torch.Tensor], str]:
    """The validated state dict and the BLAKE2b digest of the file's bytes."""
    if not path.is_file():
        raise _Skip("checkpoint file 'checkpoints' is missing")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise _Skip(f"unreadable checkpoint file ({e})") from None
    digest = hashlib.blake2b(raw, digest_size=16).hexdigest()
    try:
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise _Skip(f"refused by torch.load(weights_only=True): {_first_line(e)}") from None
    except Exception as e:  # RuntimeError (truncated zip), EOFError, ...
        raise _Skip(f"unreadable torch file (truncated or corrupt?): {_first_line(e)}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise _Skip("not a state dict of tensors")
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise _Skip(f"non-finite weights (NaN/inf) in {', '.join(sorted(bad)[:3])}")
    return state, digest


def _ordered_params(state: dict[str, torch.Tensor]) -> list[tuple[str, torch.Size]]:
    """State dict keys in module order: ``module_list.{i}.weight`` then ``.bias`` by ``i``."""
    keyed = []
    for k, v in state.items():
        m = _PARAM_KEY.match(k)
        if m is None:
            raise _Skip(f"unexpected state dict key {k!r}; expected module_list.<i>.weight/.bias")
        keyed.append(((int(m.group(1)), m.group(2) == "bias"), k, v.shape))
    return [(k, s) for _, k, s in sorted(keyed)]


@lru_cache(maxsize=256)
def _spec_for(
    shapes: tuple[tuple[int, ...], ...], activation: str, type_hint: str
) -> tuple[ArchSpec, tuple[str, ...]]:
    """The cnn_s / cnn_l spec whose parameter shapes, in order, are ``shapes``."""
    families = ("cnn_l", "cnn_s") if type_hint.upper() in ("CNN2", "CNN3") else ("cnn_s", "cnn_l")
    channels, classes = shapes[0][1], shapes[-1][0]
    # 28x28 (MNIST, F-MNIST) and 32x32 (CIFAR-10, SVHN) first: several input sizes
    # give the same shapes, and those are the sizes Model Zoos was trained on.
    for family in families:
        for size in (28, 32, *range(8, 129)):
            spec = ArchSpec(
                family, (channels, size, size), num_classes=classes, activation=activation
            )
            try:
                expected = param_shapes(arch_layers(spec))
            except ConfigError:
                continue
            if tuple(expected.values()) == shapes:
                return spec, tuple(expected)
    raise _Skip(f"parameter shapes {list(shapes)} match neither cnn_s nor cnn_l at any input size")


@dataclass(frozen=True)
class _CheckpointPlan:
    """What the write pass needs to re-read one validated checkpoint (no tensors)."""

    path: Path
    digest: str  # BLAKE2b of the file's bytes when it was validated
    keys: tuple[str, ...]  # state dict keys in weightzoo's parameter order


@dataclass
class _TrialPlan:
    """One importable trial: its architecture, hyperparameters, checkpoints and metrics."""

    spec: ArchSpec
    hyperparameters: dict[str, Any]
    names: tuple[str, ...]  # weightzoo parameter names, in order
    checkpoints: dict[int, _CheckpointPlan]
    metrics: dict[int, dict[str, float | None]]


@lru_cache(maxsize=64)
def _shared_keys(keys: tuple[str, ...]) -> tuple[str, ...]:
    """One tuple object per distinct key order: the plan of 50k checkpoints stays small."""
    return keys


def _read_trial(trial: Path, report: ImportReport) -> _TrialPlan | None:
    """Validate every checkpoint of ``trial``; keep the plan, drop the tensors."""
    try:
        params = _read_params(trial)
        hp = _hyperparameters(params)
    except _Skip as e:
        report.skip(trial, str(e))
        return None
    results = _read_results(trial, report)
    checkpoints: dict[int, _CheckpointPlan] = {}
    spec: ArchSpec | None = None
    names: tuple[str, ...] = ()
    for ckpt in sorted(p for p in trial.iterdir() if _CHECKPOINT_DIR.match(p.name)):
        epoch = int(_CHECKPOINT_DIR.match(ckpt.name).group(1))
        try:
            state, digest = _load_state(ckpt / "checkpoints")
            ordered = _ordered_params(state)
            got, names = _spec_for(
                tuple(tuple(s) for _, s in ordered),
                hp["activation"],
                str(hp.get("source_model_type", "")),
            )
            if spec is not None and got != spec:
                raise _Skip(f"architecture {got.family} differs from earlier checkpoints")
        except _Skip as e:
            report.skip(ckpt / "checkpoints", str(e), "checkpoint")
            continue
        finally:
            state = None  # never hold one checkpoint's tensors while reading the next
        spec = got
        keys = _shared_keys(tuple(k for k, _ in ordered))
        checkpoints[epoch] = _CheckpointPlan(ckpt / "checkpoints", digest, keys)
    if not checkpoints:
        report.skip(trial, "no readable checkpoint")
        return None
    hp.update(experiment=trial.parent.name, trial=trial.name)
    metrics = {e: results[e] for e in checkpoints if e in results}
    assert spec is not None
    return _TrialPlan(spec, hp, names, checkpoints, metrics)


def _reload(plan: _CheckpointPlan) -> dict[str, torch.Tensor]:
    """Re-read a checkpoint validated in the first pass; refuse one that changed since.

    The same bytes were validated (NaN/inf, keys, shapes), so an equal digest is enough.
    """
    try:
        raw = plan.path.read_bytes()
    except OSError as e:
        raise ZooFormatError(
            f"{plan.path}: checkpoint disappeared or became unreadable since it was "
            f"validated ({e.strerror or e}); nothing was written, run the import again"
        ) from None
    if hashlib.blake2b(raw, digest_size=16).hexdigest() != plan.digest:
        raise ZooFormatError(
            f"{plan.path}: checkpoint changed since it was validated; "
            "nothing was written, run the import again"
        )
    return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)


class _LazyEpochs(Mapping):
    """``epoch -> name -> (M, *shape)`` float32, stacked from the checkpoint files when asked.

    Only one checkpoint is held at a time besides the M-model stack being filled.
    """

    def __init__(self, members: list[_TrialPlan], epochs: tuple[int, ...]) -> None:
        self.members, self.epochs = members, epochs

    def __getitem__(self, epoch: int) -> dict[str, torch.Tensor]:
        if epoch not in self.epochs:
            raise KeyError(epoch)
        first = self.members[0]
        stacked: dict[str, torch.Tensor] = {}
        for row, member in enumerate(self.members):
            plan = member.checkpoints[epoch]
            state = _reload(plan)
            for name, key in zip(member.names, plan.keys, strict=True):
                tensor = state[key]
                if row == 0:
                    stacked[name] = torch.empty(
                        (len(self.members), *tensor.shape), dtype=torch.float32
                    )
                if tensor.shape != stacked[name].shape[1:]:
                    raise ZooFormatError(
                        f"{plan.path}: {key} has shape {tuple(tensor.shape)}, expected "
                        f"{tuple(stacked[name].shape[1:])} as in {first.checkpoints[epoch].path}"
                    )
                stacked[name][row].copy_(tensor)  # copy_ casts to float32
            del state
        return stacked

    def __iter__(self) -> Iterator[int]:
        return iter(self.epochs)

    def __len__(self) -> int:
        return len(self.epochs)


def _plan_shards(trials: list[tuple[str, _TrialPlan]], max_per_shard: int) -> list[ZooShard]:
    """Shards as ``group_models`` forms them (same spec and epochs), with lazy weights."""
    return [
        ZooShard(
            spec=part[0][1].spec.replace(dropout=0.0),
            model_ids=[mid for mid, _ in part],
            hyperparameters=[t.hyperparameters for _, t in part],
            weights=_LazyEpochs([t for _, t in part], epochs),
            metrics={e: [t.metrics.get(e, {}) for _, t in part] for e in epochs},
        )
        for epochs, part in shard_groups(
            trials, lambda mt: mt[1].spec, lambda mt: mt[1].checkpoints, max_per_shard=max_per_shard
        )
    ]


def import_modelzoos(
    src: str | Path,
    out: str | Path,
    *,
    name: str | None = None,
    overwrite: bool = False,
    max_per_shard: int = 1024,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import every trial under ``src`` into a new weightzoo zoo at ``out``.

    Bad items (unreadable params.json, malformed result.json lines, missing or
    refused checkpoints, NaN weights) are skipped, recorded in the report, and
    the import goes on. Checkpoints are validated in a first pass and read again
    one shard epoch at a time while writing, so memory does not grow with the zoo.

    Args:
        src: a Model Zoos folder (``<experiment>/<trial>/...``) or one experiment folder.
        out: the zoo to create.
        name: zoo name (default: ``src``'s folder name).
        overwrite: replace an existing zoo at ``out``.
        max_per_shard: models per shard file.
        progress: ``(done, total)`` over trials read, then epoch files written.

    Returns:
        The report, with ``report.zoo`` the new zoo.

    Raises:
        ZooFormatError: ``src`` is not a folder or holds no trial, or a checkpoint
            changed or disappeared between validation and writing (nothing is written).
        NothingImportedError: no model could be imported (the report says why).
        ZooExistsError: ``out`` is taken.
    """
    src = Path(src)
    if not src.is_dir():
        raise ZooFormatError(f"{src}: not a folder; expected a Model Zoos folder of trials")
    report = ImportReport(source=str(src), format="modelzoos")
    trials = _find_trials(src)
    if not trials:
        raise ZooFormatError(
            f"{src}: no <experiment>/<trial>/params.json here; expected a Model Zoos folder "
            "as Ray Tune writes it"
        )
    models: list[tuple[str, _TrialPlan]] = []
    for i, trial in enumerate(trials):
        got = _read_trial(trial, report)
        if got is not None:
            models.append((f"m{len(models):05d}", got))
        if progress is not None:
            progress(i + 1, len(trials))
    if not models:
        raise NothingImportedError(report)
    report.models = len(models)
    report.checkpoints = sum(len(t.checkpoints) for _, t in models)

    def on_write(done: int, total: int) -> None:
        if progress is not None:
            progress(len(trials) + done, len(trials) + total)

    report.zoo = write_zoo(
        out,
        _plan_shards(models, max_per_shard),
        name=name or src.resolve().name,
        dataset={"name": _dataset_name(trials)},
        provenance={
            "format": "modelzoos",
            "source": str(src.resolve()),
            "url": URL,
            "trials_found": len(trials),
            "skipped": [s.__dict__ for s in report.skipped],
        },
        overwrite=overwrite,
        progress=on_write,
    )
    return report


def _dataset_name(trials: list[Path]) -> str | None:
    """``dataset::dump`` of the first readable params.json (Model Zoos names the data file there)."""
    for trial in trials:
        try:
            dump = json.loads((trial / "params.json").read_text()).get("dataset::dump")
        except (OSError, ValueError, AttributeError):
            continue
        if dump:
            return Path(str(dump)).stem
    return None


__all__ = ["URL", "import_modelzoos"]
