"""Architecture families built from a frozen ``ArchSpec``; see ``list_archs()``."""

from weightzoo.arch import families, resnet  # noqa: F401  (fill the registry)
from weightzoo.arch.init import BIAS_INITS, INITS, init_model
from weightzoo.arch.layers import param_shapes
from weightzoo.arch.registry import (
    ARCHITECTURES,
    arch_layers,
    build_model,
    get_family,
    list_archs,
    num_params,
    register_arch,
    resolve_spec,
)
from weightzoo.arch.seqnet import SeqNet, activation_fn
from weightzoo.arch.spec import ACTIVATIONS, ArchSpec

__all__ = [
    "ACTIVATIONS",
    "ARCHITECTURES",
    "BIAS_INITS",
    "INITS",
    "ArchSpec",
    "SeqNet",
    "activation_fn",
    "arch_layers",
    "build_model",
    "get_family",
    "init_model",
    "list_archs",
    "num_params",
    "param_shapes",
    "register_arch",
    "resolve_spec",
]
