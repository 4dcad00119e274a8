"""Per-layer standardization: closed-form statistics, inverse, and fallback for unseen layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from weightzoo.errors import WeightzooError
from weightzoo.weightspace.standardize import LayerStandardizer


def test_statistics_match_numpy_and_inverse_roundtrips() -> None:
    g = torch.Generator().manual_seed(0)
    nets = [
        {"a.weight": 3 + 2 * torch.randn(5, 4, generator=g), "a.bias": torch.zeros(5)}
        for _ in range(6)
    ]
    st = LayerStandardizer().fit(nets)
    all_a = np.concatenate([n["a.weight"].numpy().ravel() for n in nets])
    np.testing.assert_allclose(
        st.stats_["a.weight"].numpy(), [all_a.mean(), all_a.std()], rtol=1e-5
    )
    # A constant tensor keeps scale 1 instead of dividing by zero.
    assert st.std("a.bias") == 1.0
    out = st.transform(nets[0])
    back = st.inverse(out)
    torch.testing.assert_close(back["a.weight"], nets[0]["a.weight"])
    pooled = np.concatenate([all_a, np.zeros(30)])
    # A parameter not seen in training uses the statistics pooled over all parameters.
    np.testing.assert_allclose(st.std("z.weight"), pooled.std(), rtol=1e-5)
    batched = st.transform({"a.weight": torch.stack([n["a.weight"] for n in nets])})["a.weight"]
    assert abs(float(batched.mean())) < 1e-5 and abs(float(batched.std(unbiased=False)) - 1) < 1e-4


def test_state_dict_roundtrip_and_unfitted_error() -> None:
    st = LayerStandardizer().fit([{"a.weight": torch.arange(6.0)}])
    again = LayerStandardizer.from_state_dict(st.state_dict())
    assert again.std("a.weight") == st.std("a.weight")
    with pytest.raises(WeightzooError, match="fit"):
        LayerStandardizer().transform({"a.weight": torch.zeros(2)})
    with pytest.raises(WeightzooError, match="at least one"):
        LayerStandardizer().fit([])
