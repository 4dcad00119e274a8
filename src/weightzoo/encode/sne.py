"""SNE: set-based neural network encoding without weight tying.

Andreis et al., NeurIPS 2024, https://arxiv.org/abs/2305.16625. Pad-chunk-
encode: each layer is flattened, padded and cut into chunks; a chunk is a set
of weights encoded by a set-to-set block (SAB) and a set-to-vector block
(PMA); the chunk vectors of a layer are pooled into a layer vector, and the
layer vectors of a network into the network vector, with layer-type and
layer-position encodings added at every stage. Instead of tying weights to
the permutation symmetry, a Logit Invariance term
``λ‖f(W) − f(πW)‖²`` over random neuron permutations π (``aux_loss``) teaches
the encoder to ignore it.

Choices where the paper leaves room: chunk vectors of a layer are pooled by
a segment PMA (linear in the number of chunks, so an 11M-parameter network
fits in bounded memory; a set-to-set block over 10⁵ chunks would be
quadratic), and the invariance term is applied to the embedding ``f(W)``
that the prediction head reads (the head is Lipschitz, so invariant
embeddings give invariant logits); the output of each stage is batch-normalized
across the items of that stage (``StageNorm``) with a trainable scale and shift.
Statistics frozen at ``fit`` made end-to-end training collapse (see
``docs/encode.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from weightzoo.arch import ArchSpec
from weightzoo.encode._base import EncoderBase, params_only
from weightzoo.encode._sets import PMA, SAB, SegmentPMA, StageNorm, sinusoidal
from weightzoo.encode.base import Network
from weightzoo.encode.registry import register_encoder
from weightzoo.errors import WeightzooError
from weightzoo.weightspace.chunks import Chunks, pad_chunk
from weightzoo.weightspace.layout import LAYER_KINDS, WeightLayout
from weightzoo.weightspace.symmetry import (
    apply_permutation,
    permutation_groups,
    random_permutations,
)

SNE_URL = "https://arxiv.org/abs/2305.16625"


@dataclass(frozen=True)
class SNEBatch:
    """A collated batch: the chunks, and the standardized networks for the invariance term."""

    chunks: Chunks
    nets: tuple[tuple[object, dict[str, Tensor], WeightLayout], ...]


class SNEModule(nn.Module):
    """The hierarchical set encoder: chunks -> layer vectors -> network vector ``(N, embed_dim)``."""

    def __init__(
        self,
        *,
        chunk_size: int,
        element_dim: int,
        element_heads: int,
        dim: int,
        heads: int,
        embed_dim: int,
        chunk_batch: int,
    ) -> None:
        super().__init__()
        self.dim, self.element_dim, self.chunk_batch = dim, element_dim, chunk_batch
        kinds = len(LAYER_KINDS)
        # The chunk stage sees every weight, so it dominates the cost of big networks: it
        # runs at a narrower width than the stages above it.
        self.element = nn.Linear(1, element_dim)
        self.element_pos = nn.Embedding(chunk_size, element_dim)
        # One layer-type embedding per stage: the stages see different features.
        self.kind_chunk = nn.Embedding(kinds, element_dim)
        self.kind_layer, self.kind_net = nn.Embedding(kinds, dim), nn.Embedding(kinds, dim)
        self.chunk_sab = SAB(element_dim, element_heads)
        self.chunk_pma = PMA(element_dim, element_heads)
        self.chunk_out = nn.Linear(element_dim, dim)
        self.layer_pma = SegmentPMA(dim, heads)
        self.net_sab, self.net_pma = SAB(dim, heads), PMA(dim, heads)
        self.head = nn.Linear(dim, embed_dim)
        self.norm_chunk, self.norm_layer, self.norm_net = (
            StageNorm(dim),
            StageNorm(dim),
            StageNorm(dim),
        )
        # Structure encodings start small so they do not drown the weight values: with
        # unit-scale encodings the embeddings of different networks start nearly equal.
        for emb in (self.element_pos, self.kind_chunk, self.kind_layer, self.kind_net):
            nn.init.normal_(emb.weight, std=0.1)
        self.pe_scale = nn.Parameter(torch.full((3,), 0.1))

    def _encode_chunks(self, values: Tensor, mask: Tensor, kind: Tensor, layer: Tensor) -> Tensor:
        x = self.element(values.unsqueeze(-1)) + self.element_pos.weight
        structure = self.kind_chunk(kind) + self.pe_scale[0] * sinusoidal(layer, self.element_dim)
        x = x + structure.unsqueeze(1)
        x = x * mask.unsqueeze(-1)
        x = self.chunk_sab(x, ~mask)
        return self.chunk_out(self.chunk_pma(x, ~mask))

    def forward(self, chunks: Chunks | SNEBatch) -> Tensor:
        """Embeddings ``(N, embed_dim)`` of the networks in ``chunks`` (or a collated batch).

        Chunks go through the chunk encoder ``chunk_batch`` at a time, so in
        inference peak memory is bounded by that micro-batch plus one
        ``dim``-vector per chunk (with autograd every micro-batch's activations
        are kept for the backward pass).
        """
        if isinstance(chunks, SNEBatch):
            chunks = chunks.chunks
        parts = []
        for s in range(0, len(chunks), self.chunk_batch):
            sl = slice(s, s + self.chunk_batch)
            parts.append(
                self._encode_chunks(
                    chunks.values[sl], chunks.mask[sl], chunks.kind[sl], chunks.layer[sl]
                )
            )
        cv = self.norm_chunk(torch.cat(parts))
        pe = sinusoidal(chunks.layer, self.dim) + sinusoidal(chunks.position, self.dim)
        cv = cv + self.kind_layer(chunks.kind) + self.pe_scale[1] * pe
        num_segments = len(chunks.segment_layer)
        lv = self.norm_layer(self.layer_pma(cv, chunks.segment, num_segments))  # (S, dim)
        lv = (
            lv
            + self.kind_net(chunks.segment_kind)
            + self.pe_scale[2] * sinusoidal(chunks.segment_layer, self.dim)
        )
        n, lmax = len(chunks.num_layers), int(chunks.num_layers.max())
        padded = lv.new_zeros(n, lmax, self.dim).index_put(
            (chunks.segment_net, chunks.segment_layer), lv
        )
        pad = torch.arange(lmax, device=lv.device) >= chunks.num_layers.unsqueeze(1)
        x = self.net_sab(padded, pad)
        return self.head(self.norm_net(self.net_pma(x, pad)))

    @torch.no_grad()
    def calibrate(self, chunks: Chunks) -> None:
        """Set the running statistics of every ``StageNorm`` from one forward pass over
        training networks (a data-dependent init; training then updates them)."""
        norms = [m for m in self.modules() if isinstance(m, StageNorm)]
        for m in norms:
            m.calibrating = True
        try:
            self(chunks)
        finally:
            for m in norms:
                m.calibrating = False


@register_encoder("sne", url=SNE_URL, any_architecture=True)
class SNEEncoder(EncoderBase):
    """Set-based neural network encoder (any architecture, several in one batch).

    Args:
        chunk_size: weights per chunk.
        element_dim: width of the chunk stage (set blocks over the weights of one chunk).
        element_heads: its attention heads.
        dim: width of the layer and network stages.
        heads: attention heads of the layer and network stages.
        embed_dim: size of the network embedding.
        invariance: λ of the Logit Invariance term (0 turns it off).
        chunk_batch: chunks per micro-batch inside the forward pass (bounds memory).
        calibrate_nets: training networks ``fit`` uses to set the stage normalizations.
        device: where the module runs.
    """

    def __init__(
        self,
        *,
        chunk_size: int = 32,
        element_dim: int = 16,
        element_heads: int = 2,
        dim: int = 32,
        heads: int = 4,
        embed_dim: int = 64,
        invariance: float = 1.0,
        chunk_batch: int = 4096,
        calibrate_nets: int = 64,
        device: str = "cpu",
    ) -> None:
        super().__init__(
            {
                "chunk_size": chunk_size,
                "element_dim": element_dim,
                "element_heads": element_heads,
                "dim": dim,
                "heads": heads,
                "embed_dim": embed_dim,
                "invariance": invariance,
                "chunk_batch": chunk_batch,
                "calibrate_nets": calibrate_nets,
                "device": device,
            },
            embed_dim=embed_dim,
            device=device,
        )
        self.module = self._build_module()
        self._generator = torch.Generator().manual_seed(0)
        self._spec_layouts: dict[ArchSpec, WeightLayout | None] = {}

    def _build_module(self) -> SNEModule:
        p = self.params
        return SNEModule(
            chunk_size=p["chunk_size"], element_dim=p["element_dim"],
            element_heads=p["element_heads"], dim=p["dim"], heads=p["heads"],
            embed_dim=p["embed_dim"], chunk_batch=p["chunk_batch"],
        ).to(self.device)  # fmt: skip

    def fit(
        self,
        nets: Sequence[Network],
        *,
        seed: int = 0,
        epochs: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> SNEEncoder:
        """Fit the per-layer standardization and calibrate the stage normalizations on training
        networks (one forward pass; the module's weights train end to end in ``weightzoo.predict``)."""
        self._fit_common(nets)
        torch.manual_seed(seed)
        self.module = self._build_module()
        self._generator = torch.Generator().manual_seed(seed)
        pick = torch.randperm(len(nets), generator=torch.Generator().manual_seed(seed))
        sample = [nets[int(i)] for i in pick[: self.params["calibrate_nets"]]]
        self.module.eval()
        self.module.calibrate(self.collate(sample).chunks)
        return self

    def collate(self, nets: Sequence[Network]) -> SNEBatch:
        """Standardize and pad-chunk networks of any architectures into one batch."""
        self._check_fitted()
        assert self.standardizer_ is not None
        prepared = []
        for spec, weights in nets:
            w = self.standardizer_.transform(
                {k: v.detach().float() for k, v in params_only(weights).items()}
            )
            prepared.append((spec, w, self._layout(spec, w)))
        chunks = pad_chunk([(w, lay) for _, w, lay in prepared], self.params["chunk_size"])
        return SNEBatch(chunks.to(self.device), tuple(prepared))

    def _layout(self, spec: ArchSpec, weights: dict[str, Tensor]) -> WeightLayout:
        """The layers in module order (from the spec) when the spec matches the weights,
        else in the order of the dict; so the layer positions do not depend on dict order."""
        given = WeightLayout.from_weights(weights)
        if spec not in self._spec_layouts:
            try:
                self._spec_layouts[spec] = WeightLayout.from_spec(spec)
            except WeightzooError:
                self._spec_layouts[spec] = None
        canonical = self._spec_layouts[spec]
        if canonical is not None and dict(canonical.entries) == dict(given.entries):
            return canonical
        return given

    def permuted(self, batch: SNEBatch) -> SNEBatch:
        """The batch with an independent random neuron permutation per network.

        Networks of a family without a layer list (no known symmetry here) stay as they are.
        """
        out = []
        for spec, w, layout in batch.nets:
            try:
                groups = permutation_groups(spec)  # type: ignore[arg-type]
            except WeightzooError:
                groups = []
            w = apply_permutation(w, groups, random_permutations(groups, self._generator))
            out.append((spec, w, layout))
        chunks = pad_chunk([(w, lay) for _, w, lay in out], self.params["chunk_size"])
        return SNEBatch(chunks.to(self.device), tuple(out))

    def aux_loss(self, batch: SNEBatch) -> Tensor:
        """Logit Invariance: ``λ · mean_n ‖f(W_n) − f(π W_n)‖²``."""
        lam = float(self.params["invariance"])
        if lam == 0:
            return torch.zeros((), device=self.device)
        assert self.module is not None
        diff = self.module(batch.chunks) - self.module(self.permuted(batch).chunks)
        return lam * diff.pow(2).sum(dim=1).mean()
