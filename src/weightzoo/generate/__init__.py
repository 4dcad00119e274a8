"""Generate networks: sample latents of a hyper-representation, decode them, evaluate them.

Schürholt et al., NeurIPS 2022 (https://arxiv.org/abs/2209.14733); see ``docs/generate.md``.
"""

from weightzoo.generate.api import Generated, default_settings, generate, write_generated_zoo
from weightzoo.generate.decode import decode_latents, load_generated, recalibrate_batchnorm
from weightzoo.generate.evaluate import (
    EvalConfig,
    EvalResult,
    evaluate_generation,
    mann_whitney_greater,
)
from weightzoo.generate.report import write_evaluation
from weightzoo.generate.samplers import (
    SAMPLERS,
    build_sampler,
    list_samplers,
    register_sampler,
    select_top,
)
from weightzoo.generate.source import source_models, train_encoder, zoo_data

__all__ = [
    "SAMPLERS",
    "EvalConfig",
    "EvalResult",
    "Generated",
    "build_sampler",
    "decode_latents",
    "default_settings",
    "evaluate_generation",
    "generate",
    "list_samplers",
    "load_generated",
    "mann_whitney_greater",
    "recalibrate_batchnorm",
    "register_sampler",
    "select_top",
    "source_models",
    "train_encoder",
    "write_evaluation",
    "write_generated_zoo",
    "zoo_data",
]
