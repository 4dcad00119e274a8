"""Git Re-Basin weight matching: function preserved, known permutations recovered, barrier lowered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.func import functional_call

from weightzoo.arch import ArchSpec, build_model
from weightzoo.errors import WeightzooError
from weightzoo.weightspace.alignment import (
    align_weights,
    interpolate_weights,
    interpolation_curve,
    loss_barrier,
    weight_matching,
)
from weightzoo.weightspace.symmetry import (
    apply_permutation,
    permutation_groups,
    random_permutations,
)

SPECS = {
    "mlp": ArchSpec("mlp", (1, 40), widths=(16, 12), activation="relu"),
    "cnn1d": ArchSpec("cnn1d", (1, 40), widths=(6, 5), activation="tanh"),
    "cnn_s": ArchSpec("cnn_s", (1, 28, 28), activation="relu"),
}


def _random_weights(spec: ArchSpec, seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return {k: v.detach().clone() for k, v in build_model(spec).state_dict().items()}


def _outputs(spec: ArchSpec, w: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    return functional_call(build_model(spec).eval(), w, (x,))


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory: pytest.TempPathFactory):
    """Two MLPs trained on MNIST-1D from different initializations (seeds 0 and 1)."""
    from weightzoo.config import ZooConfig, parse_config
    from weightzoo.data import load_dataset
    from weightzoo.train import build_zoo

    cfg = parse_config(
        ZooConfig,
        {
            "name": "rebasin",
            "data": {"name": "mnist1d", "num_samples": 1000},
            "arch": {"family": "mlp", "widths": [24, 24]},
            "space": {"seed": [0, 1], "activation": "relu", "lr": 0.01},
            "epochs": 8,
            "checkpoint_epochs": [8],
        },
    )
    zoo = build_zoo(cfg, Path(tmp_path_factory.mktemp("rebasin")) / "zoo")
    a, b = zoo.models()
    data = load_dataset("mnist1d", num_samples=1000)
    return zoo.spec(a), zoo.weights(a), zoo.weights(b), data


@pytest.mark.parametrize("family", list(SPECS))
def test_aligned_model_computes_the_same_function(family: str) -> None:
    spec = SPECS[family]
    a, b = _random_weights(spec, 0), _random_weights(spec, 1)
    result = align_weights(spec, a, b)
    x = torch.randn(32, *spec.input_shape)
    torch.testing.assert_close(
        _outputs(spec, result.aligned, x), _outputs(spec, b, x), atol=1e-5, rtol=1e-5
    )
    assert result.objective_after >= result.objective_before
    assert result.distance_after <= result.distance_before + 1e-9


@pytest.mark.parametrize("family", list(SPECS))
def test_matching_recovers_a_known_permutation_exactly(family: str) -> None:
    spec = SPECS[family]
    groups = permutation_groups(spec)
    a = _random_weights(spec, 3)
    perms = random_permutations(groups, torch.Generator().manual_seed(7))
    b = apply_permutation(a, groups, perms)
    assert any(not torch.equal(a[k], b[k]) for k in a)
    result = weight_matching(groups, a, b)
    for k in a:
        assert torch.equal(result.aligned[k], a[k]), k
    # P(B) = A means each found permutation inverts the applied one.
    for g in groups:
        assert torch.equal(perms[g.name][result.perms[g.name]], torch.arange(g.size))


def test_barrier_after_alignment_is_lower_on_trained_models(two_seeds) -> None:
    spec, a, b, data = two_seeds
    result = align_weights(spec, a, b)
    before = interpolation_curve(spec, a, b, data.x_test, data.y_test, num_points=11)
    after = interpolation_curve(spec, a, result.aligned, data.x_test, data.y_test, num_points=11)
    # End points are the same functions before and after alignment.
    assert before.loss[-1] == pytest.approx(after.loss[-1], rel=1e-5)
    assert before.acc[0] == after.acc[0]
    assert before.barrier > 0.05
    assert after.barrier < before.barrier
    assert result.distance_after < result.distance_before


def test_loss_barrier_closed_form() -> None:
    t = np.linspace(0, 1, 5)
    assert loss_barrier(t, np.array([1.0, 2.0, 3.0, 2.0, 1.0])) == pytest.approx(2.0)
    assert loss_barrier(t, np.array([1.0, 1.25, 1.5, 1.75, 2.0])) == pytest.approx(0.0)
    # End points differ: the chord runs from 1 to 3; the middle point 2.5 is 0.5 above it.
    assert loss_barrier(np.array([0.0, 0.5, 1.0]), np.array([1.0, 2.5, 3.0])) == pytest.approx(0.5)


def test_interpolate_weights_end_points() -> None:
    spec = SPECS["mlp"]
    a, b = _random_weights(spec, 0), _random_weights(spec, 1)
    for k in a:
        torch.testing.assert_close(interpolate_weights(a, b, 0.0)[k], a[k])
        torch.testing.assert_close(interpolate_weights(a, b, 1.0)[k], b[k])
        torch.testing.assert_close(interpolate_weights(a, b, 0.5)[k], (a[k] + b[k]) / 2)


def test_bad_input_is_a_clear_error() -> None:
    spec = SPECS["mlp"]
    a = _random_weights(spec, 0)
    other = _random_weights(ArchSpec("mlp", (1, 40), widths=(16, 13)), 1)
    with pytest.raises(WeightzooError, match="shape"):
        align_weights(spec, a, other)
    with pytest.raises(WeightzooError, match="different parameters"):
        align_weights(spec, a, {k: v for k, v in a.items() if k != "fc1.bias"})
    with pytest.raises(WeightzooError, match="layer list"):
        align_weights(ArchSpec("resnet", (3, 16, 16), widths=(4,)), a, a)
