"""Fixtures of the generation tests: a tiny hyperrep trained once on the shared tiny zoo."""

from __future__ import annotations

from pathlib import Path

import pytest

from weightzoo._threads import torch_threads


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors gain nothing from a second thread, and lose a lot on a busy machine."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def gen_setup(tiny_zoo: Path):
    """(zoo, source models of the best architecture, fitted tiny hyperrep, dataset)."""
    from weightzoo.generate import source_models, train_encoder, zoo_data
    from weightzoo.zoo import Zoo

    zoo = Zoo.open(tiny_zoo)
    source = source_models(zoo)
    params = {"d_model": 16, "heads": 2, "depth": 1, "latent_dim": 4, "batch_size": 8}
    encoder = train_encoder(zoo, source, epochs=2, last_epochs=2, params=params)
    return zoo, source, encoder, zoo_data(zoo)


@pytest.fixture(scope="session")
def saved_encoder(gen_setup, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny hyperrep saved to a folder."""
    return gen_setup[2].save(tmp_path_factory.mktemp("enc") / "hyperrep")
