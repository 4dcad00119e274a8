"""The listwise Plackett–Luce ranking loss (ListMLE), as Model Spider trains with.

Model Spider: https://arxiv.org/abs/2306.03900 ; ListMLE (Xia et al., ICML 2008).
"""

from __future__ import annotations

import torch

__all__ = ["plackett_luce_loss"]


def plackett_luce_loss(scores: torch.Tensor, ground_truth: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood of the ground-truth order under a Plackett–Luce model.

    With models sorted best-first by the ground truth (pi_1, ..., pi_M), the
    likelihood is ``prod_i exp(s_{pi_i}) / sum_{j >= i} exp(s_{pi_j})``: the
    best model is drawn first from a softmax over all, the second from the
    rest, and so on.

    Args:
        scores: (M,) or (B, M) predicted scores, higher = better.
        ground_truth: same shape, e.g. fine-tuned accuracies, higher = better.
            Ties are ordered by index (a stable sort).

    Returns:
        The loss (a scalar), averaged over the batch.
    """
    if scores.shape != ground_truth.shape:
        raise ValueError(
            f"scores {tuple(scores.shape)} and ground_truth {tuple(ground_truth.shape)} differ"
        )
    s = scores.reshape(-1, scores.shape[-1])
    g = ground_truth.reshape(s.shape)
    order = torch.sort(g, dim=1, descending=True, stable=True).indices
    ranked = torch.gather(s, 1, order)
    # logsumexp over each suffix: reverse, running logcumsumexp, reverse back.
    suffix = torch.logcumsumexp(ranked.flip(1), dim=1).flip(1)
    return (suffix - ranked).sum(1).mean()
