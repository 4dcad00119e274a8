"""The fine-tune zoo: domain transforms, task data, fine-tunes that learn their task, save/load."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from weightzoo.errors import WeightzooError
from weightzoo.merge.finetune_zoo import (
    DOMAINS,
    FinetuneZooConfig,
    build_finetune_zoo,
    load_hf_weights,
    make_tasks,
)

SMALL = {"num_samples": 1000, "pretrain_epochs": 5, "finetune_epochs": 5, "finetune_lr": 3e-3}


@pytest.mark.parametrize("name", list(DOMAINS))
def test_domains_keep_shape_and_are_deterministic(name: str) -> None:
    fn = DOMAINS[name][0]
    x = torch.randn(6, 1, 40)
    a = fn(x, torch.Generator().manual_seed(0))
    b = fn(x, torch.Generator().manual_seed(0))
    assert a.shape == x.shape and torch.equal(a, b)


def test_domain_closed_forms() -> None:
    x = torch.arange(40.0).reshape(1, 1, 40)
    g = torch.Generator()
    assert torch.equal(DOMAINS["reversed"][0](DOMAINS["reversed"][0](x, g), g), x)
    assert torch.equal(DOMAINS["negated"][0](x, g), -x)
    assert DOMAINS["shifted"][0](x, g)[0, 0, 10] == 0.0
    # A linear ramp is its own moving average away from the edges.
    torch.testing.assert_close(DOMAINS["smoothed"][0](x, g)[..., 2:-2], x[..., 2:-2])


def test_tasks_share_labels_and_differ_in_inputs() -> None:
    tasks = make_tasks(["clean", "reversed"], num_samples=1000)
    c, r = tasks["clean"], tasks["reversed"]
    assert torch.equal(c.y_test, r.y_test)
    assert torch.equal(r.x_train, c.x_train.flip(-1))
    with pytest.raises(WeightzooError, match="split"):
        c.split("holdout")


@pytest.fixture(scope="module")
def zoo():
    return build_finetune_zoo(FinetuneZooConfig(tasks=["reversed", "negated"], **SMALL))


def test_each_finetune_beats_the_base_on_its_own_task(zoo) -> None:
    base = zoo.accuracy(zoo.base, "train")
    for task, w in zoo.finetunes.items():
        assert zoo.accuracy(w, "train")[task] > base[task], task
    # The base never saw negated signals; its fine-tune learns them.
    assert (
        zoo.accuracy(zoo.finetunes["negated"])["negated"] > zoo.accuracy(zoo.base)["negated"] + 0.1
    )


def test_save_and_load_round_trip(zoo, tmp_path: Path) -> None:
    zoo.save(tmp_path / "ft")
    spec, w = load_hf_weights(tmp_path / "ft" / "negated")
    assert spec == zoo.spec
    for k, v in zoo.finetunes["negated"].items():
        assert torch.equal(w[k], v)
    assert (tmp_path / "ft" / "zoo.yaml").is_file()
    with pytest.raises(WeightzooError, match="config.json"):
        load_hf_weights(tmp_path)


def test_bad_config() -> None:
    from weightzoo.config import parse_config
    from weightzoo.errors import ConfigError

    with pytest.raises(ConfigError, match="tasks"):
        parse_config(FinetuneZooConfig, {"tasks": ["upside_down"]})


def test_cli_finetune_zoo_writes_model_folders(tmp_path: Path) -> None:
    from weightzoo.cli import main

    out = tmp_path / "ft"
    assert main(["merge", "finetune-zoo", "--out", str(out), "--quick", "-q"]) == 0
    for name in ("base", "shifted", "reversed", "negated", "smoothed"):
        spec, w = load_hf_weights(out / name)
        assert spec.family == "cnn1d" and "fc1.weight" in w
    assert main(["merge", "finetune-zoo", "--out", str(out), "-q"]) == 1  # not empty: refused
