"""Datasets for training zoos: generated ones and readers of local files.

``load_dataset(name, ...)`` returns a ``SplitData`` with deterministic
train/val/test splits and train-only normalization. Importing this package
registers every built-in dataset in ``DATASETS``; weightzoo never downloads.
"""

from weightzoo.data import readers, synthetic  # noqa: F401  (registers the datasets)
from weightzoo.data.base import DataError, SplitData
from weightzoo.data.registry import DATASETS, list_datasets, load_dataset, register_dataset
from weightzoo.data.shapes import SHAPE_CLASSES, make_shapes

__all__ = [
    "DATASETS",
    "SHAPE_CLASSES",
    "DataError",
    "SplitData",
    "list_datasets",
    "load_dataset",
    "make_shapes",
    "register_dataset",
]
