"""Merge methods: per-tensor kernels in a registry (importing this fills it)."""

from weightzoo.merge.methods import basic, task_vectors  # noqa: F401  (registers)
from weightzoo.merge.methods._registry import (
    MERGE_METHODS,
    REQUIRED,
    MergeMethodEntry,
    get_method,
    register_merge_method,
)
from weightzoo.merge.methods.basic import slerp_tensors

__all__ = [
    "MERGE_METHODS",
    "REQUIRED",
    "MergeMethodEntry",
    "get_method",
    "register_merge_method",
    "slerp_tensors",
]
