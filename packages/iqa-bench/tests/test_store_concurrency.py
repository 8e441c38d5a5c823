"""Processes opening one new result store at the same time (a run starting while `iqa-bench status`
or a test polls it) all get a usable store: the schema is created in one write transaction."""

from __future__ import annotations

import multiprocessing as mp

from iqa_bench.store import ResultStore


def _open(path: str, barrier: mp.synchronize.Barrier, errors: mp.Queue) -> None:
    barrier.wait()
    try:
        with ResultStore(path) as store:
            store.counts()
    except Exception as error:  # noqa: BLE001 - reported to the parent, which fails the test
        errors.put(f"{type(error).__name__}: {error}")


def test_simultaneous_opens_of_a_new_store_all_succeed(tmp_path):
    ctx = mp.get_context("fork")
    failures: list[str] = []
    for attempt in range(20):
        path = str(tmp_path / f"s{attempt}" / "results.sqlite")
        barrier, errors = ctx.Barrier(8), ctx.Queue()
        procs = [ctx.Process(target=_open, args=(path, barrier, errors)) for _ in range(8)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=120)
        while not errors.empty():
            failures.append(errors.get())
        assert all(proc.exitcode == 0 for proc in procs)
    assert not failures, failures[:3]
