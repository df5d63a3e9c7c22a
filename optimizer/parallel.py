"""Run independent tasks in parallel and get their results back in order.

Sweeps, robustness samples and sensitivity searches are many independent solves. They run

* inline, one after the other, with ``jobs=1`` (or a single task);
* on ``jobs`` local worker processes (:class:`concurrent.futures.ProcessPoolExecutor`,
  started by a fork server that has imported the solver once, so workers start fast and
  never inherit a parent's solver threads);
* on a Dask cluster with ``scheduler="tcp://host:8786"`` (``dask.distributed``; its workers
  need the same version of ``allot`` installed).

The result list is always in the order of ``items``, whatever order the tasks finish in, so
that the answer never depends on ``jobs`` or on the scheduler. ``fn`` must be a module-level
function and every item picklable; items are best small dataclasses (Dask reads a tuple whose
first element is callable as a task of its own).
"""

from __future__ import annotations

import functools
import importlib
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

from optimizer.errors import InputError, Problem

__all__ = ["CONNECT_TIMEOUT_S", "Progress", "default_jobs", "run_tasks"]

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int, int], None]
"""Called in the calling process after each finished task with (done, total)."""

CONNECT_TIMEOUT_S = 10
"""How long to wait for a Dask scheduler to answer."""


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def run_tasks(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> list[R]:
    """``[fn(item) for item in items]``, computed inline, on ``jobs`` processes (default: the
    cores) or on the Dask cluster at ``scheduler``."""
    if jobs is not None and jobs < 1:
        raise InputError([Problem("jobs", f"must be at least 1 (got {jobs})")])
    total = len(items)
    if scheduler is not None:
        return _on_dask(fn, items, scheduler, progress)
    workers = min(jobs or default_jobs(), total)
    if workers <= 1:
        results = []
        for done, item in enumerate(items, 1):
            results.append(fn(item))
            if progress is not None:
                progress(done, total)
        return results
    slots: list[Any] = [None] * total
    with ProcessPoolExecutor(max_workers=workers, mp_context=_context()) as pool:
        futures = {pool.submit(fn, item): index for index, item in enumerate(items)}
        for done, future in enumerate(as_completed(futures), 1):
            slots[futures[future]] = future.result()
            if progress is not None:
                progress(done, total)
    return slots


@functools.cache
def _context() -> BaseContext:
    """A fork server that has imported the solver: workers fork from it (fast) rather than
    from the caller, whose solver or Dask threads a fork would copy in an unknown state."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["optimizer.solve", "highspy"])
    return context


def _on_dask(
    fn: Callable[[T], R], items: Sequence[T], address: str, progress: Progress | None
) -> list[R]:
    # imported on use (a second of start-up otherwise); untyped, hence Any
    distributed: Any = importlib.import_module("distributed")
    try:
        client = distributed.Client(address, timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=False)
    except (OSError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(
            [Problem("scheduler", f"cannot reach the Dask scheduler at {address}: {reason}")]
        ) from None
    try:
        futures = client.map(fn, list(items), pure=False)
        for done, _ in enumerate(distributed.as_completed(futures, loop=client.loop), 1):
            if progress is not None:
                progress(done, len(futures))
        results: list[R] = client.gather(futures)
    finally:
        client.close()
    return results
