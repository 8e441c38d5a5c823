"""Executors: the local one (:class:`~iqa_bench.runner.Runner`) and a distributed one on Ray.

``RayExecutor`` (optional extra ``iqa-bench[ray]``) submits one task per (dataset, metric, chunk,
attack or certifier, preset) — a shard of the grid — with the GPU resources you ask for. Workers
compute rows only; the driver writes every finished unit to the store in one transaction, so the
resumability of local runs holds unchanged (a killed driver or worker loses only unfinished units,
and a restart skips what is done).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from .config import BenchConfig
from .planning import Unit
from .progress import StepProgress
from .runner import Runner, RunSummary
from .store import ResultStore

_WORKER_RUNNERS: dict[str, Runner] = {}


def _compute_shard(
    config: BenchConfig, units: list[Unit], setup: Callable[[], None] | None
) -> list[tuple[Unit, list[dict[str, Any]], list[dict[str, Any]], float]]:
    """Worker side: compute the rows of a shard's units (the Runner is cached per worker process)."""
    if setup is not None:
        setup()
    key = config.fingerprint()
    if key not in _WORKER_RUNNERS:
        runner = Runner(config, store=None, progress=False)  # type: ignore[arg-type]  # workers never write
        runner.load()
        _WORKER_RUNNERS[key] = runner
    runner = _WORKER_RUNNERS[key]
    out = []
    for unit in units:
        start = time.perf_counter()
        results, certificates = runner.compute(unit)
        out.append((unit, results, certificates, time.perf_counter() - start))
    return out


def shards(units: list[Unit]) -> list[list[Unit]]:
    """Group units by (dataset, metric, chunk, component, preset): one Ray task each."""
    groups: dict[tuple[Any, ...], list[Unit]] = defaultdict(list)
    for unit in units:
        groups[(unit.dataset, unit.metric, unit.chunk, unit.component, unit.preset)].append(unit)
    return list(groups.values())


class RayExecutor:
    """Run a config's grid on a Ray cluster (``address=None`` starts a local instance).

    ``num_gpus`` / ``num_cpus`` are the resources of each task; ``max_in_flight`` bounds the tasks
    submitted at once (results are written as they arrive); ``worker_setup`` runs in each worker
    before computing (e.g. to register in-process plugins); ``init_kwargs`` go to ``ray.init``.
    """

    def __init__(
        self,
        config: BenchConfig,
        store: ResultStore,
        *,
        address: str | None = None,
        num_gpus: float = 0.0,
        num_cpus: float = 1.0,
        max_in_flight: int = 64,
        worker_setup: Callable[[], None] | None = None,
        progress: bool = True,
        say: Callable[[str], None] | None = None,
        init_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.address = address
        self.num_gpus = num_gpus
        self.num_cpus = num_cpus
        self.max_in_flight = max(1, max_in_flight)
        self.worker_setup = worker_setup
        self.progress = progress
        self.say = say or (lambda _m: None)
        self.init_kwargs = init_kwargs or {}

    def run(self) -> RunSummary:
        try:
            import ray
        except ImportError as error:
            raise RuntimeError("the Ray executor needs Ray: pip install 'iqa-bench[ray]'") from error
        start = time.perf_counter()
        driver = Runner(self.config, self.store, progress=False, say=self.say)
        todo, summary = driver.prepare_run()
        if not todo:
            summary.seconds = time.perf_counter() - start
            return summary
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False, **self.init_kwargs)
        try:
            task = ray.remote(num_gpus=self.num_gpus, num_cpus=self.num_cpus)(_compute_shard)
            pending_shards = shards(todo)
            in_flight: list[Any] = []
            with StepProgress("units (ray)", len(todo), enabled=self.progress) as bar:
                done = 0
                while pending_shards or in_flight:
                    while pending_shards and len(in_flight) < self.max_in_flight:
                        in_flight.append(task.remote(self.config, pending_shards.pop(0), self.worker_setup))
                    ready, in_flight = ray.wait(in_flight, num_returns=1)
                    for unit, results, certificates, seconds in ray.get(ready[0]):
                        driver.record(unit, results, certificates, summary)
                        summary.compute_seconds += seconds
                        done += 1
                        bar.callback(done, len(todo))
        finally:
            if started_here:
                ray.shutdown()
        summary.seconds = time.perf_counter() - start
        return summary
