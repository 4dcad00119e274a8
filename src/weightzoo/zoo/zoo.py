"""``Zoo``: read access to a zoo on disk."""

from __future__ import annotations

import json
import logging
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from weightzoo.arch import ArchSpec, build_model
from weightzoo.errors import ZooFormatError
from weightzoo.zoo._io import RemotePath, ZooPath, as_zoo_path
from weightzoo.zoo.catalog import load_manifest, read_catalog, rebuild_catalog
from weightzoo.zoo.format import epoch_relpath, safe_join
from weightzoo.zoo.shardfiles import StackedFile, empty_like_numpy

log = logging.getLogger(__name__)


@lru_cache(maxsize=64)
def _module_order(spec_json: str) -> tuple[str, ...]:
    return tuple(build_model(ArchSpec.from_dict(json.loads(spec_json))).state_dict())


def order_like_module(spec: dict[str, Any], names: list[str]) -> list[str]:
    """Sort tensor names as ``build_model(spec).state_dict()`` lists them; unknown names last."""
    order = {n: i for i, n in enumerate(_module_order(json.dumps(spec, sort_keys=True)))}
    return sorted(names, key=lambda n: (order.get(n, len(order)), n))


class Zoo:
    """A population of trained networks stored in the zoo format v1.

    Open with ``Zoo.open(path)``: a local folder or any fsspec URL
    (``s3://bucket/zoo``, ``memory://zoo``). Weights are read lazily from the
    shards' safetensors files, never with pickle. ``root`` is a ``pathlib.Path``
    for local zoos and a ``RemotePath`` (``str()`` gives the URL) otherwise.
    """

    def __init__(self, root: str | Path | RemotePath, manifest: dict[str, Any]) -> None:
        self.root: ZooPath = as_zoo_path(root).resolve()
        self.manifest = manifest

    @classmethod
    def open(cls, path: str | Path | RemotePath) -> Zoo:
        """Open a zoo folder or fsspec URL.

        Raises:
            ZooFormatError: not a zoo, or of an unknown format version.
            WeightzooError: the URL's fsspec backend is not installed.
        """
        root = as_zoo_path(path)
        return cls(root, load_manifest(root))

    # -- metadata --------------------------------------------------------
    @property
    def name(self) -> str:
        return self.manifest.get("name", self.root.name)

    @cached_property
    def catalog(self) -> pd.DataFrame:
        """One row per (model_id, epoch); rebuilt from the shards if the file is missing."""
        df = read_catalog(self.root)
        if df is None:
            log.warning(
                "%s has no catalog.parquet (interrupted build?); rebuilding it from the shards",
                self.root,
            )
            df = rebuild_catalog(self.root, self.manifest)
        return df

    def models(self) -> list[str]:
        """Model ids that have at least one checkpoint, sorted."""
        return sorted(self.catalog["model_id"].unique())

    def epochs(self) -> list[int]:
        """Checkpointed epochs, sorted."""
        return sorted(int(e) for e in self.catalog["epoch"].unique())

    def spec(self, model_id: str) -> ArchSpec:
        """Architecture of one model (with its own dropout rate)."""
        info = self._model_info(model_id)
        spec = ArchSpec.from_dict(self.manifest["shards"][info["shard"]]["spec"])
        return spec.replace(dropout=float(info.get("dropout", 0.0)))

    def _model_info(self, model_id: str) -> dict[str, Any]:
        try:
            return self.manifest["models"][model_id]
        except KeyError:
            raise ZooFormatError(f"zoo {self.root}: no model {model_id!r}") from None

    def _ordered(self, shard: str, names: list[str]) -> list[str]:
        """Tensor names in the module's own order (safetensors stores them sorted)."""
        return order_like_module(self.manifest["shards"][shard]["spec"], names)

    def _file(self, shard: str, epoch: int) -> ZooPath:
        path = safe_join(self.root, epoch_relpath(shard, epoch))
        if not path.is_file():
            raise ZooFormatError(
                f"zoo {self.root}: no checkpoint for shard {shard} at epoch {epoch} ({path})"
            )
        return path

    def _resolve_epoch(self, model_id: str, epoch: int | str) -> int:
        if epoch == "last":
            rows = self.catalog[self.catalog["model_id"] == model_id]
            if rows.empty:
                raise ZooFormatError(f"zoo {self.root}: model {model_id!r} has no checkpoint")
            return int(rows["epoch"].max())
        return int(epoch)

    # -- weights ---------------------------------------------------------
    def weights(self, model_id: str, epoch: int | str = "last") -> dict[str, torch.Tensor]:
        """One model's parameters (and buffers) at one epoch.

        Args:
            model_id: e.g. ``"m00012"``.
            epoch: an epoch number or ``"last"``.

        Returns:
            name -> tensor, the model's own shapes.
        """
        info = self._model_info(model_id)
        epoch = self._resolve_epoch(model_id, epoch)
        index = int(info["index"])
        path = self._file(info["shard"], epoch)
        with StackedFile(path) as f:
            names = self._ordered(info["shard"], f.names)
            return {k: f.rows(k, index, index + 1)[0] for k in names}

    def load_model(self, model_id: str, epoch: int | str = "last") -> torch.nn.Module:
        """Build the model's module and load its weights (eval mode)."""
        model = build_model(self.spec(model_id))
        model.load_state_dict(self.weights(model_id, epoch))
        return model.eval()

    def stacked(self, epoch: int, model_ids: list[str] | None = None) -> dict[str, torch.Tensor]:
        """Weights of many models at one epoch, stacked along a leading dimension.

        Each shard file is read once, tensor by tensor, straight into the output:
        when the wanted models of a shard are consecutive in both the file and
        the output (a whole shard in stored order, the common case) the bytes go
        from the file into the result with one copy; otherwise the smallest row
        range covering them is read and gathered with one ``index_copy_``. No
        per-model Python loop: see ``benchmarks/zoo_bulk_read.py``.

        Args:
            epoch: the epoch.
            model_ids: models in the order wanted; default all models of the zoo
                that have a checkpoint at ``epoch``, sorted by id.

        Returns:
            name -> ``(N, *shape)``, names in the module's order.

        Raises:
            ZooFormatError: models of different architectures, or a missing checkpoint.
        """
        if model_ids is None:
            cat = self.catalog
            model_ids = sorted(cat.loc[cat["epoch"] == epoch, "model_id"].unique())
        if not model_ids:
            raise ZooFormatError(f"zoo {self.root}: no model to stack at epoch {epoch}")
        by_shard: dict[str, tuple[list[int], list[int]]] = {}
        for pos, mid in enumerate(model_ids):
            info = self._model_info(mid)
            positions, rows = by_shard.setdefault(info["shard"], ([], []))
            positions.append(pos)
            rows.append(int(info["index"]))
        out: dict[str, torch.Tensor] = {}
        for shard, (positions, rows) in by_shard.items():
            with StackedFile(self._file(shard, epoch)) as f:
                names = self._ordered(shard, f.names)
                if not out:
                    out = {k: empty_like_numpy((len(model_ids), *f.shape(k)[1:]),
                                               f.tensors[k][0]) for k in names}  # fmt: skip
                elif [(k, f.shape(k)[1:]) for k in names] != [
                    (k, v.shape[1:]) for k, v in out.items()
                ]:
                    raise ZooFormatError(
                        f"zoo {self.root}: models of different architectures cannot be stacked"
                    )
                _read_shard_rows(f, names, positions, rows, out)
        return out

    def to_torch_dataset(self, **kwargs: Any):  # noqa: ANN201
        """A map-style ``torch.utils.data.Dataset`` of (weights, targets); see ``WeightDataset``."""
        from weightzoo.zoo.dataset import WeightDataset

        return WeightDataset(self.root, **kwargs)

    def export_hf(self, model_id: str, out: str | Path, epoch: int | str = "last") -> Path:
        """Write one model in the Hugging Face layout; see ``weightzoo.zoo.export.export_hf``."""
        from weightzoo.zoo.export import export_hf

        return export_hf(self, model_id, out, epoch=epoch)

    def __repr__(self) -> str:
        return f"Zoo({str(self.root)!r}, models={len(self.manifest.get('models', {}))})"


def _runs(rows: list[int], positions: list[int]) -> list[tuple[int, int, int]]:
    """``(first row, first position, length)`` of each stretch where both advance by one."""
    runs: list[tuple[int, int, int]] = []
    for r, p in zip(rows, positions, strict=True):
        if runs and r == runs[-1][0] + runs[-1][2] and p == runs[-1][1] + runs[-1][2]:
            runs[-1] = (runs[-1][0], runs[-1][1], runs[-1][2] + 1)
        else:
            runs.append((r, p, 1))
    return runs


def _byte_rows(t: torch.Tensor) -> np.ndarray:
    """A contiguous ``(n, ...)`` tensor as an ``(n, row_bytes)`` uint8 array (shared memory)."""
    return t.view(torch.uint8).reshape(t.shape[0], -1).numpy()


def _read_shard_rows(
    f: StackedFile,
    names: list[str],
    positions: list[int],
    rows: list[int],
    out: dict[str, torch.Tensor],
) -> None:
    """Copy ``rows`` of each tensor of ``f`` to ``positions`` of ``out[name]`` (dim 0)."""
    runs = _runs(rows, positions)
    lo, hi = min(rows), max(rows) + 1
    if len(runs) <= max(1, len(rows) // 16) or hi - lo > 4 * len(rows):
        # Long stretches (whole shards), or a few models far apart: read each
        # stretch from the file straight into its place in the output, one copy.
        for k in names:
            for r0, p0, n in runs:
                f.rows(k, r0, r0 + n, out=out[k][p0 : p0 + n])
        return
    # Many short stretches (ids interleaved across shards, a shuffled subset): one
    # range read, then one row gather. numpy's fancy indexing copies row by row
    # with memcpy; torch's index_select/index_copy_ were 20x slower here.
    sel = np.asarray(rows) - lo
    pos = np.asarray(positions)
    p0, dense_out = positions[0], len(_runs(positions, positions)) == 1
    for k in names:
        block = _byte_rows(f.rows(k, lo, hi))
        if dense_out:  # the shard fills one stretch of the output: gather into it directly
            np.take(block, sel, axis=0, out=_byte_rows(out[k])[p0 : p0 + len(rows)])
        else:
            _byte_rows(out[k])[pos] = block[sel]
