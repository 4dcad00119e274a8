"""The hyper-representation transformer autoencoder over per-neuron tokens."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from weightzoo.weightspace.layout import LayerInfo
from weightzoo.weightspace.tokens import neuron_tokens, tokens_to_weights


def _transformer(d_model: int, heads: int, depth: int, dropout: float) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        d_model, heads, 4 * d_model, dropout=dropout, batch_first=True, norm_first=True
    )
    return nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)


class HyperRepModule(nn.Module):
    """Encoder and decoder for one architecture.

    Tokens are the layers' per-neuron tokens, zero-padded to the widest one:
    ``(B, T, W)``. Each layer has its own linear embedding and output map;
    a learned position embedding per token and a layer embedding tell the
    transformer where a token sits.

    ``forward(weights)`` returns the embedding ``(B, L * latent_dim)``: the
    latent tokens mean-pooled within each layer, concatenated over layers.
    """

    def __init__(
        self,
        layers: list[LayerInfo],
        *,
        d_model: int,
        heads: int,
        depth: int,
        latent_dim: int,
        proj_dim: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.layers = layers
        self.sizes = [layer.fan_out for layer in layers]
        self.widths = [layer.neuron_width for layer in layers]
        self.max_width = max(self.widths)
        total = sum(self.sizes)
        layer_index = torch.repeat_interleave(torch.arange(len(layers)), torch.tensor(self.sizes))
        self.register_buffer("layer_index", layer_index, persistent=False)
        valid = torch.zeros(total, self.max_width, dtype=torch.bool)
        for i, (lo, w) in enumerate(zip(self._starts(), self.widths, strict=True)):
            valid[lo : lo + self.sizes[i], :w] = True
        self.register_buffer("valid", valid, persistent=False)
        self.embed = nn.ModuleList(nn.Linear(w, d_model) for w in self.widths)
        self.unembed = nn.ModuleList(nn.Linear(d_model, w) for w in self.widths)
        self.position = nn.Parameter(0.02 * torch.randn(total, d_model))
        self.layer_embed = nn.Embedding(len(layers), d_model)
        self.encoder = _transformer(d_model, heads, depth, dropout)
        self.to_latent = nn.Linear(d_model, latent_dim)
        self.from_latent = nn.Linear(latent_dim, d_model)
        self.decoder = _transformer(d_model, heads, depth, dropout)
        self.out_norm = nn.LayerNorm(d_model)
        emb = len(layers) * latent_dim
        self.projection = nn.Sequential(nn.Linear(emb, emb), nn.ReLU(), nn.Linear(emb, proj_dim))

    def _starts(self) -> list[int]:
        starts, s = [], 0
        for n in self.sizes:
            starts.append(s)
            s += n
        return starts

    # -- tokens <-> weights ----------------------------------------------------
    def tokenize(self, weights: dict[str, Tensor]) -> Tensor:
        """Batched weights -> padded tokens ``(B, T, W)``."""
        toks = neuron_tokens(weights, self.layers)
        return torch.cat([F.pad(t, (0, self.max_width - t.shape[-1])) for t in toks], dim=1)

    def detokenize(self, tokens: Tensor) -> dict[str, Tensor]:
        """Padded tokens ``(B, T, W)`` -> batched weights."""
        parts = torch.split(tokens, self.sizes, dim=1)
        return tokens_to_weights(
            [p[..., :w] for p, w in zip(parts, self.widths, strict=True)], self.layers
        )

    # -- encoder / decoder -----------------------------------------------------
    def latent(self, tokens: Tensor) -> Tensor:
        """Padded tokens ``(B, T, W)`` -> latent tokens ``(B, T, latent_dim)``."""
        parts = torch.split(tokens, self.sizes, dim=1)
        x = torch.cat(
            [emb(p[..., :w]) for emb, p, w in zip(self.embed, parts, self.widths, strict=True)], 1
        )
        x = x + self.position + self.layer_embed(self.layer_index)
        return self.to_latent(self.encoder(x))

    def decode(self, z: Tensor) -> Tensor:
        """Latent tokens ``(B, T, latent_dim)`` -> padded tokens ``(B, T, W)`` (zeros in the padding)."""
        x = self.from_latent(z) + self.position + self.layer_embed(self.layer_index)
        x = self.out_norm(self.decoder(x))
        parts = torch.split(x, self.sizes, dim=1)
        toks = [
            F.pad(un(p), (0, self.max_width - w))
            for un, p, w in zip(self.unembed, parts, self.widths, strict=True)
        ]
        return torch.cat(toks, dim=1)

    def pool(self, z: Tensor) -> Tensor:
        """Per-layer mean of the latent tokens, concatenated: ``(B, T, d) -> (B, L*d)``."""
        return torch.cat([p.mean(dim=1) for p in torch.split(z, self.sizes, dim=1)], dim=1)

    def forward(self, weights: dict[str, Tensor]) -> Tensor:
        """Standardized batched weights -> embeddings ``(B, L * latent_dim)``."""
        return self.pool(self.latent(self.tokenize(weights)))

    def reconstruction_loss(self, recon: Tensor, target: Tensor) -> Tensor:
        """Mean squared error per layer on real entries, averaged over layers.

        Inputs are standardized per layer with the training zoo's statistics,
        so this is the layer-wise normalized loss of Schürholt et al. 2022.
        """
        err = (recon - target).pow(2) * self.valid
        per_token = err.sum(-1)  # (B, T)
        losses = [
            p.sum(1) / (n * w)
            for p, n, w in zip(
                torch.split(per_token, self.sizes, dim=1), self.sizes, self.widths, strict=True
            )
        ]
        return torch.stack(losses, 1).mean()


def nt_xent(a: Tensor, b: Tensor, temperature: float = 0.1) -> Tensor:
    """NT-Xent (Chen et al. 2020, https://arxiv.org/abs/2002.05709) between views ``(B, d)``."""
    z = F.normalize(torch.cat([a, b]), dim=1)
    sim = z @ z.T / temperature
    n = a.shape[0]
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), -torch.inf)
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)
