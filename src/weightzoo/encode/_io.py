"""Loading trained encoders by registry name or by folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file

from weightzoo.encode._base import CONFIG_FILE, WEIGHTS_FILE, read_config
from weightzoo.encode.registry import ENCODERS, build_encoder, list_encoders
from weightzoo.errors import WeightzooError


def load_encoder(name_or_path: str | Path, *, device: str = "cpu") -> Any:
    """A saved (fitted) encoder from its folder, or a fresh one from its registry name.

    Args:
        name_or_path: a folder written by ``encoder.save(...)`` (``config.json`` +
            ``model.safetensors``), or a name in ``ENCODERS`` (unfitted, default parameters).
        device: where its module runs.

    Returns:
        The encoder.

    Raises:
        WeightzooError: neither a saved encoder nor a known name, or a damaged folder.
    """
    path = Path(name_or_path)
    if path.is_dir():
        config = read_config(path)
        name = config.get("encoder")
        if name not in ENCODERS:
            raise WeightzooError(
                f"encoder: {path / CONFIG_FILE} names encoder {name!r}; expected one of "
                f"{', '.join(list_encoders())}"
            )
        params = dict(config.get("params") or {})
        params["device"] = device
        encoder = build_encoder(name, **params)
        try:
            tensors = load_file(str(path / WEIGHTS_FILE))
        except (OSError, SafetensorError) as exc:
            raise WeightzooError(f"encoder: cannot read {path / WEIGHTS_FILE}: {exc}") from None
        try:
            encoder._restore(config, tensors)
        except (RuntimeError, KeyError) as exc:
            raise WeightzooError(f"encoder: {path} does not match its config: {exc}") from None
        return encoder
    if str(name_or_path) in ENCODERS:
        return build_encoder(str(name_or_path), device=device)
    raise WeightzooError(
        f"encoder: {name_or_path!s} is neither a saved encoder folder (with {CONFIG_FILE}) "
        f"nor a registered encoder ({', '.join(list_encoders())})"
    )
