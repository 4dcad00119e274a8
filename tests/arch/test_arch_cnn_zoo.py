"""The Small CNN Zoo architecture (Unterthiner et al. 2020): sizes and forward pass."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from weightzoo.arch import ArchSpec, build_model, get_family, num_params
from weightzoo.errors import ConfigError


def test_paper_parameter_count_and_names() -> None:
    # 3 convs of 16 3x3 filters on 1 channel + dense 16 -> 10: 160 + 2320 + 2320 + 170
    spec = ArchSpec("cnn_zoo", (1, 28, 28))
    assert num_params(spec) == 4970
    assert num_params(ArchSpec("cnn_zoo", (3, 32, 32))) == 4970 + 2 * 9 * 16
    assert list(build_model(spec).state_dict()) == [
        "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
        "conv3.weight", "conv3.bias", "fc1.weight", "fc1.bias",
    ]  # fmt: skip
    assert get_family("cnn_zoo").url == "https://arxiv.org/abs/2002.11448"


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_forward_is_valid_stride2_convs_then_global_average_pool(activation: str) -> None:
    torch.manual_seed(0)
    spec = ArchSpec("cnn_zoo", (1, 28, 28), activation=activation, dropout=0.5)
    model = build_model(spec).eval()
    sd = model.state_dict()
    act = torch.relu if activation == "relu" else torch.tanh
    x = torch.randn(4, 1, 28, 28)
    h = x
    sizes = []
    for i in (1, 2, 3):
        h = act(F.conv2d(h, sd[f"conv{i}.weight"], sd[f"conv{i}.bias"], stride=2, padding=0))
        sizes.append(h.shape[-1])
    assert sizes == [13, 6, 2]  # Keras Conv2D(strides=2) with its default padding="valid"
    want = F.linear(h.mean(dim=(2, 3)), sd["fc1.weight"], sd["fc1.bias"])
    with torch.no_grad():
        torch.testing.assert_close(model(x), want)
    model.train()  # dropout acts in training mode only
    assert not torch.equal(model(x), want)


def test_too_small_input_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="larger input"):
        build_model(ArchSpec("cnn_zoo", (1, 6, 6)))
    with pytest.raises(ConfigError, match="square image"):
        build_model(ArchSpec("cnn_zoo", (1, 40)))
