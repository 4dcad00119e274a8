"""Hyper-representation autoencoder: it learns to reconstruct, and decodes into loadable weights."""

from __future__ import annotations

import pytest
import torch
from encode_nets import make_nets

from weightzoo.arch import ArchSpec, build_model
from weightzoo.encode import build_encoder
from weightzoo.encode._hyperrep_model import nt_xent
from weightzoo.errors import ConfigError, WeightzooError


def test_autoencoder_reconstructs_its_training_zoo() -> None:
    spec = ArchSpec("mlp", (1, 20), widths=(8,))
    nets = make_nets(spec, 8)
    enc = build_encoder(
        "hyperrep", gamma=0.0, noise=0.0, erase_p=0.0, permute=False,
        epochs=60, batch_size=8, d_model=32, depth=1, lr=3e-3,
    ).fit(nets)  # fmt: skip
    assert enc.history_[-1]["recon"] < enc.history_[0]["recon"] / 3
    latent = enc.latent(nets)
    assert latent.shape == (8, 8 + 10, 16)
    decoded = enc.decode(latent)
    for name in nets[0][1]:
        truth = torch.stack([w[name] for _, w in nets])
        got = torch.stack([d[name] for d in decoded])
        # Far better than the zoo's mean network (error relative to the zoo's spread).
        assert float(((got - truth) ** 2).mean() / ((truth - truth.mean(0)) ** 2).mean()) < 0.6
    model = build_model(spec)
    model.load_state_dict(decoded[0])  # keys and shapes as Zoo.weights
    with pytest.raises(WeightzooError, match="latent has shape"):
        enc.decode(latent[:, :5])


def test_nt_xent_closed_form() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    loss = nt_xent(a, a.clone(), temperature=1.0)
    # Each anchor: positive similarity 1, negatives 0 and 0 -> -log(e / (e + 2)).
    expected = -torch.log(torch.tensor(torch.e / (torch.e + 2)))
    torch.testing.assert_close(loss, expected)


def test_bad_gamma() -> None:
    with pytest.raises(ConfigError, match="gamma"):
        build_encoder("hyperrep", gamma=1.5)
