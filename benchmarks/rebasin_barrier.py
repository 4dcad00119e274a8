"""Loss barrier of the linear path between two independently trained models, before and after Git Re-Basin.

Trains MLPs (and a cnn1d pair) on MNIST-1D from different seeds with weightzoo's
population trainer, aligns model B onto model A by weight matching
(https://arxiv.org/abs/2209.04836), and evaluates loss and accuracy at 21 points
of (1 - t) A + t B and (1 - t) A + t P(B). Prints the barrier heights and their
ratio and saves a plot.

    python benchmarks/rebasin_barrier.py            # a few minutes on 2 cores
    python benchmarks/rebasin_barrier.py --quick    # seconds
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

from weightzoo.config import ZooConfig, parse_config  # noqa: E402
from weightzoo.data import load_dataset  # noqa: E402
from weightzoo.train import build_zoo  # noqa: E402
from weightzoo.weightspace.alignment import align_weights, interpolation_curve  # noqa: E402


def _pair(family: str, widths: list[int], epochs: int, num_samples: int | None, root: Path):
    cfg = parse_config(
        ZooConfig,
        {
            "name": f"rebasin-{family}",
            "data": {"name": "mnist1d", "num_samples": num_samples},
            "arch": {"family": family, "widths": widths},
            "space": {"seed": [0, 1], "activation": "relu", "lr": 0.003},
            "epochs": epochs,
            "checkpoint_epochs": [epochs],
        },
    )
    zoo = build_zoo(cfg, root / f"{family}-{'-'.join(map(str, widths))}")
    a, b = zoo.models()
    return zoo.spec(a), zoo.weights(a), zoo.weights(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--points", type=int, default=21)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    args = parser.parse_args()
    torch.set_num_threads(1)  # tiny models: threads only add overhead on 2 cores
    num_samples = 1000 if args.quick else None
    epochs = 5 if args.quick else 30
    setups = [("mlp", [32, 32])]
    if not args.quick:
        setups += [("mlp", [128, 128]), ("cnn1d", [16, 16]), ("cnn1d", [64, 64])]
    data = load_dataset("mnist1d", num_samples=num_samples)
    curves = {}
    with tempfile.TemporaryDirectory() as tmp:
        for family, widths in setups:
            t0 = time.perf_counter()
            spec, a, b = _pair(family, widths, epochs, num_samples, Path(tmp))
            t_train = time.perf_counter() - t0
            t0 = time.perf_counter()
            res = align_weights(spec, a, b)
            t_align = time.perf_counter() - t0
            before = interpolation_curve(
                spec, a, b, data.x_test, data.y_test, num_points=args.points
            )
            after = interpolation_curve(
                spec, a, res.aligned, data.x_test, data.y_test, num_points=args.points
            )
            name = f"{family} {'-'.join(map(str, widths))}"
            curves[name] = (before, after)
            mid = args.points // 2
            print(
                f"{name}: barrier naive {before.barrier:.4f}, aligned {after.barrier:.4f}, "
                f"ratio {after.barrier / before.barrier:.3f}; midpoint accuracy {before.acc[mid]:.3f} -> "
                f"{after.acc[mid]:.3f} (end points {before.acc[0]:.3f}, {before.acc[-1]:.3f}); "
                f"weight matching {res.sweeps} sweeps in {t_align:.2f} s (training {t_train:.1f} s)"
            )
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 3.6), squeeze=False)
    for ax, (name, (before, after)) in zip(axes[0], curves.items(), strict=True):
        ax.plot(before.t, before.loss, "o-", label=f"naive (barrier {before.barrier:.3f})")
        ax.plot(after.t, after.loss, "s-", label=f"weight matching ({after.barrier:.3f})")
        ax.set_title(f"{name}, MNIST-1D test")
        ax.set_xlabel("t in (1 - t) A + t B")
        ax.set_ylabel("loss")
        ax.legend()
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / ("rebasin_barrier_quick.png" if args.quick else "rebasin_barrier.png")
    fig.savefig(path, dpi=120)
    print(f"plot: {path} (measured on a shared machine; times are indicative)")


if __name__ == "__main__":
    main()
