"""Ray engine: the install hint, and a shard whose worker is killed mid-shard."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from train_zoo_helpers import ENGINE_CONFIG, check_same_zoo, kill_worker_when

from weightzoo.config import ZooConfig, parse_config
from weightzoo.errors import ConfigError
from weightzoo.train.engines import make_engine


def test_engine_ray_without_ray_gives_the_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    with pytest.raises(ConfigError, match=r"pip install 'weightzoo\[ray\]'"):
        make_engine(parse_config(ZooConfig, {"engine": "ray"}))
    from weightzoo.cli import main

    config = tmp_path / "zoo.yaml"
    config.write_text("epochs: 1\n")
    rc = main(["zoo", "create", str(config), "--out", str(tmp_path / "z"), "--engine", "ray"])
    assert rc == 2
    err = capsys.readouterr().err
    # (rich may render the "[ray]" of the hint as markup: check around it)
    assert "Ray is not installed; pip install 'weightzoo" in err and "--engine ray" in err
    assert not (tmp_path / "z").exists(), "nothing is written before the engine is ready"


@pytest.fixture(scope="module")
def ray_cluster():  # noqa: ANN201
    """A local Ray of 2 CPUs, its temp dir and HOME in a short private folder."""
    ray = pytest.importorskip("ray")
    # Ray's socket paths must stay under ~107 bytes: pytest's tmp_path is too deep.
    base = tempfile.mkdtemp(prefix="wzray", dir="/tmp")
    saved = {k: os.environ.get(k) for k in ("HOME", "RAY_USAGE_STATS_ENABLED")}
    os.environ.update(HOME=os.path.join(base, "home"), RAY_USAGE_STATS_ENABLED="0")
    os.makedirs(os.environ["HOME"])
    ray.init(
        num_cpus=2, include_dashboard=False, _temp_dir=os.path.join(base, "t"),
        logging_level="WARNING",
    )  # fmt: skip
    yield ray
    ray.shutdown()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    shutil.rmtree(base, ignore_errors=True)


def test_ray_refuses_process_private_memory_storage() -> None:
    pytest.importorskip("ray")
    from weightzoo.train.engines.ray_engine import RayEngine
    from weightzoo.train.shard import ShardJob

    job = ShardJob("memory://wz-ray-refused", "s0000", {"model_ids": []}, {}, 1, [0, 1])
    with pytest.raises(ConfigError, match="memory"):
        RayEngine().run([job], data=None)  # refused before Ray is started or data is needed


@pytest.mark.slow
def test_ray_worker_killed_mid_shard_is_retried_and_the_zoo_is_identical(
    ray_cluster,  # noqa: ANN001
    tmp_path: Path,
    engine_reference: Path,
) -> None:
    from weightzoo import build_zoo

    cfg = parse_config(ZooConfig, {**ENGINE_CONFIG, "engine": "ray", "max_retries": 2})
    out = tmp_path / "zoo"
    errors: list[BaseException] = []

    def build() -> None:
        try:
            build_zoo(cfg, out)
        except BaseException as e:  # reported below
            errors.append(e)

    thread = threading.Thread(target=build)
    thread.start()
    killed = kill_worker_when(
        out / "shards/s0000/epoch_0002.safetensors",
        lambda cmd: cmd.startswith(b"ray::_run_shard_task"),
    )
    thread.join(timeout=300)
    assert not errors, errors
    assert killed is not None, "no Ray worker running a shard was found"
    check_same_zoo(engine_reference, out)
