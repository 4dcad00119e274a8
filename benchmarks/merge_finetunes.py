"""Merge a zoo of fine-tunes with every method; compare with the fine-tunes, an ensemble and Model-GLUE.

One cnn1d base is pre-trained on clean MNIST-1D and fine-tuned on four input
domains sharing the digit labels (see ``weightzoo.merge.finetune_zoo``). Each
merge method's hyperparameters are chosen on the validation split; the table
is test accuracy per domain and on average. Writes ``merge_finetunes.csv``,
``merge_finetunes.md`` and ``merge_finetunes.png`` into ``--out``.

    python benchmarks/merge_finetunes.py            # a few minutes on 2 cores
    python benchmarks/merge_finetunes.py --quick    # seconds
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

from weightzoo.merge.finetune_zoo import FinetuneZooConfig, build_finetune_zoo  # noqa: E402
from weightzoo.merge.glue.benchmark import compare_merges  # noqa: E402


def _markdown(df) -> str:  # noqa: ANN001
    tasks = [c for c in df.columns if c not in ("name", "kind", "mean", "params", "seconds")]
    head = "| model / method | " + " | ".join(tasks) + " | mean | chosen on val |"
    lines = [head, "|---|" + "---:|" * (len(tasks) + 1) + "---|"]
    for _, r in df.iterrows():
        cells = [f"{100 * r[t]:.1f}" for t in tasks] + [f"**{100 * r['mean']:.1f}**"]
        lines.append(f"| {r['name']} | " + " | ".join(cells) + f" | {r['params']} |")
    return "\n".join(lines) + "\n"


def _plot(df, path: Path) -> None:  # noqa: ANN001
    import matplotlib.pyplot as plt

    tasks = [c for c in df.columns if c not in ("name", "kind", "mean", "params", "seconds")]
    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(14, 0.35 * len(df) + 2), gridspec_kw={"width_ratios": [1, 1.4]}
    )
    colors = {"single": "#999999", "ensemble": "#4c72b0", "merge": "#dd8452", "glue": "#55a868"}
    y = list(range(len(df)))
    ax1.barh(y, 100 * df["mean"].fillna(0), color=[colors[k] for k in df["kind"]])
    ax1.set_yticks(y, df["name"])
    ax1.set_ylim(len(df) - 0.5, -0.5)  # row i at the height of heatmap row i
    ax1.set_xlabel("mean test accuracy over domains (%)")
    im = ax2.imshow(100 * df[tasks].to_numpy(), aspect="auto", cmap="viridis", vmin=0, vmax=100)
    ax2.set_xticks(range(len(tasks)), tasks)
    ax2.set_yticks(range(len(df)), [""] * len(df))
    for i in range(len(df)):
        for j, t in enumerate(tasks):
            v = 100 * df[t].iloc[i]
            ax2.text(
                j,
                i,
                f"{v:.0f}",
                ha="center",
                va="center",
                color="white" if v < 60 else "black",
                fontsize=8,
            )
    fig.colorbar(im, ax=ax2, label="test accuracy (%)")
    fig.suptitle("Merging a zoo of fine-tunes (cnn1d on MNIST-1D domains)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a tiny zoo and one grid point per method"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)  # tiny models: threads only add overhead on 2 cores
    if args.quick:
        cfg = FinetuneZooConfig(
            num_samples=1000, pretrain_epochs=3, finetune_epochs=2, seed=args.seed
        )
    else:
        cfg = FinetuneZooConfig(seed=args.seed)
    t0 = time.perf_counter()
    zoo = build_finetune_zoo(cfg)
    t_zoo = time.perf_counter() - t0
    print(f"fine-tune zoo: {cfg.family} {cfg.widths}, tasks {cfg.tasks}, built in {t_zoo:.1f} s")
    df = compare_merges(
        zoo,
        quick=args.quick,
        progress=lambda m: print(f"  {m}", flush=True),
        aux_examples=128 if args.quick else 512,
    )
    total = time.perf_counter() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "merge_finetunes_quick" if args.quick else "merge_finetunes"
    df.to_csv(args.out / f"{stem}.csv", index=False)
    md = _markdown(df)
    (args.out / f"{stem}.md").write_text(md)
    _plot(df, args.out / f"{stem}.png")
    print(md)
    best_single = df[df["kind"] == "single"]["mean"].max()
    glue = df[df["name"].str.startswith("Model-GLUE (")]["mean"].iloc[0]
    best_merge = df[df["kind"] == "merge"].dropna(subset=["mean"]).sort_values("mean").iloc[-1]
    print(
        f"best single model mean: {100 * best_single:.1f}%; best merge method: {best_merge['name']} "
        f"{100 * best_merge['mean']:.1f}%; Model-GLUE (training-free): {100 * glue:.1f}% "
        f"(ratio to best single {glue / best_single:.2f})"
    )
    print(f"total {total:.1f} s (zoo {t_zoo:.1f} s); wrote {args.out / stem}.{{csv,md,png}}")


if __name__ == "__main__":
    main()
