"""From sampled latents to loadable networks: decode, fill buffers, recalibrate BatchNorm.

``hyperrep.decode`` already undoes the per-layer standardization; this module
checks the encoder can decode at all and matches the architecture, adds the
buffers the autoencoder does not model (BatchNorm running statistics), and
re-estimates those statistics on training inputs: decoded weights change
every layer's activation statistics, so the stored running averages of any
source model would be wrong for them.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import Tensor, nn

from weightzoo.arch import ArchSpec, build_model, resolve_spec
from weightzoo.errors import WeightzooError

log = logging.getLogger(__name__)


def same_architecture(a: ArchSpec, b: ArchSpec) -> bool:
    """Whether two specs build the same network (dropout rate ignored: it has no weights)."""
    return resolve_spec(a.replace(dropout=0.0)) == resolve_spec(b.replace(dropout=0.0))


def check_decoder(encoder: Any) -> ArchSpec:
    """The architecture a fitted, decoding encoder generates; errors before any work otherwise.

    Raises:
        WeightzooError: the encoder cannot decode (an encoder-only model), or is not fitted.
    """
    name = getattr(encoder, "name", type(encoder).__name__)
    if not getattr(encoder, "can_decode", False) or not hasattr(encoder, "decode"):
        raise WeightzooError(
            f"encoder {name!r} cannot decode latents into weights (it is encoder-only); "
            "generation needs a hyperrep encoder"
        )
    spec = getattr(encoder, "spec", None)
    if spec is None or getattr(encoder, "standardizer_", None) is None:
        raise WeightzooError(
            f"encoder {name!r} is not fitted; pass a trained encoder folder or --encoder train"
        )
    return spec


def check_architecture(encoder: Any, spec: ArchSpec) -> None:
    """Raise when ``spec`` is not the architecture the encoder decodes to.

    Raises:
        WeightzooError: naming both architectures.
    """
    enc_spec = check_decoder(encoder)
    if not same_architecture(enc_spec, spec):
        raise WeightzooError(
            f"architecture mismatch: the encoder decodes {enc_spec.family} "
            f"{enc_spec.to_json()}, but the models asked for are {spec.to_json()}"
        )


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, x: Tensor, *, batch_size: int = 256) -> bool:
    """Re-estimate every BatchNorm's running mean and variance on inputs ``x``.

    Statistics are reset and accumulated as an exact average over the batches
    (``momentum=None``), then the original momentum is restored.

    Args:
        model: the network (left in eval mode).
        x: ``(N, *input_shape)`` training inputs.
        batch_size: forward batch size.

    Returns:
        Whether the model had any BatchNorm layer.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return False
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for start in range(0, x.shape[0], batch_size):
        model(x[start : start + batch_size])
    for m, mom in zip(norms, momenta, strict=True):
        m.momentum = mom
    model.eval()
    return True


def load_generated(spec: ArchSpec, weights: dict[str, Tensor]) -> nn.Module:
    """Build ``spec`` and load decoded weights; buffers missing from ``weights`` keep their defaults.

    Raises:
        WeightzooError: a decoded parameter's name or shape does not fit the architecture.
    """
    model = build_model(spec)
    state = model.state_dict()
    params = {n for n, _ in model.named_parameters()}
    missing = sorted(params - set(weights))
    if missing:
        raise WeightzooError(f"decoded weights lack parameters {missing} of {spec.family}")
    for name, t in weights.items():
        if name not in state:
            raise WeightzooError(f"decoded weights have {name!r}, unknown to {spec.family}")
        if tuple(t.shape) != tuple(state[name].shape):
            raise WeightzooError(
                f"decoded {name} has shape {tuple(t.shape)}, the architecture expects {tuple(state[name].shape)}"
            )
        state[name] = t.to(state[name].dtype)
    model.load_state_dict(state)
    return model.eval()


def decode_latents(
    encoder: Any,
    latents: Tensor,
    *,
    calibration_x: Tensor | None = None,
) -> list[dict[str, Tensor]]:
    """Decode latents into complete state dicts of the encoder's architecture.

    Args:
        encoder: a fitted encoder with ``can_decode`` (``hyperrep``).
        latents: ``(n, T, d)`` token latents.
        calibration_x: ``(N, *input_shape)`` training inputs for BatchNorm
            recalibration; needed only where the architecture has BatchNorm.

    Returns:
        ``n`` dicts name -> tensor, keyed and shaped like ``build_model(spec).state_dict()``.

    Raises:
        WeightzooError: a non-decoding encoder, or BatchNorm without calibration inputs.
    """
    spec = check_decoder(encoder)
    decoded = encoder.decode(latents)
    out = []
    for weights in decoded:
        model = load_generated(spec, weights)
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
            if calibration_x is None:
                raise WeightzooError(
                    f"{spec.family} has BatchNorm: decoding needs training inputs to recalibrate it"
                )
            recalibrate_batchnorm(model, calibration_x)
        out.append({k: v.detach().clone() for k, v in model.state_dict().items()})
    return out


__all__ = [
    "check_architecture",
    "check_decoder",
    "decode_latents",
    "load_generated",
    "recalibrate_batchnorm",
    "same_architecture",
]
