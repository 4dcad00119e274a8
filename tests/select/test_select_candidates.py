"""The candidate zoo: task data, building, resuming, reading back."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from select_zoo_helpers import tiny_zoo, tiny_zoo_config

from weightzoo.errors import ConfigError
from weightzoo.select.candidates import (
    CandidateZoo,
    TaskSpec,
    build_candidate_zoo,
    default_candidate_zoo_config,
    load_task,
)


def _rows(x: torch.Tensor) -> set[bytes]:
    return {r.numpy().tobytes() for r in x.flatten(1)}


def test_source_and_target_halves_share_no_image_and_subsets_are_relabelled() -> None:
    task = TaskSpec(name="d", datasets=("digits28",), classes=(7, 3))
    source = load_task(task, "source")
    target = load_task(task, "target", n_train=50)
    assert not _rows(source.x_train) & _rows(target.x_train)
    assert target.x_train.shape[0] == 50 and target.num_classes == 2
    assert set(source.y_train.tolist()) == {0, 1}
    full = load_task(TaskSpec(name="all", datasets=("digits28",)), "source")
    sevens = full.x_train[full.y_train == 7]
    assert _rows(source.x_train[source.y_train == 0]) == _rows(sevens)  # 7 -> label 0


def test_shifts_and_stacked_datasets() -> None:
    plain = load_task(TaskSpec(name="p", datasets=("digits28",)), "target", n_train=40)
    inv = load_task(
        TaskSpec(name="p", datasets=("digits28",), shift="invert"), "target", n_train=40
    )
    torch.testing.assert_close(inv.x_train, -plain.x_train)
    both = load_task(TaskSpec(name="b", datasets=("digits28", "shapes28")), "source")
    assert both.num_classes == 20 and int(both.y_train.max()) >= 10


def test_bad_tasks_and_configs_are_named() -> None:
    with pytest.raises(ConfigError, match="classes"):
        load_task(TaskSpec(name="x", datasets=("digits28",), classes=(3, 12)), "source")
    with pytest.raises(ValueError, match="datasets"):
        TaskSpec(name="x", datasets=("cifar10",))
    raw = tiny_zoo_config().model_dump(mode="json")
    raw["candidates"][0]["source"] = "nowhere"
    with pytest.raises(ConfigError, match="nowhere"):
        from weightzoo.config import parse_config
        from weightzoo.select.candidates import CandidateZooConfig

        parse_config(CandidateZooConfig, raw)


def test_default_zoo_is_diverse() -> None:
    full = default_candidate_zoo_config()
    assert len(full.candidates) >= 10 and len(full.targets) >= 5
    assert {c.family for c in full.candidates} == {"mlp", "cnn_s", "cnn_l"}
    assert len({c.source for c in full.candidates}) >= 5
    sources = {(s.datasets, s.classes, s.shift) for s in full.sources}
    assert not sources & {(t.datasets, t.classes, t.shift) for t in full.targets}


def test_build_open_resume_and_refuse_another_config(tmp_path) -> None:
    zoo = tiny_zoo()
    again = CandidateZoo.open(zoo.root)
    assert again.names == ["digits/mlp16", "shapes/mlp16", "digits/mlp8-tanh"]
    model = again.load("digits/mlp16")
    assert model.fc1.out_features == 16 and not model.training
    for name in again.names:
        assert again.infos[name]["source_val_acc"] > 0.0

    # Resume: a missing manifest is rebuilt from the saved models, nothing retrained.
    copy = tmp_path / "zoo"
    shutil.copytree(zoo.root, copy)
    (copy / "candidates.json").unlink()
    stamps = {p.name: p.stat().st_mtime_ns for p in (copy / "models").iterdir()}
    rebuilt = build_candidate_zoo(tiny_zoo_config(), copy)
    assert {p.name: p.stat().st_mtime_ns for p in (copy / "models").iterdir()} == stamps
    assert json.loads((copy / "candidates.json").read_text())["models"] == rebuilt.infos

    other = tiny_zoo_config().model_copy(update={"n_eval": 61})
    with pytest.raises(ConfigError, match="another config"):
        build_candidate_zoo(other, copy)
