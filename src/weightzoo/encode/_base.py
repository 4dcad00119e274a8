"""Shared machinery of the encoders: standardization, architecture checks, batching, save."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save as st_save
from torch import Tensor

from weightzoo.arch import ArchSpec
from weightzoo.encode.base import Network
from weightzoo.errors import WeightzooError
from weightzoo.weightspace.layout import WeightLayout
from weightzoo.weightspace.standardize import LayerStandardizer
from weightzoo.zoo._io import atomic_write_bytes, atomic_write_json

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT = "weightzoo-encoder"
FORMAT_VERSION = 1


def params_only(weights: dict[str, Tensor]) -> dict[str, Tensor]:
    """Only ``.weight`` / ``.bias`` float tensors (drops BatchNorm running statistics)."""
    return {
        k: v
        for k, v in weights.items()
        if k.rsplit(".", 1)[-1] in ("weight", "bias") and v.is_floating_point()
    }


class EncoderBase:
    """Common parts; each encoder adds ``_build_module``, ``collate`` and its own ``fit`` work.

    Attributes:
        params: the keyword parameters the encoder was built with (saved in ``config.json``).
        device: where ``module`` runs.
        standardizer_: per-layer standardization fitted on the training networks.
        spec_: the architecture of the training networks (one-architecture encoders).
        layout_: its layout.
    """

    name: str
    any_architecture: bool
    can_decode: bool

    def __init__(self, params: dict[str, Any], *, embed_dim: int, device: str) -> None:
        self.params = dict(params)
        self.device = torch.device(device)
        self.embed_dim = embed_dim
        self.module: torch.nn.Module | None = None
        self.standardizer_: LayerStandardizer | None = None
        self.spec_: ArchSpec | None = None
        self.layout_: WeightLayout | None = None

    # -- fitting helpers -------------------------------------------------------
    def _fit_common(self, nets: Sequence[Network]) -> None:
        if len(nets) == 0:
            raise WeightzooError(f"encoder {self.name}: fit needs at least one training network")
        self.standardizer_ = LayerStandardizer().fit(params_only(w) for _, w in nets)
        if not self.any_architecture:
            self.spec_ = nets[0][0]
            # Module order, whatever order the dicts come in: a reloaded encoder rebuilds
            # its layout from the spec and must see the layers in the same order.
            self.layout_ = WeightLayout.from_spec(self.spec_)
            self._check_arch(nets)

    def fit(
        self,
        nets: Sequence[Network],
        *,
        seed: int = 0,
        epochs: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Any:
        """Fit the per-layer standardization on training networks and build the module.

        Encoders trained only end to end (``flat``, ``nfn``) use this as is;
        ``epochs`` and ``progress`` are for those that train here (``hyperrep``).
        """
        self._fit_common(nets)
        torch.manual_seed(seed)
        self.module = self._build_module()
        return self

    def _check_fitted(self) -> None:
        if self.standardizer_ is None:
            raise WeightzooError(
                f"encoder {self.name}: not fitted; call fit(...) on training networks or load a saved encoder"
            )

    def _check_arch(self, nets: Sequence[Network]) -> None:
        if self.layout_ is None:
            return
        expected = dict(self.layout_.entries)
        for i, (_, weights) in enumerate(nets):
            if dict(WeightLayout.from_weights(params_only(weights)).entries) != expected:
                raise WeightzooError(
                    f"encoder {self.name}: network {i} has another architecture than the "
                    f"{self.spec_.family if self.spec_ else '?'} networks it was fitted on; "
                    f"{self.name} takes one architecture (use sne for several)"
                )

    def _standardized_stack(self, nets: Sequence[Network]) -> dict[str, Tensor]:
        """Standardized parameters of same-architecture networks, stacked ``(B, ...)``."""
        self._check_fitted()
        self._check_arch(nets)
        assert self.standardizer_ is not None
        names = self.layout_.names if self.layout_ else list(params_only(nets[0][1]))
        stacked = {n: torch.stack([w[n].detach().float() for _, w in nets]) for n in names}
        return {k: v.to(self.device) for k, v in self.standardizer_.transform(stacked).items()}

    # -- protocol defaults -----------------------------------------------------
    def aux_loss(self, batch: Any) -> Tensor:
        """No invariance term: a differentiable zero."""
        return torch.zeros((), device=self.device)

    def _embed(self, batch: Any) -> Tensor:
        assert self.module is not None
        return self.module(batch)

    def encode(self, nets: Sequence[Network], *, batch_size: int = 256) -> np.ndarray:
        """Embeddings ``(N, embed_dim)`` as float32, in inference mode."""
        self._check_fitted()
        if self.module is not None:
            self.module.eval()
        out = []
        with torch.inference_mode():
            for start in range(0, len(nets), batch_size):
                batch = self.collate(nets[start : start + batch_size])
                out.append(self._embed(batch).float().cpu())
        if not out:
            return np.zeros((0, self.embed_dim), dtype=np.float32)
        return torch.cat(out).numpy()

    def collate(self, nets: Sequence[Network]) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _build_module(self) -> torch.nn.Module | None:
        """The trainable module once ``spec_`` / ``layout_`` are known."""
        return self.module

    # -- saving ----------------------------------------------------------------
    def _extra_state(self) -> dict[str, Tensor]:
        return {}

    def _load_extra_state(self, state: dict[str, Tensor]) -> None:
        return None

    def save(self, path: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into the folder ``path``.

        The weights are written first and the config last, so a folder with a
        config always holds a complete encoder.

        Returns:
            The folder.
        """
        self._check_fitted()
        assert self.standardizer_ is not None
        out = Path(path)
        if out.exists() and not out.is_dir():
            raise WeightzooError(f"encoder save: {out} exists and is not a folder")
        out.mkdir(parents=True, exist_ok=True)
        tensors = dict(self.standardizer_.state_dict())
        if self.module is not None:
            tensors.update(
                {
                    f"module.{k}": v.detach().cpu().contiguous().clone()
                    for k, v in self.module.state_dict().items()
                }
            )
        tensors.update(self._extra_state())
        atomic_write_bytes(out / WEIGHTS_FILE, st_save(tensors, metadata={"format": FORMAT}))
        from weightzoo import __version__

        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "encoder": self.name,
            "params": {k: v for k, v in self.params.items() if k != "device"},
            "spec": self.spec_.to_dict() if self.spec_ else None,
            "embed_dim": self.embed_dim,
            "weightzoo_version": __version__,
        }
        atomic_write_json(out / CONFIG_FILE, config)
        log.info("saved encoder %s to %s", self.name, out)
        return out

    def _restore(self, config: dict[str, Any], tensors: dict[str, Tensor]) -> None:
        self.standardizer_ = LayerStandardizer.from_state_dict(tensors)
        if config.get("spec") is not None:
            self.spec_ = ArchSpec.from_dict(config["spec"])
            self.layout_ = WeightLayout.from_spec(self.spec_)
        self.embed_dim = int(config["embed_dim"])
        self.module = self._build_module()
        if self.module is not None:
            state = {k[len("module.") :]: v for k, v in tensors.items() if k.startswith("module.")}
            self.module.load_state_dict(state, strict=True)
            self.module.to(self.device)
        self._load_extra_state(tensors)


def read_config(folder: Path) -> dict[str, Any]:
    """The ``config.json`` of a saved encoder, checked."""
    path = folder / CONFIG_FILE
    try:
        config = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightzooError(f"encoder: cannot read {path}: {exc}") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise WeightzooError(
            f"encoder: {path} is not a weightzoo encoder config (format {FORMAT!r})"
        )
    if config.get("format_version") != FORMAT_VERSION:
        raise WeightzooError(
            f"encoder: {path} has format_version {config.get('format_version')!r}, expected {FORMAT_VERSION}"
        )
    return config
