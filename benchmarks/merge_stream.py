"""Streaming TIES merge of Llama-shaped checkpoints: weightzoo vs mergekit.

Makes a synthetic base and three fine-tunes (float16, two shards each), then runs
the same mergekit YAML (TIES, density 0.5) with ``weightzoo merge`` and, where
it is installed, ``mergekit-yaml``, each in its own process, and prints wall time,
peak resident memory (the child's ru_maxrss) and the ratios.

    python benchmarks/merge_stream.py                 # ~700M params per model, 5.6 GB of inputs
    python benchmarks/merge_stream.py --size small    # ~110M params, a quick check
    python benchmarks/merge_stream.py --size tiny --skip-mergekit

mergekit is an optional benchmark dependency, in its own environment:
``python3 -m venv /tmp/mkvenv && /tmp/mkvenv/bin/pip install torch mergekit``.
Inputs are read once before timing so that both tools read from the page cache.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

from weightzoo.merge import Checkpoint
from weightzoo.merge.synthetic import LlamaShape, write_synthetic_llama

SIZES = {
    # ~692M parameters: 1.38 GB per model in float16.
    "full": LlamaShape(
        hidden=1536, layers=21, intermediate=4096, vocab=32000, heads=12, kv_heads=12
    ),
    "small": LlamaShape(
        hidden=768, layers=12, intermediate=2048, vocab=32000, heads=12, kv_heads=12
    ),
    "tiny": LlamaShape(hidden=256, layers=4, intermediate=688, vocab=8000, heads=4, kv_heads=4),
}
CONFIG = """\
models:
  - model: ft0
    parameters: {{weight: 1.0, density: 0.5}}
  - model: ft1
    parameters: {{weight: 0.5, density: 0.5}}
  - model: ft2
    parameters: {{weight: 0.8, density: 0.5}}
base_model: base
merge_method: ties
parameters: {{normalize: true}}
dtype: float16
"""


def make_inputs(work: Path, shape: LlamaShape) -> None:
    marker = work / "inputs.json"
    want = json.dumps(shape.__dict__, sort_keys=True)
    if marker.is_file() and marker.read_text() == want:
        return
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shard = shape.n_params() * 2 // 2 + 1  # two shards of float16
    for name, ft in (("base", None), ("ft0", 0), ("ft1", 1), ("ft2", 2)):
        t = time.perf_counter()
        write_synthetic_llama(
            work / name, shape, seed=0, finetune=ft, dtype=torch.float16, max_shard_bytes=shard
        )
        print(f"  wrote {name} in {time.perf_counter() - t:.0f} s", flush=True)
    (work / "merge.yml").write_text(CONFIG.format())
    marker.write_text(want)


def warm_page_cache(work: Path) -> float:
    t = time.perf_counter()
    for f in sorted(work.glob("*/*.safetensors")):
        with open(f, "rb") as fh:
            while fh.read(1 << 24):
                pass
    return time.perf_counter() - t


def run_child(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds, peak RSS (GB) of the child, return code."""
    t = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        print(err[-3000:], file=sys.stderr)
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1e6, rc  # ru_maxrss is in KB on Linux


def compare(a: Path, b: Path) -> tuple[float, float]:
    """Max |difference| and fraction of entries that differ between two outputs."""
    worst, differ, total = 0.0, 0, 0
    with Checkpoint(a) as ca, Checkpoint(b) as cb:
        for name in ca.tensors:
            x, y = ca.read(name).float(), cb.read(name).float()
            diff = (x - y).abs()
            worst = max(worst, float(diff.max()))
            differ += int((diff > 0).sum())
            total += diff.numel()
    return worst, differ / total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="full")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/wz_merge_bench"))
    ap.add_argument("--keep", action="store_true", help="Keep inputs and outputs.")
    ap.add_argument("--threads", type=int, default=1, help="Torch/OpenMP threads of both tools.")
    ap.add_argument("--mergekit", default="/tmp/mkvenv/bin/mergekit-yaml")
    ap.add_argument("--skip-mergekit", action="store_true")
    args = ap.parse_args()

    shape = SIZES[args.size]
    work = args.workdir
    print(
        f"model: Llama-shaped, {shape.n_params() / 1e6:.0f}M params x 4 (base + 3 fine-tunes), float16, 2 shards each"
    )
    make_inputs(work, shape)
    size_gb = sum(f.stat().st_size for f in work.glob("*/*.safetensors")) / 1e9
    print(f"inputs: {size_gb:.2f} GB; reading them from page cache: {warm_page_cache(work):.1f} s")
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(args.threads),
        "MKL_NUM_THREADS": str(args.threads),
        "HF_HUB_OFFLINE": "1",
    }
    rows = {}
    for out in ("out_wz", "out_mk"):
        shutil.rmtree(work / out, ignore_errors=True)
    wz_cmd = [sys.executable, "-m", "weightzoo", "merge", "merge.yml", "--out", "out_wz", "-q"]
    rows["weightzoo"] = run_child(wz_cmd, work, env)
    have_mk = not args.skip_mergekit and Path(args.mergekit).exists()
    if have_mk:
        mk_cmd = [
            args.mergekit,
            "merge.yml",
            "out_mk",
            "--no-write-model-card",
            "--no-copy-tokenizer",
            "-j",
            str(args.threads),
            "--quiet",
        ]
        rows["mergekit"] = run_child(mk_cmd, work, env)
    elif not args.skip_mergekit:
        print(f"mergekit not found at {args.mergekit}: weightzoo only")
    print(f"\n{'tool':<10} {'wall (s)':>9} {'CPU (s)':>8} {'peak RSS (GB)':>14} {'rc':>3}")
    for tool, (wall, cpu, rss, rc) in rows.items():
        print(f"{tool:<10} {wall:>9.1f} {cpu:>8.1f} {rss:>14.2f} {rc:>3}")
    if have_mk and all(r[3] == 0 for r in rows.values()):
        (wz_t, wz_c, wz_m, _), (mk_t, mk_c, mk_m, _) = rows["weightzoo"], rows["mergekit"]
        print(f"\nspeed-up: {mk_t / wz_t:.1f}x wall, {mk_c / wz_c:.1f}x CPU time  (target >= 5x)")
        print(f"memory:   {wz_m / mk_m:.2f} of mergekit's peak RSS  (target <= 0.5)")
        worst, frac = compare(work / "out_wz", work / "out_mk")
        print(
            f"outputs:  max |diff| {worst:.2e}, {100 * frac:.3f}% of entries differ "
            "(mergekit computes in float16, weightzoo in float32)"
        )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r[3] == 0 for r in rows.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
