"""The demo report's generation section: sample new MLPs from a hyperrep of the demo zoo.

``run_demo_section(zoo, out_dir, quick=...)`` trains a small hyper-representation
autoencoder on the demo zoo's models of its best architecture, samples models
with the top-30% KDE (Schürholt et al. 2022), fine-tunes them for one epoch
next to randomly initialized models with the same settings, and reports
accuracy, the Mann–Whitney U p-value and nearest-neighbour distances to the
zoo (are they copies?). A small encoder keeps the section within about a
minute on two cores; ``benchmarks/generate_eval.py`` runs the full study.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from weightzoo._threads import torch_threads
from weightzoo.report import ReportSection
from weightzoo.zoo.zoo import Zoo

__all__ = ["run_demo_section"]

log = logging.getLogger(__name__)

# No erasing, little noise and a higher lr than the encoder's defaults: generation
# needs reconstruction (benchmarks/generate_eval.py compared the two on this zoo).
_FULL = {"encoder_epochs": 15, "last_epochs": 2, "n": 30, "epochs": 1,
         "params": {"d_model": 32, "heads": 2, "depth": 1, "latent_dim": 8, "batch_size": 32,
                    "erase_p": 0.0, "noise": 0.02, "lr": 3e-3}}  # fmt: skip
_QUICK = {"encoder_epochs": 2, "last_epochs": 1, "n": 4, "epochs": 1,
          "params": {"d_model": 16, "heads": 2, "depth": 1, "latent_dim": 4, "batch_size": 8}}  # fmt: skip


def run_demo_section(zoo: Zoo, out_dir: Path, *, quick: bool) -> ReportSection:
    """Train a small hyperrep on ``zoo``, generate with KDE on the top 30%, compare with random init.

    Args:
        zoo: the demo zoo.
        out_dir: where the plot and tables go.
        quick: a seconds-long smoke version (tiny encoder, 4 samples).

    Returns:
        The report section (a table, the p-value, distances, a plot).
    """
    plan = _QUICK if quick else _FULL
    # Tiny matrices: a second thread only adds synchronization, and on a busy
    # 2-core machine it made this section 10-20x slower (84-151 s against 7 s).
    with torch_threads(1):
        return _run(zoo, Path(out_dir), plan)


def _run(zoo: Zoo, out_dir: Path, plan: dict) -> ReportSection:
    from weightzoo.generate import EvalConfig, evaluate_generation, source_models, train_encoder
    from weightzoo.generate.report import summary_markdown, write_evaluation
    from weightzoo.generate.samplers import select_top

    t0 = time.perf_counter()
    source = source_models(zoo)
    top = 0.3
    try:
        select_top(source.scores, top)
    except Exception:  # noqa: BLE001  (a zoo too small for 30%: use all of it)
        top = 1.0
    encoder = train_encoder(zoo, source, epochs=plan["encoder_epochs"],
                            last_epochs=plan["last_epochs"], params=plan["params"])  # fmt: skip
    config = EvalConfig(methods=[f"kde@{top}"], n=plan["n"], epochs=plan["epochs"], transfer=None)
    result = evaluate_generation(zoo, encoder, config, source=source)
    paths = write_evaluation(result, out_dir / "generate")
    seconds = time.perf_counter() - t0
    s = result.summary.set_index("method")
    row, zoo_row = s.loc[f"kde@{top}"], s.loc["zoo (own training)"]
    p = row["p_vs_random_1"]
    verdict = "beat" if p < 0.01 else "did not significantly beat"
    ref = zoo_row["nn_to_zoo"]
    # A copy sits at distance ~0; compare with how far zoo models are from each other.
    copies = (
        "" if not ref == ref or ref in (float("inf"), 0.0)
        else (", so they are not copies" if row["nn_to_zoo"] > 0.1 * ref else ", close to copies")
    )  # fmt: skip
    text = (
        f"A hyper-representation autoencoder ({plan['encoder_epochs']} epochs, small) was trained on "
        f"the {len(source.model_ids)} models of the zoo's best architecture "
        f"(`{source.spec.activation}` MLP); {plan['n']} models were sampled with a KDE on the "
        f"top {top:.0%} of them by validation accuracy, decoded and fine-tuned for 1 epoch with "
        f"the settings of the best model, next to {plan['n']} random initializations trained the same way.\n\n"
        f"After 1 epoch the generated models reach {row['acc_1_mean']:.3f} test accuracy against "
        f"{s.loc['random init', 'acc_1_mean']:.3f} for random init: they {verdict} it "
        f"(one-sided Mann–Whitney U, p = {p:.2g}). Their median distance to the nearest zoo "
        f"model is {row['nn_to_zoo']:.2f} (zoo models are {zoo_row['nn_to_zoo']:.2f} from their "
        f"nearest neighbour){copies}. ({seconds:.0f} s; the full study with every "
        "sampler, k epochs, ensembles and transfer is `python benchmarks/generate_eval.py`.)\n\n"
        + summary_markdown(result)
    )
    return ReportSection(title="Generating networks from a hyper-representation", markdown=text,
                         figures=[paths["plot"]])  # fmt: skip
