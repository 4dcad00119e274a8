"""Export one model of a zoo in the Hugging Face layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from safetensors.torch import save

from weightzoo import __version__
from weightzoo.zoo._io import atomic_write_bytes

if TYPE_CHECKING:
    from weightzoo.zoo.zoo import Zoo


def export_hf(zoo: Zoo, model_id: str, out: str | Path, *, epoch: int | str = "last") -> Path:
    """Write ``config.json`` (architecture spec, provenance) and ``model.safetensors``.

    Args:
        zoo: the source zoo.
        model_id: which model.
        out: output folder (created).
        epoch: epoch number or ``"last"``.

    Returns:
        The output folder.
    """
    out = Path(out)
    weights = zoo.weights(model_id, epoch)
    resolved = zoo._resolve_epoch(model_id, epoch)
    info = zoo.manifest["models"][model_id]
    config = {
        "weightzoo_version": __version__,
        "architecture": zoo.spec(model_id).to_dict(),
        "model_type": "weightzoo",
        "source_zoo": zoo.name,
        "model_id": model_id,
        "epoch": resolved,
        "hyperparameters": {k: v for k, v in info.items() if k not in ("shard", "index")},
        "dataset": zoo.manifest.get("dataset", {}).get("name"),
    }
    atomic_write_bytes(
        out / "model.safetensors",
        save({k: v.contiguous() for k, v in weights.items()}, metadata={"format": "pt"}),
    )
    atomic_write_bytes(
        out / "config.json", (json.dumps(config, indent=2, sort_keys=True) + "\n").encode()
    )
    return out
