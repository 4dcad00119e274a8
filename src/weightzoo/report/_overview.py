"""The "Zoo overview" part of the report."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pandas as pd

from weightzoo.report import _markdown as md
from weightzoo.report._catalog import (
    final_rows_with_status,
    format_stat,
    metric_values,
    model_diverged,
)

_MAX_VALUE_CHARS = 100


def _compact(value: object) -> str:
    """One-line JSON of a manifest value, shortened for a table cell."""
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 1] + "…"


def _dataset_name(manifest: Mapping) -> str:
    dataset = manifest.get("dataset")
    if isinstance(dataset, Mapping):
        return str(dataset.get("name", "unknown"))
    return "unknown" if dataset is None else str(dataset)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _facts(catalog: pd.DataFrame, manifest: Mapping, metric: str) -> list[str]:
    diverged = model_diverged(catalog)
    n_models = len(diverged)
    n_diverged = int(diverged.sum())
    share = f" ({100 * n_diverged / n_models:.1f}%)" if n_models else ""
    epochs = pd.to_numeric(catalog["epoch"], errors="coerce")
    facts = [
        f"**Name:** {md.escape(str(manifest.get('name', 'unnamed')))}",
        f"**Dataset:** {md.escape(_dataset_name(manifest))}",
        f"**Models:** {n_models}",
        f"**Epochs:** {int(epochs.max())} (checkpoints at epochs {int(epochs.min())}–{int(epochs.max())}; "
        "epoch 0 is the untrained initialization)",
        f"**Checkpoints:** {len(catalog)}",
        f"**Diverged models:** {n_diverged}{share}",
    ]
    final = final_rows_with_status(catalog)
    values = metric_values(final, metric).where(~final["diverged"])
    if values.notna().any():
        best = values.idxmax()
        facts.append(
            f"**Best final {md.escape(metric)}:** {format_stat(values[best])} "
            f"({md.code(final.loc[best, 'model_id'])}, epoch {int(final.loc[best, 'epoch'])})"
        )
    return facts


def _architectures(catalog: pd.DataFrame, manifest: Mapping) -> str:
    specs = manifest.get("architectures") or {}
    if not isinstance(specs, Mapping):
        specs = {}
    per_shard = (
        catalog.groupby("shard")["model_id"].nunique() if "shard" in catalog else pd.Series()
    )
    shards = list(specs) + [s for s in per_shard.index if s not in specs]
    if not shards:
        return "No architectures are listed in the manifest."
    rows = []
    for shard in shards:
        spec = specs.get(shard)
        spec = dict(spec) if isinstance(spec, Mapping) else {}
        params = spec.pop("num_params", None)
        rows.append(
            [
                md.code(shard),
                str(int(per_shard.get(shard, 0))),
                f"{int(params):,}" if isinstance(params, (int, float)) else "n/a",
                md.code(_compact(spec)) if spec else "",
            ]
        )
    return md.pipe_table(["shard", "models", "parameters", "spec"], rows, align="lrrl")


def _config(manifest: Mapping) -> str:
    config = manifest.get("config")
    if not isinstance(config, Mapping) or not config:
        return "The manifest records no training configuration."
    return "\n".join(
        f"- {md.code(key)}: {md.code(_compact(config[key]))}" for key in sorted(config)
    )


def overview_markdown(catalog: pd.DataFrame, manifest: Mapping, metric: str) -> str:
    """Markdown body of the overview: key facts, architectures, configuration.

    Args:
        catalog: A non-empty zoo catalog.
        manifest: The zoo manifest; only ``name``, ``dataset``,
            ``architectures`` and ``config`` are read, all optional.
        metric: Metric whose best final value is quoted.

    Returns:
        Markdown without a top-level heading.
    """
    parts = [
        "\n".join(f"- {fact}" for fact in _facts(catalog, manifest, metric)),
        "### Architectures",
        _architectures(catalog, manifest),
        "### Training configuration",
        _config(manifest),
    ]
    return "\n\n".join(parts)
