"""Weights as data: layouts, tokens, chunks, standardization, symmetries, augmentations."""

from weightzoo.weightspace.augment import gaussian_noise, permute_batch, random_erasing
from weightzoo.weightspace.chunks import Chunks, pad_chunk
from weightzoo.weightspace.layout import LAYER_KINDS, LayerInfo, WeightLayout
from weightzoo.weightspace.standardize import LayerStandardizer
from weightzoo.weightspace.symmetry import (
    PermGroup,
    apply_permutation,
    permutation_groups,
    random_permutations,
)
from weightzoo.weightspace.tokens import (
    ChunkedTokens,
    chunked_tokens,
    neuron_tokens,
    tokens_to_weights,
    unchunk_tokens,
)

__all__ = [
    "LAYER_KINDS",
    "ChunkedTokens",
    "Chunks",
    "LayerInfo",
    "LayerStandardizer",
    "PermGroup",
    "WeightLayout",
    "apply_permutation",
    "chunked_tokens",
    "gaussian_noise",
    "neuron_tokens",
    "pad_chunk",
    "permutation_groups",
    "permute_batch",
    "random_erasing",
    "random_permutations",
    "tokens_to_weights",
    "unchunk_tokens",
]
