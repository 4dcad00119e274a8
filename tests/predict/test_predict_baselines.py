"""The layer-role statistics baseline: same features for any depth and width."""

from __future__ import annotations

import torch

from weightzoo.arch import ArchSpec, build_model
from weightzoo.encode.stats import tensor_stats
from weightzoo.predict.baselines import RoleStatsEncoder


def _net(widths: tuple[int, ...], seed: int) -> tuple[ArchSpec, dict[str, torch.Tensor]]:
    spec = ArchSpec(family="mlp", input_shape=(1, 40), widths=widths)
    torch.manual_seed(seed)
    return spec, build_model(spec).state_dict()


def test_role_statistics_by_hand():
    spec, w = _net((8, 6, 4), 0)
    features = RoleStatsEncoder().encode([(spec, w)])[0]
    assert features.shape == (42,)

    def stats(t):
        return tensor_stats(t.reshape(1, -1))[0]

    first = torch.cat([stats(w["fc1.weight"]), stats(w["fc1.bias"])])
    hidden = (
        torch.cat([stats(w["fc2.weight"]), stats(w["fc2.bias"])])
        + torch.cat([stats(w["fc3.weight"]), stats(w["fc3.bias"])])
    ) / 2
    last = torch.cat([stats(w["fc4.weight"]), stats(w["fc4.bias"])])
    torch.testing.assert_close(torch.from_numpy(features), torch.cat([first, hidden, last]))


def test_any_architecture_in_one_batch():
    encoder = RoleStatsEncoder().fit([_net((16, 16), 0)])
    emb = encoder.encode([_net((16, 16), 1), _net((32, 32, 32), 2), _net((8,), 3)])
    assert emb.shape == (3, 42)
    assert (emb[2, 14:28] == 0).all()  # no hidden layer between input and output
