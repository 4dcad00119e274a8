"""End-to-end training: learns a known property, keeps the best validation checkpoint, saves."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from weightzoo.encode import build_encoder
from weightzoo.errors import ConfigError
from weightzoo.predict import e2e
from weightzoo.predict.e2e import E2EConfig, train_end_to_end
from weightzoo.predict.metrics import accuracy, kendall_tau
from weightzoo.predict.predictor import PropertyPredictor, fit_probe_predictor

FAST = E2EConfig(epochs=8, lr=1e-3, batch_size=32)


@pytest.fixture(scope="module")
def accuracy_predictor(synthetic) -> PropertyPredictor:
    (tr, ytr, _), (va, yva, _) = synthetic["train"], synthetic["val"]
    return train_end_to_end(build_encoder("flat"), "test_acc", tr, ytr, va, yva, config=FAST)


def test_learns_accuracy_with_a_sigmoid_head(accuracy_predictor, synthetic):
    nets, y, _ = synthetic["test"]
    pred = accuracy_predictor.predict(nets)
    assert ((pred > 0) & (pred < 1)).all()  # the sigmoid head
    assert kendall_tau(y, pred) > 0.8


def test_keeps_the_checkpoint_with_the_best_validation_tau(accuracy_predictor, synthetic):
    history = accuracy_predictor.info["history"]
    best = max(h["val"] for h in history)
    assert accuracy_predictor.info["best_val"] == best
    assert history[accuracy_predictor.info["best_epoch"] - 1]["val"] == best
    nets, y, _ = synthetic["val"]
    # The restored weights are the best epoch's, not the last epoch's.
    assert kendall_tau(y, accuracy_predictor.predict(nets)) == pytest.approx(best, abs=1e-9)


def test_restores_the_best_epoch_not_the_last(synthetic, monkeypatch):
    (tr, ytr, _), (va, yva, _) = synthetic["train"], synthetic["val"]
    scores = iter([0.1, 0.9, 0.3])
    monkeypatch.setattr(e2e, "_val_score", lambda task, y, pred: next(scores))
    encoder = build_encoder("flat")
    states = []

    def snapshot(epoch: int, total: int) -> None:
        states.append({k: v.clone() for k, v in encoder.module.state_dict().items()})

    config = E2EConfig(epochs=3, batch_size=32)
    predictor = train_end_to_end(
        encoder, "test_acc", tr, ytr, va, yva, config=config, progress=snapshot
    )
    assert predictor.info["best_epoch"] == 2
    final = encoder.module.state_dict()
    assert all(torch.equal(final[k], states[1][k]) for k in final)
    assert not all(torch.equal(final[k], states[2][k]) for k in final)


def test_saved_predictor_predicts_the_same(accuracy_predictor, synthetic, tmp_path):
    nets = synthetic["test"][0]
    folder = accuracy_predictor.save(tmp_path / "p")
    again = PropertyPredictor.load(folder)
    assert again.task.name == "test_acc" and again.protocol == "e2e"
    np.testing.assert_allclose(again.predict(nets), accuracy_predictor.predict(nets), atol=1e-6)


def test_classification_end_to_end(synthetic):
    (tr, _, ltr), (va, _, lva) = synthetic["train"], synthetic["val"]
    nets, _, labels = synthetic["test"]
    predictor = train_end_to_end(build_encoder("flat"), "activation", tr, ltr, va, lva, config=FAST)
    assert accuracy(labels, predictor.predict(nets)) > 0.8


def test_linear_probe_predictor_round_trip(synthetic, tmp_path):
    tr, ytr, _ = synthetic["train"]
    nets, y, _ = synthetic["test"]
    predictor = fit_probe_predictor(build_encoder("stats"), "test_acc", tr, ytr, probe="linear")
    assert kendall_tau(y, predictor.predict(nets)) > 0.8  # the bias mean is a stats feature
    again = PropertyPredictor.load(predictor.save(tmp_path / "probe"))
    np.testing.assert_allclose(again.predict(nets), predictor.predict(nets), rtol=1e-12)


def test_sne_adds_its_invariance_term(synthetic):
    (tr, ytr, _), (va, yva, _) = synthetic["train"], synthetic["val"]
    encoder = build_encoder("sne", dim=8, heads=2, chunk_size=16, embed_dim=8, calibrate_nets=8)
    config = E2EConfig(epochs=1, batch_size=8)
    predictor = train_end_to_end(
        encoder, "gen_gap", tr[:16], ytr[:16], va[:8], yva[:8], config=config
    )
    assert predictor.info["history"][0]["aux"] > 0
    assert np.isfinite(predictor.predict(va[:4])).all()


def test_end_to_end_needs_a_trainable_module(synthetic):
    (tr, ytr, _), (va, yva, _) = synthetic["train"], synthetic["val"]
    with pytest.raises(ConfigError, match="no trainable module"):
        train_end_to_end(build_encoder("stats"), "test_acc", tr, ytr, va, yva, config=FAST)
    with pytest.raises(ConfigError, match="validation networks"):
        train_end_to_end(build_encoder("flat"), "test_acc", tr, ytr, [], yva[:0], config=FAST)
