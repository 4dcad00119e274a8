"""``Population``: the models of one shard, trained together.

Every model keeps its own init seed, data order, learning rate, weight decay,
momentum and dropout rate. The loss of the population is the sum of the
models' mean batch losses: models share no parameter, so one backward pass
gives each model exactly the gradient of its own loss.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.func import functional_call

from weightzoo.arch import ArchSpec, arch_layers, build_model, init_model
from weightzoo.errors import ConfigError
from weightzoo.seeding import generator
from weightzoo.train.batched import population_forward
from weightzoo.train.optim import PopulationOptimizer

log = logging.getLogger(__name__)

STRATEGIES = ("auto", "batched", "loop", "vmap")


@dataclass(frozen=True)
class ModelHP:
    """Training hyperparameters of one model (those that may differ within a shard)."""

    seed: int
    init: str = "kaiming_uniform"
    bias_init: str = "zeros"
    init_std: float = 0.1
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    dropout: float = 0.0


def init_single(spec: ArchSpec, hp: ModelHP) -> torch.nn.Module:
    """The initialized module of one model: depends on its spec and seed only."""
    model = build_model(spec.replace(dropout=hp.dropout))
    return init_model(
        model,
        hp.init,
        bias_init=hp.bias_init,
        init_std=hp.init_std,
        generator=generator(hp.seed, "init"),
    )


def choose_strategy(spec: ArchSpec, requested: str = "auto") -> str:
    """Pick how a shard runs its models.

    ``batched`` (grouped channels_last convolutions, ``bmm`` linears) for every
    layer-IR family; ``loop`` (one forward per model through
    ``functional_call``, one backward and one optimizer step for all) for the
    others, e.g. the BatchNorm ResNet. ``vmap`` exists for comparison in the
    benchmark; it cannot carry BatchNorm running statistics.
    """
    if requested not in STRATEGIES:
        raise ConfigError(
            f"train.strategy: expected one of {', '.join(STRATEGIES)}, got {requested!r}"
        )
    has_ir = arch_layers(spec) is not None
    if requested == "auto":
        return "batched" if has_ir else "loop"
    if requested == "batched" and not has_ir:
        raise ConfigError(
            f"train.strategy: 'batched' needs a layer-IR family; {spec.family!r} is not one"
        )
    return requested


class Population:
    """M models of one architecture and optimizer family.

    Args:
        spec: the shared architecture (its dropout is replaced per model).
        optimizer: ``"adam"`` or ``"sgd"``.
        hps: one ``ModelHP`` per model.
        batch_size: training batch size shared by the shard.
        strategy: see ``choose_strategy``.
        shared_data_order: all models see the same batches (seeded by ``shard_seed``).
        shard_seed: seed of the shard-level randomness (dropout masks, shared order).
        device: torch device.
    """

    def __init__(
        self,
        spec: ArchSpec,
        optimizer: str,
        hps: list[ModelHP],
        *,
        batch_size: int,
        strategy: str = "auto",
        shared_data_order: bool = False,
        shard_seed: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        self.spec, self.hps, self.batch_size = spec, list(hps), batch_size
        self.M = len(self.hps)
        self.device = torch.device(device)
        self.strategy = choose_strategy(spec, strategy)
        self.layers = arch_layers(spec)
        modules = [init_single(spec, hp) for hp in self.hps]
        # Per-model module skeletons, used by the module-based strategies only.
        self.templates = modules if self.strategy != "batched" else []
        states = [m.state_dict() for m in modules]
        names = [n for n, _ in modules[0].named_parameters()]
        # One (M, P) leaf holds every parameter; named views are cut per step.
        self.layout: list[tuple[str, tuple[int, ...], int, int]] = []
        offset = 0
        for n in names:
            shape = tuple(states[0][n].shape)
            size = states[0][n].numel()
            self.layout.append((n, shape, offset, size))
            offset += size
        self.flat = torch.stack([torch.cat([s[n].reshape(-1) for n in names]) for s in states]).to(
            self.device
        )
        # Leaf views into the flat buffer: autograd gives one gradient per
        # parameter (a slice backward into an (M, P) zero tensor per parameter
        # was a third of the MLP step), and optimizer updates of ``flat`` are
        # seen by the views without copies.
        self._leaves = {
            n: self.flat[:, off : off + size].view(self.M, *shape).requires_grad_()
            for n, shape, off, size in self.layout
        }
        self.buffers = {
            n: torch.stack([s[n] for s in states]).to(self.device)
            for n in states[0]
            if n not in names
        }
        self.optimizer = PopulationOptimizer(
            optimizer,
            self.flat,
            lr=self._vec("lr"),
            weight_decay=self._vec("weight_decay"),
            momentum=self._vec("momentum"),
        )
        self.dropout = self._vec("dropout")
        if self.strategy == "vmap" and len({hp.dropout for hp in self.hps}) > 1:
            raise ConfigError(
                "train.strategy: 'vmap' needs one dropout rate per shard; use 'batched' or 'loop'"
            )
        self.shared_data_order = shared_data_order
        if shared_data_order:
            self.data_gens = [generator(shard_seed, "data")]
        else:
            self.data_gens = [generator(hp.seed, "data") for hp in self.hps]
        # Dropout masks are drawn where the activations live (CPU or GPU).
        self.dropout_gen = generator(shard_seed, "dropout", device=self.device)
        self.alive = torch.ones(self.M, dtype=torch.bool, device=self.device)
        self.stopped_epoch = torch.full((self.M,), -1, dtype=torch.int64)

    @property
    def params(self) -> dict[str, torch.Tensor]:
        """name -> ``(M, *shape)`` leaf views of the flat parameter buffer."""
        return self._leaves

    def _vec(self, field: str) -> torch.Tensor:
        return torch.tensor(
            [getattr(hp, field) for hp in self.hps], dtype=torch.float32, device=self.device
        )

    # -- forward ---------------------------------------------------------
    def forward(self, x: torch.Tensor, *, train: bool, shared_input: bool = False) -> torch.Tensor:
        """Logits ``(M, B, C)`` for ``x`` of shape ``(M, B, ...)`` or shared ``(B, ...)``."""
        params = self.params
        if self.strategy == "batched":
            assert self.layers is not None
            return population_forward(
                self.layers,
                params,
                x,
                activation=self.spec.activation,
                num_models=self.M,
                shared_input=shared_input,
                dropout=self.dropout if train else None,
                generator=self.dropout_gen,
            )
        if shared_input:
            x = x.unsqueeze(0).expand(self.M, *x.shape)
        if not train:
            return self._module_forward(params, x, train)
        # Modules draw dropout masks from the global RNG: seed it from the
        # shard's generator (saved with the resume state) and restore it after,
        # so a resumed run draws the same masks and user code sees no change.
        seed = int(
            torch.randint(2**62, (1,), generator=self.dropout_gen, device=self.device).item()
        )
        with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
            torch.manual_seed(seed)
            return self._module_forward(params, x, train)

    def _module_forward(
        self, params: dict[str, torch.Tensor], x: torch.Tensor, train: bool
    ) -> torch.Tensor:
        if self.strategy == "vmap":
            return self._vmap_forward(params, x, train)
        outs = []
        for m, module in enumerate(self.templates):
            module.train(train)
            tensors = {n: p[m] for n, p in params.items()}
            # Buffer views: BatchNorm updates running stats in place, in the stack.
            tensors.update({n: b[m] for n, b in self.buffers.items()})
            outs.append(functional_call(module, tensors, (x[m],)))
        return torch.stack(outs)

    def _vmap_forward(
        self, params: dict[str, torch.Tensor], x: torch.Tensor, train: bool
    ) -> torch.Tensor:
        if self.buffers:
            raise ConfigError(
                "train.strategy: 'vmap' cannot train modules with buffers (BatchNorm)"
            )
        module = self.templates[0]
        module.train(train)
        # vmap needs one rate for all models; mixed dropout rates use 'batched' or 'loop'.
        fn: Callable = lambda p, xb: functional_call(module, p, (xb,))  # noqa: E731
        return torch.func.vmap(fn, randomness="different")(params, x)

    # -- training --------------------------------------------------------
    def epoch_order(self, n: int) -> torch.Tensor:
        """Per-model permutations of the training set for one epoch, ``(M, n)``."""
        perms = [torch.randperm(n, generator=g) for g in self.data_gens]
        perm = torch.stack(perms)
        if self.shared_data_order:
            perm = perm.expand(self.M, n)
        return perm.to(self.device)

    def train_epoch(self, x: torch.Tensor, y: torch.Tensor, epoch: int) -> None:
        """One pass over ``(x, y)`` for every live model.

        Args:
            x: ``(N, *input_shape)`` training inputs on ``self.device``.
            y: ``(N,)`` labels.
            epoch: the epoch being trained (1-based), recorded when a model diverges.
        """
        n = x.shape[0]
        perm = self.epoch_order(n)
        for start in range(0, n, self.batch_size):
            idx = perm[:, start : start + self.batch_size]
            if self.shared_data_order:
                xb, yb = x[idx[0]], y[idx[0]].expand(self.M, -1)
                logits = self.forward(xb, train=True, shared_input=True)
            else:
                xb, yb = x[idx], y[idx]
                logits = self.forward(xb, train=True)
            b = logits.shape[1]
            losses = (
                F.cross_entropy(logits.reshape(self.M * b, -1), yb.reshape(-1), reduction="none")
                .view(self.M, b)
                .mean(1)
            )
            self._mark_diverged(~torch.isfinite(losses.detach()), epoch)
            if not bool(self.alive.any()):
                return
            total = torch.where(self.alive, losses, torch.zeros_like(losses)).sum()
            grads = torch.autograd.grad(total, list(self._leaves.values()))
            grad = torch.cat([g.reshape(self.M, -1) for g in grads], dim=1)
            self.optimizer.step(self.flat, grad, self.alive)

    def _mark_diverged(self, bad: torch.Tensor, epoch: int) -> None:
        newly = bad & self.alive
        if bool(newly.any()):
            self.stopped_epoch[newly.cpu()] = epoch
            self.alive &= ~newly
            log.info("models %s diverged at epoch %d", newly.nonzero().flatten().tolist(), epoch)

    def check_finite_params(self, epoch: int) -> None:
        """Flag models whose weights stopped being finite."""
        self._mark_diverged(~torch.isfinite(self.flat).all(1), epoch)

    @torch.no_grad()
    def evaluate(
        self, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean loss and accuracy of every model on ``(x, y)``, in eval mode.

        Returns:
            ``(loss, acc)``, each ``(M,)`` float64.
        """
        loss_sum = torch.zeros(self.M, dtype=torch.float64, device=self.device)
        correct = torch.zeros(self.M, dtype=torch.float64, device=self.device)
        for start in range(0, x.shape[0], batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            logits = self.forward(xb, train=False, shared_input=True)
            b = logits.shape[1]
            loss = F.cross_entropy(
                logits.reshape(self.M * b, -1), yb.repeat(self.M), reduction="none"
            ).view(self.M, b)
            loss_sum += loss.double().sum(1)
            correct += (logits.argmax(-1) == yb).double().sum(1)
        n = max(x.shape[0], 1)
        return loss_sum / n, correct / n

    # -- persistence -----------------------------------------------------
    def weights(self) -> dict[str, torch.Tensor]:
        """Stacked parameters and buffers, detached, on the CPU."""
        with torch.no_grad():
            out = {n: p.detach().cpu().contiguous() for n, p in self.params.items()}
        out.update({n: b.detach().cpu().contiguous() for n, b in self.buffers.items()})
        return out

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Everything needed to continue training bit-for-bit."""
        state = {f"param.{k}": v for k, v in self.weights().items()}
        state.update(
            {f"optim.{k}": v.detach().cpu() for k, v in self.optimizer.state_tensors().items()}
        )
        state["rng.data"] = torch.stack([g.get_state() for g in self.data_gens])
        state["rng.dropout"] = self.dropout_gen.get_state()
        state["alive"] = self.alive.cpu().to(torch.uint8)
        state["stopped_epoch"] = self.stopped_epoch.clone()
        return state

    @torch.no_grad()
    def load_state_tensors(self, state: dict[str, torch.Tensor]) -> None:
        """Restore from ``state_tensors()``."""
        for k, p in self.params.items():
            p.copy_(state[f"param.{k}"])  # views: writes land in self.flat
        for k, b in self.buffers.items():
            b.copy_(state[f"param.{k}"])
        self.optimizer.load_state_tensors(
            {
                k[len("optim.") :]: v.to(self.device)
                for k, v in state.items()
                if k.startswith("optim.")
            }
        )
        # clone(): a row of the stacked states is a view with a storage offset,
        # which Generator.set_state misreads (torch 2.13 crashes on it).
        for g, s in zip(self.data_gens, state["rng.data"], strict=True):
            g.set_state(s.clone())
        self.dropout_gen.set_state(state["rng.dropout"].clone())
        self.alive.copy_(state["alive"].bool())
        self.stopped_epoch.copy_(state["stopped_epoch"])


def steps_per_epoch(n: int, batch_size: int) -> int:
    return math.ceil(n / batch_size)
