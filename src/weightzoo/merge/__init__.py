"""Combine models: merge methods over tensors, and a streaming driver for checkpoints.

``merge_state_dicts(models, "ties", base=base, density=0.5)`` merges in memory;
``merge_from_config(config, out_dir)`` (``weightzoo merge CONFIG.yaml --out DIR``)
streams mergekit-style YAML merges over Hugging Face safetensors checkpoints.
"""

from weightzoo.merge import fisher as _fisher  # noqa: F401  (registers "fisher")
from weightzoo.merge import regmean as _regmean  # noqa: F401  (registers "regmean")
from weightzoo.merge._apply import MergeInputError, merge_state_dicts, merge_tensor
from weightzoo.merge.checkpoint_io import (
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from weightzoo.merge.config import MergeConfig, load_merge_config, parse_merge_config
from weightzoo.merge.fisher import estimate_fisher
from weightzoo.merge.methods import (
    MERGE_METHODS,
    MergeMethodEntry,
    register_merge_method,
    slerp_tensors,
)
from weightzoo.merge.regmean import collect_grams
from weightzoo.merge.soup import SoupResult, greedy_soup, uniform_soup
from weightzoo.merge.streaming import OutputExistsError, merge_from_config

__all__ = [
    "MERGE_METHODS",
    "Checkpoint",
    "CheckpointError",
    "MergeConfig",
    "OutputExistsError",
    "load_checkpoint",
    "load_merge_config",
    "merge_from_config",
    "parse_merge_config",
    "save_checkpoint",
    "SoupResult",
    "greedy_soup",
    "uniform_soup",
    "MergeInputError",
    "MergeMethodEntry",
    "collect_grams",
    "estimate_fisher",
    "merge_state_dicts",
    "merge_tensor",
    "register_merge_method",
    "slerp_tensors",
]
