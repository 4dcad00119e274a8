"""Model-level mixture of experts: a router on a pooled hidden state picks whole models.

Model-GLUE (https://arxiv.org/abs/2410.05357, Sec. 4) combines models that
cannot be merged with a *model-level mixture*: a router reads one pooled
hidden state per input and sends the input to (the top-k of) whole expert
models. The gate can be set without training as mergekit's ``hidden`` gate
mode does (https://github.com/arcee-ai/mergekit, ``mergekit/moe/router.py``):
for each expert, run example inputs of its domain through the router model,
average the hidden states (minus those of negative examples, if any), and
normalize to unit length; router logits are the dot products of an input's
hidden state with these vectors. The gate can then be trained briefly on
labelled data (only the gate; the experts stay frozen).

Experts are classifiers over one label space; the mixture outputs
``log sum_e g_e(x) softmax(expert_e(x))``, the log-probabilities of a mixture
of the experts' predictive distributions (Jacobs et al. 1991), so ``argmax``
and cross-entropy apply to it as to a single model. A uniform gate over all
experts is the plain output ensemble.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from weightzoo._threads import torch_threads
from weightzoo.errors import ConfigError, WeightzooError

__all__ = [
    "MERGEKIT_MOE_URL",
    "ModelMixture",
    "hidden_gate_vectors",
    "output_ensemble",
    "pooled_hidden",
    "train_router",
]

MERGEKIT_MOE_URL = "https://github.com/arcee-ai/mergekit/blob/main/docs/moe.md"

log = logging.getLogger(__name__)


class FlatAdam:
    """Adam over a few parameter tensors, through weightzoo's functional optimizer.

    ``torch.optim`` imports ``torch._dynamo`` on first use (seconds on two cores,
    more than training a zoo model here); ``PopulationOptimizer`` reproduces
    ``torch.optim.Adam`` exactly (tests/train/test_equivalence.py) without it.
    """

    def __init__(self, params: Sequence[nn.Parameter], lr: float) -> None:
        from weightzoo.train.optim import PopulationOptimizer

        self.params = list(params)
        self.flat = torch.cat([p.detach().reshape(-1) for p in self.params])[None].clone()
        zero = torch.zeros(1)
        self.opt = PopulationOptimizer(
            "adam", self.flat, lr=torch.tensor([float(lr)]), weight_decay=zero, momentum=zero
        )
        self._active = torch.ones(1, dtype=torch.bool)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        grad = torch.cat(
            [
                (p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                for p in self.params
            ]
        )[None]
        self.opt.step(self.flat, grad, self._active)
        offset = 0
        for p in self.params:
            p.copy_(self.flat[0, offset : offset + p.numel()].view_as(p))
            offset += p.numel()


def _last_linear(model: nn.Module) -> str:
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise WeightzooError("mixture: the router model has no nn.Linear; name a layer explicitly")
    return names[-1]


def pooled_hidden(model: nn.Module, x: Tensor, *, layer: str | None = None) -> Tensor:
    """The input of one submodule, pooled to one vector per example.

    Args:
        model: any module.
        x: ``(N, ...)`` inputs.
        layer: name of the submodule whose *input* is the hidden state
            (default: the last ``nn.Linear``, i.e. the penultimate features).

    Returns:
        ``(N, d)``: feature maps ``(N, C, *spatial)`` of a convolution are
        averaged over space; token sequences ``(N, T, d)`` of a linear layer
        are averaged over tokens.

    Raises:
        WeightzooError: no such submodule.
    """
    name = layer or _last_linear(model)
    modules = dict(model.named_modules())
    if name not in modules:
        raise WeightzooError(f"mixture: the router model has no submodule {name!r}")
    module = modules[name]
    seen: list[Tensor] = []
    handle = module.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    h = seen[0]
    if h.dim() > 2:
        h = h.flatten(2).mean(-1) if not isinstance(module, nn.Linear) else h.flatten(1, -2).mean(1)
    return h


def hidden_gate_vectors(
    router_model: nn.Module,
    examples: Sequence[Tensor],
    *,
    negative: Sequence[Tensor | None] | None = None,
    layer: str | None = None,
) -> Tensor:
    """mergekit's ``hidden`` gate initialization, one vector per expert.

    Args:
        router_model: the model whose hidden states the router reads.
        examples: per expert, ``(n_e, ...)`` inputs of its domain.
        negative: per expert, inputs it should *not* get (or None).
        layer: see ``pooled_hidden``.

    Returns:
        ``(E, d)`` unit-length gate vectors.
    """
    if not examples:
        raise ConfigError("mixture: expected example inputs for at least one expert")
    vecs = []
    for i, x in enumerate(examples):
        if x.shape[0] == 0:
            raise ConfigError(f"mixture: expert {i} has no example inputs")
        v = pooled_hidden(router_model, x, layer=layer).mean(0)
        if negative is not None and negative[i] is not None:
            v = v - pooled_hidden(router_model, negative[i], layer=layer).mean(0)
        vecs.append(v / v.norm().clamp(min=1e-8))
    return torch.stack(vecs)


class ModelMixture(nn.Module):
    """Experts (whole models) behind a linear router on a pooled hidden state.

    Args:
        experts: E classifiers with the same output size.
        router_model: computes the hidden state the router reads (often the
            base model or one of the experts); kept frozen.
        gate: ``(E, d)`` router weights (e.g. ``hidden_gate_vectors``).
        top_k: experts mixed per input; the chosen experts' softmax weights
            are renormalized (as Mixtral does).
        layer: see ``pooled_hidden``.
        temperature: divides the router logits.
    """

    def __init__(
        self,
        experts: Sequence[nn.Module],
        router_model: nn.Module,
        gate: Tensor,
        *,
        top_k: int = 1,
        layer: str | None = None,
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        if gate.dim() != 2 or gate.shape[0] != len(experts):
            raise ConfigError(
                f"mixture: gate must have shape (experts={len(experts)}, d), got {tuple(gate.shape)}"
            )
        if not 1 <= top_k <= len(experts):
            raise ConfigError(f"mixture.top_k: expected 1..{len(experts)}, got {top_k}")
        if temperature <= 0:
            raise ConfigError(f"mixture.temperature: expected > 0, got {temperature}")
        self.experts = nn.ModuleList(experts).eval().requires_grad_(False)
        self.router_model = router_model.eval().requires_grad_(False)
        self.gate = nn.Parameter(gate.detach().clone().float())
        self.top_k = top_k
        self.layer = layer
        self.temperature = temperature
        self.dense = False  # train_router mixes all experts so every gate row gets a gradient

    def router_logits(self, x: Tensor) -> Tensor:
        """``(N, E)`` router scores."""
        return (
            pooled_hidden(self.router_model, x, layer=self.layer) @ self.gate.T / self.temperature
        )

    def gates(self, x: Tensor) -> Tensor:
        """``(N, E)`` mixing weights: softmax over the top-k logits, zero elsewhere."""
        logits = self.router_logits(x)
        if self.dense or self.top_k == logits.shape[1]:
            return logits.softmax(1)
        top = logits.topk(self.top_k, dim=1)
        g = torch.zeros_like(logits)
        return g.scatter(1, top.indices, top.values.softmax(1))

    def route(self, x: Tensor) -> Tensor:
        """``(N,)`` index of the highest-scoring expert."""
        return self.router_logits(x).argmax(1)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, classes)`` log-probabilities of the gated mixture of the experts' predictions."""
        g = self.gates(x)
        probs = torch.stack([F.softmax(e(x), dim=-1) for e in self.experts], dim=1)  # (N, E, C)
        return torch.log((g.unsqueeze(-1) * probs).sum(1).clamp(min=1e-12))


def output_ensemble(experts: Sequence[nn.Module]) -> nn.Module:
    """The average of the experts' predicted probabilities (as log-probabilities)."""

    class _Ensemble(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.experts = nn.ModuleList(experts).eval()

        def forward(self, x: Tensor) -> Tensor:
            with torch.no_grad():
                probs = torch.stack([F.softmax(e(x), dim=-1) for e in self.experts]).mean(0)
            return torch.log(probs.clamp(min=1e-12))

    return _Ensemble()


def train_router(
    mixture: ModelMixture,
    x: Tensor,
    y: Tensor,
    *,
    epochs: int = 3,
    lr: float = 1e-2,
    batch_size: int = 128,
    seed: int = 0,
) -> list[float]:
    """Train only the gate on labelled data (cross-entropy of the mixture).

    During training every expert is mixed with its softmax weight (a dense
    mixture), so each gate row gets a gradient; inference goes back to top-k.

    Args:
        mixture: the mixture to train in place.
        x: ``(N, ...)`` inputs.
        y: ``(N,)`` labels.
        epochs: passes over the data.
        lr: Adam learning rate.
        batch_size: batch size.
        seed: data order.

    Returns:
        Mean training loss per epoch.
    """
    opt = FlatAdam([mixture.gate], lr)
    g = torch.Generator().manual_seed(seed)
    losses = []
    mixture.dense = True
    try:
        with torch_threads(1):
            _router_epochs(mixture, opt, x, y, epochs, batch_size, g, losses)
    finally:
        mixture.dense = False
    log.info("router training: loss %s", ", ".join(f"{v:.4f}" for v in losses))
    return losses


def _router_epochs(
    mixture: ModelMixture,
    opt: FlatAdam,
    x: Tensor,
    y: Tensor,
    epochs: int,
    batch_size: int,
    g: torch.Generator,
    losses: list[float],
) -> None:
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0], generator=g)
        total = 0.0
        for s in range(0, x.shape[0], batch_size):
            idx = perm[s : s + batch_size]
            loss = F.nll_loss(mixture(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * idx.numel()
        losses.append(total / x.shape[0])
