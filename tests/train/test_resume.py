"""`weightzoo zoo create`, killed with SIGKILL and rerun, equals an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from train_zoo_helpers import check_same_zoo, epoch_files

CONFIG = {
    "name": "resume",
    "data": {"name": "mnist1d", "num_samples": 1500},
    "arch": {"family": "mlp", "widths": [32]},
    "space": {
        "seed": [0, 1, 2],
        "activation": ["tanh", "relu"],
        "dropout": [0.0, 0.2],
        "lr": 0.003,
    },
    "epochs": 12,
    "models_per_shard": 4,
}


def _cmd(config: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "weightzoo",
        "zoo",
        "create",
        str(config),
        "--out",
        str(out),
        "--quiet",
    ]


@pytest.mark.slow
def test_kill_minus_9_then_rerun_equals_uninterrupted(tmp_path: Path) -> None:
    config = tmp_path / "zoo.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    ref = tmp_path / "ref"
    subprocess.run(_cmd(config, ref), check=True, capture_output=True, timeout=300)

    out = tmp_path / "killed"
    kills = 0
    # Kill at three different moments: after the first checkpoint of the first
    # shard, in the middle of the second shard, and during the last shard.
    for wait_for in ("shards/s0000/epoch_0002.safetensors", "shards/s0001/epoch_0005.safetensors",
                     "shards/s0002/epoch_0001.safetensors"):  # fmt: skip
        proc = subprocess.Popen(
            _cmd(config, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 120
        while not (out / wait_for).exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
    assert kills >= 2, "the run finished before it could be killed; make the config bigger"
    assert not (out / "catalog.parquet").exists() or kills < 3
    done = subprocess.run(_cmd(config, out), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    check_same_zoo(ref, out)
    # A rerun of a finished zoo changes nothing.
    before = {rel: p.stat().st_mtime_ns for rel, p in epoch_files(out).items()}
    subprocess.run(_cmd(config, out), check=True, capture_output=True, timeout=300)
    assert before == {rel: p.stat().st_mtime_ns for rel, p in epoch_files(out).items()}
