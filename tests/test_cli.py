"""The ``weightzoo`` command: in-process through ``main`` and once as a real process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from rich.console import Console
from safetensors.torch import load_file

from weightzoo import Zoo, cli
from weightzoo.cli import main
from weightzoo.errors import ZooFormatError


def _flat(s: str) -> str:
    """Output with rich's line wrapping undone (it may break long paths and cells)."""
    return "".join(s.split())


@pytest.fixture
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Print tables at full width: at rich's default 80 columns cells get cut ("m000…")."""
    monkeypatch.setattr(cli, "out_console", Console(width=400))


@pytest.fixture
def config_file(tmp_path: Path, tiny_config_dict: dict) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config_dict))
    return path


def test_create_with_overrides(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "zoo"
    rc = main(
        [
            "zoo",
            "create",
            str(config_file),
            "space.lr=[0.002]",
            "epochs=1",
            "name=cli",
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    for name in ("zoo.json", "catalog.parquet", "config.yaml"):
        assert (out / name).is_file(), name
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["space"]["lr"] == [0.002]
    assert saved["epochs"] == 1 and saved["name"] == "cli"
    assert saved["space"]["activation"] == ["tanh", "relu"]  # from the file
    zoo = Zoo.open(out)
    assert zoo.name == "cli"
    # 1 lr x 2 activations x 2 seeds, epochs 0 and 1.
    assert len(zoo.models()) == 4 and zoo.epochs() == [0, 1]
    assert set(zoo.catalog["lr"]) == {0.002}
    assert str(out.resolve()) in _flat(captured.out)
    # The progress bar goes to stderr while not quiet: 4 models x 1 epoch.
    assert "zoo cli" in captured.err and "━" in captured.err
    assert "4/4" in captured.err


def test_create_quiet_prints_no_progress_bar(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "zoo"
    rc = main(["zoo", "create", str(config_file), "epochs=1", "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert (out / "catalog.parquet").is_file()
    assert captured.err == ""


def test_info(tiny_zoo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zoo", "info", str(tiny_zoo)]) == 0
    out = _flat(capsys.readouterr().out)
    assert "mnist1d" in out
    assert "8planned,8withcheckpoints,0diverged" in out
    assert "418params" in out


def test_ls_top(tiny_zoo: Path, capsys: pytest.CaptureFixture[str], wide_console: None) -> None:
    assert main(["zoo", "ls", str(tiny_zoo), "--top", "3"]) == 0
    out = _flat(capsys.readouterr().out)
    cat = pd.read_parquet(tiny_zoo / "catalog.parquet")
    last = cat[cat["epoch"] == 2].set_index("model_id")
    shown = [mid for mid in last.index if mid in out]
    assert len(shown) == 3
    hidden = [mid for mid in last.index if mid not in shown]
    assert min(last.loc[shown, "test_acc"]) >= max(last.loc[hidden, "test_acc"])


def test_ls_unknown_sort_column(tiny_zoo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zoo", "ls", str(tiny_zoo), "--sort", "nope"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "Traceback" not in err


def test_verify_ok(tiny_zoo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zoo", "verify", str(tiny_zoo), "--quiet"]) == 0
    assert "ok: 6 files" in capsys.readouterr().out


def test_export(tiny_zoo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "X"
    assert main(["zoo", "export", str(tiny_zoo), "--model", "m00000", "--out", str(dest)]) == 0
    assert (dest / "config.json").is_file() and (dest / "model.safetensors").is_file()
    config = json.loads((dest / "config.json").read_text())
    assert config["model_id"] == "m00000" and config["epoch"] == 2
    weights = Zoo.open(tiny_zoo).weights("m00000", 2)
    loaded = load_file(str(dest / "model.safetensors"))
    assert all(torch.equal(loaded[k], v) for k, v in weights.items())

    assert (
        main(
            [
                "zoo",
                "export",
                str(tiny_zoo),
                "-m",
                "m00001",
                "-o",
                str(tmp_path / "Y"),
                "--epoch",
                "0",
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "Y" / "config.json").read_text())["epoch"] == 0


def test_missing_zoo_is_one_line_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no_zoo"
    for cmd in (["zoo", "info"], ["zoo", "ls"], ["zoo", "verify", "-q"]):
        assert main([*cmd, str(missing)]) == 1
        err = capsys.readouterr().err
        assert "zoo.json" in err
        assert "Traceback" not in err


def test_debug_raises_instead(tmp_path: Path) -> None:
    with pytest.raises(ZooFormatError, match="zoo.json"):
        main(["--debug", "zoo", "info", str(tmp_path / "no_zoo")])


def test_create_refuses_a_foreign_folder(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert main(["zoo", "create", str(config_file), "--out", str(out), "-q"]) == 1
    err = capsys.readouterr().err
    assert "busy" in _flat(err) and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_verify_fails_on_a_corrupt_zoo(
    tiny_zoo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "zoo"
    shutil.copytree(tiny_zoo, root)
    (root / "catalog.parquet").unlink()
    assert main(["zoo", "verify", str(root), "-q"]) == 1
    assert "catalog.parquet" in _flat(capsys.readouterr().err)
    assert main(["zoo", "verify", str(root), "-q", "--rebuild"]) == 0
    assert (root / "catalog.parquet").is_file()


def test_bad_config_in_a_real_process(tmp_path: Path, tiny_config_dict: dict) -> None:
    tiny_config_dict["space"]["bogus_knob"] = 3
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tiny_config_dict))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "weightzoo",
            "zoo",
            "create",
            str(path),
            "--out",
            str(tmp_path / "z"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "bogus_knob" in lines[0]
    assert not (tmp_path / "z").exists()
