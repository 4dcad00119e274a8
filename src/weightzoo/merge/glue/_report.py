"""Markdown for each step of a Model-GLUE run."""

from __future__ import annotations

import numpy as np

from weightzoo.merge.glue.recipe import GlueResult


def _pct(v: float) -> str:
    return f"{100 * v:.1f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _acc_rows(label: str, acc: dict[str, float], tasks: list[str]) -> list[str]:
    return [label, *(_pct(acc[t]) for t in tasks), _pct(float(np.mean([acc[t] for t in tasks])))]


def glue_markdown(result: GlueResult, *, threshold: float, similarity: str) -> str:
    """The report of one run: similarities, clusters, merge steps, mixture, final accuracy."""
    names, sim = result.similarity
    tasks = list(next(iter(result.inputs_test.values())))
    out = ["## 1. Mergeability", ""]
    out.append(
        f"Mean per-column cosine similarity of the weight matrices ({similarity} weights); "
        f"a model joins a cluster when its similarity to the cluster's first member exceeds {threshold}."
    )
    out.append("")
    out.append(
        _table(
            ["", *names],
            [
                [n, *("—" if np.isnan(v) else f"{v:.3f}" for v in sim[i])]
                for i, n in enumerate(names)
            ],
        )
    )
    out += [
        "",
        "Clusters: " + "; ".join("{" + ", ".join(c.members) + "}" for c in result.clusters),
        "",
    ]
    out += ["## 2. Selective merging", ""]
    for k, c in enumerate(result.clusters):
        m = c.merge
        out.append(
            f"Cluster {k + 1}: start from {m.members[0]} (val {_pct(m.initial_scores[m.members[0]])})."
        )
        rows = [
            [
                s.candidate,
                f"{s.coefficient:.2f}",
                _pct(s.score),
                _pct(s.best_before),
                "kept" if s.accepted else "dropped",
            ]
            for s in m.steps
        ]
        if rows:
            out += [
                "",
                _table(["candidate", "c (current)", "val score", "best before", "decision"], rows),
            ]
        coefs = ", ".join(f"{n}: {v:.3f}" for n, v in m.coefficients.items())
        out += [
            "",
            f"Kept {len(m.members)} of {len(c.members)}; coefficients {coefs}; val score {_pct(m.score)}.",
            "",
        ]
    if result.mixture is not None:
        out += ["## 3. Model-level mixture", ""]
        out.append(
            f"{len(result.clusters)} experts (the merged clusters), top-{result.mixture.top_k} routing on "
            "the router model's pooled hidden state; gates initialized from the hidden states of "
            "each expert's example inputs (mergekit's hidden mode)."
        )
        if result.router_losses:
            losses = ", ".join(f"{v:.3f}" for v in result.router_losses)
            out.append(f"Router trained for {len(result.router_losses)} epochs (loss {losses}).")
        out += [
            "",
            _table(
                ["task", "routed to an expert of the task (%)"],
                [[t, _pct(v)] for t, v in result.routing.items()],
            ),
            "",
        ]
    out += ["## Accuracy (test split, %)", ""]
    rows = [_acc_rows(n, a, tasks) for n, a in result.inputs_test.items()]
    rows += [
        _acc_rows(f"cluster {k + 1} merge", c.test_acc, tasks)
        for k, c in enumerate(result.clusters)
    ]
    rows.append(_acc_rows("**Model-GLUE result**", result.final_test, tasks))
    out.append(_table(["model", *tasks, "mean"], rows))
    return "\n".join(out) + "\n"
