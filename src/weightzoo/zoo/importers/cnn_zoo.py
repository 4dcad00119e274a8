"""Import the Small CNN Zoo layout (Unterthiner et al. 2020) into a weightzoo zoo.

Paper: https://arxiv.org/abs/2002.11448 ; data and code:
https://github.com/google-research/google-research/tree/master/dnn_predict_accuracy

Reads ``weights.npy`` (``(N, P)``, one row per checkpoint), ``layout.csv``
(where each Keras variable lies in a row and its shape), and ``metrics.csv``
or ``metrics.csv.gz`` (row ``i`` describes row ``i`` of the weights: the
``config.*`` hyperparameters, ``modeldir`` naming the network, ``step`` its
epoch, and accuracies/losses). Rows of one ``modeldir`` become one model, its
``step`` values its epochs. TF kernels are transposed to torch layout (HWIO ->
OIHW, ``(in, out)`` -> ``(out, in)``; see ``weightzoo.zoo.exporters._tf_layout``).
Without a ``weightzoo_spec.json`` (written by weightzoo's exporter) the
architecture is the paper's CNN (``cnn_zoo``), with channels, widths and
classes read off the layout and the input size from ``config.dataset``.
"""

from __future__ import annotations

import ast
import json
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from weightzoo.arch import ACTIVATIONS, ArchSpec
from weightzoo.errors import ConfigError, ZooFormatError
from weightzoo.zoo.exporters._tf_layout import (
    COLUMN_TO_HP,
    METRIC_COLUMNS,
    SPEC_FILE,
    TFVariable,
    from_tf,
    small_cnn_zoo_spec,
    tf_variables,
)
from weightzoo.zoo.importers.report import ImportReport, NothingImportedError
from weightzoo.zoo.writer import ZooShard, write_zoo

log = logging.getLogger(__name__)

URL = "https://arxiv.org/abs/2002.11448"
# Image sizes of the four released zoos (TFDS names in config.dataset).
_INPUT_SIZE = {"mnist": 28, "fashion_mnist": 28, "cifar10": 32, "svhn_cropped": 32}
_LAYOUT_COLUMNS = ("varname", "start_idx", "end_idx", "shape")
_CHUNK_ROWS = 8192


def _read_layout(path: Path, width: int) -> dict[str, tuple[int, int, tuple[int, ...]]]:
    """``varname -> (start, end, shape)``, checked against the row width."""
    if not path.is_file():
        raise ZooFormatError(f"{path}: missing; expected the Small CNN Zoo layout.csv")
    df = pd.read_csv(path)
    missing = [c for c in _LAYOUT_COLUMNS if c not in df.columns]
    if missing:
        raise ZooFormatError(f"{path}: lacks column(s) {missing}; expected {list(_LAYOUT_COLUMNS)}")
    out = {}
    for i, r in df.iterrows():
        try:
            shape = tuple(int(s) for s in ast.literal_eval(str(r["shape"])))
            start, end = int(r["start_idx"]), int(r["end_idx"])
        except (ValueError, SyntaxError, TypeError):
            raise ZooFormatError(
                f"{path} row {i}: shape {r['shape']!r} is not a tuple of ints"
            ) from None
        if not 0 <= start <= end <= width or end - start != math.prod(shape):
            raise ZooFormatError(
                f"{path} row {i} ({r['varname']}): [{start}, {end}) with shape {shape} does not fit "
                f"a row of {width} values"
            )
        out[str(r["varname"])] = (start, end, shape)
    return out


def _read_metrics(src: Path, n_rows: int) -> pd.DataFrame:
    for name in ("metrics.csv.gz", "metrics.csv"):
        path = src / name
        if path.is_file():
            break
    else:
        raise ZooFormatError(f"{src}: no metrics.csv.gz or metrics.csv (one row per weights row)")
    df = pd.read_csv(path)
    for col in ("modeldir", "step"):
        if col not in df.columns:
            raise ZooFormatError(f"{path}: lacks column {col!r}")
    if len(df) != n_rows:
        raise ZooFormatError(
            f"{path}: {len(df)} rows, but weights.npy has {n_rows}; they must align"
        )
    return df


def _python(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _hyperparameters(row: pd.Series) -> dict[str, Any]:
    hp = {}
    for col, value in row.items():
        if not str(col).startswith("config."):
            continue
        value = _python(value)
        if value is not None:
            hp[COLUMN_TO_HP.get(col, str(col)[len("config.") :])] = value
    hp["modeldir"] = str(row["modeldir"])
    return hp


class _LazyEpochs(Mapping):
    """``epoch -> name -> (M, *shape)`` read from the memory-mapped rows when asked."""

    def __init__(self, flat: np.ndarray, rows: dict[int, list[int]],
                 layout: dict[str, tuple[int, int, tuple[int, ...]]], variables: list[TFVariable]) -> None:  # fmt: skip
        self.flat, self.rows, self.layout, self.variables = flat, rows, layout, variables

    def __getitem__(self, epoch: int) -> dict[str, torch.Tensor]:
        block = np.asarray(self.flat[self.rows[epoch]])
        out = {}
        for var in self.variables:
            start, end, shape = self.layout[var.varname]
            x = block[:, start:end].reshape(len(block), *shape)
            out[var.param] = torch.from_numpy(np.ascontiguousarray(from_tf(var, x)))
        return out

    def __iter__(self) -> Iterator[int]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def _base_spec(src: Path, layout: dict, metrics: pd.DataFrame, input_size: int | None) -> ArchSpec:
    spec_file = src / SPEC_FILE
    if spec_file.is_file():
        try:
            return ArchSpec.from_dict(json.loads(spec_file.read_text())["spec"])
        except (ValueError, KeyError, ConfigError) as e:
            raise ZooFormatError(f"{spec_file}: not a weightzoo architecture ({e})") from None
    if input_size is None:
        dataset = str(metrics["config.dataset"].iloc[0]) if "config.dataset" in metrics else ""
        input_size = _INPUT_SIZE.get(dataset, 28)
    return small_cnn_zoo_spec({k: v[2] for k, v in layout.items()}, input_size)


def _finite_rows(flat: np.ndarray) -> np.ndarray:
    ok = np.empty(len(flat), dtype=bool)
    for lo in range(0, len(flat), _CHUNK_ROWS):
        ok[lo : lo + _CHUNK_ROWS] = np.isfinite(flat[lo : lo + _CHUNK_ROWS]).all(axis=1)
    return ok


def import_cnn_zoo(
    src: str | Path,
    out: str | Path,
    *,
    name: str | None = None,
    overwrite: bool = False,
    input_size: int | None = None,
    max_per_shard: int = 1024,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import a folder in the Small CNN Zoo layout into a new zoo at ``out``.

    Rows with non-finite weights, a missing ``step``, or a ``step`` seen before
    for the same model, and models with an activation weightzoo lacks, are
    skipped and listed in the report; the import goes on.

    Args:
        src: folder with ``weights.npy``, ``layout.csv``, ``metrics.csv(.gz)``.
        out: the zoo to create.
        name: zoo name (default: ``src``'s folder name).
        overwrite: replace an existing zoo at ``out``.
        input_size: image side for the released zoos when ``config.dataset`` is
            not one of theirs (default 28; the CNN's parameters do not depend on it).
        max_per_shard: models per shard file.
        progress: ``(epoch_files_written, total)``.

    Returns:
        The report, with ``report.zoo`` the new zoo.

    Raises:
        ZooFormatError: a missing or inconsistent file (named in the message).
        NothingImportedError: no row could be imported.
    """
    src = Path(src)
    wpath = src / "weights.npy"
    if not wpath.is_file():
        raise ZooFormatError(f"{wpath}: missing; expected the (N, P) weights matrix")
    try:
        flat = np.load(wpath, mmap_mode="r", allow_pickle=False)
    except ValueError as e:
        raise ZooFormatError(f"{wpath}: not a numeric .npy matrix ({e})") from None
    if flat.ndim != 2 or not np.issubdtype(flat.dtype, np.floating):
        raise ZooFormatError(f"{wpath}: expected a 2-D float matrix, got {flat.dtype} {flat.shape}")
    layout = _read_layout(src / "layout.csv", flat.shape[1])
    metrics = _read_metrics(src, len(flat))
    base = _base_spec(src, layout, metrics, input_size)
    variables = tf_variables(base)
    for var in variables:
        if var.varname not in layout or layout[var.varname][2] != var.tf_shape:
            got = layout.get(var.varname, (0, 0, "absent"))[2]
            raise ZooFormatError(
                f"{src / 'layout.csv'}: {var.varname} should have shape {var.tf_shape} for "
                f"{base.family}, found {got}"
            )

    report = ImportReport(source=str(src), format="cnn-zoo")
    finite = _finite_rows(flat)
    # model -> (hyperparameters, activation, {epoch: row})
    models: dict[str, tuple[dict[str, Any], str, dict[int, int]]] = {}
    rejected: set[str] = set()
    modeldirs = metrics["modeldir"].astype(str).to_numpy()
    steps = metrics["step"].to_numpy()
    for i, modeldir in enumerate(modeldirs):
        where = f"row {i} (modeldir {modeldir}, step {steps[i]})"
        if modeldir in rejected:
            continue
        if modeldir not in models:
            hp = _hyperparameters(metrics.iloc[i])
            activation = str(hp.get("activation", base.activation)).lower()
            if activation not in ACTIVATIONS:
                report.skip(
                    f"modeldir {modeldir}", f"activation {activation!r} is not one of {ACTIVATIONS}"
                )
                rejected.add(modeldir)
                continue
            hp["activation"] = activation
            models[modeldir] = (hp, activation, {})
        step = _python(steps[i])
        if step is None or float(step) != int(step) or int(step) < 0:
            report.skip(where, f"step {step!r} is not an epoch number", "checkpoint")
            continue
        epochs = models[modeldir][2]
        if int(step) in epochs:
            report.skip(where, f"step {int(step)} appears twice for this model", "checkpoint")
            continue
        if not finite[i]:
            report.skip(where, "non-finite weights (NaN/inf)", "checkpoint")
            continue
        epochs[int(step)] = i
    for modeldir, (_, _, epochs) in list(models.items()):
        if not epochs:
            report.skip(f"modeldir {modeldir}", "no importable checkpoint")
            del models[modeldir]
    if not models:
        raise NothingImportedError(report)

    ids = {modeldir: f"m{k:05d}" for k, modeldir in enumerate(models)}
    groups: dict[tuple[str, tuple[int, ...]], list[str]] = {}
    for modeldir, (_, activation, epochs) in models.items():
        groups.setdefault((activation, tuple(sorted(epochs))), []).append(modeldir)
    shards = []
    for (activation, epochs), members in groups.items():
        for lo in range(0, len(members), max_per_shard):
            part = members[lo : lo + max_per_shard]
            rows = {e: [models[m][2][e] for m in part] for e in epochs}
            shards.append(
                ZooShard(
                    spec=base.replace(activation=activation, dropout=0.0),
                    model_ids=[ids[m] for m in part],
                    hyperparameters=[_with_dropout(models[m][0]) for m in part],
                    weights=_LazyEpochs(flat, rows, layout, variables),
                    metrics={e: [_metrics(metrics, r) for r in rs] for e, rs in rows.items()},
                )
            )
    report.models = len(models)
    report.checkpoints = sum(len(e) for _, _, e in models.values())
    dataset = _python(metrics["config.dataset"].iloc[0]) if "config.dataset" in metrics else None
    report.zoo = write_zoo(
        out,
        shards,
        name=name or src.resolve().name,
        dataset={"name": dataset},
        provenance={
            "format": "cnn-zoo",
            "source": str(src.resolve()),
            "url": URL,
            "rows": len(flat),
            "skipped": [s.__dict__ for s in report.skipped],
        },
        overwrite=overwrite,
        progress=progress,
    )
    return report


def _with_dropout(hp: dict[str, Any]) -> dict[str, Any]:
    """Zoo.spec reads a model's dropout from its hyperparameters; it must be a number."""
    return hp if isinstance(hp.get("dropout", 0.0), int | float) else {**hp, "dropout": 0.0}


def _metrics(df: pd.DataFrame, row: int) -> dict[str, float | None]:
    out = {}
    for col, key in METRIC_COLUMNS.items():
        v = _python(df[col].iat[row]) if col in df.columns else None
        out[key] = None if v is None or not math.isfinite(float(v)) else float(v)
    return out


__all__ = ["URL", "import_cnn_zoo"]
