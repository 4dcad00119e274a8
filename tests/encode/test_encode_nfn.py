"""The nfn adaptor: NFN-HNP embeddings are exactly invariant to neuron permutations."""

from __future__ import annotations

import numpy as np
import pytest
from encode_nets import make_nets, permute_nets

from weightzoo.arch import ArchSpec
from weightzoo.encode import build_encoder

pytest.importorskip("nfn", reason="nfn is not installed (pip install nfn)")


@pytest.mark.parametrize(
    "spec",
    [
        ArchSpec("mlp", (1, 40), widths=(16, 12)),
        ArchSpec("cnn1d", (1, 40), widths=(6, 5)),
        ArchSpec("cnn_s", (1, 28, 28)),
    ],
    ids=lambda s: s.family,
)
def test_nfn_embeddings_are_permutation_invariant(spec: ArchSpec) -> None:
    nets = make_nets(spec, 4)
    enc = build_encoder("nfn", hidden=8).fit(nets)
    z = enc.encode(nets)
    # Exact up to float error: the conv -> Flatten -> linear reshape keeps channels on the
    # permuted axis; a wrong reshape would break the equivariance.
    np.testing.assert_allclose(enc.encode(permute_nets(nets, seed=1)), z, atol=1e-5)
    assert np.abs(z[0] - z[1]).max() > 1e-4
