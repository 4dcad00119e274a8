"""Weight statistics equal a numpy reference, and their GBT head recovers the init scale."""

from __future__ import annotations

import numpy as np
import pytest
from encode_nets import make_nets

from weightzoo.arch import ArchSpec
from weightzoo.encode import build_encoder, stats_head
from weightzoo.errors import ConfigError


def test_features_match_numpy(mlp_nets: list) -> None:
    enc = build_encoder("stats").fit(mlp_nets)
    z = enc.encode(mlp_nets)
    names = enc.feature_names
    assert len(names) == z.shape[1] == 3 * 2 * 7
    w = mlp_nets[5][1]["fc2.weight"].numpy().ravel()
    b = mlp_nets[5][1]["fc2.bias"].numpy().ravel()
    for stat, value in [
        ("mean", w.mean()), ("var", w.var()), ("q0", w.min()), ("q25", np.quantile(w, 0.25)),
        ("q50", np.median(w)), ("q75", np.quantile(w, 0.75)), ("q100", w.max()),
    ]:  # fmt: skip
        np.testing.assert_allclose(
            z[5, names.index(f"fc2.weight.{stat}")], value, rtol=1e-5, atol=1e-7
        )
    np.testing.assert_allclose(z[5, names.index("fc2.bias.var")], b.var(), rtol=1e-5)


@pytest.mark.parametrize("kind", ["gbt", "mlp"])
def test_head_predicts_init_scale(kind: str) -> None:
    spec = ArchSpec("mlp", (1, 20), widths=(8,))
    nets = make_nets(spec, 80, seed=4)
    scale = np.array([0.05 * (1 + i % 4) for i in range(80)])
    enc = build_encoder("stats").fit(nets[:60])
    head = stats_head("regression", kind=kind, seed=0).fit(enc.encode(nets[:60]), scale[:60])
    pred = head.predict(enc.encode(nets[60:]))
    r2 = 1 - ((pred - scale[60:]) ** 2).sum() / ((scale[60:] - scale[60:].mean()) ** 2).sum()
    assert r2 > 0.9
    with pytest.raises(ConfigError, match="kind"):
        stats_head(kind="forest")
