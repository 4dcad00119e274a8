"""weightzoo gives the same tensors as mergekit 0.1.5 on the same YAML configs.

The references in fixtures/reference/ were made by fixtures/make_reference.py
(which needs mergekit) from the same synthetic inputs the test writes here; the
checksum in their header proves the inputs are the same.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from weightzoo.merge import load_checkpoint, merge_from_config

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
from make_reference import write_inputs  # noqa: E402

CONFIGS = sorted(p.stem for p in (FIXTURES / "configs").glob("*.yml"))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("mk_inputs")
    return root, write_inputs(root)


def test_every_reference_has_a_config() -> None:
    refs = sorted(p.stem for p in (FIXTURES / "reference").glob("*.safetensors"))
    assert refs == CONFIGS and {"linear", "task_arithmetic", "ties", "slerp", "passthrough"} <= set(
        refs
    )


@pytest.mark.parametrize("name", CONFIGS)
def test_same_tensors_as_mergekit(name: str, inputs: tuple[Path, str], tmp_path: Path) -> None:
    root, checksum = inputs
    ref_path = FIXTURES / "reference" / f"{name}.safetensors"
    with safe_open(str(ref_path), framework="pt") as f:
        meta = f.metadata()
    assert meta["inputs"] == checksum, "synthetic inputs changed: rerun make_reference.py"
    shutil.copy(FIXTURES / "configs" / f"{name}.yml", root / f"{name}.yml")
    got = load_checkpoint(merge_from_config(root / f"{name}.yml", tmp_path / "out"))
    ref = load_file(str(ref_path))
    assert set(got) == set(ref)
    for k in ref:
        assert got[k].dtype == ref[k].dtype and got[k].shape == ref[k].shape, k
        # Equal up to float32 summation order (a few ulps).
        torch.testing.assert_close(got[k], ref[k], rtol=1e-6, atol=1e-6, msg=k)
