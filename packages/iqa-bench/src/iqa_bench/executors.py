"""Executors: the local one (:class:`~iqa_bench.runner.Runner`) and a distributed one on Ray.

``RayExecutor`` (optional extra ``iqa-bench[ray]``) runs the grid on a pool of long-lived Ray
actors ("workers"), each with the CPUs / GPUs you ask for. The driver plans the grid, decodes each
chunk of images once and puts it in Ray's object store; workers receive units and the chunk's
images, never list or read a dataset, and keep their component instances (metric weights,
defences) for the whole run. Workers compute rows only: the driver writes every finished unit to
its store in one transaction, so the resumability of local runs holds unchanged (a killed driver
or worker loses only unfinished units, and a restart skips what is done). Rows are identical to a
local run's: same units, same seeds, same images.

Dispatch keeps a worker on one chunk while it has units (the chunk's shared work, f(P(x)) per
defence preset, is then computed once per worker) and spreads idle workers over the chunks with
the fewest workers on them.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from iqa_core.errors import UserError
from iqa_core.scorer import DeviceUnavailableError

from .chunk import ChunkData
from .config import BenchConfig
from .planning import Unit, dataset_items, expand_presets
from .progress import StepProgress
from .runner import Runner, RunSummary
from .store import ResultStore

ChunkKey = tuple[str, int | str]


class RayUnavailableError(UserError, ImportError):
    """Ray is not installed (it is the optional extra ``iqa-bench[ray]``)."""


def import_ray() -> Any:
    """The ``ray`` module, or a :class:`RayUnavailableError` naming the install command."""
    try:
        import ray
    except ImportError as error:
        raise RayUnavailableError(
            "the Ray executor needs Ray, which is not installed: pip install 'iqa-bench[ray]' "
            "(or run without --executor ray)"
        ) from error
    return ray


def chunk_key(unit: Unit) -> ChunkKey:
    """The images a unit evaluates: a chunk of its dataset, or a certifier's first images."""
    if unit.kind == "certify":
        return (unit.dataset, f"certify:{unit.component}")
    return (unit.dataset, unit.chunk)


def portable(data: ChunkData) -> ChunkData:
    """``data`` without the items' loaders (a demo loader holds its image: it would travel twice)."""
    strip = {item.id: replace(item, loader=None) for item in data.order}
    return ChunkData(
        [strip[item.id] for item in data.items],
        list(data.images),
        [(strip[item.id], error) for item, error in data.failed],
        order=[strip[item.id] for item in data.order],
    )


class _WorkerRunner(Runner):
    """A Runner without a store or datasets: chunks come from the driver through Ray's object store."""

    def __init__(self, config: BenchConfig) -> None:
        super().__init__(config, store=None, progress=False)  # type: ignore[arg-type]  # workers never write
        self.chunk_ref: Any = None

    def _load_chunk(self, unit: Unit) -> ChunkData:
        import ray

        data: ChunkData = ray.get(self.chunk_ref)
        return data

    def _fit(self, attack: Any, unit: Unit) -> None:
        # A trainable attack fits on dataset images outside the evaluated ones: the one case where a
        # worker lists the dataset itself (its files must be readable from the worker).
        if unit.dataset not in self.items:
            ds = next(d for d in self.config.datasets if d.name == unit.dataset)
            self.items[unit.dataset] = dataset_items(ds, self.config.seed)
        super()._fit(attack, unit)


class _Worker:
    """A Ray actor: one process, one device share, one Runner for the whole run."""

    def __init__(self, config: BenchConfig, setup: Callable[[], None] | None, threads: int) -> None:
        if setup is not None:
            setup()
        if threads > 0:
            import torch

            torch.set_num_threads(threads)
        self.runner = _WorkerRunner(expand_presets(config))

    def ready(self) -> int:
        return os.getpid()

    def compute(self, unit: Unit, chunk: list[Any]) -> tuple[Unit, list[dict[str, Any]], list[dict[str, Any]], float]:
        # ``chunk`` boxes the chunk's ObjectRef so that Ray does not resolve it: it is fetched only
        # when this worker does not hold that chunk already.
        self.runner.chunk_ref = chunk[0]
        start = time.perf_counter()
        results, certificates = self.runner.compute(unit)
        return unit, results, certificates, time.perf_counter() - start


class RayExecutor:
    """Run a config's grid on a Ray cluster (``address=None`` starts a local instance).

    ``num_gpus`` / ``num_cpus`` are the resources of each worker (one unit at a time each);
    ``max_in_flight`` caps the number of workers (default: as many as the cluster's CPUs and GPUs
    fit); ``worker_setup`` runs once in each worker before it computes (e.g. to register in-process
    plugins); ``init_kwargs`` go to ``ray.init``. After :meth:`run`, :attr:`timings` holds the
    start-up seconds (``ray_init``, ``workers_wait``: time the driver waited for its first worker
    after planning) and ``workers`` the pool size.
    """

    def __init__(
        self,
        config: BenchConfig,
        store: ResultStore,
        *,
        address: str | None = None,
        num_gpus: float = 0.0,
        num_cpus: float = 1.0,
        max_in_flight: int | None = None,
        worker_setup: Callable[[], None] | None = None,
        progress: bool = True,
        say: Callable[[str], None] | None = None,
        init_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if num_cpus < 0 or num_gpus < 0:
            raise UserError(f"num_cpus and num_gpus must be >= 0, got {num_cpus} and {num_gpus}")
        if max_in_flight is not None and max_in_flight < 1:
            raise UserError(f"max_in_flight must be >= 1 (the number of workers), got {max_in_flight}")
        self.config = config
        self.store = store
        self.address = address
        self.num_gpus = num_gpus
        self.num_cpus = num_cpus
        self.max_in_flight = max_in_flight
        self.worker_setup = worker_setup
        self.progress = progress
        self.say = say or (lambda _m: None)
        self.init_kwargs = init_kwargs or {}
        self.timings: dict[str, float] = {}

    # ------------------------------------------------------------------ pool
    def _pool_size(self, ray: Any) -> int:
        if self.max_in_flight is not None:
            return self.max_in_flight
        resources = ray.cluster_resources()
        sizes = []
        if self.num_cpus > 0:
            sizes.append(int(resources.get("CPU", 1) // self.num_cpus))
        if self.num_gpus > 0:
            sizes.append(int(resources.get("GPU", 0) // self.num_gpus))
            if not sizes[-1]:
                raise UserError(
                    f"each worker asks for {self.num_gpus} GPU but the Ray cluster has none: "
                    "start the workers' nodes with GPUs, or use --num-gpus 0"
                )
        return max(1, min(sizes) if sizes else 1)

    def _driver(self) -> tuple[Runner, bool]:
        """The driver's Runner; on the CPU when the config asks for CUDA the driver lacks (workers have it)."""
        try:
            return Runner(self.config, self.store, progress=False, say=self.say), False
        except DeviceUnavailableError:
            if self.num_gpus <= 0:
                raise
            self.say(f"the driver has no {self.config.device!r}: it plans on the CPU, workers compute on their GPUs")
            return Runner(replace(self.config, device="cpu"), self.store, progress=False, say=self.say), True

    # ------------------------------------------------------------------ run
    def run(self) -> RunSummary:
        ray = import_ray()
        start = time.perf_counter()
        started_here = not ray.is_initialized()
        if started_here:
            options = {"include_dashboard": False, "log_to_driver": False, **self.init_kwargs}
            ray.init(address=self.address, **options)
        self.timings = {"ray_init": time.perf_counter() - start}
        workers: list[Any] = []
        try:
            size = self._pool_size(ray)
            # Workers write cached adversarial images where the driver would (an absolute path).
            worker_config = replace(self.config, cache=str(self.config.cache_path.resolve()))
            actor = ray.remote(_Worker).options(
                num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_restarts=2, max_task_retries=2
            )
            threads = int(self.num_cpus) if self.num_cpus >= 1 else 1
            # The config travels once per worker (its constructor), never with a unit.
            workers = [actor.remote(worker_config, self.worker_setup, threads) for _ in range(size)]
            readiness = {w.ready.remote(): w for w in workers}  # workers start while the driver plans
            driver, on_cpu = self._driver()
            todo, summary = driver.prepare_run()
            if on_cpu:
                self.store.set_meta(
                    "config_fingerprint", replace(driver.config, device=self.config.device).fingerprint()
                )
            planned = time.perf_counter()
            self.timings["workers"] = float(size)
            if todo:
                self._dispatch(ray, driver, todo, summary, readiness, planned)
        finally:
            for worker in workers:
                ray.kill(worker)
            if started_here:
                ray.shutdown()
        summary.seconds = time.perf_counter() - start
        return summary

    def _dispatch(
        self,
        ray: Any,
        driver: Runner,
        todo: list[Unit],
        summary: RunSummary,
        readiness: dict[Any, Any],
        planned: float,
    ) -> None:
        pending: dict[ChunkKey, deque[Unit]] = {}
        for unit in todo:
            pending.setdefault(chunk_key(unit), deque()).append(unit)
        order = list(pending)
        refs: dict[ChunkKey, Any] = {}  # chunks in the object store, released when their last unit is done
        open_units = {key: len(units) for key, units in pending.items()}
        on_chunk: dict[Any, ChunkKey] = {}  # worker -> the chunk it holds
        running: dict[Any, tuple[Any, ChunkKey]] = {}  # result ref -> (worker, chunk)
        idle: list[Any] = []
        first_ready: float | None = None

        def next_chunk(worker: Any) -> ChunkKey | None:
            held = on_chunk.get(worker)
            if held is not None and pending.get(held):
                return held
            busy = [key for _, key in running.values()]
            candidates = [key for key in order if pending.get(key)]
            return min(candidates, key=busy.count) if candidates else None

        def submit(worker: Any) -> bool:
            key = next_chunk(worker)
            if key is None:
                return False
            unit = pending[key].popleft()
            if key not in refs:
                refs[key] = ray.put(portable(driver._load_chunk(unit)))
            on_chunk[worker] = key
            running[worker.compute.remote(unit, [refs[key]])] = (worker, key)
            return True

        with StepProgress("units (ray)", len(todo), enabled=self.progress) as bar:
            done = 0
            while running or any(pending.values()):
                waiting = list(running) + (list(readiness) if any(pending.values()) else [])
                if not waiting:
                    raise RuntimeError("no Ray worker is alive to run the remaining units")
                ready, _ = ray.wait(waiting, num_returns=1)
                ref = ready[0]
                if ref in readiness:
                    try:
                        ray.get(ref)
                    except ray.exceptions.RayError as error:
                        raise RuntimeError(f"a Ray worker failed to start: {error}") from None
                    idle.append(readiness.pop(ref))
                    if first_ready is None:
                        first_ready = time.perf_counter()
                else:
                    worker, key = running.pop(ref)
                    try:
                        unit, results, certificates, seconds = ray.get(ref)
                    except ray.exceptions.RayTaskError as error:
                        raise error.as_instanceof_cause() from None
                    driver.record(unit, results, certificates, summary)
                    summary.compute_seconds += seconds
                    open_units[key] -= 1
                    if not open_units[key]:
                        refs.pop(key, None)
                    idle.append(worker)
                    done += 1
                    bar.callback(done, len(todo))
                while idle and submit(idle[-1]):
                    idle.pop()
        self.timings["workers_wait"] = max(0.0, (first_ready or planned) - planned)


__all__ = ["RayExecutor", "RayUnavailableError", "chunk_key", "import_ray", "portable"]
