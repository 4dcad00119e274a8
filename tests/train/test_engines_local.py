"""Local engine: worker layout, worker processes, a worker killed mid-shard, crash + resume."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from train_zoo_helpers import ENGINE_CONFIG, check_same_zoo, kill_worker_when

from weightzoo.config import ZooConfig, parse_config
from weightzoo.errors import ConfigError, WeightzooError
from weightzoo.train.engines import ENGINES, make_engine
from weightzoo.train.engines.local import PARALLEL_MIN_FLOPS, LocalEngine, choose_layout


def test_engine_registry_builds_each_engine_from_a_config() -> None:
    assert {"local", "ray"} <= set(ENGINES)
    engine = make_engine(parse_config(ZooConfig, {"workers": 3, "threads_per_worker": 2}))
    assert isinstance(engine, LocalEngine)
    assert (engine.workers, engine.threads, engine.max_retries) == (3, 2, 3)


@pytest.mark.parametrize(
    ("n_jobs", "flops", "workers", "threads", "cores", "expected"),
    [
        (1, 1e15, "auto", None, 2, (1, 2)),  # one shard: one process, every core
        (4, PARALLEL_MIN_FLOPS / 10, "auto", None, 2, (1, 2)),  # little work: no spawn cost
        (4, 1e15, "auto", None, 2, (2, 1)),  # workers x threads = cores
        (3, 1e15, "auto", None, 8, (3, 2)),  # never more workers than shards
        (4, 1e15, 2, 4, 2, (2, 4)),  # explicit values win
        (2, 1.0, 6, None, 8, (2, 4)),
    ],
)
def test_choose_layout(n_jobs, flops, workers, threads, cores, expected) -> None:  # noqa: ANN001
    assert choose_layout(n_jobs, flops, workers, threads, cores) == expected


def test_workers_field_is_validated() -> None:
    with pytest.raises(ConfigError, match="workers"):
        parse_config(ZooConfig, {"workers": 0})


def _is_spawn_worker(cmd: bytes) -> bool:
    return b"spawn_main" in cmd


def _build_and_kill_a_worker(cfg: ZooConfig, out: Path, marker: str) -> list[BaseException]:
    """Build in a thread, SIGKILL one worker process once ``marker`` exists; the errors raised."""
    from weightzoo import build_zoo

    errors: list[BaseException] = []

    def build() -> None:
        try:
            build_zoo(cfg, out)
        except BaseException as e:  # returned to the test
            errors.append(e)

    thread = threading.Thread(target=build)
    thread.start()
    killed = kill_worker_when(out / marker, _is_spawn_worker)
    thread.join(timeout=300)
    assert killed is not None, "no worker process found to kill"
    return errors


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_the_zoo_matches_one_process(
    tmp_path: Path, engine_reference: Path
) -> None:
    """SIGKILL a worker mid-shard: the pool is rebuilt, the shard resumes, the zoo is identical."""
    cfg = parse_config(ZooConfig, {**ENGINE_CONFIG, "workers": 2, "threads_per_worker": 1})
    errors = _build_and_kill_a_worker(cfg, tmp_path / "zoo", "shards/s0001/epoch_0002.safetensors")
    assert not errors, errors
    check_same_zoo(engine_reference, tmp_path / "zoo")


@pytest.mark.slow
def test_multi_worker_crash_then_rerun_equals_uninterrupted(
    tmp_path: Path, engine_reference: Path
) -> None:
    """No retries left: the build fails with the resume hint; a rerun resumes (here in-process)."""
    from weightzoo import build_zoo

    raw = {**ENGINE_CONFIG, "workers": 2, "threads_per_worker": 1, "max_retries": 0}
    cfg = parse_config(ZooConfig, raw)
    out = tmp_path / "zoo"
    errors = _build_and_kill_a_worker(cfg, out, "shards/s0000/epoch_0002.safetensors")
    assert len(errors) == 1 and isinstance(errors[0], WeightzooError), errors
    assert "rerun the same command to resume" in str(errors[0])
    assert not (out / "catalog.parquet").exists()
    build_zoo(cfg.model_copy(update={"workers": 1}), out)
    check_same_zoo(engine_reference, out)
