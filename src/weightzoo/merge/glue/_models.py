"""Read the models the recipe and the CLI name: model folders or ``ZOO:MODEL_ID`` references."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from weightzoo.arch import ArchSpec
from weightzoo.errors import WeightzooError
from weightzoo.merge.finetune_zoo import load_hf_weights


def load_model_ref(ref: str) -> tuple[ArchSpec, dict[str, Tensor], dict]:
    """A model from a folder (``config.json`` + ``model.safetensors``) or ``ZOO_DIR:MODEL_ID[@EPOCH]``.

    Args:
        ref: the reference as the user typed it.

    Returns:
        ``(spec, weights, info)``; ``info`` holds the folder's ``config.json``
        entries worth keeping (``task``, ``dataset``), or the zoo model's
        hyperparameters and the zoo's dataset.

    Raises:
        WeightzooError: neither a model folder nor a zoo model.
    """
    path = Path(ref)
    if path.is_dir() and (path / "config.json").is_file():
        import json

        spec, weights = load_hf_weights(path)
        cfg = json.loads((path / "config.json").read_text())
        return spec, weights, {k: cfg[k] for k in ("task", "dataset") if cfg.get(k)}
    zoo_dir, sep, model = ref.rpartition(":")
    if sep and Path(zoo_dir).is_dir():
        from weightzoo.zoo.zoo import Zoo

        model_id, _, epoch = model.partition("@")
        zoo = Zoo.open(zoo_dir)
        if model_id not in zoo.manifest.get("models", {}):
            raise WeightzooError(f"{ref}: zoo {zoo_dir} has no model {model_id!r}")
        weights = zoo.weights(model_id, int(epoch) if epoch else "last")
        info = dict(zoo.manifest["models"][model_id])
        info["dataset"] = zoo.manifest.get("dataset", {}).get("name")
        info["data"] = zoo.manifest.get("config", {}).get("data", {})
        return zoo.spec(model_id), weights, info
    raise WeightzooError(
        f"{ref}: expected a model folder with config.json and model.safetensors "
        "(weightzoo zoo export), or ZOO_DIR:MODEL_ID"
    )
