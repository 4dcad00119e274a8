"""Population training: many models of one architecture at once, and zoo building."""

from weightzoo.train.build import build_zoo, plan_zoo
from weightzoo.train.optim import PopulationOptimizer
from weightzoo.train.population import STRATEGIES, ModelHP, Population, choose_strategy, init_single
from weightzoo.train.reference import train_alone
from weightzoo.train.space import plan_shards, sample_models

__all__ = [
    "STRATEGIES",
    "ModelHP",
    "Population",
    "PopulationOptimizer",
    "build_zoo",
    "choose_strategy",
    "init_single",
    "plan_shards",
    "plan_zoo",
    "sample_models",
    "train_alone",
]
