"""weightzoo: model zoos — build them, learn from their weights, choose and combine models.

``import weightzoo as wz; wz.Zoo.open(path)``.
"""

__version__ = "0.1.0"

from weightzoo.arch import ArchSpec, build_model, list_archs  # noqa: E402
from weightzoo.config import ZooConfig, load_yaml_config  # noqa: E402
from weightzoo.errors import ConfigError, WeightzooError, ZooFormatError  # noqa: E402
from weightzoo.seeding import set_seed  # noqa: E402
from weightzoo.train import build_zoo  # noqa: E402
from weightzoo.zoo import Zoo, verify_zoo, write_zoo  # noqa: E402

__all__ = [
    "ArchSpec",
    "ConfigError",
    "WeightzooError",
    "Zoo",
    "ZooConfig",
    "ZooFormatError",
    "__version__",
    "build_model",
    "build_zoo",
    "list_archs",
    "load_yaml_config",
    "set_seed",
    "verify_zoo",
    "write_zoo",
]
