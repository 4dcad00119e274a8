"""Helpers of the training tests: the engine zoo config, zoo comparison, killing workers.

A module with a unique name (not conftest) so ``from train_zoo_helpers import ...``
finds it whatever other test folder's conftest was imported first.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from safetensors.torch import load_file

# 2 activations -> 2 shards of 6 MLPs, 10 epochs: long enough to kill a worker mid-shard.
ENGINE_CONFIG = {
    "name": "engines",
    "data": {"name": "mnist1d", "num_samples": 1000},
    "arch": {"family": "mlp", "widths": [16]},
    "space": {
        "seed": [0, 1, 2],
        "activation": ["tanh", "relu"],
        "dropout": [0.0, 0.2],
        "lr": 0.003,
    },
    "epochs": 10,
    "models_per_shard": 6,
}


def epoch_files(root: Path) -> dict[str, Path]:
    return {
        p.relative_to(root).as_posix(): p
        for p in sorted((root / "shards").rglob("epoch_*.safetensors"))
    }


def check_same_zoo(a: Path, b: Path) -> None:
    """Same catalog, same epoch files with bit-identical tensors, no temporary files."""
    cat_a = pd.read_parquet(a / "catalog.parquet")
    cat_b = pd.read_parquet(b / "catalog.parquet")
    pd.testing.assert_frame_equal(cat_a, cat_b)
    assert not cat_b.duplicated(["model_id", "epoch"]).any()
    files_a, files_b = epoch_files(a), epoch_files(b)
    assert list(files_a) == list(files_b)
    for rel in files_a:
        ta, tb = load_file(files_a[rel]), load_file(files_b[rel])
        assert ta.keys() == tb.keys()
        for k in ta:
            assert (ta[k] == tb[k]).all(), f"{rel}:{k} differs"
    assert not list(b.rglob("*.tmp")), "temporary files left behind"


def descendants(pid: int) -> list[int]:
    """Pids of every process below ``pid`` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def kill_worker_when(
    marker: Path, is_worker: Callable[[bytes], bool], timeout: float = 120
) -> int | None:
    """Wait until ``marker`` exists, then SIGKILL one of this process's worker descendants."""
    deadline = time.monotonic() + timeout
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    for pid in descendants(os.getpid()):
        if is_worker(cmdline(pid)):
            os.kill(pid, signal.SIGKILL)
            return pid
    return None
