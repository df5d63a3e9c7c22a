"""A worker: executes queued runs (and sweep items, which are runs) from the database.

``allot worker --concurrency N`` runs one on any machine that reaches the database;
``allot serve`` embeds one unless ``--workers 0``. ``N`` slot threads each claim a run
(:mod:`api.lease`), solve it in a process of its own (:mod:`api.solve_process`) and write
the outcome while they hold the lease. A heartbeat thread renews the leases of the runs
being solved, records the worker's own heartbeat, and queues again the runs of workers
whose leases expired. Stopping a worker gives its runs back to the queue.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from api import lease
from api.db import Database, utcnow
from api.json_codec import json_text
from api.settings import Settings
from api.solve_process import SolveAnswer, SolveProcess, SolveRequest
from api.store import seconds_between

log = logging.getLogger("allot.worker")

GRACE_S = 10.0
"""A solve still going this long past the service's time limit is stopped."""
IDLE_S = 60.0
"""A slot that found nothing to do for this long ends its solve process (memory back)."""


def capped_time_limit(body: dict[str, Any], max_time_s: float) -> tuple[float, list[str]]:
    """The run's time limit under the service's maximum, and a note when it was capped."""
    asked = float((body.get("solver") or {}).get("time_limit_s") or max_time_s)
    if asked <= max_time_s:
        return asked, []
    note = (
        f"solver.time_limit_s {asked:,g} s capped at the service's maximum of "
        f"{max_time_s:,g} s per run (ALLOT_RUN_MAX_TIME_S)"
    )
    return max_time_s, [note]


class Worker:
    """Claims and executes runs until :meth:`stop`; ``on_finished(run_id)`` is called after
    each run this worker ends (the web process wakes the requests waiting for it)."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        concurrency: int,
        kind: str = "worker",
        on_finished: Callable[[int], None] | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.concurrency = concurrency
        self.kind = kind
        self.host = socket.gethostname()
        self.id = f"{self.host}:{os.getpid()}:{secrets.token_hex(3)}"
        self.on_finished = on_finished
        self.lease_s = settings.run_lease_s
        self.beat_s = max(0.1, self.lease_s / 4)
        self.check_s = min(settings.worker_poll_s, self.beat_s)
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = False
        self._solving: set[int] = set()
        self._solving_lock = threading.Lock()

    # ----------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Register in the database and start the heartbeat and slot threads."""
        if self._started:
            return
        self._stopping.clear()
        with self.database.transaction() as session:
            lease.register(
                session,
                self.id,
                host=self.host,
                pid=os.getpid(),
                kind=self.kind,
                concurrency=self.concurrency,
            )
        self._started = True
        self._threads = [
            threading.Thread(target=self._heartbeat_loop, name="allot-heartbeat", daemon=True),
            threading.Thread(target=self._listen, name="allot-listen", daemon=True),
        ] + [
            threading.Thread(target=self._slot_loop, name=f"allot-slot-{i}", daemon=True)
            for i in range(self.concurrency)
        ]
        for thread in self._threads:
            thread.start()
        log.info("worker %s started: %d solve process(es)", self.id, self.concurrency)

    def wake(self) -> None:
        """Look for queued runs now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Stop claiming, end the solves in progress and give their runs back to the queue."""
        if not self._started:
            return
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=30)
        try:
            with self.database.transaction() as session:
                lease.stopped(session, self.id)
        except Exception:
            log.exception("could not record that worker %s stopped", self.id)
        self._started = False
        log.info("worker %s stopped", self.id)

    # ----------------------------------------------------------------------- threads

    def _heartbeat_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                with self._solving_lock:
                    solving = set(self._solving)
                with self.database.transaction() as session:
                    lease.renew(session, self.id, solving, lease_s=self.lease_s)
                    lease.beat(session, self.id)
                with self.database.transaction() as session:
                    expired = lease.requeue_expired(session, lease_s=self.lease_s)
                if expired.queued:
                    log.warning("runs %s: their worker stopped; queued again", expired.queued)
                    self._wake.set()
                if expired.failed:
                    log.warning(
                        "runs %s: failed after %d attempts", expired.failed, lease.MAX_ATTEMPTS
                    )
                for run_id in expired.failed + expired.cancelled:
                    self._finished(run_id)
            except Exception:
                log.exception("heartbeat of worker %s failed", self.id)
            self._stopping.wait(self.beat_s)

    def _listen(self) -> None:
        try:
            lease.listen(self.database, self.wake, self._stopping)
        except Exception:
            log.warning("worker %s: no wake-ups from the database; polling", self.id, exc_info=True)

    def _slot_loop(self) -> None:
        process = SolveProcess()
        idle_since = time.monotonic()
        try:
            while not self._stopping.is_set():
                try:
                    self._wake.clear()
                    with self.database.transaction() as session:
                        claimed = lease.claim(session, self.id, lease_s=self.lease_s)
                    if claimed is None:
                        if time.monotonic() - idle_since > IDLE_S:
                            process.stop()
                        self._wake.wait(self.settings.worker_poll_s)
                        continue
                    self._execute(claimed, process)
                    idle_since = time.monotonic()
                except Exception:
                    log.exception("worker %s could not execute a run", self.id)
                    process.stop()
                    self._stopping.wait(self.settings.worker_poll_s)
        finally:
            process.stop()

    # ----------------------------------------------------------------------- one run

    def _execute(self, claimed: lease.Claimed, process: SolveProcess) -> None:
        with self._solving_lock:
            self._solving.add(claimed.run_id)
        try:
            self._solve(claimed, process)
        finally:
            with self._solving_lock:
                self._solving.discard(claimed.run_id)

    def _solve(self, claimed: lease.Claimed, process: SolveProcess) -> None:
        run_id = claimed.run_id
        limit, notes = capped_time_limit(claimed.body, self.settings.run_max_time_s)
        if claimed.attempt > 1:
            notes.append(f"attempt {claimed.attempt}: the worker of the previous one stopped")
        process.send(
            SolveRequest(
                body=json_text(claimed.body).encode(),
                time_limit_s=limit,
                memory_mb=self.settings.run_memory_mb,
                delay_s=self.settings.job_delay_s,
                parent_pid=os.getpid(),
                checks=not claimed.sweep_item,
            )
        )
        begun = time.perf_counter()
        deadline = time.monotonic() + limit + GRACE_S
        log.info("run %d: attempt %d, solve process %s", run_id, claimed.attempt, process.pid)
        while True:
            answer = process.wait(self.check_s)
            if answer is not None:
                break
            if self._stopping.is_set():
                process.stop()
                with self.database.transaction() as session:
                    lease.release(session, run_id, self.id)
                return
            try:
                with self.database.transaction() as session:
                    state = lease.holding(session, run_id, self.id)
            except Exception:  # the database may come back before the lease expires
                log.exception("run %d: could not check its lease", run_id)
                continue
            if not state.held:
                process.stop()
                log.warning("run %d: lease lost (another worker has it); solve stopped", run_id)
                return
            if state.cancel_requested:
                process.stop()
                with self.database.transaction() as session:
                    lease.mark_cancelled(session, run_id, self.id)
                log.info("run %d: cancelled; solve process stopped", run_id)
                self._finished(run_id)
                return
            if time.monotonic() > deadline:
                process.stop()
                answer = SolveAnswer(
                    result=None,
                    error=f"stopped: still solving {GRACE_S:g} s after the service's "
                    f"limit of {limit:,g} s per run (ALLOT_RUN_MAX_TIME_S)",
                )
                break
        self._write(claimed, answer, notes, begun)

    def _write(
        self, claimed: lease.Claimed, answer: SolveAnswer, notes: list[str], begun: float
    ) -> None:
        run_id = claimed.run_id
        timings: dict[str, Any] = {
            "queued_s": seconds_between(claimed.created_at, claimed.started_at),
            "run_s": round(time.perf_counter() - begun, 6),
            "total_s": seconds_between(claimed.created_at, utcnow()),
            "attempt": claimed.attempt,
        }
        result = answer.result_value()  # parsed before the write transaction begins
        with self.database.transaction() as session:
            if result is not None:
                timings["solve_s"] = (result.get("solver") or {}).get("seconds")
                written = lease.finish(
                    session, run_id, self.id, result, timings=timings, notes=notes
                )
            else:
                written = lease.fail(
                    session, run_id, self.id, answer.error or "failed", timings=timings, notes=notes
                )
            if not written and lease.mark_cancelled(session, run_id, self.id):
                written = True
        if written:
            self._finished(run_id)
        else:
            log.warning(
                "run %d: late result refused: worker %s no longer holds its lease", run_id, self.id
            )

    def _finished(self, run_id: int) -> None:
        if self.on_finished is not None:
            self.on_finished(run_id)
