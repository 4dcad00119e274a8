"""LogME speed: one shared eigendecomposition, vectorized over classes, vs a per-class loop.

The claim (issue 6): LogME on N = 10,000, D = 2,048, C = 100 float32 features
finishes in under 5 s on 2 cores and is at least 3x faster than a
straightforward per-class implementation, which eigendecomposes the Gram
matrix again for every class and forms ``F m`` (O(N D)) in every fixed-point
step, as the per-class loops of public LogME code do. Both run in this
process on the same data with the same threads; their scores must agree.

    python benchmarks/scores.py                     # the full claim (baseline takes minutes)
    python benchmarks/scores.py --quick             # N=2000, D=256, C=20: seconds
    python benchmarks/scores.py --baseline-classes 10   # time the baseline on 10 classes
                                                     # and extrapolate (printed as such)
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--d", type=int, default=2048)
    parser.add_argument("--c", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2, help="BLAS/torch threads (default 2)")
    parser.add_argument("--quick", action="store_true", help="N=2000, D=256, C=20")
    parser.add_argument(
        "--baseline-classes",
        type=int,
        default=None,
        help="run the per-class baseline on only this many classes and scale its time by C/k",
    )
    args = parser.parse_args()
    if args.quick:
        args.n, args.d, args.c = 2000, 256, 20
    return args


ARGS = _parse()
# Thread counts must be fixed before numpy/torch load their BLAS.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from weightzoo.select import logme  # noqa: E402

torch.set_num_threads(ARGS.threads)


def per_class_logme(features: np.ndarray, labels: np.ndarray, classes: int) -> float:
    """The straightforward implementation: everything redone for each class.

    Same model, fixed point, tolerance, (N < D-correct) evidence, float32
    matrix work and torch eigensolver as ``weightzoo.select.logme``; only the
    organisation differs.
    """
    n, d = features.shape
    f = torch.from_numpy(features)
    values = []
    for c in range(classes):
        y = (labels == c).astype(np.float32)
        sigma, v = torch.linalg.eigh(f.T @ f)  # a fresh decomposition per class
        sigma = np.clip(sigma.numpy().astype(np.float64), 0.0, None)
        v = v.numpy()
        z = (v.T @ (features.T @ y)).astype(np.float64)
        alpha, beta = 1.0, 1.0
        for _ in range(1000):
            t = alpha + beta * sigma
            gamma = float(np.sum(beta * sigma / t))
            m = v @ (beta * z / t).astype(np.float32)
            m2 = float(m @ m)
            res = float(np.sum((y - features @ m) ** 2, dtype=np.float64))  # O(N D) per step
            new_alpha, new_beta = gamma / m2, (n - gamma) / res
            done = max(abs(np.log(new_alpha / alpha)), abs(np.log(new_beta / beta))) < 1e-10
            alpha, beta = new_alpha, new_beta
            if done:
                break
        t = alpha + beta * sigma
        m = v @ (beta * z / t).astype(np.float32)
        res = float(np.sum((y - features @ m) ** 2, dtype=np.float64))
        evidence = (
            0.5 * d * np.log(alpha)
            + 0.5 * n * np.log(beta)
            - 0.5 * np.sum(np.log(t))
            - 0.5 * beta * res
            - 0.5 * alpha * float(m @ m)
            - 0.5 * n * np.log(2 * np.pi)
        )
        values.append(evidence / n)
    return float(np.mean(values))


def main() -> int:
    n, d, c = ARGS.n, ARGS.d, ARGS.c
    rng = np.random.default_rng(0)
    labels = np.arange(n) % c
    rng.shuffle(labels)
    # Features with class structure: class means plus noise, float32 like real backbones.
    means = rng.standard_normal((c, d), dtype=np.float32)
    features = (rng.standard_normal((n, d), dtype=np.float32) + 0.5 * means[labels]).astype(
        np.float32
    )
    print(f"LogME on N={n}, D={d}, C={c} float32, {ARGS.threads} threads")
    logme(features[:200, :50], labels[:200])  # warm-up: imports, BLAS initialisation

    start = time.perf_counter()
    fast = logme(features, labels)
    fast_s = time.perf_counter() - start
    print(f"weightzoo logme (one eigh, vectorized over classes): {fast_s:8.2f} s  score {fast:.6f}")

    k = c if ARGS.baseline_classes is None else min(ARGS.baseline_classes, c)
    start = time.perf_counter()
    slow = per_class_logme(features, labels, k)
    slow_s = (time.perf_counter() - start) * c / k
    note = "" if k == c else f" (measured on {k} classes, scaled by {c}/{k})"
    if k == c:
        print(
            f"per-class baseline:                                 {slow_s:8.2f} s  score {slow:.6f}"
        )
        print(f"scores agree to {abs(fast - slow):.2e}")
    else:
        print(f"per-class baseline{note}: {slow_s:8.2f} s")
    print(f"speed-up: {slow_s / fast_s:.1f}x; under 5 s: {'yes' if fast_s < 5 else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
