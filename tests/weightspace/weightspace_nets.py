"""Small real architectures of every layer-list family, shared by the weightspace tests."""

from __future__ import annotations

from weightzoo.arch import ArchSpec

SPECS = {
    "mlp": ArchSpec("mlp", (1, 40), widths=(12, 7)),
    "cnn1d": ArchSpec("cnn1d", (1, 40), widths=(6, 5), activation="relu"),
    "cnn_s": ArchSpec("cnn_s", (1, 28, 28), activation="gelu"),
    "cnn_l": ArchSpec("cnn_l", (3, 32, 32), activation="leaky_relu"),
}
