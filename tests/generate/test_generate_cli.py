"""``weightzoo generate`` and ``weightzoo generate evaluate`` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

from weightzoo.cli import main


def test_generate_from_a_saved_encoder_writes_a_zoo(tiny_zoo: Path, saved_encoder: Path,
                                                    tmp_path: Path, capsys) -> None:  # fmt: skip
    out = tmp_path / "new"
    rc = main(["generate", "--zoo", str(tiny_zoo), "--encoder", str(saved_encoder), "--sampler",
               "kde", "--top", "0.5", "-n", "4", "--out", str(out), "--bandwidth", "0.2", "-q"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    prov = json.loads((out / "zoo.json").read_text())["provenance"]
    assert prov["encoder_ref"] == str(saved_encoder.resolve())
    assert prov["sampler_params"] == {"bandwidth": 0.2} and prov["n"] == 4
    assert "4 networks from kde" in capsys.readouterr().out


def test_generate_bad_input_is_one_line_and_writes_nothing(tiny_zoo: Path, saved_encoder: Path,
                                                           tmp_path: Path, capsys) -> None:  # fmt: skip
    out = tmp_path / "never"
    base = ["generate", "--zoo", str(tiny_zoo), "--out", str(out), "-q"]
    cases = [
        (["--encoder", str(saved_encoder), "-n", "0"], "at least 1"),
        (["--encoder", str(saved_encoder), "--top", "0.1"], "selects no model"),
        (["--encoder", "sne"], "cannot decode"),
        (["--encoder", "train", "--activation", "sigmoid"], "no model"),
        (["--encoder", str(saved_encoder), "--sampler", "vae"], "unknown sampler"),
    ]
    for extra, message in cases:
        rc = main(base + extra)
        err = capsys.readouterr().err
        assert rc != 0 and message in err and "Traceback" not in err, (extra, err)
    assert not out.exists()


def test_generate_evaluate_writes_the_report(tiny_zoo: Path, saved_encoder: Path,
                                             tmp_path: Path, capsys) -> None:  # fmt: skip
    rc = main(["generate", "evaluate", "--zoo", str(tiny_zoo), "--encoder", str(saved_encoder),
               "--out", str(tmp_path / "ev"), "--methods", "kde@0.5", "-n", "3", "--epochs", "1",
               "--transfer", "none", "-q"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    assert (tmp_path / "ev" / "accuracy_vs_epochs.png").is_file()
    assert "| kde@0.5 | 3 |" in (tmp_path / "ev" / "summary.md").read_text()
