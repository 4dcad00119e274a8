"""FeatureExtractor: penultimate features of any nn.Module through a hook."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from weightzoo.arch import ArchSpec, build_model
from weightzoo.errors import WeightzooError
from weightzoo.select.candidates import FeatureExtractor, last_linear_name


class TimmLike(nn.Module):
    """A timm/torchvision-style CNN: conv trunk, global pool, ``fc`` head."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(4, 7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.trunk(x).flatten(1))


@dataclass
class Output:
    logits: torch.Tensor
    hidden: torch.Tensor


class HFLike(nn.Module):
    """A Hugging Face-style model: returns an output object, head named ``classifier``."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(5, 6), nn.GELU())
        self.classifier = nn.Linear(6, 3)
        self.pooler_extra = nn.Linear(6, 6)  # registered after the head: not the head

    def forward(self, x: torch.Tensor) -> Output:
        h = self.encoder(x)
        return Output(logits=self.classifier(h), hidden=self.pooler_extra(h))


def test_timm_like_features_are_the_head_input_in_any_batching() -> None:
    torch.manual_seed(0)
    model = TimmLike().train()
    x = torch.randn(10, 1, 6, 6)
    out = FeatureExtractor(model).extract(x, batch_size=3)
    with torch.no_grad():
        np.testing.assert_allclose(out.features, model.trunk(x).flatten(1).numpy(), rtol=1e-6)
        np.testing.assert_allclose(out.logits, model(x).numpy(), rtol=1e-6)
    np.testing.assert_allclose(out.source_probs.sum(1), 1.0)
    assert model.training  # mode restored


def test_hf_like_output_object_and_explicit_head() -> None:
    torch.manual_seed(0)
    model = HFLike()
    assert last_linear_name(model) == "pooler_extra"  # why explicit heads exist
    x = torch.randn(8, 5)
    out = FeatureExtractor(model, head="classifier").extract(x)
    with torch.no_grad():
        np.testing.assert_allclose(out.features, model.encoder(x).numpy(), rtol=1e-6)
        np.testing.assert_allclose(out.logits, model(x).logits.numpy(), rtol=1e-6)


def test_weightzoo_mlp_features_are_the_last_hidden_activations() -> None:
    torch.manual_seed(0)
    model = build_model(
        ArchSpec(family="mlp", input_shape=(1, 12), widths=(8, 6), activation="tanh")
    )
    x = torch.randn(9, 1, 12)
    out = FeatureExtractor(model).extract(x)
    with torch.no_grad():
        h = torch.tanh(model.fc2(torch.tanh(model.fc1(x.flatten(1)))))
    assert out.features.shape == (9, 6)
    np.testing.assert_allclose(out.features, h.numpy(), rtol=1e-6)


def test_bad_heads_are_named() -> None:
    with pytest.raises(WeightzooError, match="head='nope'.*no such submodule"):
        FeatureExtractor(TimmLike(), head="nope")
    with pytest.raises(WeightzooError, match="no nn.Linear head"):
        FeatureExtractor(nn.Sequential(nn.Conv2d(1, 1, 1)))

    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.fc(x))

    with pytest.raises(WeightzooError, match="ran 2 times"):
        FeatureExtractor(Twice()).extract(torch.randn(4, 3))
