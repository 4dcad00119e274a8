"""The zoo on disk: format v1, reader, writer, catalog, torch dataset, import/export, verify."""

from weightzoo.zoo.catalog import HYPERPARAMETERS, rebuild_catalog
from weightzoo.zoo.dataset import WeightDataset, split_models
from weightzoo.zoo.export import export_hf
from weightzoo.zoo.exporters import export_cnn_zoo
from weightzoo.zoo.format import FORMAT_VERSION
from weightzoo.zoo.importers import import_cnn_zoo, import_modelzoos
from weightzoo.zoo.verify import VerifyReport, verify_zoo
from weightzoo.zoo.writer import ModelCheckpoints, ZooShard, write_zoo
from weightzoo.zoo.zoo import Zoo

__all__ = [
    "FORMAT_VERSION",
    "ModelCheckpoints",
    "ZooShard",
    "export_cnn_zoo",
    "import_cnn_zoo",
    "import_modelzoos",
    "write_zoo",
    "HYPERPARAMETERS",
    "VerifyReport",
    "WeightDataset",
    "Zoo",
    "export_hf",
    "rebuild_catalog",
    "split_models",
    "verify_zoo",
]
