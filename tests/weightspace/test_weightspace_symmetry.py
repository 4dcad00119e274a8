"""Permuting hidden units leaves the network's function unchanged."""

from __future__ import annotations

import pytest
import torch
from weightspace_nets import SPECS

from weightzoo.arch import ArchSpec, build_model
from weightzoo.errors import WeightzooError
from weightzoo.weightspace.symmetry import (
    apply_permutation,
    permutation_groups,
    random_permutations,
)


def check_same_function(spec: ArchSpec, state: dict, permuted: dict) -> None:
    x = torch.randn(5, *spec.input_shape, generator=torch.Generator().manual_seed(1))
    a, b = build_model(spec).eval(), build_model(spec).eval()
    a.load_state_dict(state)
    b.load_state_dict(permuted)
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("family", sorted(SPECS))
def test_outputs_unchanged_and_weights_changed(family: str) -> None:
    spec = SPECS[family]
    torch.manual_seed(0)
    state = build_model(spec).state_dict()
    groups = permutation_groups(spec)
    perms = random_permutations(groups, torch.Generator().manual_seed(3))
    permuted = apply_permutation(state, groups, perms)
    check_same_function(spec, state, permuted)
    # Not the identity: every hidden layer's weights actually moved.
    for g in groups:
        assert not torch.equal(state[f"{g.name}.weight"], permuted[f"{g.name}.weight"])


def test_conv_flatten_linear_block() -> None:
    groups = {g.name: g for g in permutation_groups(SPECS["cnn_s"])}
    # cnn_s at 28x28: conv3 has 4 channels of 3x3 -> fc1 has 36 inputs, 9 per channel.
    assert groups["conv3"].members[-1] == ("fc1.weight", 1, 9)
    assert groups["conv1"].members[-1] == ("conv2.weight", 1, 1)
    # A permutation that only swaps conv3's channels 0 and 1 moves fc1 columns 0..8 <-> 9..17.
    state = build_model(SPECS["cnn_s"]).state_dict()
    perm = torch.tensor([1, 0, 2, 3])
    out = apply_permutation(state, [groups["conv3"]], {"conv3": perm})
    torch.testing.assert_close(out["fc1.weight"][:, 0:9], state["fc1.weight"][:, 9:18])
    torch.testing.assert_close(out["fc1.weight"][:, 18:], state["fc1.weight"][:, 18:])
    check_same_function(SPECS["cnn_s"], state, out)


def test_batched_matches_per_model() -> None:
    spec = SPECS["cnn1d"]
    states = [build_model(spec).state_dict() for _ in range(3)]
    stacked = {k: torch.stack([s[k] for s in states]) for k in states[0]}
    groups = permutation_groups(spec)
    gen = torch.Generator().manual_seed(0)
    per_model = [random_permutations(groups, gen) for _ in states]
    perms = {g.name: torch.stack([p[g.name] for p in per_model]) for g in groups}
    out = apply_permutation(stacked, groups, perms, batched=True)
    for i, s in enumerate(states):
        ref = apply_permutation(s, groups, per_model[i])
        for k in s:
            torch.testing.assert_close(out[k][i], ref[k])
    shared = apply_permutation(stacked, groups, per_model[0], batched=True)
    ref0 = apply_permutation(states[2], groups, per_model[0])
    for k in ref0:
        torch.testing.assert_close(shared[k][2], ref0[k])


def test_bad_input() -> None:
    with pytest.raises(WeightzooError, match="resnet"):
        permutation_groups(ArchSpec("resnet", (3, 16, 16)))
    groups = permutation_groups(SPECS["mlp"])
    state = build_model(SPECS["mlp"]).state_dict()
    with pytest.raises(WeightzooError, match="fc1"):
        apply_permutation(state, groups, {"fc1": torch.arange(5)})
