"""Model-GLUE (https://arxiv.org/abs/2410.05357): cluster a zoo by mergeability, merge
selectively within clusters, combine the clusters with a model-level mixture.

``weightzoo merge glue CONFIG --out DIR`` runs ``run_glue_config``; ``run_glue``
does the same on in-memory models.
"""

from weightzoo.merge.glue.config import GlueConfig
from weightzoo.merge.glue.mergeability import (
    MODEL_GLUE_URL,
    cluster_by_mergeability,
    mergeability,
    mergeability_matrix,
)
from weightzoo.merge.glue.recipe import ClusterResult, GlueResult, run_glue
from weightzoo.merge.glue.run import run_glue_config
from weightzoo.merge.glue.selective import MergeStep, SelectiveMergeResult, selective_merge

__all__ = [
    "MODEL_GLUE_URL",
    "ClusterResult",
    "GlueConfig",
    "GlueResult",
    "MergeStep",
    "SelectiveMergeResult",
    "cluster_by_mergeability",
    "mergeability",
    "mergeability_matrix",
    "run_glue",
    "run_glue_config",
    "selective_merge",
]
