"""Bulk reads: ``Zoo.stacked`` vs reading the same bytes raw, warm and cold.

Synthesizes a zoo with the format's own writers (``write_epoch``, manifest,
catalog): ``--models`` MLPs 40-256-256-10 (78,858 parameters, 308 KiB each) in
shards of 256, one epoch file per shard. Then, in one process:

* raw: ``np.fromfile`` and ``Path.read_bytes`` of every epoch file, whole
  (headers included); the faster of the two is the baseline;
* ``Zoo.stacked(epoch)``: all models, in id order (whole shards, read straight
  into the output);
* ``Zoo.stacked(epoch, ids)``: a random half of the models in random order
  (range read + gather), credited with the bytes it returns.

Warm = page cache; cold = each file dropped from the page cache with
``posix_fadvise(POSIX_FADV_DONTNEED)`` before every read (works without root
for clean pages on a local disk; a no-op on tmpfs, where cold equals warm).
Each number is the best of ``--repeat`` rounds, the three readers interleaved
in every round so that load spikes on a shared machine hit them alike.

Usage: ``python benchmarks/zoo_bulk_read.py [--models 1024] [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from weightzoo.arch import ArchSpec, build_model, num_params, resolve_spec
from weightzoo.zoo import Zoo
from weightzoo.zoo._io import atomic_write_json
from weightzoo.zoo.catalog import rebuild_catalog, write_catalog
from weightzoo.zoo.format import FORMAT_VERSION, MANIFEST
from weightzoo.zoo.shardfiles import write_epoch

PER_SHARD = 256


def synthesize(root: Path, n_models: int) -> list[Path]:
    """Write a valid zoo of random MLP weights; returns its epoch files."""
    spec = resolve_spec(
        ArchSpec(family="mlp", input_shape=(1, 40), num_classes=10, activation="relu",
                 widths=(256, 256))
    )  # fmt: skip
    shapes = {k: v.shape for k, v in build_model(spec).state_dict().items()}
    g = torch.Generator().manual_seed(0)
    shards, models, files = {}, {}, []
    for s, lo in enumerate(range(0, n_models, PER_SHARD)):
        shard = f"s{s:04d}"
        ids = [f"m{i:05d}" for i in range(lo, min(lo + PER_SHARD, n_models))]
        shards[shard] = {"spec": spec.to_dict(), "num_params": num_params(spec), "model_ids": ids}
        for j, mid in enumerate(ids):
            models[mid] = {"shard": shard, "index": j, "seed": int(mid[1:])}
        tensors = {k: torch.randn(len(ids), *shp, generator=g) for k, shp in shapes.items()}
        metrics = [{"alive": True, "stopped_epoch": -1, "test_acc": 0.5}] * len(ids)
        write_epoch(root, shard, 1, tensors, ids, metrics)
        files.append(root / f"shards/{shard}/epoch_0001.safetensors")
    manifest = {"format_version": FORMAT_VERSION, "name": "bulk", "shards": shards,
                "models": models, "checkpoint_epochs": [1]}  # fmt: skip
    atomic_write_json(root / MANIFEST, manifest)
    write_catalog(root, rebuild_catalog(root, manifest))
    return files


def drop_cache(files: list[Path]) -> None:
    for p in files:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def best_times(
    fns: dict[str, Callable[[], object]], files: list[Path], cold: bool, repeat: int
) -> dict[str, float]:
    """Best time of each function over ``repeat`` interleaved rounds."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            if cold:
                drop_cache(files)
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dir", type=Path, default=None, help="where to write (default /var/tmp)")
    ap.add_argument("--quick", action="store_true", help="256 models, 3 repeats")
    args = ap.parse_args()
    if args.quick:
        args.models, args.repeat = 256, 3
    base = Path(tempfile.mkdtemp(prefix="wz_bulk_", dir=args.dir or "/var/tmp"))
    try:
        files = synthesize(base / "zoo", args.models)
        zoo = Zoo.open(base / "zoo")
        ids = zoo.models()
        half = [str(m) for m in np.random.default_rng(0).permutation(ids)[: len(ids) // 2]]
        payload = sum(v.numel() * v.element_size() for v in zoo.stacked(1).values())
        file_bytes = sum(p.stat().st_size for p in files)
        print(f"zoo: {len(ids)} models x {num_params(zoo.spec(ids[0])):,} params, "
              f"{len(files)} files, {file_bytes / 2**20:.0f} MiB; torch threads "
              f"{torch.get_num_threads()}")  # fmt: skip
        fns = {
            "fromfile": lambda: [np.fromfile(p, dtype=np.uint8) for p in files],
            "read": lambda: [p.read_bytes() for p in files],
            "all": lambda: zoo.stacked(1),
            "half": lambda: zoo.stacked(1, half),
        }
        labels = {"all": ("stacked(all, id order)", payload),
                  "half": ("stacked(random half)", payload / 2)}  # fmt: skip
        print(f"{'case':<26}{'cache':>6}{'raw GB/s':>10}{'zoo GB/s':>10}{'ratio':>8}")
        for cold in (False, True):
            best = best_times(fns, files, cold, args.repeat)
            # the baseline is the faster of the two raw readers
            bw_raw = file_bytes / min(best["fromfile"], best["read"]) / 1e9
            print(f"  raw {'cold' if cold else 'warm'}: np.fromfile "
                  f"{file_bytes / best['fromfile'] / 1e9:.2f} GB/s, "
                  f"read_bytes {file_bytes / best['read'] / 1e9:.2f} GB/s")  # fmt: skip
            for key, (name, nbytes) in labels.items():
                bw = nbytes / best[key] / 1e9
                print(f"{name:<26}{'cold' if cold else 'warm':>6}{bw_raw:>10.2f}{bw:>10.2f}"
                      f"{bw / bw_raw:>8.2f}")  # fmt: skip
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
