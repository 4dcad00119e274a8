"""Weight-space encoders: statistics, flat MLP, hyper-representations, SNE, NFN; a registry."""

from weightzoo.encode import flat, hyperrep, nfn_adaptor, sne, stats  # noqa: F401  (fill the registry)
from weightzoo.encode._io import load_encoder
from weightzoo.encode.base import Network, WeightSpaceEncoder
from weightzoo.encode.registry import (
    ENCODERS,
    EncoderEntry,
    build_encoder,
    list_encoders,
    register_encoder,
)
from weightzoo.encode.stats import stats_head

__all__ = [
    "ENCODERS",
    "EncoderEntry",
    "Network",
    "WeightSpaceEncoder",
    "build_encoder",
    "list_encoders",
    "load_encoder",
    "register_encoder",
    "stats_head",
]
