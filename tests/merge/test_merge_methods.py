"""Merge methods: identities over the whole registry, closed forms per method."""

from __future__ import annotations

import math

import pytest
import torch

from weightzoo.errors import ConfigError
from weightzoo.merge import MERGE_METHODS, MergeInputError, merge_state_dicts, slerp_tensors
from weightzoo.merge.methods._sparsify import outlier_prune, top_k_mask


def _models(n: int, seed: int = 0, shape: tuple[int, ...] = (6, 5)) -> tuple[dict, list[dict]]:
    g = torch.Generator().manual_seed(seed)
    base = {"w": torch.randn(shape, generator=g), "b": torch.randn(shape[0], generator=g)}
    models = [
        {k: v + 0.3 * torch.randn(v.shape, generator=g) for k, v in base.items()} for _ in range(n)
    ]
    return base, models


def _aux(name: str, models: list[dict]) -> dict:
    if name == "fisher":
        return {"fishers": [{k: torch.rand(v.shape) + 0.1 for k, v in m.items()} for m in models]}
    if name == "regmean":
        grams = []
        for _ in models:
            x = torch.randn(20, 5)
            grams.append({"w": x.T @ x})
        return {"grams": grams}
    return {}


@pytest.mark.parametrize("name", sorted(MERGE_METHODS))
def test_single_model_unit_weight_is_unchanged(name: str) -> None:
    entry = MERGE_METHODS[name]
    base, models = _models(2)
    # model_stock needs two fine-tunes: two copies of one model is "one model".
    one = [models[0]] * entry.min_models
    extra = {"t": 1.0} if name == "slerp" else {}
    out = merge_state_dicts(
        one, name, base=base if entry.needs_base else None, **extra, **_aux(name, one)
    )
    for k in base:
        torch.testing.assert_close(out[k], models[0][k], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(MERGE_METHODS))
def test_registry_entries_are_complete(name: str) -> None:
    entry = MERGE_METHODS[name]
    assert entry.url.startswith("https://")
    assert entry.summary
    base, models = _models(max(entry.min_models, 2))
    models = models[: entry.max_models] if entry.max_models else models
    out = merge_state_dicts(
        models,
        name,
        base=base if entry.needs_base else None,
        **({"t": 0.3} if name == "slerp" else {}),
        **_aux(name, models),
    )
    assert {k: (v.shape, v.dtype) for k, v in out.items()} == {
        k: (v.shape, v.dtype) for k, v in base.items()
    }
    assert all(torch.isfinite(v).all() for v in out.values())


def test_dtype_is_kept_and_compute_is_float32() -> None:
    base, models = _models(3)
    half = [{k: v.half() for k, v in m.items()} for m in models]
    out = merge_state_dicts(half, "linear")
    ref = sum(m["w"].half().float() for m in models) / 3
    assert out["w"].dtype == torch.float16
    torch.testing.assert_close(out["w"], ref.half())


def test_linear_weights_and_normalize() -> None:
    _, models = _models(2)
    out = merge_state_dicts(models, "linear", weights=[1.0, 3.0])
    torch.testing.assert_close(out["w"], (models[0]["w"] + 3 * models[1]["w"]) / 4)
    raw = merge_state_dicts(models, "linear", weights=[1.0, 3.0], normalize=False)
    torch.testing.assert_close(raw["w"], models[0]["w"] + 3 * models[1]["w"])


def test_task_arithmetic_closed_form() -> None:
    base, models = _models(2)
    out = merge_state_dicts(models, "task_arithmetic", base=base, weights=[0.5, 2.0])
    expect = base["w"] + 0.5 * (models[0]["w"] - base["w"]) + 2.0 * (models[1]["w"] - base["w"])
    torch.testing.assert_close(out["w"], expect)


def test_ties_hand_made() -> None:
    base = {"x": torch.zeros(4)}
    a = {"x": torch.tensor([3.0, -1.0, 0.5, 2.0])}
    b = {"x": torch.tensor([-2.0, -2.0, 1.0, 1.0])}
    # density 1: signs elected by total mass [+, -, +, +]; mean of agreeing entries.
    full = merge_state_dicts([a, b], "ties", base=base, density=1.0)
    torch.testing.assert_close(full["x"], torch.tensor([3.0, -1.5, 0.75, 1.5]))
    # density 0.5 keeps [3, ., ., 2] and [-2, -2, ., .]: nothing agrees at entry 2.
    half = merge_state_dicts([a, b], "ties", base=base, density=0.5)
    torch.testing.assert_close(half["x"], torch.tensor([3.0, -2.0, 0.0, 2.0]))
    # Without normalize the agreeing entries are summed (weights 1).
    summed = merge_state_dicts([a, b], "ties", base=base, density=1.0, normalize=False)
    torch.testing.assert_close(summed["x"], torch.tensor([3.0, -3.0, 1.5, 3.0]))


def test_ties_density_one_single_model_is_that_model() -> None:
    base, models = _models(1)
    out = merge_state_dicts(models, "ties", base=base, density=1.0)
    torch.testing.assert_close(out["w"], models[0]["w"])


def test_top_k_mask_is_exact_with_ties() -> None:
    values = torch.tensor([1.0, 2.0, 2.0, 2.0, 0.5, 3.0])
    mask = top_k_mask(values, 3)
    assert int(mask.sum()) == 3
    assert mask[5] and mask[1] and mask[2] and not mask[3]
    x = torch.randn(1000)
    m = top_k_mask(x.abs(), 100)
    assert float(x.abs()[m].min()) >= float(x.abs()[~m].max())


def test_breadcrumbs_drops_outliers_and_small_entries() -> None:
    delta = torch.arange(1.0, 11.0)  # n=10, keep 5 after dropping the largest 1
    kept = outlier_prune(delta, 0.5, 0.1)
    torch.testing.assert_close(kept, torch.tensor([0, 0, 0, 0, 5.0, 6, 7, 8, 9, 0]))


def test_slerp_t0_is_base_and_t1_the_model() -> None:
    base, models = _models(1)
    for t, ref in ((0.0, base), (1.0, models[0])):
        out = merge_state_dicts(models, "slerp", base=base, t=t)
        torch.testing.assert_close(out["w"], ref["w"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("t", [0.25, 0.5, 0.8])
def test_slerp_follows_the_great_circle(t: float) -> None:
    g = torch.Generator().manual_seed(3)
    v0 = torch.randn(50, generator=g, dtype=torch.float64)
    v1 = torch.randn(50, generator=g, dtype=torch.float64)
    v0, v1 = v0 / v0.norm(), v1 / v1.norm()
    theta = math.atan2(float(torch.linalg.norm(v0 - (v0 @ v1) * v1)), float(v0 @ v1))
    out = slerp_tensors(t, v0, v1).double()
    # Unit norm, at angle t*theta from v0 and (1-t)*theta from v1.
    assert float(out.norm()) == pytest.approx(1.0, abs=1e-5)
    assert float(out @ v0) == pytest.approx(math.cos(t * theta), abs=1e-5)
    assert float(out @ v1) == pytest.approx(math.cos((1 - t) * theta), abs=1e-5)


def test_slerp_collinear_falls_back_to_lerp() -> None:
    v0 = torch.randn(30)
    v1 = 2.5 * v0
    torch.testing.assert_close(slerp_tensors(0.3, v0, v1), 0.7 * v0 + 0.3 * v1)


def test_model_stock_closed_form() -> None:
    base = {"w": torch.zeros(2)}
    # Task vectors of equal norm at 60 degrees: cos = 0.5, k = 2 -> t = 2*0.5/1.5 = 2/3.
    a = {"w": torch.tensor([1.0, 0.0])}
    b = {"w": torch.tensor([0.5, math.sqrt(3) / 2])}
    out = merge_state_dicts([a, b], "model_stock", base=base)
    torch.testing.assert_close(out["w"], (2 / 3) * (a["w"] + b["w"]) / 2)


def test_dare_mean_of_many_draws_is_task_arithmetic() -> None:
    base, models = _models(2, shape=(40, 30))
    ta = merge_state_dicts(models, "task_arithmetic", base=base)
    draws = torch.stack(
        [
            merge_state_dicts(models, "dare_linear", base=base, density=0.3, seed=s)["w"]
            for s in range(400)
        ]
    )
    err = (draws.mean(0) - ta["w"]).abs().mean()
    single = (draws[0] - ta["w"]).abs().mean()
    # The mean error shrinks like 1/sqrt(draws): 20x below one draw's.
    assert err < single / 10
    # A draw keeps about `density` of each task vector's entries.
    kept = merge_state_dicts([models[0]], "dare_linear", base=base, density=0.3)["w"] != base["w"]
    assert 0.25 < kept.float().mean() < 0.35


def test_dare_is_reproducible_by_seed() -> None:
    base, models = _models(2)
    a = merge_state_dicts(models, "dare_ties", base=base, density=0.5, seed=1)
    b = merge_state_dicts(models, "dare_ties", base=base, density=0.5, seed=1)
    c = merge_state_dicts(models, "dare_ties", base=base, density=0.5, seed=2)
    assert torch.equal(a["w"], b["w"]) and not torch.equal(a["w"], c["w"])


def test_integer_buffers_are_copied_not_averaged() -> None:
    base, models = _models(2)
    for m in models:
        m["steps"] = torch.tensor(7)
    out = merge_state_dicts(models, "linear")
    assert out["steps"].dtype == torch.int64 and int(out["steps"]) == 7


def test_bad_inputs_name_the_problem() -> None:
    base, models = _models(2)
    with pytest.raises(ConfigError, match="unknown method 'nope'"):
        merge_state_dicts(models, "nope")
    with pytest.raises(ConfigError, match="base_model"):
        merge_state_dicts(models, "ties")
    with pytest.raises(ConfigError, match="densty: not a parameter"):
        merge_state_dicts(models, "ties", base=base, densty=0.5)
    with pytest.raises(ConfigError, match="density: expected 2 values"):
        merge_state_dicts(models, "ties", base=base, density=[0.5])
    with pytest.raises(ConfigError, match="at most 1"):
        merge_state_dicts(models, "slerp", base=base, t=0.5)
    with pytest.raises(ConfigError, match="t: required"):
        merge_state_dicts(models[:1], "slerp", base=base)
    bad = {**models[1], "w": models[1]["w"][:, :3]}
    with pytest.raises(MergeInputError, match=r"model 1: tensor 'w' has shape \(6, 3\)"):
        merge_state_dicts([models[0], bad], "linear")
    half = {**models[1], "w": models[1]["w"].half()}
    with pytest.raises(MergeInputError, match="dtype torch.float16"):
        merge_state_dicts([models[0], half], "linear")
    missing = {"w": models[1]["w"]}
    with pytest.raises(MergeInputError, match="missing tensor 'b'"):
        merge_state_dicts([models[0], missing], "linear")


def test_chunked_ties_equals_the_whole_tensor_formula() -> None:
    from weightzoo.merge.methods._chunked import kth_largest_delta
    from weightzoo.merge.methods._sparsify import magnitude_prune
    from weightzoo.merge.methods.task_vectors import _combine

    # 150k entries: past the size where thresholds come from a sample and a streaming
    # pass; float16 inputs, so equal |delta| values (ties at the threshold) are common.
    g = torch.Generator().manual_seed(5)
    n = 150_000
    base = (torch.randn(n, generator=g) * 0.02).half()
    fts = [
        (base.float() + 0.01 * torch.randn(n, generator=g) * torch.rand(n, generator=g) ** 4).half()
        for _ in range(3)
    ]
    weights, dens = [1.0, -0.5, 0.8], [0.3, 0.5, 0.9]
    out = merge_state_dicts(
        [{"x": f} for f in fts], "ties", base={"x": base}, weights=weights, density=dens
    )["x"]
    deltas = [magnitude_prune(f.float() - base.float(), d) for f, d in zip(fts, dens, strict=True)]
    ref = (base.float() + _combine(deltas, weights, sign_consensus=True, normalize=True)).half()
    assert out.dtype == torch.float16
    assert torch.equal(out, ref)
    for f, d in zip(fts, dens, strict=True):
        k = int(d * n)
        thr, ties = kth_largest_delta(f, base, k)
        mags = (f.float() - base.float()).abs()
        assert int((mags > thr).sum()) + ties == k and 1 <= ties <= int((mags == thr).sum())


def test_greedy_soup_keeps_only_models_that_help() -> None:
    from weightzoo.merge.soup import greedy_soup, uniform_soup

    target = torch.tensor([1.0, 1.0])
    # a is closest; b averages with a onto the target; c is far and would hurt.
    a, b, c = ({"w": torch.tensor(v)} for v in ([1.2, 1.0], [0.7, 1.0], [5.0, -3.0]))

    def score(sd: dict) -> float:
        return -float(((sd["w"] - target) ** 2).sum())

    res = greedy_soup([c, b, a], score)
    assert res.chosen == (2, 1)  # a first (best alone), then b; c rejected
    torch.testing.assert_close(res.state_dict["w"], torch.tensor([0.95, 1.0]))
    assert res.score == pytest.approx(score(uniform_soup([a, b])))
    assert res.score >= max(res.individual)
