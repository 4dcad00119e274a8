"""SNE's pad-chunk step: every layer flattened, zero-padded to a multiple of the
chunk size and cut into chunks (Andreis et al., NeurIPS 2024,
https://arxiv.org/abs/2305.16625).

Networks of different architectures become one flat list of chunks with
integer labels (network, layer, chunk within layer, layer kind), so a batch
costs memory in proportion to its chunks, never to its widest layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import torch
from torch import Tensor

from weightzoo.weightspace.layout import WeightLayout
from weightzoo.weightspace.tokens import neuron_tokens


@dataclass(frozen=True)
class Chunks:
    """The chunks of a batch of networks.

    Attributes:
        values: ``(C, chunk_size)`` weights, zero where padded.
        mask: ``(C, chunk_size)`` bool, True where an entry holds a weight.
        net: ``(C,)`` network index in the batch.
        layer: ``(C,)`` layer index within its network (0 = first layer).
        segment: ``(C,)`` index of the (network, layer) pair, 0..S-1, in order.
        position: ``(C,)`` chunk index within its layer.
        kind: ``(C,)`` layer kind index (``LAYER_KINDS``).
        num_layers: ``(N,)`` layers per network.
        segment_layer: ``(S,)`` layer index of each segment; ``segment_net`` ``(S,)`` its network;
            ``segment_kind`` ``(S,)`` its layer kind.
    """

    values: Tensor
    mask: Tensor
    net: Tensor
    layer: Tensor
    segment: Tensor
    position: Tensor
    kind: Tensor
    num_layers: Tensor
    segment_layer: Tensor
    segment_net: Tensor
    segment_kind: Tensor

    def __len__(self) -> int:
        return self.values.shape[0]

    def to(self, device: torch.device | str) -> Chunks:
        """The same chunks on ``device``."""
        return Chunks(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


def layer_vectors(weights: dict[str, Tensor], layout: WeightLayout) -> list[Tensor]:
    """Each layer flattened neuron by neuron (a neuron's incoming weights, then its bias)."""
    return [t.flatten() for t in neuron_tokens(weights, layout.layers())]


def pad_chunk(nets: Sequence[tuple[dict[str, Tensor], WeightLayout]], chunk_size: int) -> Chunks:
    """Pad and chunk every layer of every network.

    Args:
        nets: ``(weights, layout)`` per network; architectures may differ.
        chunk_size: entries per chunk.

    Returns:
        The chunks of all networks, in network then layer order.
    """
    vals, masks = [], []
    net_ids, layer_ids, seg_ids, positions, kinds = [], [], [], [], []
    seg_layer, seg_net, seg_kind, num_layers = [], [], [], []
    seg = 0
    for n, (weights, layout) in enumerate(nets):
        layers = layout.layers()
        num_layers.append(len(layers))
        for li, (info, vec) in enumerate(zip(layers, layer_vectors(weights, layout), strict=True)):
            count = -(-vec.numel() // chunk_size)
            pad = count * chunk_size - vec.numel()
            vals.append(torch.nn.functional.pad(vec, (0, pad)).view(count, chunk_size))
            m = torch.ones(count * chunk_size, dtype=torch.bool)
            if pad:
                m[-pad:] = False
            masks.append(m.view(count, chunk_size))
            for lst, v in ((net_ids, n), (layer_ids, li), (seg_ids, seg), (kinds, info.kind_index)):
                lst.append(torch.full((count,), v, dtype=torch.long))
            positions.append(torch.arange(count))
            seg_layer.append(li)
            seg_net.append(n)
            seg_kind.append(info.kind_index)
            seg += 1
    long = lambda x: torch.tensor(x, dtype=torch.long)  # noqa: E731
    return Chunks(
        values=torch.cat(vals),
        mask=torch.cat(masks),
        net=torch.cat(net_ids),
        layer=torch.cat(layer_ids),
        segment=torch.cat(seg_ids),
        position=torch.cat(positions),
        kind=torch.cat(kinds),
        num_layers=long(num_layers),
        segment_layer=long(seg_layer),
        segment_net=long(seg_net),
        segment_kind=long(seg_kind),
    )
