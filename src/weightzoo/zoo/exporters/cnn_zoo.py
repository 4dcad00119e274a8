"""Export a zoo of one architecture in the Small CNN Zoo layout (Unterthiner et al. 2020).

Paper: https://arxiv.org/abs/2002.11448 ; format: google-research/dnn_predict_accuracy.

Writes, into one folder:

- ``weights.npy``: float32 ``(N, P)``, one row per (model, epoch) checkpoint,
  rows ordered by model id then epoch;
- ``layout.csv``: ``varname,start_idx,end_idx,size,shape`` (see ``_tf_layout``);
- ``metrics.csv.gz``: one row per checkpoint: ``config.<hyperparameter>``
  columns, ``modeldir``, ``step`` (the epoch), ``train_accuracy``,
  ``train_loss``, ``val_accuracy``, ``val_loss``, ``test_accuracy``, ``test_loss``;
- ``weightzoo_spec.json``: the architecture, so ``import_cnn_zoo`` rebuilds the
  exact spec (readers of the original format ignore it).

NFN-style readers (``np.load("weights.npy")``, ``pd.read_csv("metrics.csv.gz")``,
slices from ``layout.csv``) read it as they read the released zoo.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from weightzoo.arch import ArchSpec
from weightzoo.errors import ZooExistsError, ZooFormatError
from weightzoo.zoo._io import swap_dir_into_place
from weightzoo.zoo.exporters._tf_layout import (
    HP_TO_COLUMN,
    METRIC_COLUMNS,
    SPEC_FILE,
    tf_variables,
    to_tf,
)

if TYPE_CHECKING:
    from weightzoo.zoo.zoo import Zoo

URL = "https://arxiv.org/abs/2002.11448"


def _single_spec(zoo: Zoo, model_ids: list[str]) -> ArchSpec:
    """The zoo's one architecture (activation and dropout may vary per model)."""
    specs = {}
    for mid in model_ids:
        spec = zoo.spec(mid).replace(activation="tanh", dropout=0.0)
        specs.setdefault(spec.to_json(), mid)
    if len(specs) != 1:
        raise ZooFormatError(
            f"cnn-zoo export needs models of one architecture; {zoo.root} has {len(specs)} "
            f"(e.g. models {', '.join(list(specs.values())[:3])}); export a subset with model_ids"
        )
    return ArchSpec.from_dict(json.loads(next(iter(specs))))


def export_cnn_zoo(
    zoo: Zoo,
    out: str | Path,
    *,
    model_ids: list[str] | None = None,
    epochs: list[int] | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write the zoo's checkpoints in the Small CNN Zoo layout.

    Args:
        zoo: the source zoo.
        out: output folder (created through a temporary sibling and a rename).
        model_ids: models to export (default: all with a checkpoint).
        epochs: epochs to export (default: every epoch in the catalog).
        overwrite: replace ``out`` if it exists.
        progress: ``(epochs_done, total)``.

    Returns:
        The output folder.

    Raises:
        ZooFormatError: models of more than one architecture, or nothing to export.
        ZooExistsError: ``out`` exists and ``overwrite`` is false.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not (out / "layout.csv").is_file() or not (out / "weights.npy").is_file():
            raise ZooExistsError(
                f"{out} exists and is not empty or a cnn-zoo export; choose another --out"
            )
        if not overwrite:
            raise ZooExistsError(f"{out} holds a cnn-zoo export; pass --overwrite to replace it")
    cat = zoo.catalog
    ids = sorted(model_ids) if model_ids is not None else zoo.models()
    rows = cat[cat["model_id"].isin(ids)]
    if epochs is not None:
        rows = rows[rows["epoch"].isin(epochs)]
    if rows.empty:
        raise ZooFormatError(f"cnn-zoo export: no checkpoint of {zoo.root} to export")
    ids = sorted(rows["model_id"].unique())
    spec = _single_spec(zoo, ids)
    variables = tf_variables(spec)
    sizes = [int(np.prod(v.tf_shape)) for v in variables]
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    rows = rows.sort_values(["model_id", "epoch"]).reset_index(drop=True)
    row_of = {
        (m, int(e)): i for i, (m, e) in enumerate(zip(rows["model_id"], rows["epoch"], strict=True))
    }

    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        flat = np.lib.format.open_memmap(
            tmp / "weights.npy", mode="w+", dtype=np.float32, shape=(len(rows), int(starts[-1]))
        )
        by_epoch = rows.groupby("epoch")["model_id"].apply(list)
        for k, (epoch, mids) in enumerate(by_epoch.items()):
            stacked = zoo.stacked(int(epoch), mids)
            index = [row_of[(m, int(epoch))] for m in mids]
            for var, lo, hi in zip(variables, starts[:-1], starts[1:], strict=True):
                tf = to_tf(var, stacked[var.param].to("cpu").numpy().astype(np.float32, copy=False))
                flat[index, lo:hi] = tf.reshape(len(mids), -1)
            if progress is not None:
                progress(k + 1, len(by_epoch))
        flat.flush()
        del flat
        layout = pd.DataFrame(
            {
                "varname": [v.varname for v in variables],
                "start_idx": starts[:-1],
                "end_idx": starts[1:],
                "size": sizes,
                "shape": [str(tuple(v.tf_shape)) for v in variables],
            }
        )
        layout.to_csv(tmp / "layout.csv", index=False)
        _metrics_frame(zoo, rows).to_csv(tmp / "metrics.csv.gz", index=False, compression="gzip")
        (tmp / SPEC_FILE).write_text(
            json.dumps({"spec": spec.to_dict(), "source_zoo": zoo.name, "url": URL}, indent=2)
            + "\n"
        )
        swap_dir_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _metrics_frame(zoo: Zoo, rows: pd.DataFrame) -> pd.DataFrame:
    activation = {mid: zoo.spec(mid).activation for mid in rows["model_id"].unique()}
    records = []
    for mid, epoch, *metrics in rows[["model_id", "epoch", *METRIC_COLUMNS.values()]].itertuples(
        index=False
    ):
        info = zoo.manifest["models"][mid]
        rec: dict[str, Any] = {}
        for k, v in info.items():
            if k in ("shard", "index", "modeldir", "activation"):
                continue
            rec[HP_TO_COLUMN.get(k, f"config.{k}")] = v
        rec["config.activation"] = activation[mid]
        rec["modeldir"] = info.get("modeldir", mid)
        rec["step"] = int(epoch)
        for col, value in zip(METRIC_COLUMNS, metrics, strict=True):
            rec[col] = value
        records.append(rec)
    df = pd.DataFrame.from_records(records)
    config_cols = sorted(c for c in df.columns if c.startswith("config."))
    return df[[*config_cols, "modeldir", "step", *METRIC_COLUMNS]]


__all__ = ["URL", "export_cnn_zoo"]
