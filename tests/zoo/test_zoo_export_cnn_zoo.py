"""Exporting zoos to the Small CNN Zoo layout, read back by an independent TF-layout reader."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from weightzoo.arch import ArchSpec, build_model
from weightzoo.errors import ZooExistsError, ZooFormatError
from weightzoo.zoo import Zoo
from weightzoo.zoo.exporters import export_cnn_zoo
from weightzoo.zoo.importers import import_cnn_zoo
from weightzoo.zoo.writer import ZooShard, write_zoo

ACTS = {"relu": lambda a: np.maximum(a, 0), "tanh": np.tanh}


def read_export(folder: Path) -> tuple[np.ndarray, pd.DataFrame, dict[str, np.ndarray]]:
    """What an NFN-style reader does: the matrix, the metrics, and row 0's variables by name."""
    flat = np.load(folder / "weights.npy")
    metrics = pd.read_csv(folder / "metrics.csv.gz", compression="gzip")
    layout = pd.read_csv(folder / "layout.csv")
    return (
        flat,
        metrics,
        {
            r.varname: (r.start_idx, r.end_idx, ast.literal_eval(r.shape))
            for r in layout.itertuples()
        },
    )


def var(flat_row: np.ndarray, layout: dict, name: str) -> np.ndarray:
    lo, hi, shape = layout[f"sequential/{name}:0"]
    return flat_row[lo:hi].reshape(shape).astype(np.float64)


def conv_nhwc(h: np.ndarray, k: np.ndarray, b: np.ndarray, stride: int) -> np.ndarray:
    """Keras Conv2D, padding='valid': NHWC input, HWIO kernel."""
    kh, kw = k.shape[:2]
    ho, wo = (h.shape[1] - kh) // stride + 1, (h.shape[2] - kw) // stride + 1
    out = np.zeros((h.shape[0], ho, wo, k.shape[3])) + b
    for i in range(kh):
        for j in range(kw):
            out += (
                h[:, i : i + stride * (ho - 1) + 1 : stride, j : j + stride * (wo - 1) + 1 : stride]
                @ k[i, j]
            )
    return out


def _random_zoo(path: Path, spec: ArchSpec, acts: list[str], epochs=(0, 1)) -> Zoo:  # noqa: ANN001
    gen = torch.Generator().manual_seed(3)
    names = build_model(spec).state_dict()
    shards = [
        ZooShard(
            spec=spec.replace(activation=act),
            model_ids=[f"{act}{i}" for i in range(2)],
            hyperparameters=[{"lr": 0.01 * (i + 1), "seed": i, "dropout": 0.0} for i in range(2)],
            weights={e: {k: torch.randn(2, *v.shape, generator=gen) * 0.4 for k, v in names.items()} for e in epochs},
            metrics={e: [{"test_acc": 0.5 + e / 10, "train_acc": 0.6}] * 2 for e in epochs},
        )
        for act in acts
    ]  # fmt: skip
    return write_zoo(path, shards, name=spec.family, dataset={"name": "synthetic"})


def test_cnn_zoo_family_export_matches_a_tf_layout_forward(tmp_path: Path) -> None:
    zoo = _random_zoo(tmp_path / "z", ArchSpec("cnn_zoo", (1, 28, 28)), ["relu", "tanh"])
    export_cnn_zoo(zoo, tmp_path / "e")
    flat, metrics, layout = read_export(tmp_path / "e")
    assert flat.shape == (8, 4970) and flat.dtype == np.float32
    assert list(layout)[:2] == ["sequential/conv2d/bias:0", "sequential/conv2d/kernel:0"]
    assert layout["sequential/conv2d_1/kernel:0"][2] == (3, 3, 16, 16)
    x = np.random.default_rng(0).standard_normal((3, 28, 28, 1)).astype(np.float32)
    for i, (modeldir, step, act) in enumerate(
        zip(metrics["modeldir"], metrics["step"], metrics["config.activation"], strict=True)
    ):
        h = x.astype(np.float64)
        for conv in ("conv2d", "conv2d_1", "conv2d_2"):
            h = ACTS[act](
                conv_nhwc(
                    h,
                    var(flat[i], layout, f"{conv}/kernel"),
                    var(flat[i], layout, f"{conv}/bias"),
                    2,
                )
            )
        want = h.mean(axis=(1, 2)) @ var(flat[i], layout, "dense/kernel") + var(
            flat[i], layout, "dense/bias"
        )
        with torch.no_grad():
            got = zoo.load_model(modeldir, int(step))(torch.from_numpy(x.transpose(0, 3, 1, 2)))
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-5)
        assert metrics["test_accuracy"].iat[i] == pytest.approx(0.5 + step / 10)


def test_cnn_s_export_reorders_the_dense_rows_after_flatten(tmp_path: Path) -> None:
    zoo = _random_zoo(tmp_path / "z", ArchSpec("cnn_s", (1, 28, 28)), ["tanh"], epochs=(0,))
    export_cnn_zoo(zoo, tmp_path / "e")
    flat, _, layout = read_export(tmp_path / "e")
    assert layout["sequential/dense/kernel:0"][2] == (36, 20)
    x = np.random.default_rng(1).standard_normal((2, 28, 28, 1))
    row = flat[0]

    def pool(h: np.ndarray) -> np.ndarray:
        n, hh, ww, c = h.shape
        return (
            h[:, : hh // 2 * 2, : ww // 2 * 2]
            .reshape(n, hh // 2, 2, ww // 2, 2, c)
            .max(axis=(2, 4))
        )

    h = np.tanh(
        pool(conv_nhwc(x, var(row, layout, "conv2d/kernel"), var(row, layout, "conv2d/bias"), 1))
    )
    h = np.tanh(
        pool(
            conv_nhwc(h, var(row, layout, "conv2d_1/kernel"), var(row, layout, "conv2d_1/bias"), 1)
        )
    )
    h = np.tanh(
        conv_nhwc(h, var(row, layout, "conv2d_2/kernel"), var(row, layout, "conv2d_2/bias"), 1)
    )
    h = np.tanh(
        h.reshape(2, -1) @ var(row, layout, "dense/kernel") + var(row, layout, "dense/bias")
    )
    want = h @ var(row, layout, "dense_1/kernel") + var(
        row, layout, "dense_1/bias"
    )  # Keras Flatten: H, W, C
    with torch.no_grad():
        got = zoo.load_model("tanh0", 0)(torch.from_numpy(x.transpose(0, 3, 1, 2)).float())
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-5)
    again = import_cnn_zoo(tmp_path / "e", tmp_path / "z2").zoo
    assert again.spec("m00000") == zoo.spec("tanh0")
    assert all(
        torch.equal(again.weights("m00000", 0)[k], v) for k, v in zoo.weights("tanh0", 0).items()
    )


def test_trained_mlp_zoo_exports_and_imports_back(tiny_zoo: Path, tmp_path: Path) -> None:
    zoo = Zoo.open(tiny_zoo)
    export_cnn_zoo(zoo, tmp_path / "e", epochs=[0, 2])
    flat, metrics, layout = read_export(tmp_path / "e")
    assert flat.shape == (len(zoo.models()) * 2, 40 * 8 + 8 + 8 * 10 + 10)
    assert (
        sorted(set(metrics["step"])) == [0, 2] and list(metrics["modeldir"][:2]) == ["m00000"] * 2
    )
    x = np.random.default_rng(2).standard_normal((3, 40))
    act = metrics["config.activation"].iat[0]
    h = ACTS[act](x @ var(flat[0], layout, "dense/kernel") + var(flat[0], layout, "dense/bias"))
    want = h @ var(flat[0], layout, "dense_1/kernel") + var(flat[0], layout, "dense_1/bias")
    with torch.no_grad():
        got = zoo.load_model("m00000", 0)(torch.from_numpy(x).float().unsqueeze(1))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-5)

    back = import_cnn_zoo(tmp_path / "e", tmp_path / "z").zoo
    assert back.models() == zoo.models()
    for mid in zoo.models():
        assert back.spec(mid) == zoo.spec(mid)
        for k in ("lr", "seed", "activation", "optimizer", "init"):
            assert back.manifest["models"][mid][k] == zoo.manifest["models"][mid][k]
        assert all(torch.equal(back.weights(mid, 2)[k], v) for k, v in zoo.weights(mid, 2).items())
    pd.testing.assert_series_equal(
        back.catalog.loc[back.catalog["epoch"] == 2, "test_acc"].reset_index(drop=True),
        zoo.catalog.loc[zoo.catalog["epoch"] == 2, "test_acc"].reset_index(drop=True),
    )


def test_export_refuses_mixed_architectures_and_foreign_folders(tmp_path: Path) -> None:
    spec = ArchSpec("mlp", (1, 6), num_classes=3, widths=(4,))
    gen = torch.Generator().manual_seed(0)

    def shard(s: ArchSpec, mid: str) -> ZooShard:
        w = {
            k: torch.randn(1, *v.shape, generator=gen)
            for k, v in build_model(s).state_dict().items()
        }
        return ZooShard(s, [mid], [{}], {0: w})

    zoo = write_zoo(
        tmp_path / "z", [shard(spec, "a"), shard(spec.replace(widths=(5,)), "b")], name="mix"
    )
    with pytest.raises(ZooFormatError, match="one architecture"):
        export_cnn_zoo(zoo, tmp_path / "e")
    assert export_cnn_zoo(zoo, tmp_path / "e", model_ids=["a"]).is_dir()
    with pytest.raises(ZooExistsError, match="--overwrite"):
        export_cnn_zoo(zoo, tmp_path / "e", model_ids=["a"])
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "f.txt").write_text("keep")
    with pytest.raises(ZooExistsError, match="not empty or a cnn-zoo export"):
        export_cnn_zoo(zoo, tmp_path / "mine", overwrite=True)
    assert (tmp_path / "mine" / "f.txt").read_text() == "keep"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
