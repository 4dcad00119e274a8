"""Reading networks out of a zoo for prediction."""

from __future__ import annotations

import pytest
import torch

from weightzoo import Zoo
from weightzoo.errors import ConfigError
from weightzoo.predict._data import load_networks, select_rows


def test_networks_are_the_zoo_weights_in_row_order(tiny_zoo):
    zoo = Zoo.open(tiny_zoo)
    rows = select_rows(zoo, "all").sample(frac=1.0, random_state=0).reset_index(drop=True)
    nets = load_networks(zoo, rows)
    assert len(nets) == len(zoo.catalog)
    for (spec, weights), row in zip(nets, rows.itertuples(), strict=True):
        expected = zoo.weights(row.model_id, row.epoch)
        assert list(weights) == list(expected)
        assert all(torch.equal(weights[k], expected[k]) for k in expected)
        # The encoder must not read the activation (a target) off the spec.
        assert spec.activation == "relu" and spec.widths == zoo.spec(row.model_id).widths


def test_select_rows(tiny_zoo):
    zoo = Zoo.open(tiny_zoo)
    last = select_rows(zoo, "last")
    assert len(last) == len(zoo.models()) and set(last["epoch"]) == {2}
    assert set(select_rows(zoo, [0, 2, 7])["epoch"]) == {0, 2}
    with pytest.raises(ConfigError, match="no checkpoint at epochs"):
        select_rows(zoo, [9])
    with pytest.raises(ConfigError, match="expected 'all', 'last'"):
        select_rows(zoo, "first")
