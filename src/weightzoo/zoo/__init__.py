"""The zoo on disk: format v1, reader, catalog, torch dataset, export, verify."""

from weightzoo.zoo.catalog import HYPERPARAMETERS, rebuild_catalog
from weightzoo.zoo.dataset import WeightDataset, split_models
from weightzoo.zoo.export import export_hf
from weightzoo.zoo.format import FORMAT_VERSION
from weightzoo.zoo.verify import VerifyReport, verify_zoo
from weightzoo.zoo.zoo import Zoo

__all__ = [
    "FORMAT_VERSION",
    "HYPERPARAMETERS",
    "VerifyReport",
    "WeightDataset",
    "Zoo",
    "export_hf",
    "rebuild_catalog",
    "split_models",
    "verify_zoo",
]
