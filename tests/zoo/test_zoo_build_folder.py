"""Where ``build_zoo`` may write: empty folders, its own zoo, nothing else."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from weightzoo import build_zoo
from weightzoo.config import ZooConfig, parse_config
from weightzoo.errors import ZooExistsError


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Relative path -> (sha256, mtime_ns) of every file except the catalog."""
    return {
        p.relative_to(root).as_posix(): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_mtime_ns,
        )
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "catalog.parquet"
    }


def test_building_into_a_non_empty_foreign_folder_is_refused(
    tiny_config: ZooConfig, tmp_path: Path
) -> None:
    out = tmp_path / "project"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ZooExistsError, match="project"):
        build_zoo(tiny_config, out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert (out / "notes.txt").read_text() == "mine"


def test_a_foreign_shards_folder_is_not_deleted(tiny_config: ZooConfig, tmp_path: Path) -> None:
    out = tmp_path / "project"
    (out / "shards").mkdir(parents=True)
    (out / "shards" / "my_data.csv").write_text("1,2,3\n")
    try:
        build_zoo(tiny_config, out)
    except ZooExistsError:
        pass
    assert (out / "shards" / "my_data.csv").read_text() == "1,2,3\n"


def test_building_into_an_empty_existing_folder_works(tiny_config, tiny_zoo, tmp_path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    zoo = build_zoo(tiny_config, out)
    assert (out / "zoo.json").is_file() and (out / "config.yaml").is_file()
    # Same config, same seeds: the same zoo, bit for bit.
    fresh = pd.read_parquet(out / "catalog.parquet")
    stored = pd.read_parquet(tiny_zoo / "catalog.parquet")
    cols = [c for c in stored.columns if c != "file"]
    pd.testing.assert_frame_equal(fresh[cols], stored[cols])
    assert len(zoo.models()) == 8


# Rebuilding resumes every shard from its saved state. It runs in a child process
# because the resume bug below can crash the interpreter (a segfault in
# torch.Generator.set_state), which would take the whole test session with it.
_REBUILD = """
import sys
from weightzoo import build_zoo
from weightzoo.config import load_yaml_config
progress = []
for overrides in ([], ["device=cpu:0"]):  # the second changes a runtime-only field
    build_zoo(load_yaml_config(sys.argv[1], overrides), sys.argv[2], progress=lambda d, t: progress.append((d, t)))
print(progress[-1])
"""


def test_rebuilding_a_finished_zoo_is_a_no_op(tiny_zoo: Path, tmp_path: Path) -> None:
    root = tmp_path / "zoo"
    shutil.copytree(tiny_zoo, root)
    before = _snapshot(root)
    catalog = pd.read_parquet(root / "catalog.parquet")
    proc = subprocess.run(
        [sys.executable, "-c", _REBUILD, str(root / "config.yaml"), str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "(16, 16)"
    assert _snapshot(root) == before
    pd.testing.assert_frame_equal(pd.read_parquet(root / "catalog.parquet"), catalog)


@pytest.mark.parametrize("change", [{"epochs": 3}, {"seed": 1}, {"space": {"lr": [0.01]}}])
def test_a_different_config_into_a_zoo_is_refused(
    tiny_config_dict: dict,
    tiny_zoo: Path,
    tmp_path: Path,
    change: dict,
) -> None:
    root = tmp_path / "zoo"
    shutil.copytree(tiny_zoo, root)
    before = _snapshot(root)
    raw = {**tiny_config_dict, **change}
    if "space" in change:
        raw["space"] = {**tiny_config_dict["space"], **change["space"]}
    with pytest.raises(ZooExistsError, match="different config"):
        build_zoo(parse_config(ZooConfig, raw), root)
    assert _snapshot(root) == before
