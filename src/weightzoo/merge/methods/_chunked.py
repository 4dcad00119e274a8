"""Task arithmetic and TIES over large tensors in cache-sized chunks.

The whole-tensor formulas allocate several float32 copies of every tensor; on a
50M-entry embedding each pass then runs at memory speed and each fresh
allocation pays page faults. Here the inputs stay in their stored dtype and are
walked in chunks of ``CHUNK`` entries with preallocated float32 buffers, so
every elementwise step runs in L2 cache and memory stays at inputs + output.

TIES needs, per model, the magnitude of its k-th largest delta over the WHOLE
tensor. ``kth_largest_delta`` finds it exactly with one streaming pass: a random
sample brackets the threshold, the pass counts entries above the bracket and
keeps the (few) entries inside it, and a ``kthvalue`` over those gives the exact
value. Entries tied with the threshold are kept first-come in flattened order
(as ``top_k_mask``), so the result equals the whole-tensor kernel's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

CHUNK = 1 << 16
_SAMPLE = 1 << 15


def _delta_chunks(x: torch.Tensor, b: torch.Tensor, buf: torch.Tensor, tmp: torch.Tensor):  # noqa: ANN202
    n = b.numel()
    for start in range(0, n, CHUNK):
        end = min(n, start + CHUNK)
        d = buf[: end - start]
        d.copy_(x[start:end])
        t = tmp[: end - start]
        t.copy_(b[start:end])
        d.sub_(t)
        yield start, end, d


def _exact_kth(x: torch.Tensor, b: torch.Tensor, k: int) -> tuple[float, int]:
    a = (x.float() - b.float()).abs_()
    thr = float(torch.kthvalue(a, a.numel() - k + 1).values)
    return thr, k - int((a > thr).sum())


def kth_largest_delta(x: torch.Tensor, b: torch.Tensor, k: int) -> tuple[float, int]:
    """Exact k-th largest |x - b| and how many entries equal to it belong to the top k.

    Args:
        x, b: (n,) flat tensors (any float dtype); the delta is taken in float32.
        k: 1 <= k <= n.

    Returns:
        (threshold, ties_to_keep): the top k are every entry with |x-b| > threshold
        plus the first ``ties_to_keep`` entries equal to it.
    """
    n = b.numel()
    if n <= 4 * _SAMPLE:
        return _exact_kth(x, b, k)
    g = torch.Generator().manual_seed(n * 31 + k)
    idx = torch.randint(0, n, (_SAMPLE,), generator=g)
    sample = (x[idx].float() - b[idx].float()).abs_().sort().values
    # Rank of the threshold among the sorted sample, bracketed by 6 standard deviations.
    q = (n - k) / n
    r = q * _SAMPLE
    margin = 6 * math.sqrt(_SAMPLE * q * (1 - q)) + 2
    lo = float(sample[max(0, int(r - margin))])
    hi = float(sample[min(_SAMPLE - 1, int(math.ceil(r + margin)))])
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    above = 0.0
    inside = []
    buf, tmp, aux = torch.empty(CHUNK), torch.empty(CHUNK), torch.empty(CHUNK)
    flag = torch.empty(CHUNK, dtype=torch.bool)
    for start, end, d in _delta_chunks(x, b, buf, tmp):
        a = d.abs_()
        # Float-only arithmetic where possible: ops that produce or consume bool
        # tensors run several times slower on CPU. sign(relu(a - hi)) is 1 above hi.
        t = torch.sub(a, hi, out=aux[: end - start]).clamp_(min=0).sign_()
        above += float(t.sum())
        t = torch.sub(a, mid, out=aux[: end - start]).abs_()
        m = torch.le(t, half, out=flag[: end - start])
        inside.append(torch.masked_select(a, m))
    cand = torch.cat(inside)
    need = k - int(above)
    if not 1 <= need <= cand.numel():
        # The sample missed (adversarial layouts): exact selection on the whole tensor.
        return _exact_kth(x, b, k)
    thr = float(torch.kthvalue(cand, cand.numel() - need + 1).values)
    return thr, k - int(above) - int((cand > thr).sum())


def gta_chunked(
    tensors: Sequence[torch.Tensor],
    base: torch.Tensor,
    *,
    weight: Sequence[float],
    density: Sequence[float] | None,
    sign_consensus: bool,
    normalize: bool,
    scale: float,
    out_dtype: torch.dtype,
) -> torch.Tensor:
    """base + scale * combine(trim(x_i - base)) chunk by chunk (TIES / task arithmetic).

    Args:
        tensors: M (...) tensors, any float dtype.
        base: (...) tensor.
        weight: M weights.
        density: M densities for magnitude trimming, or None for no trimming.
        sign_consensus: TIES sign election and disjoint mean.
        normalize: divide by the weights that contributed (per entry with consensus).
        scale: mergekit's lambda.
        out_dtype: dtype of the result.

    Returns:
        (...) tensor of ``out_dtype``.
    """
    shape = base.shape
    b = base.reshape(-1)
    xs = [t.reshape(-1) for t in tensors]
    n = b.numel()
    cuts: list[tuple[float, int] | None] = []
    for x, dens in zip(xs, density or [1.0] * len(xs), strict=True):
        if dens >= 1:
            cuts.append(None)
        elif dens <= 0 or n == 0:
            cuts.append((math.inf, 0))
        else:
            cuts.append(kth_largest_delta(x, b, max(1, int(dens * n))))
    ties_left = [c[1] if c else 0 for c in cuts]
    w_sum = float(sum(weight))
    if abs(w_sum) < 1e-8:
        w_sum = 1.0
    out = torch.empty(n, dtype=out_dtype)
    bufs = [torch.empty(CHUNK) for _ in xs]
    bf, total, mixed, div, tmp = (torch.empty(CHUNK) for _ in range(5))
    for start in range(0, n, CHUNK):
        end = min(n, start + CHUNK)
        m = end - start
        bc = bf[:m]
        bc.copy_(b[start:end])
        tot = total[:m]
        tot.zero_()
        ds = []
        for i, x in enumerate(xs):
            d = bufs[i][:m]
            d.copy_(x[start:end])
            d.sub_(bc)
            cut = cuts[i]
            if cut is not None:
                # keep = 1 where |d| > threshold: sign(relu(|d| - threshold)), float-only.
                keep = torch.abs(d, out=tmp[:m]).sub_(cut[0])
                if ties_left[i] > 0:
                    eq = keep == 0
                    n_eq = int(eq.sum())
                    if n_eq > ties_left[i]:
                        eq &= torch.cumsum(eq, 0, dtype=torch.int32) <= ties_left[i]
                    ties_left[i] -= min(n_eq, ties_left[i])
                    keep.clamp_(min=0).sign_()
                    keep.masked_fill_(eq, 1)
                else:
                    keep.clamp_(min=0).sign_()
                d.mul_(keep)
            if weight[i] != 1:
                d.mul_(weight[i])
            tot.add_(d)
            ds.append(d)
        if sign_consensus:
            # s = elected sign, +1 where the total mass is >= 0: sign(sign(tot) + 0.5).
            # An entry agrees when d * s > 0; then d = s * relu(d * s).
            s = tot.sign_().add_(0.5).sign_()
            mx = mixed[:m]
            mx.zero_()
            dv = div[:m]
            dv.zero_()
            for i, d in enumerate(ds):
                d.mul_(s).clamp_(min=0)
                mx.add_(d)
                dv.add_(d.sign_(), alpha=weight[i])
            mx.mul_(s)
            if normalize:
                # Entries where nothing agrees have mx = 0: divide by 1 there.
                mx.div_(dv.add_(dv == 0))
            res = mx
        else:
            res = tot
            if normalize:
                res.div_(w_sum)
        if scale != 1:
            res.mul_(scale)
        res.add_(bc)
        out[start:end] = res
    return out.reshape(shape)
