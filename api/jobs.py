"""The web process's side of the run queue: runs are stored ``queued`` and executed by
workers (:mod:`api.worker`), the one this process embeds or any other sharing the database.

:class:`Jobs` starts and stops the embedded worker, wakes it when a run is stored, and lets
a request wait for its runs to finish: woken at once by the embedded worker, and by polling
the database for runs another process finishes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from sqlalchemy import select

from api import lease
from api.db import Database, Run, RunStatus
from api.settings import Settings
from api.worker import Worker

log = logging.getLogger("allot.jobs")

POLL_S = 0.25
"""How often a waiting request looks in the database for runs other processes finish."""
FINAL = [s.value for s in RunStatus if s.is_final]


class Jobs:
    """Queued runs of this service: the embedded worker (none with ``workers = 0``) and the
    requests waiting for their runs."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.worker: Worker | None = None
        if settings.workers > 0:
            self.worker = Worker(
                database,
                settings,
                concurrency=settings.workers,
                kind="embedded",
                on_finished=self._finished,
            )
        self._lock = threading.Lock()
        self._waiting: dict[int, set[threading.Event]] = {}

    def start(self) -> None:
        """Start the embedded worker (idempotent)."""
        if self.worker is not None:
            with self._lock:
                self.worker.start()

    def shutdown(self) -> None:
        """Stop the embedded worker; its runs in progress go back to the queue."""
        if self.worker is not None:
            self.worker.stop()

    def submit(self, run_id: int) -> None:
        """A run was stored ``queued`` (call after its transaction): workers look for it now
        (the embedded one directly, others by a PostgreSQL ``NOTIFY``)."""
        if self.worker is not None:
            self.start()
            self.worker.wake()
        try:
            lease.announce(self.database)
        except Exception:  # the run is stored: workers find it at their next poll anyway
            log.warning("could not announce run %d", run_id, exc_info=True)

    def wait(self, run_ids: Iterable[int], *, timeout: float) -> bool:
        """Wait until every run is final; False after ``timeout`` seconds, or at once when
        no worker is alive to execute them."""
        ids = list(run_ids)
        pending = set(ids)
        event = threading.Event()
        with self._lock:
            for run_id in ids:
                self._waiting.setdefault(run_id, set()).add(event)
        try:
            deadline = time.monotonic() + timeout
            while True:
                pending -= self._final(pending)
                if not pending:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._any_worker():
                    return False
                event.wait(min(remaining, POLL_S))
                event.clear()
        finally:
            with self._lock:
                for run_id in ids:
                    waiters = self._waiting.get(run_id)
                    if waiters is not None:
                        waiters.discard(event)
                        if not waiters:
                            del self._waiting[run_id]

    def _finished(self, run_id: int) -> None:
        with self._lock:
            for event in self._waiting.get(run_id, ()):
                event.set()

    def _final(self, run_ids: set[int]) -> set[int]:
        if not run_ids:
            return set()
        with self.database.transaction() as session:
            return set(
                session.scalars(select(Run.id).where(Run.id.in_(run_ids), Run.status.in_(FINAL)))
            )

    def _any_worker(self) -> bool:
        if self.worker is not None:
            return True
        with self.database.transaction() as session:
            return lease.live_workers(session, lease_s=self.settings.run_lease_s) > 0
