"""ZooD (Dong et al., NeurIPS 2022, https://arxiv.org/abs/2210.09236): rank models
by leave-one-domain-out discriminability and stability, then ensemble the top-K
with Bayesian feature selection.

Typical use, with ``feats[m]`` the (N, D_m) features of model m on labelled
samples drawn from several domains::

    from weightzoo.select.zood import ZooDEnsemble, zood_rank

    table = zood_rank(feats, labels, domains)            # pandas, best first
    scores = dict(zip(table["model"], table["score"]))
    ens = ZooDEnsemble(top_k=3).fit(feats, labels, scores=scores)
    accuracy = ens.score(test_feats, test_labels)        # test_feats: same models
"""

from weightzoo.select.zood.ensemble import ZooDEnsemble, top_k_models
from weightzoo.select.zood.loo import ZOOD_URL, ZooDScore, check_domains, zood_rank, zood_score
from weightzoo.select.zood.vem import SpikeSlabFit, spike_slab_vem

__all__ = [
    "ZOOD_URL",
    "SpikeSlabFit",
    "ZooDEnsemble",
    "ZooDScore",
    "check_domains",
    "spike_slab_vem",
    "top_k_models",
    "zood_rank",
    "zood_score",
]
