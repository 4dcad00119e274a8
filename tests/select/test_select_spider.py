"""Model Spider: Plackett–Luce loss, learning to rank, adding a model, re-ranking."""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import pytest
import torch

from weightzoo.select.ranking import weighted_tau
from weightzoo.select.spider import ModelSpider, SpiderTask, plackett_luce_loss, task_prototypes

MODELS = [f"model{i}" for i in range(6)]


def _brute_force_probability(scores: list[float], order: tuple[int, ...]) -> float:
    # Sequential draws without replacement, each proportional to exp(score).
    p, left = 1.0, list(order)
    for item in order:
        p *= math.exp(scores[item]) / sum(math.exp(scores[j]) for j in left)
        left.remove(item)
    return p


@pytest.mark.parametrize("m", [3, 4])
def test_plackett_luce_matches_brute_force_over_all_permutations(m: int) -> None:
    scores = torch.randn(m, generator=torch.Generator().manual_seed(m), dtype=torch.float64)
    total = 0.0
    for order in itertools.permutations(range(m)):
        # Ground truth that ranks `order` best first.
        gt = torch.empty(m, dtype=torch.float64)
        gt[list(order)] = torch.arange(m, 0, -1, dtype=torch.float64)
        loss = plackett_luce_loss(scores, gt).item()
        expected = _brute_force_probability(scores.tolist(), order)
        assert loss == pytest.approx(-math.log(expected), rel=1e-10)
        total += math.exp(-loss)
    assert total == pytest.approx(1.0, abs=1e-10)


def test_plackett_luce_batch_is_mean_and_gradient_favours_the_true_order() -> None:
    s = torch.tensor([[0.0, 0.0, 0.0], [1.0, -1.0, 2.0]], requires_grad=True)
    gt = torch.tensor([[3.0, 2.0, 1.0], [0.1, 0.3, 0.2]])
    loss = plackett_luce_loss(s, gt)
    each = [plackett_luce_loss(s[i], gt[i]) for i in range(2)]
    assert loss.item() == pytest.approx((each[0] + each[1]).item() / 2)
    assert torch.tensor(6.0).log().item() == pytest.approx(each[0].item())  # uniform: log 3!
    loss.backward()
    assert s.grad[0, 0] < 0 < s.grad[0, 2]  # raise the best, lower the worst


def test_task_prototypes_are_standardized_class_means() -> None:
    x = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 50.0], [7.0, 70.0]])
    y = np.array([1, 1, 0, 0])
    z = (x - x.mean(0)) / x.std(0)
    expected = np.stack([z[2:].mean(0), z[:2].mean(0)])
    np.testing.assert_allclose(task_prototypes(x, y).numpy(), expected, rtol=1e-5)
    # Invariant to the encoder's scale and offset.
    np.testing.assert_allclose(task_prototypes(3 * x + 7, y).numpy(), expected, rtol=1e-4)


def _task(seed: int, family: int, n_models: int = 6, with_specific: bool = True) -> SpiderTask:
    """Family 0 separates its classes along dims 0-2 and favours models 0-2; family 1 uses dims 4-6."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), 20)
    means = rng.normal(0, 0.3, (3, 8))
    means[np.arange(3), 4 * family + np.arange(3)] += 3.0  # class c sits along one axis
    generic = means[labels] + rng.normal(0, 1, (60, 8))
    quality = np.linspace(0.9, 0.4, n_models)
    acc = (quality if family == 0 else quality[::-1]) + rng.normal(0, 0.02, n_models)
    names = [f"model{i}" for i in range(n_models)]
    specific = {}
    if with_specific:
        for i, name in enumerate(names):
            own = rng.normal(0, 1, (3, 5)) * acc[i] * 3
            specific[name] = own[labels] + rng.normal(0, 1, (60, 5))
    return SpiderTask(
        f"t{seed}", generic, labels, dict(zip(names, acc.tolist(), strict=True)), specific
    )


@pytest.fixture(scope="module")
def fitted() -> tuple[ModelSpider, list[SpiderTask]]:
    tasks = [_task(s, s % 2) for s in range(8)]
    return ModelSpider(steps=100, tasks_per_step=2, lr=1e-2, seed=0).fit(tasks, MODELS), tasks


def test_spider_ranks_held_out_tasks_and_round_trips(fitted, tmp_path) -> None:
    spider, _ = fitted
    taus = []
    for seed in (100, 101, 102, 103):
        task = _task(seed, seed % 2)
        gt = np.array([task.accuracy[n] for n in spider.names_])
        taus.append(weighted_tau(gt, spider.score(task.generic, task.labels)))
    assert min(taus) > 0.6, taus
    loaded = ModelSpider.load(spider.save(tmp_path / "spider"))
    task = _task(200, 0)
    np.testing.assert_array_equal(
        loaded.score(task.generic, task.labels), spider.score(task.generic, task.labels)
    )


def test_add_model_trains_only_its_own_parameters(fitted) -> None:
    spider, tasks = fitted
    spider = copy.deepcopy(spider)
    before = {k: v.clone() for k, v in spider.scorer_.state_dict().items()}
    new_tasks = [_task(s, s % 2, n_models=7) for s in range(8)]
    untrained = copy.deepcopy(spider)
    untrained.add_model_steps = 0
    untrained.add_model("model6", new_tasks)
    spider.add_model("model6", new_tasks)

    after = spider.scorer_.state_dict()
    for key, value in before.items():
        assert torch.equal(after[key], value), key  # bit-identical
    new_keys = set(after) - set(before)
    assert new_keys == {"model_tokens.m6", "specific_proj.m6.weight", "specific_proj.m6.bias"}
    assert not torch.equal(
        after["model_tokens.m6"], untrained.scorer_.state_dict()["model_tokens.m6"]
    )
    assert all(p.requires_grad for p in spider.scorer_.parameters())

    def ranking_loss(s: ModelSpider) -> float:
        names = [f"model{i}" for i in range(7)]
        return float(np.mean([
            plackett_luce_loss(
                torch.as_tensor(s.score(t.generic, t.labels, names)),
                torch.tensor([t.accuracy[n] for n in names]),
            ) for t in new_tasks
        ]))  # fmt: skip

    assert ranking_loss(spider) < ranking_loss(untrained)


def test_rerank_calls_only_top_k_and_keeps_them_on_top(fitted) -> None:
    spider, _ = fitted
    task = _task(300, 0)
    calls: list[str] = []

    def own_features(name: str) -> np.ndarray:
        calls.append(name)
        return task.specific[name]

    result = spider.rank(task.generic, task.labels, specific=own_features, top_k=3)
    top3 = [spider.names_[i] for i in np.argsort(-result.generic_scores, kind="stable")[:3]]
    assert sorted(calls) == sorted(top3)
    assert sorted(result.order()[:3]) == sorted(top3) == sorted(result.reranked)
    assert result.order()[3:] == [
        spider.names_[i] for i in np.argsort(-result.generic_scores, kind="stable")[3:]
    ]


def test_fit_rejects_no_tasks() -> None:
    from weightzoo.errors import WeightzooError

    with pytest.raises(WeightzooError, match="tasks"):
        ModelSpider().fit([], MODELS)
