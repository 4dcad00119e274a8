"""``weightzoo merge CONFIG.yaml --out DIR`` (the group's default command)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from weightzoo.cli import main
from weightzoo.cli.merge import parse_size
from weightzoo.merge import load_checkpoint


def _config(tmp_path: Path, root: Path, **extra) -> Path:
    cfg = {
        "models": [{"model": str(root / "ft0")}, {"model": str(root / "ft1")}],
        "merge_method": "linear",
        "parameters": {"weight": 1.0},
        **extra,
    }
    path = tmp_path / "m.yml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_merge_config_runs_as_default_command(
    tiny_llamas: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    cfg = _config(tmp_path, tiny_llamas)
    assert (
        main(["merge", str(cfg), "--out", str(tmp_path / "out"), "-q", "--shard-size", "50KB"]) == 0
    )
    assert "merged model" in capsys.readouterr().out
    got = load_checkpoint(tmp_path / "out")
    a, b = load_checkpoint(tiny_llamas / "ft0"), load_checkpoint(tiny_llamas / "ft1")
    torch.testing.assert_close(
        got["lm_head.weight"], (a["lm_head.weight"] + b["lm_head.weight"]) / 2
    )
    assert len(list((tmp_path / "out").glob("*.safetensors"))) > 1
    # The explicit form works too, and an existing output needs --force.
    assert main(["merge", "run", str(cfg), "--out", str(tmp_path / "out"), "-q"]) == 1
    assert main(["merge", "run", str(cfg), "--out", str(tmp_path / "out"), "-q", "--force"]) == 0


def test_bad_config_is_one_line_and_exit_code_2(
    tiny_llamas: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    cfg = _config(tmp_path, tiny_llamas, merge_methd="x")
    assert main(["merge", str(cfg), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "merge_methd: unknown key" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_parse_size() -> None:
    assert parse_size("5GB") == 5 * 10**9
    assert parse_size("500MiB") == 500 * 2**20
    assert parse_size("1234") == 1234
    with pytest.raises(ValueError, match="shard-size"):
        parse_size("lots")
