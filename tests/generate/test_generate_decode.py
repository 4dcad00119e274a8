"""Decoding: loadable models that compute what their weights say; BatchNorm recalibration; bad encoders."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call

from weightzoo.arch import ArchSpec, build_model
from weightzoo.encode import build_encoder
from weightzoo.errors import WeightzooError
from weightzoo.generate.decode import (
    check_architecture,
    check_decoder,
    decode_latents,
    load_generated,
    recalibrate_batchnorm,
)


def test_decoded_latents_load_and_match_a_direct_forward(gen_setup) -> None:
    zoo, source, encoder, data = gen_setup
    nets = [(source.spec, zoo.weights(m)) for m in source.model_ids[:2]]
    latent = encoder.latent(nets)
    decoded = encoder.decode(latent)
    full = decode_latents(encoder, latent)
    x = data.x_test[:64]
    reference = build_model(source.spec).eval()
    for raw, state in zip(decoded, full, strict=True):
        assert set(state) == set(build_model(source.spec).state_dict())
        model = load_generated(source.spec, state)
        direct = functional_call(reference, raw, (x,))
        torch.testing.assert_close(model(x), direct, rtol=0, atol=0)
        assert all(torch.isfinite(v).all() for v in state.values())


def test_recalibration_sets_exact_batch_statistics() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4))
    x = torch.randn(300, 5) * 3 + 1
    assert recalibrate_batchnorm(model, x, batch_size=1000)
    h = model[0](x).detach()
    torch.testing.assert_close(model[1].running_mean, h.mean(0))
    torch.testing.assert_close(model[1].running_var, h.var(0, unbiased=True))
    assert model[1].momentum == 0.1 and not model.training
    assert not recalibrate_batchnorm(nn.Linear(5, 4), x)


class _StubDecoder:
    """A decoding encoder for an architecture with BatchNorm (hyperrep targets layer-list nets)."""

    name, can_decode = "stub", True

    def __init__(self, spec: ArchSpec) -> None:
        self.spec, self.standardizer_ = spec, object()

    def decode(self, latent: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        gen = torch.Generator().manual_seed(0)
        model = build_model(self.spec)
        return [
            {n: torch.randn(p.shape, generator=gen) * 0.3 for n, p in model.named_parameters()}
            for _ in range(latent.shape[0])
        ]


def test_batchnorm_buffers_are_filled_and_recalibrated() -> None:
    spec = ArchSpec("resnet", (3, 8, 8), num_classes=3, widths=(4,))
    enc = _StubDecoder(spec)
    x = torch.randn(64, 3, 8, 8)
    with pytest.raises(WeightzooError, match="BatchNorm"):
        decode_latents(enc, torch.zeros(2, 1, 1))
    states = decode_latents(enc, torch.zeros(2, 1, 1), calibration_x=x)
    raw = enc.decode(torch.zeros(2, 1, 1))
    for state, params in zip(states, raw, strict=True):
        by_hand = load_generated(spec, params)
        recalibrate_batchnorm(by_hand, x)
        for k, v in by_hand.state_dict().items():
            torch.testing.assert_close(state[k], v)
        assert any(k.endswith("running_mean") and v.abs().sum() > 0 for k, v in state.items())


def test_encoders_that_cannot_decode_fail_before_work(gen_setup) -> None:
    _, source, encoder, _ = gen_setup
    with pytest.raises(WeightzooError, match="cannot decode"):
        check_decoder(build_encoder("stats"))
    with pytest.raises(WeightzooError, match="not fitted"):
        check_decoder(build_encoder("hyperrep"))
    assert check_decoder(encoder) == source.spec
    check_architecture(encoder, source.spec.replace(dropout=0.2))  # dropout has no weights
    other = "relu" if source.spec.activation != "relu" else "tanh"
    for spec in (source.spec.replace(activation=other), source.spec.replace(widths=(9,))):
        with pytest.raises(WeightzooError, match="architecture mismatch"):
            check_architecture(encoder, spec)
    with pytest.raises(WeightzooError, match="lack parameters"):
        load_generated(source.spec, {})
