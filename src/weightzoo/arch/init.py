"""Initialization schemes of the Model Zoos hyperparameter space."""

from __future__ import annotations

import math

import torch
from torch import nn

from weightzoo.errors import ConfigError

INITS = (
    "uniform",
    "normal",
    "kaiming_uniform",
    "kaiming_normal",
    "xavier_uniform",
    "xavier_normal",
)
BIAS_INITS = ("zeros", "uniform", "normal", "default")


@torch.no_grad()
def init_model(
    model: nn.Module,
    init: str,
    *,
    bias_init: str = "zeros",
    init_std: float = 0.1,
    generator: torch.Generator | None = None,
) -> nn.Module:
    """Initialize every weight matrix / kernel and bias of ``model`` in place.

    Parameters are visited in ``named_parameters`` order with one generator,
    so a model's init depends only on its seed, never on its shard. Norm
    layers keep weight 1 and bias 0.

    Args:
        model: the module.
        init: weight scheme, one of ``INITS``. ``uniform`` and ``normal`` use
            standard deviation ``init_std`` (uniform on ``±sqrt(3)·init_std``).
        bias_init: ``zeros``, ``uniform`` / ``normal`` (std ``init_std``), or
            ``default`` (PyTorch's ``U(±1/sqrt(fan_in))``).
        init_std: scale for the plain schemes.
        generator: source of randomness.

    Returns:
        The same module.

    Raises:
        ConfigError: unknown scheme.
    """
    if init not in INITS:
        raise ConfigError(f"space.init: expected one of {', '.join(INITS)}, got {init!r}")
    if bias_init not in BIAS_INITS:
        raise ConfigError(
            f"space.bias_init: expected one of {', '.join(BIAS_INITS)}, got {bias_init!r}"
        )
    g = generator
    a = math.sqrt(3.0) * init_std
    norm_types = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)
    for mod in model.modules():
        if isinstance(mod, norm_types):
            continue
        w = getattr(mod, "weight", None)
        if isinstance(w, nn.Parameter) and w.dim() >= 2:
            if init == "uniform":
                nn.init.uniform_(w, -a, a, generator=g)
            elif init == "normal":
                nn.init.normal_(w, 0.0, init_std, generator=g)
            elif init == "kaiming_uniform":
                nn.init.kaiming_uniform_(w, nonlinearity="relu", generator=g)
            elif init == "kaiming_normal":
                nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g)
            elif init == "xavier_uniform":
                nn.init.xavier_uniform_(w, generator=g)
            else:
                nn.init.xavier_normal_(w, generator=g)
            b = getattr(mod, "bias", None)
            if isinstance(b, nn.Parameter):
                if bias_init == "zeros":
                    nn.init.zeros_(b)
                elif bias_init == "uniform":
                    nn.init.uniform_(b, -a, a, generator=g)
                elif bias_init == "normal":
                    nn.init.normal_(b, 0.0, init_std, generator=g)
                else:
                    bound = 1.0 / math.sqrt(w[0].numel())
                    nn.init.uniform_(b, -bound, bound, generator=g)
    return model
