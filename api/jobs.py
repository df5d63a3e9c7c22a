"""Executing runs: one function that takes a stored run from ``running`` to ``done`` or
``failed``, and a thread pool that executes queued runs with their status persisted.

A run is solved outside any database transaction; its state changes are conditional
updates (see :mod:`api.store`), so a run is finished exactly once. Runs still queued when
the pool shuts down, and runs a dead process left behind (``api.main`` at start-up), are
marked ``failed`` with the reason ``interrupted``.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from api import store
from api.db import Database, RunStatus, utcnow
from optimizer.errors import AllotError
from optimizer.loading import validate_data
from optimizer.solve import solve

log = logging.getLogger("allot.jobs")


def execute(database: Database, run_id: int, *, queued: bool, delay_s: float = 0.0) -> None:
    """Run ``run_id`` to the end. ``queued``: it is still ``queued`` and must be taken first
    (a run already taken by another worker, or final, is left alone)."""
    if queued:
        with database.transaction() as session:
            if not store.start_run(session, run_id):
                return
    with database.transaction() as session:
        run = store.get_run(session, run_id)
        body, created_at, started_at = run.scenario_body, run.created_at, run.started_at
    begun = time.perf_counter()
    timings: dict[str, Any] = {"queued_s": store.seconds_between(created_at, started_at)}
    try:
        if delay_s:
            time.sleep(delay_s)
        result = solve(validate_data(body)).to_dict()
    except AllotError as exc:
        error = f"{type(exc).__name__}: {exc}"
        _fail(database, run_id, error, timings, begun, created_at)
        return
    except Exception:  # a solver crash must not leave the run hanging
        log.exception("run %s failed unexpectedly", run_id)
        _fail(database, run_id, "internal error while solving", timings, begun, created_at)
        return
    solver = result.get("solver") or {}
    timings["solve_s"] = solver.get("seconds")
    timings["run_s"] = round(time.perf_counter() - begun, 6)
    timings["total_s"] = store.seconds_between(created_at, utcnow())
    with database.transaction() as session:
        store.finish_run(session, run_id, result, timings=timings)


def _fail(
    database: Database,
    run_id: int,
    error: str,
    timings: dict[str, Any],
    begun: float,
    created_at: Any,
) -> None:
    timings["run_s"] = round(time.perf_counter() - begun, 6)
    timings["total_s"] = store.seconds_between(created_at, utcnow())
    with database.transaction() as session:
        store.fail_run(session, run_id, error, timings=timings)


class JobPool:
    """A fixed pool of worker threads executing queued runs."""

    def __init__(self, database: Database, *, workers: int, delay_s: float = 0.0) -> None:
        self.database = database
        self.delay_s = delay_s
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="allot-run")
        self._pending: dict[int, Future[None]] = {}
        self._lock = threading.Lock()

    def submit(self, run_id: int) -> Future[None]:
        """Queue a stored ``queued`` run (call after the transaction that stored it)."""
        future = self._executor.submit(self._work, run_id)
        with self._lock:
            self._pending[run_id] = future
        future.add_done_callback(lambda _: self._forget(run_id))
        return future

    def _forget(self, run_id: int) -> None:
        with self._lock:
            self._pending.pop(run_id, None)

    def _work(self, run_id: int) -> None:
        try:
            execute(self.database, run_id, queued=True, delay_s=self.delay_s)
        except Exception:  # the database went away: the run stays for start-up recovery
            log.exception("run %s could not be executed", run_id)

    def shutdown(self) -> None:
        """Let running runs finish, drop queued ones and mark those ``failed``."""
        with self._lock:
            waiting = list(self._pending)
        self._executor.shutdown(wait=True, cancel_futures=True)
        if not waiting:
            return
        try:
            with self.database.transaction() as session:
                for run_id in waiting:
                    store.fail_run(session, run_id, store.INTERRUPTED, states=(RunStatus.QUEUED,))
        except Exception:
            log.exception("could not mark queued runs as interrupted")
