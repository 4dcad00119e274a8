"""Importers of zoos stored in other tools' layouts (Model Zoos, Small CNN Zoo)."""

from weightzoo.zoo.importers.cnn_zoo import import_cnn_zoo
from weightzoo.zoo.importers.modelzoos import import_modelzoos
from weightzoo.zoo.importers.report import ImportReport, NothingImportedError, SkippedItem

IMPORTERS = {"modelzoos": import_modelzoos, "cnn-zoo": import_cnn_zoo}

__all__ = [
    "IMPORTERS",
    "ImportReport",
    "NothingImportedError",
    "SkippedItem",
    "import_cnn_zoo",
    "import_modelzoos",
]
