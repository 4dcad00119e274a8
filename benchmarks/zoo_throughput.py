"""Population trainer vs. a plain per-model PyTorch loop, same models, same recipe.

Prints model-epochs per second for each way of training, their ratio to the
per-model loop (the Model Zoos recipe: one model and one torch.optim optimizer
at a time), and the GFLOP/s each achieves beside this machine's sgemm GFLOP/s.

    python benchmarks/zoo_throughput.py            # both cases
    python benchmarks/zoo_throughput.py --case cnn # one case
    python benchmarks/zoo_throughput.py --quick    # smaller, for a smoke run

The per-model loop is timed on a subset of the models (its rate per model does
not depend on how many models there are); the population on all of them.
Training steps only: per-epoch evaluation and checkpoint writes are excluded
from both sides.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from weightzoo.arch import ArchSpec, build_model
from weightzoo.data import load_dataset
from weightzoo.train.population import ModelHP, Population
from weightzoo.train.reference import train_alone


def sgemm_gflops(n: int = 1024, reps: int = 20) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    t = time.perf_counter()
    for _ in range(reps):
        torch.mm(a, b)
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def flops_per_sample(spec: ArchSpec) -> float:
    """Forward + backward FLOPs of one sample, counted by PyTorch."""
    model = build_model(spec)
    x = torch.randn(8, *spec.input_shape)
    with FlopCounterMode(display=False) as fc:
        model(x).sum().backward()
    return fc.get_total_flops() / 8


def hps(n: int) -> list[ModelHP]:
    return [ModelHP(seed=i, lr=1e-3 * (1 + i % 4), weight_decay=1e-4 * (i % 3)) for i in range(n)]


def time_population(spec, x, y, n_models, batch, strategy, epochs) -> float:  # noqa: ANN001
    pop = Population(spec, "adam", hps(n_models), batch_size=batch, strategy=strategy)
    pop.train_epoch(x[: batch * 5], y[: batch * 5], 0)  # warm-up
    t = time.perf_counter()
    for e in range(epochs):
        pop.train_epoch(x, y, e + 1)
    return n_models * epochs / (time.perf_counter() - t)


def time_loop(spec, x, y, n_models, batch) -> float:  # noqa: ANN001
    train_alone(spec, "adam", hps(1)[0], x[: batch * 5], y[: batch * 5], batch_size=batch)
    t = time.perf_counter()
    for hp in hps(n_models):
        train_alone(spec, "adam", hp, x, y, batch_size=batch)
    return n_models / (time.perf_counter() - t)


def run_case(
    name, spec, x, y, n_models, batch, loop_models, strategies, epochs, peak, target
) -> None:  # noqa: ANN001
    fps = flops_per_sample(spec)
    n = x.shape[0]
    print(
        f"\n== {name}: {n_models} models, batch {batch}, {n} training samples, {fps / 1e3:.1f} kFLOP/sample (fwd+bwd)"
    )
    base = time_loop(spec, x, y, loop_models, batch)
    rows = [("per-model loop (torch.optim)", base)]
    for s in strategies:
        # The 'loop' strategy's rate per model does not depend on M: time it on fewer models.
        m = n_models if s != "loop" else min(n_models, 4 * loop_models)
        label = f"weightzoo population [{s}]" + (f" ({m} models)" if m != n_models else "")
        rows.append((label, time_population(spec, x, y, m, batch, s, epochs if s != "loop" else 1)))
    print(f"{'method':44s} {'model-epochs/s':>15s} {'GFLOP/s':>9s} {'ratio':>7s}")
    for label, rate in rows:
        gflops = rate * n * fps / 1e9
        print(f"{label:44s} {rate:15.2f} {gflops:9.2f} {rate / base:7.2f}x")
    best = max(r for _, r in rows[1:])
    print(
        f"sgemm peak here: {peak:.1f} GFLOP/s; best ratio {best / base:.2f}x (target >= {target}x)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=["mlp", "cnn", "all"], default="all")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    peak = sgemm_gflops()
    if args.case in ("mlp", "all"):
        d = load_dataset("mnist1d")
        spec = ArchSpec("mlp", d.input_shape, widths=(100, 100))
        m = 64 if args.quick else 256
        run_case("(a) MLP 40-100-100-10 on MNIST-1D", spec, d.x_train, d.y_train, m, 64,
                 4 if args.quick else 32, ["batched", "vmap", "loop"], 1 if args.quick else 2, peak, 5)  # fmt: skip
    if args.case in ("cnn", "all"):
        d = load_dataset("shapes28", num_samples=1200 if args.quick else 3000)
        spec = ArchSpec("cnn_s", d.input_shape)
        run_case("(b) CNN-s on 28x28 shapes (Model Zoos recipe)", spec, d.x_train, d.y_train, 64, 10,
                 2 if args.quick else 8, ["batched", "vmap", "loop"], 1, peak, 3)  # fmt: skip


if __name__ == "__main__":
    main()
