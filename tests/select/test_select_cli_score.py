"""``weightzoo select score FEATURES.npy LABELS.npy --method ...``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from weightzoo.cli import main
from weightzoo.select import gbc, leep, logme, nce


@pytest.fixture
def arrays(tmp_path: Path) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = np.arange(120) % 3
    features = rng.normal(size=(120, 5)) + np.eye(3, 5)[labels] * 2
    np.save(tmp_path / "f.npy", features)
    np.save(tmp_path / "y.npy", labels)
    return tmp_path / "f.npy", tmp_path / "y.npy", features, labels


def test_score_prints_the_library_values(arrays, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    f, y, features, labels = arrays
    assert (
        main(["select", "score", str(f), str(y), "--method", "logme", "-m", "gbc", "--json"]) == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed["logme"] == pytest.approx(logme(features, labels), rel=1e-12)
    assert printed["gbc"] == pytest.approx(gbc(features, labels), rel=1e-12)
    assert main(["select", "score", str(f), str(y)]) == 0  # default: logme, as a table
    assert "logme" in capsys.readouterr().out


def test_score_source_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(4), size=60)
    labels = rng.integers(0, 2, 60)
    np.save(tmp_path / "p.npy", probs)
    np.save(tmp_path / "y.npy", labels)
    rc = main(
        [
            "select",
            "score",
            str(tmp_path / "p.npy"),
            str(tmp_path / "y.npy"),
            "-m",
            "leep",
            "-m",
            "nce",
            "--json",
        ]
    )
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["leep"] == pytest.approx(leep(probs, labels))
    assert printed["nce"] == pytest.approx(nce(probs.argmax(1), labels))


def test_score_bad_input_is_one_line(
    arrays, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # noqa: ANN001
    f, y, features, labels = arrays
    bad = features.copy()
    bad[0, 0] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    np.save(tmp_path / "short.npy", labels[:-1])
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    cases = [
        ([str(tmp_path / "nan.npy"), str(y)], "features: 1 entries are NaN"),
        ([str(f), str(tmp_path / "short.npy")], "labels: has 119 entries"),
        ([str(f), str(tmp_path / "missing.npy")], "LABELS: no file at"),
        ([str(tmp_path / "obj.npy"), str(y)], "FEATURES:"),
        ([str(f), str(y), "-m", "nope"], "--method: unknown score 'nope'"),
    ]
    for args, message in cases:
        assert main(["select", "score", *args]) == 1
        err = capsys.readouterr().err
        assert message in " ".join(err.split()) and "Traceback" not in err
