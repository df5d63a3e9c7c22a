"""Solves in processes of their own, so that a worker can stop one (cancellation, the
service's time limit, a lost lease) without stopping itself, and a heavy solve never holds
the web process's interpreter.

Each worker slot keeps one solve process and sends it one run at a time; stopping a solve
ends that process, and the slot starts a fresh one for its next run. Processes come from a
``forkserver`` that has imported the optimizer once. A solve process only computes: the
worker writes the outcome to the database. It ends on its own when the worker disappears.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from typing import Any

from api.json_codec import json_text, json_value
from optimizer.errors import AllotError
from optimizer.loading import validate_data
from optimizer.paradox import paradox_checks
from optimizer.solve import solve

log = logging.getLogger("allot.worker")

PARENT_CHECK_S = 1.0
"""How often a solve process checks that the worker that started it is still there."""


@dataclass(frozen=True)
class SolveRequest:
    """What a solve process is asked to do. The scenario and the result cross the pipe as
    JSON text (:mod:`api.json_codec`): at 100,000 recipients pickling them took 1.4 s, the
    text a tenth of that."""

    body: bytes
    """The scenario as run, JSON."""
    time_limit_s: float
    memory_mb: float
    delay_s: float
    parent_pid: int
    checks: bool = True
    """Paradox checks with verdicts (a few more solves; not for sweep items)."""


@dataclass(frozen=True)
class SolveAnswer:
    """The result contract of a finished solve, or why there is none."""

    result: bytes | None
    """The result, JSON."""
    error: str | None

    def result_value(self) -> dict[str, Any] | None:
        """The result as plain values (None without one)."""
        return None if self.result is None else json_value(self.result)


def _watch_parent(pid: int) -> None:
    while True:
        time.sleep(PARENT_CHECK_S)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(3)  # the worker is gone: nobody will read the answer
        except PermissionError:
            pass


def _serve(connection: Connection, parent_pid: int) -> None:
    """The solve process: answer each request until the worker closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the worker, which stops us
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    while True:
        try:
            request: SolveRequest = connection.recv()
        except (EOFError, OSError):
            return
        connection.send(_solve(request))


def _solve(request: SolveRequest) -> SolveAnswer:
    try:
        if request.delay_s:
            time.sleep(request.delay_s)
        scenario = validate_data(json_value(request.body))
        again = functools.partial(
            solve,
            time_limit_s=min(scenario.solver.time_limit_s, request.time_limit_s),
            memory_mb=request.memory_mb,
        )
        result = again(scenario)
        if request.checks:
            variant = functools.partial(again, ties=False)  # the variants' ties are not read
            result = replace(result, checks=paradox_checks(scenario, result, variant))
        return SolveAnswer(result=json_text(result.to_dict()).encode(), error=None)
    except AllotError as exc:
        return SolveAnswer(result=None, error=f"{type(exc).__name__}: {exc}")
    except Exception:  # a solver crash must not leave the run hanging
        log.exception("the solve failed unexpectedly")
        return SolveAnswer(result=None, error="internal error while solving")


_context: ForkServerContext | None = None
_context_lock = threading.Lock()


def _forkserver() -> ForkServerContext:
    global _context
    with _context_lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])
            _context = context
        return _context


class SolveProcess:
    """One slot's solve process: :meth:`send` a run, :meth:`wait` for its answer,
    :meth:`stop` to end the solve (and the process; the next :meth:`send` starts another)."""

    RUNS_PER_PROCESS = 200
    """A process is replaced after this many runs (memory a long life may have kept)."""

    def __init__(self) -> None:
        self._process: BaseProcess | None = None
        self._connection: Connection | None = None
        self._runs = 0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def send(self, request: SolveRequest) -> None:
        """Start solving ``request`` (one at a time)."""
        if self._process is None or not self._process.is_alive():
            self.stop()
            context = _forkserver()
            self._connection, child = context.Pipe(duplex=True)
            self._process = context.Process(
                target=_serve, args=(child, request.parent_pid), daemon=True
            )
            self._process.start()
            child.close()
            self._runs = 0
        assert self._connection is not None
        self._connection.send(request)
        self._runs += 1

    def wait(self, timeout: float) -> SolveAnswer | None:
        """The answer, or None if the solve is still going after ``timeout`` seconds."""
        assert self._process is not None and self._connection is not None
        ready = wait([self._connection, self._process.sentinel], timeout)
        if not ready:
            return None
        if self._connection.poll():
            try:
                answer: SolveAnswer = self._connection.recv()
            except EOFError:
                pass
            else:
                if self._runs >= self.RUNS_PER_PROCESS:
                    self.stop()
                return answer
        self._process.join(5)
        code = self._process.exitcode
        self.stop()
        return SolveAnswer(
            result=None,
            error=f"the solve process ended without an answer (exit code {code}"
            + (", out of memory?" if code == -signal.SIGKILL else "")
            + ")",
        )

    def stop(self) -> None:
        """End the solve process, at once (a no-op when there is none)."""
        process, connection = self._process, self._connection
        self._process = self._connection = None
        if connection is not None:
            connection.close()
        if process is not None and process.is_alive():
            process.terminate()
            process.join(2)
            if process.is_alive():
                process.kill()
                process.join(2)
