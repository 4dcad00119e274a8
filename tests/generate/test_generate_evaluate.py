"""Evaluation: Mann–Whitney wiring against scipy, diversity catches copies, the report table."""

from __future__ import annotations

from math import comb
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import mannwhitneyu

from weightzoo.generate import (
    EvalConfig,
    evaluate_generation,
    mann_whitney_greater,
    write_evaluation,
)
from weightzoo.generate.evaluate import RANDOM, ZOO, diversity, parse_method


def test_mann_whitney_matches_the_exact_closed_form_and_scipy() -> None:
    a, b = np.arange(6.0, 11.0), np.arange(1.0, 6.0)
    # All of a above all of b: the exact one-sided p is 1 / C(10, 5).
    assert mann_whitney_greater(a, b) == pytest.approx(1 / comb(10, 5))
    assert mann_whitney_greater(b, a) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(0.3, 1, 40), rng.normal(0, 1, 35)
    assert mann_whitney_greater(x, y) == mannwhitneyu(x, y, alternative="greater").pvalue


def test_diversity_flags_copies_and_measures_spread() -> None:
    gen = torch.Generator().manual_seed(0)
    zoo = [
        {"w": torch.randn(3, 2, generator=gen), "b": torch.randn(3, generator=gen)}
        for _ in range(4)
    ]
    probs = torch.softmax(torch.randn(2, 50, 3, generator=gen), -1)
    copies = diversity(zoo[:2], zoo, probs)
    assert copies["nn_to_zoo"] == 0.0 and copies["min_nn_to_zoo"] == 0.0
    flat = [torch.cat([z["w"].flatten(), z["b"]]) for z in zoo[:2]]
    assert copies["pairwise_l2"] == pytest.approx(float((flat[0] - flat[1]).norm()), rel=1e-6)
    pred = probs.argmax(-1)
    assert copies["disagreement"] == pytest.approx(float((pred[0] != pred[1]).double().mean()))
    shifted = [{k: v + 1.0 for k, v in z.items()} for z in zoo[:2]]
    assert diversity(shifted, zoo, probs)["nn_to_zoo"] > 0


def test_methods_parse_and_bad_ones_are_named() -> None:
    assert parse_method("kde@0.3") == ("kde", 0.3) and parse_method("gmm") == ("gmm", 0.3)
    for bad in ("vae@0.3", "kde@x", "kde@0"):
        with pytest.raises(ValueError, match="method"):
            parse_method(bad)


def test_evaluation_table_pvalues_are_scipy_on_the_curves(gen_setup, tmp_path: Path) -> None:
    zoo, source, encoder, data = gen_setup
    config = EvalConfig(methods=["kde@0.5", "neighbourhood@1.0"], n=4, epochs=2, transfer="invert",
                        transfer_method="kde@0.5")  # fmt: skip
    res = evaluate_generation(zoo, encoder, config, source=source, data=data)
    cur = res.curves
    assert set(cur["method"]) == {"kde@0.5", "neighbourhood@1.0", RANDOM, ZOO}
    assert (cur[cur.method == "kde@0.5"].groupby("model")["epoch"].max() == 2).all()
    row = res.summary.set_index("method").loc["kde@0.5"]
    for e in (1, 2):
        a = cur[(cur.method == "kde@0.5") & (cur.epoch == e)]["test_acc"].to_numpy()
        r = cur[(cur.method == RANDOM) & (cur.epoch == e)]["test_acc"].to_numpy()
        assert row[f"p_vs_random_{e}"] == pytest.approx(
            mannwhitneyu(a, r, alternative="greater").pvalue
        )
        assert row[f"acc_{e}_mean"] == pytest.approx(a.mean())
    # The zoo rows are the catalog's own accuracies.
    cat = zoo.catalog
    own = cat[cat.model_id.isin(source.model_ids) & (cat.epoch == 1)]["test_acc"]
    z = cur[(cur.method == ZOO) & (cur.epoch == 1)]["test_acc"]
    assert sorted(z) == pytest.approx(sorted(own))
    assert set(res.transfer["method"]) == {"kde@0.5", RANDOM}
    paths = write_evaluation(res, tmp_path / "eval")
    md = paths["summary"].read_text()
    assert "| kde@0.5 | 4 |" in md and "Transfer" in md
    assert paths["plot"].stat().st_size > 1000


def test_evaluation_rejects_a_top_that_selects_nothing(gen_setup) -> None:
    from weightzoo.errors import WeightzooError

    zoo, source, encoder, data = gen_setup
    with pytest.raises(WeightzooError, match="selects no model"):
        evaluate_generation(zoo, encoder, EvalConfig(methods=["kde@0.1"], n=2, epochs=1),
                            source=source, data=data)  # fmt: skip
