"""Exporters of zoos to other tools' layouts (Small CNN Zoo) and of one model (Hugging Face)."""

from weightzoo.zoo.export import export_hf
from weightzoo.zoo.exporters.cnn_zoo import export_cnn_zoo

EXPORTERS = {"cnn-zoo": export_cnn_zoo, "hf": export_hf}

__all__ = ["EXPORTERS", "export_cnn_zoo", "export_hf"]
