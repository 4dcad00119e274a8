"""A small synthetic zoo with accuracies known by construction, and PNG checks.

A plain module rather than conftest.py so tests can import its constants
without depending on which ``conftest`` pytest last put in ``sys.modules``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

EPOCHS = 3  # epochs 0..3: four rows per model
CHANCE = 0.1
RELU_FINAL = [0.80, 0.82, 0.84, 0.86, 0.88, 0.90]
TANH_FINAL = [0.60, 0.62, 0.64, 0.66, 0.68]
DIVERGED_ID = "m00011"
DIVERGED_EPOCH = 2


def _row(model: int, epoch: int, activation: str, optimizer: str, test_acc: float) -> dict:
    return {
        "model_id": f"m{model:05d}",
        "epoch": epoch,
        "shard": "mlp",
        "index": model,
        "file": f"mlp/m{model:05d}/epoch_{epoch}.safetensors",
        "checksum": f"{model:04d}{epoch:04d}",
        "seed": model,
        "init": "kaiming_uniform",
        "bias_init": "zeros",
        "activation": activation,
        "optimizer": optimizer,
        "lr": 1e-3,
        "weight_decay": 0.0,
        "momentum": 0.9,
        "dropout": 0.0,
        "batch_size": 32,
        "init_std": 0.02,
        "train_loss": 1.0 / (epoch + 1),
        "train_acc": min(1.0, test_acc + 0.05),
        "val_loss": 1.2 / (epoch + 1),
        "val_acc": test_acc,
        "test_loss": 1.2 / (epoch + 1),
        "test_acc": test_acc,
        "gen_gap": min(1.0, test_acc + 0.05) - test_acc,
        "diverged": False,
        "stopped_epoch": -1,
    }


def build_catalog() -> pd.DataFrame:
    """12 models, epochs 0..3; relu m0-m5, tanh m6-m11; m11 diverges at epoch 2.

    Test accuracy rises linearly from chance at epoch 0 to the model's final
    value; optimizer alternates adam/sgd so a second hyperparameter varies.
    The diverged model collapses to chance at its last epoch with an
    infinite loss, so including it anywhere would shift the statistics.
    """
    rows = []
    finals = [("relu", acc) for acc in RELU_FINAL] + [("tanh", acc) for acc in TANH_FINAL]
    for model, (activation, final) in enumerate(finals):
        optimizer = "adam" if model % 2 == 0 else "sgd"
        for epoch in range(EPOCHS + 1):
            acc = CHANCE + (final - CHANCE) * epoch / EPOCHS
            rows.append(_row(model, epoch, activation, optimizer, acc))
    model = int(DIVERGED_ID[1:])
    for epoch in range(DIVERGED_EPOCH + 1):
        row = _row(model, epoch, "tanh", "sgd", 0.3 + 0.1 * epoch)
        row["stopped_epoch"] = DIVERGED_EPOCH
        if epoch == DIVERGED_EPOCH:
            row.update(diverged=True, test_acc=CHANCE, train_acc=CHANCE, train_loss=float("inf"))
        rows.append(row)
    # Shuffle so nothing relies on the catalog's row order.
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0).reset_index(drop=True)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_png(path: Path) -> None:
    data = Path(path).read_bytes()
    assert data.startswith(PNG_SIGNATURE), f"{path} is not a PNG"
    assert len(data) > 5_000, f"{path} is suspiciously small ({len(data)} bytes)"


def build_manifest() -> dict:
    return {
        "name": 'tiny <b>zoo</b> & "friends"',
        "dataset": {"name": "mnist1d"},
        "architectures": {"mlp": {"family": "mlp", "hidden": [16, 16], "num_params": 1234}},
        "config": {"epochs": EPOCHS, "seeds": 12},
    }
