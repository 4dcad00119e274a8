"""``weightzoo merge align`` and ``weightzoo merge cluster`` on models of a real (tiny) zoo."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch.func import functional_call

from weightzoo import Zoo
from weightzoo.arch import build_model
from weightzoo.cli import main


def _seed_pair(zoo: Zoo) -> tuple[str, str]:
    final = zoo.catalog.groupby("model_id").tail(1)
    for _, g in final.groupby(["activation", "lr"]):
        if len(g) >= 2:
            return tuple(g["model_id"][:2])  # type: ignore[return-value]
    raise AssertionError("tiny zoo has no seed pair")


def test_align_writes_a_permuted_model_with_the_same_function(
    tiny_zoo: Path, tmp_path: Path
) -> None:
    zoo = Zoo.open(tiny_zoo)
    a, b = _seed_pair(zoo)
    out = tmp_path / "aligned"
    assert (
        main(
            [
                "merge",
                "align",
                f"{tiny_zoo}:{a}",
                f"{tiny_zoo}:{b}",
                "--out",
                str(out),
                "--points",
                "5",
                "-q",
            ]
        )
        == 0
    )
    report = json.loads((out / "alignment.json").read_text())
    assert report["objective_after"] >= report["objective_before"]
    assert report["dataset"] == "mnist1d" and len(report["loss_before"]) == 5
    # End points of the path are the same functions, permuted or not.
    assert abs(report["loss_after"][-1] - report["loss_before"][-1]) < 1e-5
    aligned = load_file(str(out / "model.safetensors"))
    x = torch.randn(8, 1, 40)
    model = build_model(zoo.spec(b)).eval()
    torch.testing.assert_close(
        functional_call(model, aligned, (x,)), functional_call(model, zoo.weights(b), (x,))
    )
    perms = load_file(str(out / "permutations.safetensors"))
    assert set(perms) == {"fc1"}
    # The output folder is taken now: a second run is refused and leaves it intact.
    assert (
        main(["merge", "align", f"{tiny_zoo}:{a}", f"{tiny_zoo}:{b}", "--out", str(out), "-q"]) == 1
    )
    assert (out / "model.safetensors").is_file()


def test_cluster_prints_similarities_and_clusters(tiny_zoo: Path, capsys) -> None:
    zoo = Zoo.open(tiny_zoo)
    a, b = _seed_pair(zoo)
    refs = [f"{tiny_zoo}:{a}", f"{tiny_zoo}:{b}", f"{tiny_zoo}:{a}@0"]
    assert main(["merge", "cluster", *refs, "--threshold", "0.9", "-q"]) == 0
    out = "".join(capsys.readouterr().out.split())
    # Epoch 0 of model a vs its final weights: two short epochs barely move them.
    assert f"cluster1:{refs[0]}{refs[2]}" in out
    assert f"cluster2:{refs[1]}" in out


def test_bad_references_are_one_line_errors(tmp_path: Path, capsys) -> None:
    assert main(["merge", "cluster", str(tmp_path / "nope")]) == 1
    assert "expected a model folder" in capsys.readouterr().err
