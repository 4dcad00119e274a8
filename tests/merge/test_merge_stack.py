"""Stacking: layer plans, renumbering, and MLP stacks that keep the function where they should."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from weightzoo.arch import ArchSpec, build_model
from weightzoo.errors import ConfigError
from weightzoo.merge.stack import interleave_plan, num_layers, stack_mlp, stack_plan, stack_slices


def _llama_like(n_layers: int, tag: float) -> dict[str, torch.Tensor]:
    w = {
        "model.embed_tokens.weight": torch.full((5, 4), tag),
        "lm_head.weight": torch.full((5, 4), tag),
    }
    for i in range(n_layers):
        w[f"model.layers.{i}.mlp.weight"] = torch.full((4, 4), tag * 10 + i)
        w[f"model.layers.{i}.norm.weight"] = torch.full((4,), tag * 10 + i)
    return w


def test_plans_closed_form() -> None:
    assert stack_plan([2, 3]) == [(0, 0, 2), (1, 0, 3)]
    assert interleave_plan([2, 3]) == [(0, 0, 1), (1, 0, 1), (0, 1, 2), (1, 1, 2), (1, 2, 3)]


def test_interleave_orders_layers_and_averages_the_rest() -> None:
    a, b = _llama_like(2, 1.0), _llama_like(2, 2.0)
    out = stack_slices([a, b], interleave_plan([2, 2]), non_layer="average")
    assert num_layers(out) == 4
    # Output layer k comes from (model, layer) = (0,0), (1,0), (0,1), (1,1): values tag*10 + i.
    assert [float(out[f"model.layers.{k}.mlp.weight"][0, 0]) for k in range(4)] == [10, 20, 11, 21]
    assert float(out["model.embed_tokens.weight"][0, 0]) == pytest.approx(1.5)
    first = stack_slices([a, b], [(1, 1, 2), (0, 0, 2)])
    assert [float(first[f"model.layers.{k}.norm.weight"][0]) for k in range(3)] == [21, 10, 11]
    assert (
        float(first["lm_head.weight"][0, 0]) == 2.0
    )  # non-layer tensors of the first slice's model


def test_mlp_full_range_is_the_same_model() -> None:
    spec = ArchSpec("mlp", (1, 40), widths=(16, 16, 16), activation="relu")
    torch.manual_seed(0)
    w = build_model(spec).state_dict()
    new_spec, out = stack_mlp([spec], [w], [(0, 0, 2)])
    assert new_spec == spec
    for k in w:
        assert torch.equal(out[k], w[k])


def test_mlp_stack_with_an_identity_layer_keeps_the_function() -> None:
    # After a ReLU, a layer with identity weight and zero bias followed by ReLU changes nothing,
    # so inserting it between two layers of model A must leave A's outputs unchanged.
    spec = ArchSpec("mlp", (1, 40), widths=(8, 8), activation="relu")
    torch.manual_seed(1)
    a = build_model(spec).state_dict()
    ident = {k: v.clone() for k, v in a.items()}
    ident["fc2.weight"], ident["fc2.bias"] = torch.eye(8), torch.zeros(8)
    new_spec, out = stack_mlp([spec, spec], [a, ident], [(0, 0, 1), (1, 0, 1)])
    assert new_spec.widths == (8, 8, 8)
    x = torch.randn(16, 1, 40)
    ref = functional_call(build_model(spec), a, (x,))
    got = functional_call(build_model(new_spec), out, (x,))
    torch.testing.assert_close(got, ref)


def test_bad_plans_are_config_errors() -> None:
    a = _llama_like(2, 1.0)
    with pytest.raises(ConfigError, match="outside"):
        stack_slices([a], [(0, 1, 3)])
    with pytest.raises(ConfigError, match="model 1"):
        stack_slices([a], [(1, 0, 1)])
    with pytest.raises(ConfigError, match="one width"):
        spec = ArchSpec("mlp", (1, 40), widths=(8, 4))
        stack_mlp([spec], [build_model(spec).state_dict()], [(0, 0, 1)])
