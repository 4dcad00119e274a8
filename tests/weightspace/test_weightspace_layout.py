"""Flattening, per-neuron tokens, SANE chunked tokens and SNE pad-chunk are exact re-arrangements."""

from __future__ import annotations

import math

import pytest
import torch
from weightspace_nets import SPECS

from weightzoo.arch import ArchSpec, build_model, num_params
from weightzoo.errors import WeightzooError
from weightzoo.weightspace.chunks import pad_chunk
from weightzoo.weightspace.layout import WeightLayout
from weightzoo.weightspace.tokens import (
    chunked_tokens,
    neuron_tokens,
    tokens_to_weights,
    unchunk_tokens,
)


def _params(spec: ArchSpec) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in build_model(spec).named_parameters()}


@pytest.mark.parametrize("family", sorted(SPECS))
def test_flatten_roundtrip_and_counts(family: str) -> None:
    spec = SPECS[family]
    w = _params(spec)
    layout = WeightLayout.from_spec(spec)
    flat = layout.flatten(w)
    assert flat.shape == (num_params(spec),)
    back = layout.unflatten(flat)
    assert all(torch.equal(back[k], w[k]) for k in w)
    # Batched: row b is model b's flat vector.
    other = _params(spec)
    stacked = {k: torch.stack([w[k], other[k]]) for k in w}
    rows = layout.flatten(stacked, batched=True)
    assert torch.equal(rows[1], layout.flatten(other))
    assert sum(layer.num_params for layer in layout.layers()) == num_params(spec)


def test_layer_infos_of_cnn_s() -> None:
    layers = WeightLayout.from_spec(SPECS["cnn_s"]).layers()
    assert [(x.name, x.kind) for x in layers] == [
        ("conv1", "conv2d"), ("conv2", "conv2d"), ("conv3", "conv2d"),
        ("fc1", "linear"), ("fc2", "linear"),
    ]  # fmt: skip
    assert layers[1].neuron_width == 8 * 5 * 5 + 1  # 8 input channels x 5x5 kernel + bias


@pytest.mark.parametrize("family", sorted(SPECS))
def test_neuron_tokens_hold_incoming_weights_and_bias(family: str) -> None:
    spec = SPECS[family]
    w = _params(spec)
    layers = WeightLayout.from_spec(spec).layers()
    toks = neuron_tokens(w, layers)
    first = layers[0]
    # Token i of the first layer = weights of output unit i, flattened, then its bias.
    i = first.fan_out - 1
    expected = torch.cat(
        [w[f"{first.name}.weight"][i].flatten(), w[f"{first.name}.bias"][i : i + 1]]
    )
    assert torch.equal(toks[0][i], expected)
    back = tokens_to_weights(toks, layers)
    assert all(torch.equal(back[k], w[k]) for k in w)


@pytest.mark.parametrize("token_size", [4, 7, 64])
def test_chunked_tokens_roundtrip_mask_positions(token_size: int) -> None:
    spec = SPECS["cnn1d"]
    layout = WeightLayout.from_spec(spec)
    w = _params(spec)
    batch = {k: torch.stack([v, 2 * v]) for k, v in w.items()}
    ct = chunked_tokens(batch, layout, token_size)
    assert int(ct.mask.sum()) == layout.num_params
    assert torch.equal(ct.tokens[0][~ct.mask], torch.zeros(int((~ct.mask).sum())))
    pieces = [math.ceil(x.neuron_width / token_size) for x in layout.layers()]
    assert ct.tokens.shape == (
        2,
        sum(x.fan_out * p for x, p in zip(layout.layers(), pieces, strict=True)),
        token_size,
    )
    assert torch.equal(ct.positions[:, 0], torch.arange(ct.tokens.shape[1]))
    # Layer index and neuron index of the last token.
    last = layout.layers()[-1]
    assert ct.positions[-1, 1:].tolist() == [len(pieces) - 1, last.fan_out - 1]
    back = unchunk_tokens(ct.tokens, layout, token_size)
    assert all(torch.equal(back[k], batch[k]) for k in w)


def test_pad_chunk_mixed_architectures() -> None:
    nets = []
    for family in ("mlp", "cnn_s"):
        w = _params(SPECS[family])
        nets.append((w, WeightLayout.from_weights(w)))
    chunks = pad_chunk(nets, chunk_size=16)
    for n, (w, layout) in enumerate(nets):
        mine = chunks.net == n
        assert int(chunks.mask[mine].sum()) == layout.num_params
        assert int(chunks.num_layers[n]) == len(layout.layers())
        # The real entries of a layer's chunks, in order, are that layer's flattened neuron tokens.
        for li, layer in enumerate(layout.layers()):
            sel = mine & (chunks.layer == li)
            got = chunks.values[sel][chunks.mask[sel]]
            expected = neuron_tokens(w, [layer])[0].flatten()
            assert torch.equal(got, expected)
            assert chunks.position[sel].tolist() == list(range(math.ceil(layer.num_params / 16)))
    assert torch.equal(chunks.segment_net[chunks.segment], chunks.net)
    assert torch.equal(chunks.segment_layer[chunks.segment], chunks.layer)


def test_layout_errors_name_the_parameter() -> None:
    layout = WeightLayout.from_spec(SPECS["mlp"])
    w = _params(SPECS["mlp"])
    w["fc2.weight"] = torch.zeros(3, 3)
    with pytest.raises(WeightzooError, match="fc2.weight"):
        layout.flatten(w)
    del w["fc1.bias"]
    with pytest.raises(WeightzooError, match="fc1.bias"):
        layout.check(w)
    with pytest.raises(WeightzooError, match="last dimension"):
        layout.unflatten(torch.zeros(5))
