"""Init schemes of the Model Zoos space: right scale, deterministic, biases as asked."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from weightzoo.arch import ArchSpec, build_model, init_model, list_archs
from weightzoo.arch.init import BIAS_INITS, INITS
from weightzoo.errors import ConfigError

FAN_IN, FAN_OUT = 800, 600
INIT_STD = 0.05


def _expected_std(init: str, fan_in: int, fan_out: int) -> float:
    return {
        "uniform": INIT_STD,
        "normal": INIT_STD,
        "kaiming_uniform": math.sqrt(2.0 / fan_in),
        "kaiming_normal": math.sqrt(2.0 / fan_in),
        "xavier_uniform": math.sqrt(2.0 / (fan_in + fan_out)),
        "xavier_normal": math.sqrt(2.0 / (fan_in + fan_out)),
    }[init]


def _uniform_bound(init: str, fan_in: int, fan_out: int) -> float | None:
    return {
        "uniform": math.sqrt(3.0) * INIT_STD,
        "kaiming_uniform": math.sqrt(6.0 / fan_in),
        "xavier_uniform": math.sqrt(6.0 / (fan_in + fan_out)),
    }.get(init)


def test_documented_schemes_are_registered() -> None:
    assert set(INITS) == {
        "uniform",
        "normal",
        "kaiming_uniform",
        "kaiming_normal",
        "xavier_uniform",
        "xavier_normal",
    }
    assert set(BIAS_INITS) == {"zeros", "uniform", "normal", "default"}


@pytest.mark.parametrize("init", INITS)
def test_linear_weight_scale(init: str) -> None:
    model = nn.Sequential(nn.Linear(FAN_IN, FAN_OUT))
    init_model(model, init, init_std=INIT_STD, generator=torch.Generator().manual_seed(0))
    w = model[0].weight
    std = _expected_std(init, FAN_IN, FAN_OUT)
    assert w.std().item() == pytest.approx(std, rel=0.02)
    assert abs(w.mean().item()) < 0.01 * std
    bound = _uniform_bound(init, FAN_IN, FAN_OUT)
    if bound is not None:
        assert w.abs().max().item() <= bound
        # Uniform fills its whole range (a normal of that std would not stop at the bound).
        assert w.abs().max().item() > 0.99 * bound
    else:
        assert w.abs().max().item() > 3.5 * std


@pytest.mark.parametrize("init", INITS)
def test_conv_weight_scale_uses_receptive_field(init: str) -> None:
    # fan_in = 16 * 5 * 5 = 400, fan_out = 32 * 5 * 5 = 800.
    model = nn.Sequential(nn.Conv2d(16, 32, 5))
    init_model(model, init, init_std=INIT_STD, generator=torch.Generator().manual_seed(0))
    w = model[0].weight
    assert w.std().item() == pytest.approx(_expected_std(init, 400, 800), rel=0.05)


@pytest.mark.parametrize("init", INITS)
def test_same_generator_seed_same_weights(init: str) -> None:
    spec = ArchSpec(family="mlp", input_shape=(1, 40), widths=(16, 16))

    def make(seed: int) -> dict[str, torch.Tensor]:
        m = build_model(spec)
        init_model(m, init, bias_init="normal", generator=torch.Generator().manual_seed(seed))
        return {k: v.clone() for k, v in m.state_dict().items()}

    a, b, c = make(3), make(3), make(4)
    assert list(a) == list(b)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert not torch.equal(a["fc1.weight"], c["fc1.weight"])


def test_init_does_not_depend_on_global_rng() -> None:
    spec = ArchSpec(family="cnn_s", input_shape=(1, 28, 28))
    out = []
    for global_seed in (0, 1):
        torch.manual_seed(global_seed)
        m = build_model(spec)
        init_model(
            m, "kaiming_normal", bias_init="uniform", generator=torch.Generator().manual_seed(7)
        )
        out.append(m.state_dict())
    for k in out[0]:
        assert torch.equal(out[0][k], out[1][k]), k


@pytest.mark.parametrize("family", list_archs())
def test_bias_zeros_gives_zeros_everywhere(family: str) -> None:
    shape = (1, 40) if family in ("mlp", "cnn1d") else (3, 32, 32)
    model = build_model(ArchSpec(family=family, input_shape=shape))
    init_model(
        model, "xavier_normal", bias_init="zeros", generator=torch.Generator().manual_seed(0)
    )
    biases = [(n, p) for n, p in model.named_parameters() if n.endswith("bias")]
    assert biases
    for mod in model.modules():
        b = getattr(mod, "bias", None)
        w = getattr(mod, "weight", None)
        if isinstance(mod, nn.modules.batchnorm._BatchNorm):
            # Norm layers keep their identity init.
            assert torch.equal(w, torch.ones_like(w)) and torch.equal(b, torch.zeros_like(b))
        elif isinstance(b, nn.Parameter):
            assert torch.count_nonzero(b) == 0


@pytest.mark.parametrize("bias_init", ["uniform", "normal", "default"])
def test_bias_schemes(bias_init: str) -> None:
    model = nn.Sequential(nn.Linear(FAN_IN, 4000))
    init_model(
        model,
        "normal",
        bias_init=bias_init,
        init_std=INIT_STD,
        generator=torch.Generator().manual_seed(0),
    )
    b = model[0].bias
    if bias_init == "default":
        bound = 1.0 / math.sqrt(FAN_IN)
        assert b.abs().max().item() <= bound
        assert b.std().item() == pytest.approx(bound / math.sqrt(3.0), rel=0.05)
    else:
        assert b.std().item() == pytest.approx(INIT_STD, rel=0.05)
        if bias_init == "uniform":
            assert b.abs().max().item() <= math.sqrt(3.0) * INIT_STD


def test_unknown_schemes_are_config_errors() -> None:
    model = nn.Sequential(nn.Linear(4, 4))
    with pytest.raises(ConfigError, match="lecun"):
        init_model(model, "lecun")
    with pytest.raises(ConfigError, match="ones"):
        init_model(model, "normal", bias_init="ones")
