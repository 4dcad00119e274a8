"""``Zoo``: read access to a zoo on disk."""

from __future__ import annotations

import json
import logging
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from safetensors import safe_open

from weightzoo.arch import ArchSpec, build_model
from weightzoo.errors import ZooFormatError
from weightzoo.zoo.catalog import load_manifest, read_catalog, rebuild_catalog
from weightzoo.zoo.format import epoch_relpath, safe_join

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

    Open with ``Zoo.open(path)``. Weights are read lazily from the shards'
    safetensors files, never with pickle.
    """

    def __init__(self, root: Path, manifest: dict[str, Any]) -> None:
        self.root = Path(root).resolve()
        self.manifest = manifest

    @classmethod
    def open(cls, path: str | Path) -> Zoo:
        """Open a zoo folder.

        Raises:
            ZooFormatError: not a zoo, or of an unknown format version.
        """
        root = Path(path)
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

    def _file(self, shard: str, epoch: int) -> Path:
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
        try:
            with safe_open(str(path), framework="pt") as f:
                names = self._ordered(info["shard"], list(f.keys()))
                return {k: f.get_slice(k)[index : index + 1][0].clone() for k in names}
        except Exception as e:
            raise ZooFormatError(f"{path}: cannot read weights ({e})") from None

    def load_model(self, model_id: str, epoch: int | str = "last") -> torch.nn.Module:
        """Build the model's module and load its weights (eval mode)."""
        model = build_model(self.spec(model_id))
        model.load_state_dict(self.weights(model_id, epoch))
        return model.eval()

    def stacked(self, epoch: int, model_ids: list[str] | None = None) -> dict[str, torch.Tensor]:
        """Weights of many models at one epoch, stacked along a leading dimension.

        A whole shard in its stored order is read as is; otherwise the smallest
        contiguous range of each shard is read and indexed.

        Args:
            epoch: the epoch.
            model_ids: models in the order wanted; default all models of the zoo
                that have a checkpoint at ``epoch``.

        Returns:
            name -> ``(N, *shape)``.

        Raises:
            ZooFormatError: models of different architectures, or a missing checkpoint.
        """
        if model_ids is None:
            cat = self.catalog
            model_ids = sorted(cat.loc[cat["epoch"] == epoch, "model_id"].unique())
        if not model_ids:
            raise ZooFormatError(f"zoo {self.root}: no model to stack at epoch {epoch}")
        by_shard: dict[str, list[tuple[int, int]]] = {}
        for pos, mid in enumerate(model_ids):
            info = self._model_info(mid)
            by_shard.setdefault(info["shard"], []).append((pos, int(info["index"])))
        parts: dict[str, list[torch.Tensor]] = {}
        order: list[int] = []
        for shard, items in by_shard.items():
            path = self._file(shard, epoch)
            idx = [i for _, i in items]
            lo, hi = min(idx), max(idx) + 1
            try:
                with safe_open(str(path), framework="pt") as f:
                    names = self._ordered(shard, list(f.keys()))
                    if parts and set(names) != set(parts):
                        raise ZooFormatError(
                            f"zoo {self.root}: models of different architectures cannot be stacked"
                        )
                    for k in names:
                        block = f.get_slice(k)[lo:hi]
                        if idx != list(range(lo, hi)):
                            block = block[torch.tensor(idx) - lo]
                        parts.setdefault(k, []).append(block)
            except ZooFormatError:
                raise
            except Exception as e:
                raise ZooFormatError(f"{path}: cannot read weights ({e})") from None
            order += [p for p, _ in items]
        out = {k: (v[0] if len(v) == 1 else torch.cat(v)) for k, v in parts.items()}
        if order != sorted(order):
            inv = torch.empty(len(order), dtype=torch.long)
            inv[torch.tensor(order)] = torch.arange(len(order))
            out = {k: v[inv] for k, v in out.items()}
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
