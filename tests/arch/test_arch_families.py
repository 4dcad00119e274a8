"""Architecture registry: every family builds, runs, round-trips and counts right."""

from __future__ import annotations

import json
import math

import pytest
import torch

from weightzoo.arch import ArchSpec, build_model, list_archs, num_params, resolve_spec
from weightzoo.errors import ConfigError

# Inputs each known family is meant for; a family added later is tried on all of them.
_SHAPES = {
    "mlp": [(1, 40), (3, 32, 32)],
    "cnn1d": [(1, 40)],
    "cnn_s": [(1, 28, 28), (3, 32, 32)],
    "cnn_l": [(3, 32, 32)],
    "resnet": [(3, 32, 32), (1, 28, 28)],
}
_CANDIDATES = [(1, 40), (3, 32, 32), (1, 28, 28)]


def _input_shapes(family: str) -> list[tuple[int, ...]]:
    if family in _SHAPES:
        return _SHAPES[family]
    shapes = []
    for shape in _CANDIDATES:
        try:
            build_model(ArchSpec(family=family, input_shape=shape))
        except ConfigError:
            continue
        shapes.append(shape)
    assert shapes, f"family {family!r} builds on none of {_CANDIDATES}"
    return shapes


def _cases() -> list[tuple[str, tuple[int, ...]]]:
    return [(f, s) for f in list_archs() for s in _input_shapes(f)]


def test_registry_has_the_documented_families() -> None:
    assert {"mlp", "cnn1d", "cnn_s", "cnn_l", "resnet"} <= set(list_archs())
    assert list_archs() == sorted(list_archs())


@pytest.mark.parametrize(("family", "shape"), _cases())
def test_forward_gives_batch_by_classes(family: str, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    spec = ArchSpec(family=family, input_shape=shape, num_classes=7)
    model = build_model(spec).eval()
    x = torch.randn(5, *shape)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (5, 7)
    assert torch.isfinite(y).all()
    # Each example is processed on its own (no mixing across the batch in eval mode).
    with torch.no_grad():
        y2 = model(x[2:3])
    torch.testing.assert_close(y2[0], y[2], rtol=1e-5, atol=1e-5)
    assert num_params(spec) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("family", list_archs())
def test_spec_round_trips_through_dict_and_json(family: str) -> None:
    shape = _input_shapes(family)[0]
    spec = resolve_spec(
        ArchSpec(family=family, input_shape=shape, num_classes=3, activation="relu", dropout=0.25)
    )
    d = spec.to_dict()
    assert d["input_shape"] == list(shape) and isinstance(d["widths"], list)
    assert ArchSpec.from_dict(d) == spec
    assert ArchSpec.from_dict(json.loads(spec.to_json())) == spec
    # A spec read back from JSON builds the same parameter layout.
    a = build_model(spec).state_dict()
    b = build_model(ArchSpec.from_dict(json.loads(spec.to_json()))).state_dict()
    assert {k: v.shape for k, v in a.items()} == {k: v.shape for k, v in b.items()}


def test_spec_from_dict_names_unknown_fields() -> None:
    d = ArchSpec(family="mlp", input_shape=(1, 40)).to_dict()
    with pytest.raises(ConfigError, match="bogus"):
        ArchSpec.from_dict({**d, "bogus": 1})


@pytest.mark.parametrize("family", list_archs())
def test_parameter_names_do_not_depend_on_dropout(family: str) -> None:
    shape = _input_shapes(family)[0]
    spec = ArchSpec(family=family, input_shape=shape)
    a = build_model(spec.replace(dropout=0.0)).state_dict()
    b = build_model(spec.replace(dropout=0.5)).state_dict()
    assert list(a) == list(b)
    assert {k: v.shape for k, v in a.items()} == {k: v.shape for k, v in b.items()}


@pytest.mark.parametrize("family", list_archs())
def test_dropout_is_active_in_train_mode_only(family: str) -> None:
    shape = _input_shapes(family)[0]
    torch.manual_seed(0)
    model = build_model(ArchSpec(family=family, input_shape=shape, dropout=0.5))
    x = torch.randn(4, *shape)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
    model.train()
    torch.manual_seed(1)
    with torch.no_grad():
        a = model(x)
        b = model(x)
    assert not torch.equal(a, b)


@pytest.mark.parametrize(
    ("family", "shape", "widths", "expected"),
    [
        ("cnn_s", (1, 28, 28), (), 2464),
        ("cnn_s", (3, 28, 28), (), 2864),
        ("cnn_l", (3, 32, 32), (), 10853),
        ("mlp", (1, 40), (100, 100), 40 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10),
        ("mlp", (1, 40), (8,), 40 * 8 + 8 + 8 * 10 + 10),
        # conv5 (same padding) keeps the length, maxpool2 halves it: 40 -> 20 -> 10.
        ("cnn1d", (1, 40), (4, 6), (1 * 4 * 5 + 4) + (4 * 6 * 5 + 6) + (6 * 10 * 10 + 10)),
    ],
)
def test_parameter_counts(
    family: str, shape: tuple[int, ...], widths: tuple[int, ...], expected: int
) -> None:
    spec = ArchSpec(family=family, input_shape=shape, widths=widths)
    assert num_params(spec) == expected
    assert sum(p.numel() for p in build_model(spec).parameters()) == expected


def test_mlp_default_widths_are_filled_in() -> None:
    spec = resolve_spec(ArchSpec(family="mlp", input_shape=(1, 40)))
    assert spec.widths == (100, 100)
    assert resolve_spec(spec.replace(widths=(5,))).widths == (5,)


def test_unknown_family_lists_known_names() -> None:
    with pytest.raises(ConfigError) as info:
        build_model(ArchSpec(family="transformer9000", input_shape=(1, 40)))
    msg = str(info.value)
    assert "transformer9000" in msg
    for name in list_archs():
        assert name in msg


@pytest.mark.parametrize(
    ("family", "shape"),
    [("cnn_s", (1, 8, 8)), ("cnn_s", (1, 12, 12)), ("cnn_l", (3, 16, 16)), ("cnn_s", (1, 40))],
)
def test_too_small_or_wrong_input_is_a_config_error(family: str, shape: tuple[int, ...]) -> None:
    with pytest.raises(ConfigError, match="arch"):
        build_model(ArchSpec(family=family, input_shape=shape))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"activation": "swish"},
        {"dropout": 1.0},
        {"dropout": -0.1},
        {"num_classes": 0},
        {"widths": (4, 0)},
    ],
)
def test_spec_validates_its_fields(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        ArchSpec(family="mlp", input_shape=(1, 40), **kwargs)


def test_spec_is_frozen_and_hashable() -> None:
    spec = ArchSpec(family="mlp", input_shape=[1, 40], widths=[8])
    assert spec.input_shape == (1, 40) and spec.widths == (8,)
    assert hash(spec) == hash(ArchSpec(family="mlp", input_shape=(1, 40), widths=(8,)))
    with pytest.raises(AttributeError):
        spec.dropout = 0.5  # type: ignore[misc]


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_mlp_computes_the_documented_function(activation: str) -> None:
    torch.manual_seed(0)
    model = build_model(
        ArchSpec(family="mlp", input_shape=(1, 40), widths=(8,), activation=activation)
    ).eval()
    w = dict(model.named_parameters())
    x = torch.randn(3, 1, 40)
    act = torch.tanh if activation == "tanh" else torch.relu
    h = act(x.flatten(1) @ w["fc1.weight"].T + w["fc1.bias"])
    expected = h @ w["fc2.weight"].T + w["fc2.bias"]
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected)
    assert math.prod(w["fc1.weight"].shape) == 8 * 40
