"""SNE encoding cost on the CPU as networks grow: 10k, 100k, 1M and 11M parameters.

For each size a fresh subprocess builds one network with random weights,
fits SNE's standardization on it and times ``encode``; it prints networks per
second, seconds per million parameters, and the process's peak resident
memory (``resource.getrusage(...).ru_maxrss``: torch allocations are invisible
to tracemalloc), before and during encoding.

Networks (random weights):
    10k   cnn_l at 3x32x32 (10,853 parameters; a real Model Zoos architecture)
    100k  mlp 784-128-10 (101,770)
    1M    mlp 784-1024-256-10 (1,068,810)
    11M   ResNet-18's parameter shapes with a 10-class head (11,181,642): the
          convolutions, BatchNorm affine parameters and the linear layer of
          torchvision's resnet18, listed by hand (no torchvision needed); SNE
          only reads names and shapes.

Side by side, the baseline is SNE without micro-batching (every chunk of the
network through the chunk encoder at once, ``chunk_batch`` = number of
chunks), run for sizes up to 1M: it shows that micro-batching is what bounds
memory. The ratio column is peak memory of the baseline over the fast path.

    python benchmarks/encode_scaling.py           # all four sizes
    python benchmarks/encode_scaling.py --quick   # 10k, 100k, 1M, one repeat
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

SIZES = ("10k", "100k", "1M", "11M")


def resnet18_shapes(num_classes: int = 10) -> dict[str, tuple[int, ...]]:
    """Parameter shapes of torchvision's resnet18 (BatchNorm weight/bias, no running stats)."""
    shapes: dict[str, tuple[int, ...]] = {
        "conv1.weight": (64, 3, 7, 7),
        "bn1.weight": (64,),
        "bn1.bias": (64,),
    }
    cin = 64
    for stage, cout in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            p = f"layer{stage}.{block}"
            first_in = cin if block == 0 else cout
            shapes[f"{p}.conv1.weight"] = (cout, first_in, 3, 3)
            shapes[f"{p}.bn1.weight"] = shapes[f"{p}.bn1.bias"] = (cout,)
            shapes[f"{p}.conv2.weight"] = (cout, cout, 3, 3)
            shapes[f"{p}.bn2.weight"] = shapes[f"{p}.bn2.bias"] = (cout,)
            if block == 0 and stage > 1:
                shapes[f"{p}.downsample.0.weight"] = (cout, cin, 1, 1)
                shapes[f"{p}.downsample.1.weight"] = shapes[f"{p}.downsample.1.bias"] = (cout,)
        cin = cout
    shapes["fc.weight"], shapes["fc.bias"] = (num_classes, 512), (num_classes,)
    return shapes


def make_network(size: str):
    """``(spec, weights)`` with random weights for one size."""
    from weightzoo.arch import ArchSpec, build_model

    g = torch.Generator().manual_seed(0)
    if size == "11M":
        # Nominal spec (SNE uses it only for the invariance term, not in encode).
        spec = ArchSpec("resnet", (3, 32, 32), widths=(64, 128, 256, 512))
        weights = {k: 0.05 * torch.randn(s, generator=g) for k, s in resnet18_shapes().items()}
        return spec, weights
    spec = {
        "10k": ArchSpec("cnn_l", (3, 32, 32)),
        "100k": ArchSpec("mlp", (1, 28, 28), widths=(128,)),
        "1M": ArchSpec("mlp", (1, 28, 28), widths=(1024, 256)),
    }[size]
    return spec, {k: v.detach() for k, v in build_model(spec).named_parameters()}


def child(size: str, repeat: int, baseline: bool, threads: int | None) -> None:
    """Runs in a fresh process; prints one JSON line."""
    from weightzoo.encode import build_encoder

    if threads:
        torch.set_num_threads(threads)

    net = make_network(size)
    n_params = sum(v.numel() for v in net[1].values())
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    enc = build_encoder("sne", chunk_batch=1 << 40 if baseline else 4096)
    enc.fit([net])  # fit runs one forward pass too (it calibrates the stage normalizations)
    enc.encode([net])  # warm-up (also the first peak)
    t = time.perf_counter()
    for _ in range(repeat):
        enc.encode([net])
    seconds = (time.perf_counter() - t) / repeat
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    chunks = len(enc.collate([net]).chunks)
    print(json.dumps({"size": size, "params": n_params, "chunks": chunks, "seconds": seconds,
                      "rss_before_mb": rss_before, "peak_mb": peak}))  # fmt: skip


def run(size: str, repeat: int, baseline: bool = False, threads: int | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", size, "--repeat", str(repeat)]
    if threads:
        cmd += ["--threads", str(threads)]
    if baseline:
        cmd.append("--baseline")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="10k, 100k, 1M with one repeat")
    ap.add_argument("--child", choices=SIZES, help=argparse.SUPPRESS)
    ap.add_argument("--repeat", type=int, default=3, help="timed encodes per size (11M: 1)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.repeat, args.baseline, args.threads)
        return
    sizes = SIZES[:3] if args.quick else SIZES
    repeat = 1 if args.quick else args.repeat
    print(
        f"SNE encode on the CPU ({args.threads or torch.get_num_threads()} threads), default parameters, "
        "one network at a time"
    )
    header = f"{'size':>5} {'params':>11} {'chunks':>8} {'nets/s':>9} {'s/Mparam':>9} {'RSS before fit MB':>17} {'peak MB':>8} {'no-microbatch peak MB':>22} {'ratio':>6}"
    print(header)
    rows = []
    for size in sizes:
        r = run(size, 1 if size == "11M" else repeat, threads=args.threads)
        base = run(size, 1, baseline=True, threads=args.threads) if size != "11M" else None
        rows.append(r)
        per_m = r["seconds"] / (r["params"] / 1e6)
        base_s = (
            f"{base['peak_mb']:>22.0f} {base['peak_mb'] / r['peak_mb']:>6.2f}"
            if base
            else f"{'(skipped)':>22} {'':>6}"
        )
        print(
            f"{size:>5} {r['params']:>11,} {r['chunks']:>8,} {1 / r['seconds']:>9.2f} {per_m:>9.3f} "
            f"{r['rss_before_mb']:>17.0f} {r['peak_mb']:>8.0f} {base_s}",
            flush=True,
        )
    big = [r for r in rows if r["params"] >= 1e5]
    if len(big) >= 2:
        a, b = big[0], big[-1]
        growth = (b["seconds"] / a["seconds"]) / (b["params"] / a["params"])
        print(
            f"cost growth {a['size']} -> {b['size']}: time ratio / parameter ratio = {growth:.2f} (1.0 = linear)"
        )


if __name__ == "__main__":
    main()
