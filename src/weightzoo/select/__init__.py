"""Choose models: transferability scores, ranking evaluation, Model Spider, ZooD ranking and ensembles."""

from weightzoo.select._validate import SelectInputError
from weightzoo.select.benchmark import BenchmarkConfig, run_benchmark
from weightzoo.select.candidates import CandidateZoo, FeatureExtractor, build_candidate_zoo
from weightzoo.select.groundtruth import build_ground_truth
from weightzoo.select.ranking import (
    RANKING_METRICS,
    evaluate_ranking,
    kendall_tau,
    top1_regret,
    weighted_tau,
)
from weightzoo.select.scores import (
    SCORES,
    gbc,
    hscore,
    hscore_shrinkage,
    leep,
    list_scores,
    logme,
    nce,
    transrate,
)
from weightzoo.select.spider import ModelSpider
from weightzoo.select.zood import ZooDEnsemble, ZooDScore, spike_slab_vem, zood_rank, zood_score

__all__ = [
    "BenchmarkConfig",
    "CandidateZoo",
    "FeatureExtractor",
    "ModelSpider",
    "build_candidate_zoo",
    "build_ground_truth",
    "run_benchmark",
    "RANKING_METRICS",
    "SCORES",
    "SelectInputError",
    "ZooDEnsemble",
    "ZooDScore",
    "evaluate_ranking",
    "gbc",
    "hscore",
    "hscore_shrinkage",
    "kendall_tau",
    "leep",
    "list_scores",
    "logme",
    "nce",
    "top1_regret",
    "transrate",
    "spike_slab_vem",
    "weighted_tau",
    "zood_rank",
    "zood_score",
]
