"""Hyper-representations: a transformer autoencoder over per-neuron tokens.

Schürholt et al., NeurIPS 2021 (https://arxiv.org/abs/2110.15288), 2022
(https://arxiv.org/abs/2209.14733) and SANE (ICML 2024,
https://arxiv.org/abs/2406.09997). Trained without labels on a zoo with
``γ·NT-Xent + (1−γ)·reconstruction``; the reconstruction is normalized per
layer by that layer's weight standard deviation in the training zoo. The two
views of a network are random neuron permutations of it (the same function,
other weights) with Gaussian noise and random erasing on top. The embedding
is the latent pooled within each layer; ``latent`` / ``decode`` map networks
to token latents and back, for generation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from weightzoo.encode._base import EncoderBase
from weightzoo.encode._hyperrep_model import HyperRepModule, nt_xent
from weightzoo.encode.base import Network
from weightzoo.encode.registry import register_encoder
from weightzoo.errors import ConfigError, WeightzooError
from weightzoo.weightspace.augment import gaussian_noise, permute_batch, random_erasing
from weightzoo.weightspace.symmetry import PermGroup, permutation_groups

log = logging.getLogger(__name__)

HYPERREP_URL = "https://arxiv.org/abs/2110.15288"


@register_encoder("hyperrep", url=HYPERREP_URL, any_architecture=False, can_decode=True)
class HyperRepEncoder(EncoderBase):
    """Transformer autoencoder on one architecture; trains itself in ``fit``.

    Args:
        d_model: transformer width.
        heads: attention heads.
        depth: transformer layers of the encoder and of the decoder.
        latent_dim: size of one latent token; the embedding is ``layers * latent_dim``.
        proj_dim: output of the contrastive projection head.
        gamma: weight of NT-Xent against reconstruction (0 = pure autoencoder).
        permute: whether views are random neuron permutations.
        noise: standard deviation of the Gaussian noise on standardized weights.
        erase_p: probability that a view gets a span of tokens erased.
        temperature: NT-Xent temperature.
        epochs: default training epochs of ``fit``.
        batch_size: networks per step.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        dropout: transformer dropout.
        device: where the model trains and runs.
    """

    def __init__(
        self,
        *,
        d_model: int = 64,
        heads: int = 4,
        depth: int = 2,
        latent_dim: int = 16,
        proj_dim: int = 32,
        gamma: float = 0.5,
        permute: bool = True,
        noise: float = 0.05,
        erase_p: float = 0.5,
        temperature: float = 0.1,
        epochs: int = 30,
        batch_size: int = 32,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        dropout: float = 0.0,
        device: str = "cpu",
    ) -> None:
        if not 0.0 <= gamma <= 1.0:
            raise ConfigError(f"hyperrep.gamma: expected a weight in [0, 1], got {gamma}")
        super().__init__(
            {
                "d_model": d_model, "heads": heads, "depth": depth, "latent_dim": latent_dim,
                "proj_dim": proj_dim, "gamma": gamma, "permute": permute, "noise": noise,
                "erase_p": erase_p, "temperature": temperature, "epochs": epochs,
                "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay,
                "dropout": dropout, "device": device,
            },
            embed_dim=0,
            device=device,
        )  # fmt: skip
        self.history_: list[dict[str, float]] = []

    @property
    def spec(self):  # noqa: ANN201  (ArchSpec | None)
        """The architecture this autoencoder encodes and decodes."""
        return self.spec_

    def _build_module(self) -> HyperRepModule:
        p = self.params
        layers = self.layout_.layers()
        self.embed_dim = len(layers) * p["latent_dim"]
        return HyperRepModule(
            layers, d_model=p["d_model"], heads=p["heads"], depth=p["depth"],
            latent_dim=p["latent_dim"], proj_dim=p["proj_dim"], dropout=p["dropout"],
        ).to(self.device)  # fmt: skip

    def _groups(self) -> list[PermGroup]:
        if not self.params["permute"]:
            return []
        try:
            return permutation_groups(self.spec_)
        except WeightzooError:
            log.warning(
                "hyperrep: no permutation symmetry known for %s; views use noise and erasing only",
                self.spec_.family,
            )
            return []

    def collate(self, nets: Sequence[Network]) -> dict[str, Tensor]:
        """Standardized stacked weights (``(B, ...)`` per parameter)."""
        return self._standardized_stack(nets)

    def _view(
        self, weights: dict[str, Tensor], groups: list[PermGroup], gen: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """(clean target tokens, augmented input tokens) of one view."""
        assert self.module is not None
        if groups:
            weights = permute_batch(weights, groups, gen)
        target = self.module.tokenize(weights)
        x = gaussian_noise(target, self.params["noise"], gen) * self.module.valid
        if self.params["erase_p"] > 0:
            x = random_erasing(x, gen, p=self.params["erase_p"])
        return target, x

    def fit(
        self,
        nets: Sequence[Network],
        *,
        seed: int = 0,
        epochs: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> HyperRepEncoder:
        """Fit the standardization and train the autoencoder on training networks.

        Args:
            nets: training networks, all of one architecture.
            seed: seeds the model init, batch order and augmentations.
            epochs: overrides the ``epochs`` parameter.
            progress: called with ``(epoch, epochs)`` after each epoch.

        Returns:
            self; ``history_`` holds the mean losses per epoch.
        """
        self._fit_common(nets)
        torch.manual_seed(seed)
        self.module = self._build_module()
        data = self._standardized_stack(nets)
        n, p = len(nets), self.params
        epochs = p["epochs"] if epochs is None else epochs
        gen = torch.Generator(device=self.device).manual_seed(seed)
        groups = self._groups()
        opt = torch.optim.AdamW(
            self.module.parameters(), lr=p["lr"], weight_decay=p["weight_decay"]
        )
        gamma = p["gamma"]
        self.history_ = []
        self.module.train()
        for epoch in range(epochs):
            order = torch.randperm(n, generator=gen, device=self.device)
            totals = {"loss": 0.0, "recon": 0.0, "contrastive": 0.0}
            steps = 0
            for start in range(0, n, p["batch_size"]):
                idx = order[start : start + p["batch_size"]]
                batch = {k: v[idx] for k, v in data.items()}
                t1, x1 = self._view(batch, groups, gen)
                t2, x2 = self._view(batch, groups, gen)
                z1, z2 = self.module.latent(x1), self.module.latent(x2)
                recon = 0.5 * (
                    self.module.reconstruction_loss(self.module.decode(z1), t1)
                    + self.module.reconstruction_loss(self.module.decode(z2), t2)
                )
                loss = (1 - gamma) * recon
                contrastive = torch.zeros((), device=self.device)
                if gamma > 0 and len(idx) > 1:
                    proj = self.module.projection
                    contrastive = nt_xent(
                        proj(self.module.pool(z1)), proj(self.module.pool(z2)), p["temperature"]
                    )
                    loss = loss + gamma * contrastive
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                totals["loss"] += loss.item()
                totals["recon"] += recon.item()
                totals["contrastive"] += contrastive.item()
                steps += 1
            self.history_.append({k: v / max(steps, 1) for k, v in totals.items()})
            log.debug("hyperrep epoch %d: %s", epoch + 1, self.history_[-1])
            if progress is not None:
                progress(epoch + 1, epochs)
        self.module.eval()
        return self

    # -- generation ------------------------------------------------------------
    def latent(self, nets: Sequence[Network]) -> Tensor:
        """Full token latents ``(N, T, latent_dim)`` of networks of the encoder's architecture."""
        self._check_fitted()
        assert self.module is not None
        self.module.eval()
        with torch.no_grad():
            return self.module.latent(self.module.tokenize(self.collate(nets))).cpu()

    def decode(self, latent: Tensor) -> list[dict[str, Tensor]]:
        """Latents ``(N, T, latent_dim)`` -> weights (de-standardized, keyed like ``Zoo.weights``).

        Raises:
            WeightzooError: a latent of the wrong shape.
        """
        self._check_fitted()
        assert self.module is not None and self.standardizer_ is not None
        expected = (sum(self.module.sizes), self.params["latent_dim"])
        if latent.dim() != 3 or tuple(latent.shape[1:]) != expected:
            raise WeightzooError(
                f"hyperrep.decode: latent has shape {tuple(latent.shape)}, expected (N, {expected[0]}, {expected[1]})"
            )
        self.module.eval()
        with torch.no_grad():
            tokens = self.module.decode(latent.to(self.device).float())
            weights = self.standardizer_.inverse(self.module.detokenize(tokens))
        names = self.layout_.names
        return [
            {k: weights[k][i].cpu().contiguous() for k in names} for i in range(latent.shape[0])
        ]
