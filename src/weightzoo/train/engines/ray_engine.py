"""The Ray engine: each shard is a Ray task writing straight into the zoo location.

A task whose worker process dies is retried by Ray (``max_retries``); the retry
resumes the shard from its last complete epoch, and because epoch files are
written atomically before the resume state that counts them, a retried shard
ends with exactly the files an uninterrupted one has: none missing, none
duplicated, none half-written. The driver rebuilds the catalog at the end.

On a cluster the zoo must be a location every node reaches: a shared folder or
an fsspec URL such as ``s3://bucket/zoo``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from weightzoo.errors import ConfigError, WeightzooError
from weightzoo.train.engines import ShardProgress, register_engine
from weightzoo.zoo._io import as_zoo_path, is_process_local

if TYPE_CHECKING:
    from weightzoo.config import ZooConfig
    from weightzoo.data import SplitData
    from weightzoo.train.shard import ShardJob

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'weightzoo[ray]' to use --engine ray"


def import_ray() -> Any:
    """The ``ray`` module.

    Raises:
        ConfigError: Ray is not installed (with the install hint).
    """
    try:
        import ray
    except ImportError:
        raise ConfigError(f"engine 'ray': Ray is not installed; {INSTALL_HINT}") from None
    return ray


def _run_shard_task(job: ShardJob, data: SplitData, threads: int) -> str:
    torch.set_num_threads(threads)
    job.run(data)
    return job.shard


@dataclass
class RayEngine:
    """Sends each shard to Ray as a task of ``num_cpus`` CPUs.

    Connects to ``address`` (``"auto"``, ``"ray://host:10001"``, ...) unless Ray
    is already initialized in this process, in which case it uses that cluster;
    without an address it starts a local Ray.
    """

    address: str | None = None
    num_cpus: float = 1.0
    max_retries: int = 3
    name: str = "ray"

    def run(
        self, jobs: Sequence[ShardJob], data: SplitData, progress: ShardProgress | None = None
    ) -> None:
        """Run every job as a Ray task and wait for all of them.

        Raises:
            ConfigError: Ray missing, or a zoo location Ray workers cannot see.
            WeightzooError: a shard failed, or its worker died more than ``max_retries`` times.
        """
        ray = import_ray()
        if jobs and is_process_local(as_zoo_path(jobs[0].root)):
            raise ConfigError(
                f"engine 'ray': {jobs[0].root} lives in this process's memory; Ray workers "
                "need a folder or URL they can all reach (a shared path, s3://...)"
            )
        started = not ray.is_initialized()
        if started:
            if self.address:
                ray.init(address=self.address, logging_level=logging.WARNING)
            else:  # a private local Ray: no dashboard to serve
                ray.init(include_dashboard=False, logging_level=logging.WARNING)
        elif self.address:
            log.info("Ray is already initialized; ignoring address %s", self.address)
        try:
            self._run(ray, jobs, data, progress)
        finally:
            if started:
                ray.shutdown()

    def _run(
        self, ray: Any, jobs: Sequence[ShardJob], data: SplitData, progress: ShardProgress | None
    ) -> None:
        task = ray.remote(_run_shard_task).options(
            num_cpus=self.num_cpus, max_retries=self.max_retries, retry_exceptions=False
        )
        data_ref = ray.put(data)
        threads = max(1, int(self.num_cpus))
        pending = {task.remote(job, data_ref, threads): job for job in jobs}
        log.info("ray engine: %d shard task(s), %g CPU(s) each", len(pending), self.num_cpus)
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    job = pending.pop(ref)
                    _get(ray, ref, job, self.max_retries)
                    if progress is not None:
                        progress(job.shard, job.model_epochs)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)


def _get(ray: Any, ref: Any, job: ShardJob, retries: int) -> None:
    try:
        ray.get(ref)
    except ray.exceptions.RayTaskError as e:
        cause = getattr(e, "cause", None)
        if isinstance(cause, WeightzooError):
            raise cause from None
        raise WeightzooError(f"shard {job.shard} failed on Ray: {cause or e}") from None
    except ray.exceptions.RayError as e:
        raise WeightzooError(
            f"shard {job.shard}: its Ray worker died {retries + 1} times "
            f"({type(e).__name__}); rerun the same command to resume"
        ) from None


@register_engine("ray")
def ray_engine(config: ZooConfig) -> RayEngine:
    """The Ray engine; fails at once with the install hint when Ray is missing."""
    import_ray()
    return RayEngine(
        address=config.ray.address, num_cpus=config.ray.num_cpus, max_retries=config.max_retries
    )
