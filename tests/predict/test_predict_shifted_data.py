"""``mnist1d_shifted``: the dataset B of the cross-dataset benchmark."""

from __future__ import annotations

import torch

from weightzoo.data import load_dataset


def test_shifted_mnist1d_is_the_same_task_under_another_distribution():
    plain = load_dataset("mnist1d", num_samples=400)
    shifted = load_dataset("mnist1d_shifted", num_samples=400)
    again = load_dataset("mnist1d_shifted", num_samples=400)
    assert shifted.input_shape == plain.input_shape == (1, 40)
    assert shifted.info["classes"] == plain.info["classes"]
    assert torch.equal(shifted.x_train, again.x_train)  # deterministic
    assert not torch.allclose(shifted.x_test, plain.x_test)
    # Stronger noise: raw signals are rougher (larger mean step between neighbours).
    rough = {
        name: float((d.x_test[..., 1:] - d.x_test[..., :-1]).abs().mean())
        for name, d in (("plain", plain), ("shifted", shifted))
    }
    assert rough["shifted"] > rough["plain"]
