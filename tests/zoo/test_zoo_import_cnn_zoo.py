"""Importing the Small CNN Zoo layout, and import -> export -> import round trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from weightzoo.cli import main
from weightzoo.errors import ZooFormatError
from weightzoo.zoo import Zoo, verify_zoo
from weightzoo.zoo.exporters import export_cnn_zoo
from weightzoo.zoo.importers import import_cnn_zoo

# The released layout.csv, in its order: Keras names sorted, bias before kernel.
RELEASED = [
    ("sequential/conv2d/bias:0", (16,)),
    ("sequential/conv2d/kernel:0", (3, 3, 1, 16)),
    ("sequential/conv2d_1/bias:0", (16,)),
    ("sequential/conv2d_1/kernel:0", (3, 3, 16, 16)),
    ("sequential/conv2d_2/bias:0", (16,)),
    ("sequential/conv2d_2/kernel:0", (3, 3, 16, 16)),
    ("sequential/dense/bias:0", (10,)),
    ("sequential/dense/kernel:0", (16, 10)),
]
ACTS = {"relu": lambda a: np.maximum(a, 0), "tanh": np.tanh}


def write_small_cnn_zoo(root: Path) -> dict[str, tuple[int, int, tuple[int, ...]]]:
    """A 5-network zoo in the released layout: one selu net, one NaN row, one crashed run."""
    root.mkdir(parents=True)
    layout, start = [], 0
    for name, shape in RELEASED:
        size = int(np.prod(shape))
        layout.append({"varname": name, "start_idx": start, "end_idx": start + size,
                       "size": size, "shape": str(shape)})  # fmt: skip
        start += size
    assert start == 4970
    pd.DataFrame(layout).to_csv(root / "layout.csv")  # pandas' index column, as released
    rng = np.random.default_rng(0)
    plan = [
        ("relu", (0, 1, 2)),
        ("tanh", (0, 1, 2)),
        ("selu", (0, 1, 2)),
        ("relu", (0, 1)),
        ("tanh", (0, 1, 2)),
    ]
    rows = []
    for k, (act, steps) in enumerate(plan):
        for step in steps:
            rows.append({
                "config.activation": act, "config.b_init": "zeros", "config.dataset": "mnist",
                "config.dnn_architecture": "cnn", "config.dropout": [0.0, 0.2][k % 2],
                "config.epochs": 86, "config.init_std": 0.05, "config.l2reg": 1e-4 * k,
                "config.learning_rate": 10.0 ** -(k + 1), "config.num_layers": 3,
                "config.num_units": 16, "config.optimizer": ["adam", "sgd"][k % 2],
                "config.random_seed": 42, "config.train_fraction": 0.5,
                "config.w_init": "he_normal", "modeldir": f"/work/zoo/{k}", "step": step,
                "test_accuracy": 0.1 + 0.2 * step + 0.01 * k, "test_loss": 2.3 - step / 3,
                "train_accuracy": 0.12 + 0.2 * step, "train_loss": 2.2 - step / 3,
            })  # fmt: skip
    weights = (rng.standard_normal((len(rows), 4970)) * 0.3).astype(np.float32)
    weights[7, 100] = np.nan  # in the selu net, which is skipped whole
    weights[4, 5] = np.nan  # the first tanh net at step 1: only this checkpoint goes
    assert (rows[4]["modeldir"], rows[4]["step"]) == ("/work/zoo/1", 1)
    np.save(root / "weights.npy", weights)
    pd.DataFrame(rows).to_csv(root / "metrics.csv.gz", index=False, compression="gzip")
    return {
        r["varname"]: (r["start_idx"], r["end_idx"], RELEASED[i][1]) for i, r in enumerate(layout)
    }


def reference_logits(flat: np.ndarray, layout: dict, x_nhwc: np.ndarray, act: str) -> np.ndarray:
    """The Keras network from one flat row, in TF layout (NHWC, HWIO, VALID, stride 2)."""

    def var(name: str) -> np.ndarray:
        lo, hi, shape = layout[name]
        return flat[lo:hi].reshape(shape).astype(np.float64)

    h = x_nhwc.astype(np.float64)
    for conv in ("conv2d", "conv2d_1", "conv2d_2"):
        k, b = var(f"sequential/{conv}/kernel:0"), var(f"sequential/{conv}/bias:0")
        ho, wo = (h.shape[1] - 3) // 2 + 1, (h.shape[2] - 3) // 2 + 1
        out = np.zeros((h.shape[0], ho, wo, k.shape[3])) + b
        for i in range(3):
            for j in range(3):
                out += h[:, i : i + 2 * ho - 1 : 2, j : j + 2 * wo - 1 : 2, :] @ k[i, j]
        h = ACTS[act](out)
    return h.mean(axis=(1, 2)) @ var("sequential/dense/kernel:0") + var("sequential/dense/bias:0")


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("cz") / "mnist"
    return root, write_small_cnn_zoo(root)


@pytest.fixture(scope="module")
def imported(released, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN001, ANN201
    return import_cnn_zoo(released[0], tmp_path_factory.mktemp("o") / "zoo")


def test_import_skips_bad_rows_and_unknown_activations(imported) -> None:  # noqa: ANN001
    assert imported.models == 4 and imported.checkpoints == 3 + 2 + 2 + 3
    assert sorted((s.kind, s.reason) for s in imported.skipped) == [
        ("checkpoint", "non-finite weights (NaN/inf)"),
        (
            "model",
            "activation 'selu' is not one of ('tanh', 'relu', 'sigmoid', 'gelu', 'leaky_relu')",
        ),
    ]
    assert (
        "modeldir /work/zoo/1, step 1"
        in [s.item for s in imported.skipped if s.kind == "checkpoint"][0]
    )
    zoo = imported.zoo
    assert verify_zoo(zoo.root).ok
    assert zoo.spec("m00000").family == "cnn_zoo" and zoo.spec("m00000").input_shape == (1, 28, 28)
    hp = zoo.manifest["models"]["m00002"]  # the 4th modeldir: selu (3rd) was left out
    assert (hp["modeldir"], hp["lr"], hp["optimizer"], hp["seed"], hp["train_fraction"]) == (
        "/work/zoo/3", 1e-4, "sgd", 42, 0.5)  # fmt: skip
    cat = zoo.catalog.set_index(["model_id", "epoch"])
    assert cat.loc[("m00002", 1), "test_acc"] == pytest.approx(0.1 + 0.2 + 0.03)
    assert sorted(cat.loc["m00001"].index) == [0, 2] and sorted(cat.loc["m00002"].index) == [0, 1]


def test_imported_weights_compute_what_the_tf_layout_computes(imported, released) -> None:  # noqa: ANN001
    root, layout = released
    flat = np.load(root / "weights.npy")
    metrics = pd.read_csv(root / "metrics.csv.gz")
    zoo = imported.zoo
    x = np.random.default_rng(1).standard_normal((3, 28, 28, 1)).astype(np.float32)
    row_of = {
        (m, s): i for i, (m, s) in enumerate(zip(metrics["modeldir"], metrics["step"], strict=True))
    }
    for mid in zoo.models():
        modeldir = zoo.manifest["models"][mid]["modeldir"]
        act = zoo.spec(mid).activation
        for epoch in zoo.catalog.loc[zoo.catalog["model_id"] == mid, "epoch"]:
            want = reference_logits(flat[row_of[(modeldir, epoch)]], layout, x, act)
            with torch.no_grad():
                got = zoo.load_model(mid, int(epoch))(torch.from_numpy(x.transpose(0, 3, 1, 2)))
            np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-5)


def test_import_export_import_round_trips_exactly(imported, released, tmp_path: Path) -> None:  # noqa: ANN001
    root, _ = released
    first = imported.zoo
    export_cnn_zoo(first, tmp_path / "exported")
    # the export reproduces the released layout and every imported row bit for bit
    orig_layout = pd.read_csv(root / "layout.csv", index_col=0)
    new_layout = pd.read_csv(tmp_path / "exported" / "layout.csv")
    pd.testing.assert_frame_equal(orig_layout.reset_index(drop=True), new_layout)
    orig, new = np.load(root / "weights.npy"), np.load(tmp_path / "exported" / "weights.npy")
    om, nm = (
        pd.read_csv(root / "metrics.csv.gz"),
        pd.read_csv(tmp_path / "exported" / "metrics.csv.gz"),
    )
    orig_rows = {(m, s): i for i, (m, s) in enumerate(zip(om["modeldir"], om["step"], strict=True))}
    assert len(new) == imported.checkpoints
    for i, (m, s) in enumerate(zip(nm["modeldir"], nm["step"], strict=True)):
        assert np.array_equal(new[i], orig[orig_rows[(m, s)]])
        assert nm["test_accuracy"].iat[i] == om["test_accuracy"].iat[orig_rows[(m, s)]]

    second = import_cnn_zoo(tmp_path / "exported", tmp_path / "again").zoo
    assert second.models() == first.models()
    for mid in first.models():
        a = {k: v for k, v in first.manifest["models"][mid].items() if k != "shard"}
        b = {k: v for k, v in second.manifest["models"][mid].items() if k != "shard"}
        assert a == b and first.spec(mid) == second.spec(mid)
        for epoch in first.catalog.loc[first.catalog["model_id"] == mid, "epoch"]:
            wa, wb = first.weights(mid, int(epoch)), second.weights(mid, int(epoch))
            assert all(torch.equal(wa[k], wb[k]) for k in wa)
    cols = ["model_id", "epoch", "lr", "seed", "optimizer", "train_acc", "test_acc", "test_loss"]
    pd.testing.assert_frame_equal(first.catalog[cols], second.catalog[cols])


def test_layout_errors_name_the_file_and_the_field(released, tmp_path: Path) -> None:  # noqa: ANN001
    root, _ = released
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("weights.npy", "metrics.csv.gz"):
        (bad / name).write_bytes((root / name).read_bytes())
    with pytest.raises(ZooFormatError, match="layout.csv: missing"):
        import_cnn_zoo(bad, tmp_path / "z")
    layout = pd.read_csv(root / "layout.csv", index_col=0)
    layout.loc[1, "shape"] = "(3, 3, 2, 8)"
    layout.to_csv(bad / "layout.csv")
    with pytest.raises(
        ZooFormatError, match=r"conv2d/bias:0 should have shape \(8,\) .* found \(16,\)"
    ):
        import_cnn_zoo(bad, tmp_path / "z")
    layout.loc[1, "shape"] = "(3, 3, 1, 17)"
    layout.to_csv(bad / "layout.csv")
    with pytest.raises(
        ZooFormatError, match=r"row 1 \(sequential/conv2d/kernel:0\).* does not fit"
    ):
        import_cnn_zoo(bad, tmp_path / "z")
    pd.read_csv(root / "metrics.csv.gz").head(3).to_csv(bad / "metrics.csv.gz", index=False)
    layout.loc[1, "shape"] = "(3, 3, 1, 16)"
    layout.to_csv(bad / "layout.csv")
    with pytest.raises(ZooFormatError, match="3 rows, but weights.npy has 14"):
        import_cnn_zoo(bad, tmp_path / "z")
    assert not (tmp_path / "z").exists()


def test_cli_import_and_export(
    released, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # noqa: ANN001
    root, _ = released
    assert (
        main(
            ["zoo", "import", "--format", "cnn-zoo", str(root), "--out", str(tmp_path / "z"), "-q"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "4 models, 10 checkpoints" in out and "selu" in out
    rc = main(
        [
            "zoo",
            "export",
            str(tmp_path / "z"),
            "--format",
            "cnn-zoo",
            "-o",
            str(tmp_path / "e"),
            "-q",
        ]
    )
    assert rc == 0 and "10 checkpoints x 4970 parameters" in capsys.readouterr().out
    assert np.load(tmp_path / "e" / "weights.npy").shape == (10, 4970)
    assert Zoo.open(tmp_path / "z").name == "mnist"
