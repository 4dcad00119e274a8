"""Local engine layouts: 1 process x N threads vs N processes x 1 thread.

Builds the same CNN-s zoo (Model Zoos recipe, batch size 10, 28x28 digits)
with each layout, in fresh folders, and prints model-epochs/s and the ratio.
Worker start-up (spawning, importing torch, receiving the data) is inside the
timing: it is what a user pays. The zoos are checked to hold the same models.

On a 2-core machine this compares 1 x 2 with 2 x 1 (the issue's claim: about
28% faster for 2 x 1 on the CNN loop). ``--cores`` sets N (default: the cores
this process may use).

Usage: ``python benchmarks/local_workers.py [--quick] [--models-per-shard 8] [--epochs 3]``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from weightzoo import build_zoo
from weightzoo.arch.spec import ACTIVATIONS
from weightzoo.config import ZooConfig, parse_config
from weightzoo.train.engines.local import available_cores


def config(models_per_shard: int, epochs: int, samples: int, cores: int) -> dict:
    # One shard per activation (up to 5), so every worker has one.
    acts = list(ACTIVATIONS[: max(2, min(cores, len(ACTIVATIONS)))])
    return {
        "name": "workers-bench",
        "data": {"name": "digits28", "num_samples": samples},
        "arch": {"family": "cnn_s"},
        "space": {
            "seed": list(range(models_per_shard)),
            "activation": acts,
            "lr": 0.001,
            "batch_size": 10,
        },  # fmt: skip
        "epochs": epochs,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models-per-shard", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--samples", type=int, default=1200)
    ap.add_argument("--cores", type=int, default=None)
    ap.add_argument(
        "--quick", action="store_true", help="4 models per shard, 2 epochs, 600 samples"
    )
    args = ap.parse_args()
    if args.quick:
        args.models_per_shard, args.epochs, args.samples = 4, 2, 600
    cores = args.cores or available_cores()
    raw = config(args.models_per_shard, args.epochs, args.samples, cores)
    base = Path(tempfile.mkdtemp(prefix="wz_workers_"))
    results = {}
    try:
        for workers, threads in ((1, cores), (cores, 1)):
            cfg = parse_config(
                ZooConfig, {**raw, "workers": workers, "threads_per_worker": threads}
            )
            out = base / f"w{workers}t{threads}"
            t0 = time.perf_counter()
            zoo = build_zoo(cfg, out)
            seconds = time.perf_counter() - t0
            model_epochs = len(zoo.models()) * args.epochs
            results[(workers, threads)] = model_epochs / seconds
            print(f"{workers} process(es) x {threads} thread(s): {seconds:7.1f} s, "
                  f"{model_epochs / seconds:6.2f} model-epochs/s ({len(zoo.models())} CNN-s, "
                  f"{args.epochs} epochs)", flush=True)  # fmt: skip
        a, b = results[(1, cores)], results[(cores, 1)]
        print(f"ratio {cores} x 1 / 1 x {cores}: {b / a:.2f}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
