"""Model-level mixture: pooled hidden states, mergekit hidden gates, routing, ensemble, router training."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from weightzoo.arch import ArchSpec, build_model
from weightzoo.errors import ConfigError
from weightzoo.merge.moe import (
    ModelMixture,
    hidden_gate_vectors,
    output_ensemble,
    pooled_hidden,
    train_router,
)

SPEC = ArchSpec("mlp", (1, 12), num_classes=3, widths=(10, 6), activation="tanh")


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(SPEC).eval()


def _penultimate(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    h = torch.tanh(model.fc1(x.flatten(1)))
    return torch.tanh(model.fc2(h))


def test_pooled_hidden_is_the_input_of_the_last_linear() -> None:
    m, x = _model(0), torch.randn(7, 1, 12)
    torch.testing.assert_close(pooled_hidden(m, x), _penultimate(m, x))
    torch.testing.assert_close(pooled_hidden(m, x, layer="fc1"), x.flatten(1))


def test_hidden_gates_are_normalized_mean_hidden_states() -> None:
    m = _model(0)
    xs = [torch.randn(5, 1, 12), torch.randn(4, 1, 12) + 1]
    neg = [None, torch.randn(3, 1, 12)]
    gate = hidden_gate_vectors(m, xs, negative=neg)
    v0 = _penultimate(m, xs[0]).mean(0)
    v1 = _penultimate(m, xs[1]).mean(0) - _penultimate(m, neg[1]).mean(0)
    torch.testing.assert_close(gate[0], v0 / v0.norm())
    torch.testing.assert_close(gate[1], v1 / v1.norm())


def test_top1_mixture_outputs_the_routed_expert() -> None:
    experts = [_model(1), _model(2), _model(3)]
    router = _model(0)
    gate = torch.randn(3, 6)
    mix = ModelMixture(experts, router, gate, top_k=1)
    x = torch.randn(20, 1, 12)
    chosen = (_penultimate(router, x) @ gate.T).argmax(1)
    assert torch.equal(mix.route(x), chosen)
    with torch.no_grad():
        out = mix(x)
        for i in range(20):
            expected = F.log_softmax(experts[int(chosen[i])](x[i : i + 1]), -1)
            torch.testing.assert_close(out[i : i + 1], expected, atol=1e-5, rtol=1e-5)


def test_equal_gates_over_all_experts_is_the_output_ensemble() -> None:
    experts = [_model(1), _model(2)]
    mix = ModelMixture(experts, _model(0), torch.zeros(2, 6), top_k=2)
    x = torch.randn(9, 1, 12)
    with torch.no_grad():
        torch.testing.assert_close(mix(x), output_ensemble(experts)(x))


def test_router_training_learns_to_route_by_domain() -> None:
    # Two "experts" that each predict a constant class; domain d (mean +-2) has label d.
    class Const(torch.nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.c = c

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.one_hot(torch.full((x.shape[0],), self.c), 3).float() * 5

    class Router(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = torch.nn.Linear(2, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(torch.stack([x.mean((1, 2)), torch.ones(x.shape[0])], 1))

    g = torch.Generator().manual_seed(0)
    x = torch.cat(
        [torch.randn(64, 1, 12, generator=g) - 2, torch.randn(64, 1, 12, generator=g) + 2]
    )
    y = torch.cat([torch.zeros(64, dtype=torch.long), torch.ones(64, dtype=torch.long)])
    # Start routing everything to the wrong expert.
    mix = ModelMixture([Const(0), Const(1)], Router(), torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
    wrong = float((mix.route(x) == y).float().mean())
    losses = train_router(mix, x, y, epochs=30, lr=0.1, batch_size=32)
    assert losses[-1] < losses[0]
    assert wrong < 0.1 and float((mix.route(x) == y).float().mean()) > 0.95


def test_bad_mixture_settings() -> None:
    with pytest.raises(ConfigError, match="gate"):
        ModelMixture([_model(1)], _model(0), torch.zeros(2, 6))
    with pytest.raises(ConfigError, match="top_k"):
        ModelMixture([_model(1)], _model(0), torch.zeros(1, 6), top_k=2)
