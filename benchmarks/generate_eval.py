"""Issue 5's goal: do top-30% KDE samples beat random init after 1 epoch, and are they new?

Trains a hyperrep autoencoder on the zoo's models of one architecture (or
loads a saved one), generates >= 30 models per sampling method, fine-tunes
them and a random-init baseline with the same settings, and writes the table
(Mann–Whitney U p-values), transfer results, diversity and a plot of accuracy
against fine-tuning epochs.

    python benchmarks/generate_eval.py --zoo demo_out/zoo --out gen_eval           # the goal
    python benchmarks/generate_eval.py --zoo demo_out/zoo --out gen_eval --quick   # a smoke run
    python benchmarks/generate_eval.py --zoo Z --encoder path/to/encoder --out gen_eval

Without ``--zoo`` the default MNIST-1D zoo is built under ``--out``/zoo first (minutes).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--zoo", type=Path, default=None, help="source zoo (default: build the demo zoo)"
    )
    p.add_argument("--out", type=Path, default=Path("gen_eval"))
    p.add_argument("--encoder", default="train", help="a saved hyperrep folder, or 'train'")
    p.add_argument(
        "--activation", default=None, help="with --encoder train: the models' activation"
    )
    p.add_argument("--encoder-epochs", type=int, default=60)
    p.add_argument("--d-model", type=int, default=64, help="hyperrep transformer width")
    p.add_argument("--depth", type=int, default=2, help="hyperrep transformer layers")
    p.add_argument("--latent-dim", type=int, default=16, help="hyperrep latent size per token")
    p.add_argument("--device", default="cpu", help="where the hyperrep trains")
    p.add_argument(
        "--hyperrep", default="{}", help='more hyperrep parameters as JSON, e.g. {"erase_p": 0}'
    )
    p.add_argument("--last-epochs", type=int, default=5, help="checkpoints per model to train on")
    p.add_argument("--n", type=int, default=30, help="models per method (>= 30 for the claim)")
    p.add_argument("--epochs", type=int, default=5, help="fine-tuning epochs k")
    p.add_argument("--methods", default=None, help="comma-separated sampler@top list")
    p.add_argument("--transfer", default="invert", help="domain shift for transfer, or 'none'")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: tiny matrices)")
    p.add_argument(
        "--quick", action="store_true", help="n=8, 2 fine-tuning epochs, 5 encoder epochs"
    )
    a = p.parse_args()
    if a.quick:
        a.n, a.epochs, a.encoder_epochs = 8, 2, 5
    return a


def main() -> None:
    args = _parse()
    import torch

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    from weightzoo.encode import load_encoder
    from weightzoo.generate import (
        EvalConfig,
        evaluate_generation,
        source_models,
        train_encoder,
        write_evaluation,
    )
    from weightzoo.zoo import Zoo

    args.out.mkdir(parents=True, exist_ok=True)
    if args.zoo is None:
        from weightzoo.demo import demo_config
        from weightzoo.train import build_zoo

        zoo = build_zoo(demo_config(False), args.out / "zoo")
    else:
        zoo = Zoo.open(args.zoo)
    t0 = time.perf_counter()
    if args.encoder == "train":
        source = source_models(zoo, activation=args.activation)
        params = {"d_model": args.d_model, "depth": args.depth, "latent_dim": args.latent_dim,
                  "heads": 4 if args.d_model >= 64 else 2, "device": args.device,
                  **json.loads(args.hyperrep)}  # fmt: skip
        encoder = train_encoder(zoo, source, seed=args.seed, epochs=args.encoder_epochs,
                                last_epochs=args.last_epochs, params=params)  # fmt: skip
        encoder.save(args.out / "encoder")
        hist = encoder.history_
        print(
            f"hyperrep: {len(hist)} epochs, recon {hist[0]['recon']:.3f} -> {hist[-1]['recon']:.3f}"
        )
    else:
        encoder = load_encoder(args.encoder)
        source = source_models(zoo, spec=encoder.spec)
    t_enc = time.perf_counter() - t0
    kw = {"n": args.n, "epochs": args.epochs, "seed": args.seed,
          "transfer": None if args.transfer == "none" else args.transfer}  # fmt: skip
    if args.methods:
        kw["methods"] = args.methods.split(",")
    config = EvalConfig(**kw)
    t1 = time.perf_counter()
    result = evaluate_generation(zoo, encoder, config, source=source)
    t_eval = time.perf_counter() - t1
    paths = write_evaluation(result, args.out / "eval")
    if hasattr(encoder, "module") and encoder.module is not None:
        encoder.module.to("cpu")
        encoder.device = torch.device("cpu")
    print(f"source: {len(source.model_ids)} models of {source.spec.to_json()}")
    print(f"encoder {t_enc:.0f} s, evaluation {t_eval:.0f} s (shared machine)")
    print(paths["summary"].read_text())
    s = result.summary.set_index("method")
    goal = {
        "p_kde30_vs_random_epoch1": float(s.loc["kde@0.3", "p_vs_random_1"])
        if "kde@0.3" in s.index
        else None,
        "nn_to_zoo_kde30": float(s.loc["kde@0.3", "nn_to_zoo"]) if "kde@0.3" in s.index else None,
        "nn_within_zoo": float(s.loc["zoo (own training)", "nn_to_zoo"]),
    }
    (args.out / "goal.json").write_text(json.dumps(goal, indent=2))
    print(json.dumps(goal, indent=2))


if __name__ == "__main__":
    main()
