"""Augmentations: permutations keep each model's function, noise and erasing have the stated law."""

from __future__ import annotations

import torch
from weightspace_nets import SPECS

from weightzoo.arch import build_model
from weightzoo.weightspace.augment import gaussian_noise, permute_batch, random_erasing
from weightzoo.weightspace.symmetry import permutation_groups


def test_permute_batch_keeps_every_models_function() -> None:
    spec = SPECS["cnn1d"]
    models = [build_model(spec).eval() for _ in range(4)]
    stacked = {k: torch.stack([m.state_dict()[k] for m in models]) for k in models[0].state_dict()}
    out = permute_batch(stacked, permutation_groups(spec), torch.Generator().manual_seed(0))
    x = torch.randn(3, *spec.input_shape)
    net = build_model(spec).eval()
    with torch.no_grad():
        for i, m in enumerate(models):
            net.load_state_dict({k: v[i] for k, v in out.items()})
            torch.testing.assert_close(net(x), m(x), atol=1e-5, rtol=1e-5)
    # Models get different permutations.
    assert not torch.equal(out["conv1.weight"][0], stacked["conv1.weight"][0]) or not torch.equal(
        out["conv1.weight"][1], stacked["conv1.weight"][1]
    )


def test_gaussian_noise_std() -> None:
    x = torch.zeros(200_000)
    y = gaussian_noise(x, 0.3, torch.Generator().manual_seed(0))
    assert abs(float(y.std()) - 0.3) < 0.005
    assert torch.equal(gaussian_noise(x, 0.0, torch.Generator()), x)


def test_random_erasing_zeroes_one_span_per_erased_sample() -> None:
    tokens = torch.ones(400, 50, 3)
    out = random_erasing(tokens, torch.Generator().manual_seed(1), p=0.5, scale=(0.1, 0.3))
    erased = (out == 0).all(-1)  # (B, T)
    hit = erased.any(1)
    assert 0.4 < float(hit.float().mean()) < 0.6
    lengths = erased.sum(1)[hit]
    assert int(lengths.min()) >= 5 and int(lengths.max()) <= 15
    # One contiguous span: the erased positions of a sample are consecutive.
    for row in erased[hit][:20]:
        idx = row.nonzero().flatten()
        assert int(idx[-1] - idx[0] + 1) == len(idx)
    assert torch.equal(random_erasing(tokens, torch.Generator(), p=0.0), tokens)
