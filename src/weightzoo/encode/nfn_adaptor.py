"""Adaptor to the ``nfn`` package: permutation-equivariant neural functionals as an outside peer.

Zhou et al., NeurIPS 2023, https://arxiv.org/abs/2302.14040 (NFN-HNP: the
hidden-neuron-permutation variant, the one compared in SNE's tables). The
weights of a sequential network are handed to ``nfn`` as one weight-space
feature per layer, ``(B, 1, out, in, h, w)``: a 1-d kernel gets ``w = 1``, and
the linear layer after a conv + Flatten is reshaped to ``(out, channels, H*W, 1)``
so the conv's channels stay the permuted axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from weightzoo.encode._base import EncoderBase
from weightzoo.encode.base import Network
from weightzoo.encode.registry import register_encoder
from weightzoo.errors import WeightzooError
from weightzoo.weightspace.symmetry import permutation_groups

NFN_URL = "https://arxiv.org/abs/2302.14040"
INSTALL_HINT = (
    "the nfn encoder needs the nfn package: pip install nfn (or pip install 'weightzoo[nfn]')"
)


def _import_nfn() -> Any:
    try:
        import nfn.common
        import nfn.layers
    except ImportError:
        raise WeightzooError(INSTALL_HINT) from None
    return nfn


class _NFNModule(nn.Module):
    """HNPLinear -> ReLU -> HNPLinear -> ReLU -> HNPPool -> Linear: an invariant encoder."""

    def __init__(self, shapes: list[tuple[int, ...]], *, hidden: int, embed_dim: int) -> None:
        super().__init__()
        nfn = _import_nfn()
        from nfn.common import ArraySpec, NetworkSpec
        from nfn.layers import HNPLinear, HNPPool, TupleOp

        spec = NetworkSpec(
            weight_spec=[ArraySpec(s) for s in shapes],
            bias_spec=[ArraySpec((s[0],)) for s in shapes],
        )
        self.shapes = shapes
        self._features = nfn.common.WeightSpaceFeatures
        self.body = nn.Sequential(
            HNPLinear(spec, 1, hidden), TupleOp(nn.ReLU()),
            HNPLinear(spec, hidden, hidden), TupleOp(nn.ReLU()),
            HNPPool(spec),
        )  # fmt: skip
        self.head = nn.Linear(HNPPool.get_num_outs(spec) * hidden, embed_dim)

    def forward(self, batch: tuple[list[Tensor], list[Tensor]]) -> Tensor:
        weights, biases = batch
        return self.head(self.body(self._features(weights, biases)).flatten(1))


@register_encoder("nfn", url=NFN_URL, any_architecture=False)
class NFNEncoder(EncoderBase):
    """NFN-HNP encoder on one sequential architecture (needs ``pip install nfn``).

    Args:
        hidden: channels of the equivariant layers.
        embed_dim: output size.
        device: where it runs.
    """

    def __init__(self, *, hidden: int = 16, embed_dim: int = 64, device: str = "cpu") -> None:
        _import_nfn()
        super().__init__(
            {"hidden": hidden, "embed_dim": embed_dim, "device": device},
            embed_dim=embed_dim,
            device=device,
        )
        self._shapes: list[tuple[int, ...]] | None = None

    def _nfn_shapes(self) -> list[tuple[int, ...]]:
        layers = self.layout_.layers()
        if len(layers) < 2 or any(not layer.bias for layer in layers):
            raise WeightzooError("nfn: needs at least two layers, each with a bias")
        blocks = {}
        for g in permutation_groups(self.spec_):
            nxt, _, block = g.members[-1]
            blocks[nxt[: -len(".weight")]] = (g.size, block)
        shapes = []
        for layer in layers:
            out, fan_in, *kernel = layer.weight_shape
            if layer.name in blocks and blocks[layer.name][1] > 1:
                size, block = blocks[layer.name]
                shapes.append((out, size, block, 1))
            elif kernel:
                shapes.append((out, fan_in, kernel[0], kernel[1] if len(kernel) > 1 else 1))
            else:
                shapes.append((out, fan_in))
        return shapes

    def _build_module(self) -> nn.Module:
        self._shapes = self._nfn_shapes()
        return _NFNModule(self._shapes, hidden=self.params["hidden"], embed_dim=self.embed_dim).to(
            self.device
        )

    def collate(self, nets: Sequence[Network]) -> tuple[list[Tensor], list[Tensor]]:
        """``nfn`` weight-space features: weights ``(B, 1, out, in[, h, w])`` and biases ``(B, 1, out)``."""
        w = self._standardized_stack(nets)
        assert self._shapes is not None
        weights, biases = [], []
        for layer, shape in zip(self.layout_.layers(), self._shapes, strict=True):
            weights.append(w[f"{layer.name}.weight"].reshape(len(nets), 1, *shape))
            biases.append(w[f"{layer.name}.bias"].unsqueeze(1))
        return weights, biases
