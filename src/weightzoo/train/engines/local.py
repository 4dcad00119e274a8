"""The local engine: shards one after another in this process, or in worker processes.

Several worker processes of one torch thread each beat one process of many
threads for the small matrices of a zoo (on 2 cores, 2 x 1 ran about 28%
faster than 1 x 2 for the CNN loop; ``benchmarks/local_workers.py``). Workers
are spawned (not forked: torch's thread pools do not survive a fork), receive
the dataset once, and die with the parent. A worker that dies (OOM killer,
SIGKILL) breaks the pool: the unfinished shards are resubmitted to a new pool
up to ``max_retries`` times, each resuming from its last complete epoch.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import multiprocessing as mp
import os
import queue
import signal
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from weightzoo._threads import torch_threads
from weightzoo.errors import WeightzooError
from weightzoo.train.engines import ShardProgress, register_engine
from weightzoo.zoo._io import as_zoo_path, is_process_local

if TYPE_CHECKING:
    from weightzoo.config import ZooConfig
    from weightzoo.data import SplitData
    from weightzoo.train.shard import ShardJob

log = logging.getLogger(__name__)

# Worker processes pay ~2-3 s each to start (importing torch), and on 2 cores a
# 10 s CNN-s build was no faster with 2 workers than with 2 threads: below this
# much estimated training work (FLOPs; the 216-MLP demo is ~3e11) ``workers:
# auto`` trains in this process.
PARALLEL_MIN_FLOPS = 1e12


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@functools.lru_cache(maxsize=32)
def _flops_per_sample(spec_json: str) -> float:
    from weightzoo.arch import ArchSpec, build_model

    spec = ArchSpec.from_dict(json.loads(spec_json))
    x = torch.randn(2, *spec.input_shape)
    # Counted, not guessed from the parameter count: a conv weight is used at
    # every position, so 6 x params underestimates a CNN-s by ~100x.
    with FlopCounterMode(display=False) as counter:
        build_model(spec)(x).sum().backward()
    return counter.get_total_flops() / 2


def estimated_flops(jobs: Sequence[ShardJob], n_train: int) -> float:
    """Training FLOPs of the jobs (forward + backward, counted by PyTorch per architecture)."""
    return sum(
        _flops_per_sample(json.dumps(j.plan["spec"], sort_keys=True)) * n_train * j.model_epochs
        for j in jobs
    )


def choose_layout(
    n_jobs: int,
    flops: float,
    workers: int | str = "auto",
    threads: int | None = None,
    cores: int | None = None,
) -> tuple[int, int]:
    """Worker processes and torch threads per worker.

    ``auto``: one process when there is one shard or little work, else one
    worker per core (at most one per shard); threads default to
    ``cores // workers`` so that workers x threads = cores.

    Returns:
        ``(workers, threads)``.
    """
    cores = cores or available_cores()
    if workers == "auto":
        w = 1 if n_jobs <= 1 or flops < PARALLEL_MIN_FLOPS else min(n_jobs, cores)
    else:
        w = max(1, min(int(workers), n_jobs))
    return w, threads or max(1, cores // w)


@dataclass
class LocalEngine:
    """Runs shards in this process (``workers == 1``) or in a pool of worker processes."""

    workers: int | str = "auto"
    threads: int | None = None
    max_retries: int = 3
    name: str = "local"

    def run(
        self, jobs: Sequence[ShardJob], data: SplitData, progress: ShardProgress | None = None
    ) -> None:
        """Train every job; see the module docstring for the crash behaviour.

        Raises:
            WeightzooError: a shard's worker died more than ``max_retries`` times.
        """
        if not jobs:
            return
        w, t = choose_layout(
            len(jobs), estimated_flops(jobs, int(data.x_train.shape[0])), self.workers, self.threads
        )
        if w > 1 and is_process_local(as_zoo_path(jobs[0].root)):
            log.info("memory:// is private to this process: training in-process")
            w = 1
        if w == 1:
            log.info("local engine: %d shard(s) in this process", len(jobs))
            ctx = torch_threads(t) if self.threads else contextlib.nullcontext()
            with ctx:
                for job in jobs:
                    job.run(data, _counter(job.shard, progress))
            return
        log.info("local engine: %d shard(s) on %d workers x %d threads", len(jobs), w, t)
        self._run_pool(list(jobs), data, w, t, progress)

    def _run_pool(
        self,
        jobs: list[ShardJob],
        data: SplitData,
        workers: int,
        threads: int,
        progress: ShardProgress | None,
    ) -> None:
        ctx = mp.get_context("spawn")
        messages = ctx.Queue()
        todo = list(jobs)
        for attempt in range(self.max_retries + 1):
            try:
                with ProcessPoolExecutor(
                    max_workers=min(workers, len(todo)),
                    mp_context=ctx,
                    initializer=_init_worker,
                    initargs=(threads, data, messages),
                ) as pool:
                    pending = {pool.submit(_run_job, job): job for job in todo}
                    while pending:
                        done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                        _drain(messages, progress)
                        for fut in done:
                            job = pending.pop(fut)
                            fut.result()  # re-raises the worker's error, or BrokenProcessPool
                            todo.remove(job)
                    _drain(messages, progress)
                return
            except BrokenProcessPool:
                log.warning(
                    "a worker process died (attempt %d of %d); resuming %d shard(s)",
                    attempt + 1,
                    self.max_retries + 1,
                    len(todo),
                )
        raise WeightzooError(
            f"worker processes died {self.max_retries + 1} times while training shards "
            f"{', '.join(j.shard for j in todo)}; rerun the same command to resume "
            "(fewer --workers use less memory)"
        )


def _counter(shard: str, progress: ShardProgress | None):  # noqa: ANN202
    done = 0

    def on_epoch(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(shard, done)

    return on_epoch


def _drain(messages: Any, progress: ShardProgress | None) -> None:
    while True:
        try:
            shard, done = messages.get_nowait()
        except queue.Empty:
            return
        if progress is not None:
            progress(shard, done)


# -- inside a worker process ---------------------------------------------------
_WORKER: dict[str, Any] = {}


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when its parent dies, so an orphan never
    keeps writing into a zoo that a rerun is resuming."""
    with contextlib.suppress(Exception):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _init_worker(threads: int, data: SplitData, messages: Any) -> None:
    _die_with_parent()
    torch.set_num_threads(threads)
    _WORKER.update(data=data, messages=messages)


def _run_job(job: ShardJob) -> str:
    messages = _WORKER["messages"]
    job.run(_WORKER["data"], _counter(job.shard, lambda s, d: messages.put((s, d))))
    return job.shard


@register_engine("local")
def local_engine(config: ZooConfig) -> LocalEngine:
    """The local engine with the config's workers, threads and retries."""
    return LocalEngine(
        workers=config.workers, threads=config.threads_per_worker, max_retries=config.max_retries
    )
