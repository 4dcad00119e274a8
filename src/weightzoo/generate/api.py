"""``generate``: sample latents around a zoo's best models, decode them, write a new zoo."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from weightzoo.arch import ArchSpec
from weightzoo.data import SplitData
from weightzoo.errors import ConfigError
from weightzoo.generate._finetune import finetune_settings, make_population, split_metrics
from weightzoo.generate.decode import check_architecture, check_decoder, decode_latents
from weightzoo.generate.samplers import SAMPLERS, build_sampler, select_top
from weightzoo.generate.source import SourceModels, source_models, zoo_data
from weightzoo.seeding import derive_seed
from weightzoo.zoo.writer import ZooShard, write_zoo
from weightzoo.zoo.zoo import Zoo

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Generated:
    """New networks decoded from sampled latents.

    Attributes:
        spec: their architecture.
        weights: ``n`` state dicts (keyed like ``build_model(spec).state_dict()``).
        latents: ``(n, T, d)`` the sampled latents.
        anchor_ids: the zoo models whose latents the sampler was fitted on, best first.
        provenance: how they were made (stored in the new zoo's ``zoo.json``).
    """

    spec: ArchSpec
    weights: list[dict[str, Tensor]]
    latents: Tensor
    anchor_ids: list[str]
    provenance: dict[str, Any] = field(default_factory=dict)


def check_request(n: int, top: float, sampler: str) -> None:
    """Validate the cheap arguments before any work.

    Raises:
        ConfigError: ``n < 1``, ``top`` outside ``(0, 1]``, or an unknown sampler.
    """
    if not isinstance(n, int) or n < 1:
        raise ConfigError(f"n: expected at least 1 model to generate, got {n!r}")
    if not (isinstance(top, int | float) and 0.0 < top <= 1.0):
        raise ConfigError(f"top: expected a fraction in (0, 1], got {top!r}")
    if sampler not in SAMPLERS:
        raise ConfigError(
            f"sampler: unknown sampler {sampler!r}; expected one of {', '.join(sorted(SAMPLERS))}"
        )


def anchor_latents(
    zoo: Zoo, encoder: Any, source: SourceModels, top: float
) -> tuple[Tensor, list[str]]:
    """Latents ``(k, T, d)`` of the top fraction of source models at their last epoch."""
    idx = select_top(source.scores, top)
    ids = [source.model_ids[i] for i in idx]
    epoch = int(source.final["epoch"].max())
    by_epoch: dict[int, list[str]] = {}
    for mid in ids:
        by_epoch.setdefault(int(source.final.set_index("model_id").loc[mid, "epoch"]), []).append(
            mid
        )
    nets = []
    for ep, mids in by_epoch.items():
        stacked = zoo.stacked(ep, mids)
        nets.extend((source.spec, {k: v[i] for k, v in stacked.items()}) for i in range(len(mids)))
    order = [m for mids in by_epoch.values() for m in mids]
    log.debug("anchors at epoch %d: %s", epoch, order)
    lat = encoder.latent(nets)
    # Back to best-first order.
    pos = {m: i for i, m in enumerate(order)}
    return lat[[pos[m] for m in ids]], ids


def sample_latents(
    anchors: Tensor, sampler: str, n: int, seed: int, params: dict[str, Any] | None = None
) -> Tensor:
    """``n`` latents ``(n, T, d)`` drawn by a sampler fitted on anchors ``(k, T, d)``."""
    s = build_sampler(sampler, **(params or {}))
    flat = anchors.reshape(anchors.shape[0], -1).double().numpy()
    rng = np.random.default_rng(derive_seed(seed, "generate", sampler))
    z = s.fit(flat).sample(n, rng)
    return torch.from_numpy(z).float().reshape(n, *anchors.shape[1:])


def generate(
    zoo: Zoo,
    encoder: Any,
    *,
    sampler: str = "kde",
    sampler_params: dict[str, Any] | None = None,
    top: float = 0.3,
    n: int = 100,
    seed: int = 0,
    source: SourceModels | None = None,
    data: SplitData | None = None,
) -> Generated:
    """Sample ``n`` new networks from a decoding encoder fitted on ``zoo``.

    Args:
        zoo: the source zoo.
        encoder: a fitted ``hyperrep`` (``can_decode``).
        sampler: a name in ``SAMPLERS``.
        sampler_params: keyword parameters of the sampler.
        top: fit the sampler on this fraction of the best source models.
        n: networks to generate.
        seed: seeds the sampler.
        source: the source models (default: the zoo's models of the encoder's architecture).
        data: training inputs for BatchNorm recalibration (loaded from the zoo when needed).

    Raises:
        ConfigError: bad ``n``, ``top`` or sampler name.
        WeightzooError: an encoder that cannot decode, a zoo without models of its
            architecture, or a ``top`` that selects no model (all before decoding).
    """
    check_request(n, top, sampler)
    spec = check_decoder(encoder)
    source = source or source_models(zoo, spec=spec)
    check_architecture(encoder, source.spec)
    select_top(source.scores, top)  # fail on an empty selection before encoding anything
    anchors, ids = anchor_latents(zoo, encoder, source, top)
    latents = sample_latents(anchors, sampler, n, seed, sampler_params)
    calib = None
    if any("running_mean" in k for k in _state_names(spec)):
        calib = (data or zoo_data(zoo)).x_train
    weights = decode_latents(encoder, latents, calibration_x=calib)
    provenance = {
        "method": "hyper-representation sampling (Schürholt et al. 2022)",
        "url": "https://arxiv.org/abs/2209.14733",
        "source_zoo": str(zoo.root),
        "source_zoo_name": zoo.name,
        "encoder": getattr(encoder, "name", "hyperrep"),
        "encoder_params": {
            k: v for k, v in getattr(encoder, "params", {}).items() if k != "device"
        },
        "sampler": sampler,
        "sampler_params": dict(sampler_params or {}),
        "seed": seed,
        "top": top,
        "anchors": ids,
        "anchor_score": source.score_column,
        "n": n,
    }
    return Generated(
        spec=source.spec, weights=weights, latents=latents, anchor_ids=ids, provenance=provenance
    )


def _state_names(spec: ArchSpec) -> list[str]:
    from weightzoo.arch import build_model

    return list(build_model(spec).state_dict())


def write_generated_zoo(
    generated: Generated,
    out: str | Path,
    *,
    data: SplitData,
    settings: dict[str, Any],
    name: str | None = None,
    provenance: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Zoo:
    """Write generated networks as a zoo: epoch 0 holds the generated weights.

    Metrics of epoch 0 are the generated models' loss and accuracy on the
    source zoo's train/val/test split, with no training.

    Args:
        generated: the result of ``generate``.
        out: the new zoo's folder.
        data: the source zoo's dataset.
        settings: training settings recorded as each model's hyperparameters
            (those a fine-tune would use; see ``finetune_settings``).
        name: the new zoo's name.
        provenance: extra provenance (e.g. the encoder's path), merged over the generated one.
        overwrite: replace an existing zoo at ``out``.
    """
    n = len(generated.weights)
    pop = make_population(generated.spec, settings, range(n), generated.weights)
    metrics = split_metrics(pop, data)
    stacked = {k: torch.stack([w[k] for w in generated.weights]) for k in generated.weights[0]}
    seed = int(generated.provenance.get("seed", 0))
    hps = [
        {
            **{
                k: settings[k]
                for k in ("init", "bias_init", "init_std", "lr", "weight_decay", "momentum")
            },
            "optimizer": settings["optimizer"],
            "batch_size": settings["batch_size"],
            "activation": generated.spec.activation,
            "dropout": 0.0,
            "seed": seed,
            "sampler": generated.provenance.get("sampler"),
            "sample_index": i,
        }
        for i in range(n)
    ]
    shard = ZooShard(
        spec=generated.spec,
        model_ids=[f"g{i:05d}" for i in range(n)],
        hyperparameters=hps,
        weights={0: stacked},
        metrics={0: metrics},
    )
    prov = {**generated.provenance, **(provenance or {})}
    return write_zoo(
        out,
        [shard],
        name=name or f"{generated.provenance.get('source_zoo_name', 'zoo')}-generated",
        dataset={**data.info, "name": data.name},
        provenance=prov,
        overwrite=overwrite,
    )


def default_settings(source: SourceModels) -> dict[str, Any]:
    """Training settings of the best source model (used for fine-tuning generated models)."""
    return finetune_settings(source.final.iloc[0].to_dict())


__all__ = [
    "Generated",
    "anchor_latents",
    "check_request",
    "default_settings",
    "generate",
    "sample_latents",
    "write_generated_zoo",
]
