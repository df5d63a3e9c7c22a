"""HiGHS through highspy's array API: the model is passed as whole arrays (no per-term
Python objects)."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

from optimizer.model import Cuts, IntegerProgram
from optimizer.result import Status
from optimizer.solvers.base import Backend, RunResult, Session
from optimizer.solvers.rows import RowBuilder

_MARGIN = 0.5


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """HiGHS prints a banner on stdout when constructed; keep stdout clean for JSON output."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


class HighsBackend(Backend):
    """HiGHS branch-and-cut (highspy)."""

    name = "highs"

    @classmethod
    def available(cls) -> bool:
        """Whether highspy is installed, found without importing it (a solve that an exact
        path finishes never loads it: start-up time)."""
        return _installed()

    @classmethod
    def version(cls) -> str:
        import highspy

        with _quiet_stdout():
            h = highspy.Highs()  # type: ignore[no-untyped-call]
        return f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"

    def open(self, program: IntegerProgram, cuts: tuple[Cuts, ...]) -> Session:
        return _HighsSession(program, cuts)


class _HighsSession(Session):
    def __init__(self, program: IntegerProgram, cuts: tuple[Cuts, ...]) -> None:
        import highspy

        self._hs = highspy
        with _quiet_stdout():
            self.h = highspy.Highs()  # type: ignore[no-untyped-call]
        h = self.h
        for option, value in (
            ("output_flag", False),
            ("mip_rel_gap", 0.0),
            ("mip_abs_gap", _MARGIN),
            ("threads", 1),
            ("random_seed", 0),
            # presolve costs more than it saves on these models (measured: 14 recipients
            # with every rule 0.2 s -> 0.04 s; 840 programmes 2.4 s -> 1.3 s a stage)
            ("presolve", "off"),
            ("primal_feasibility_tolerance", 1e-9),
            ("mip_feasibility_tolerance", 1e-9),
        ):
            h.setOptionValue(option, value)
        self.program = program
        self._last: np.ndarray | None = None  # the last run's solution (all columns)
        self._cost_is_zero = True
        self._stage = -1
        rows = RowBuilder(program, cuts)
        self.rows = rows
        inf = highspy.kHighsInf
        lower = np.where(np.isfinite(rows.col_lower), rows.col_lower, -inf)
        upper = np.where(np.isfinite(rows.col_upper), rows.col_upper, inf)
        h.addVars(rows.num_cols, lower, upper)
        n = program.size
        h.changeColsIntegrality(
            n, np.arange(n, dtype=np.int32), np.array([highspy.HighsVarType.kInteger] * n)
        )
        self._add_rows(rows.starts, rows.index, rows.value, rows.row_lower, rows.row_upper)

    def _add_rows(self, starts: Any, index: Any, value: Any, lower: Any, upper: Any) -> None:
        inf = self._hs.kHighsInf
        self.h.addRows(
            len(lower),
            np.where(np.isfinite(lower), lower, -inf),
            np.where(np.isfinite(upper), upper, inf),
            len(index),
            starts.astype(np.int32),
            index.astype(np.int32),
            value.astype(np.float64),
        )

    def set_objective(self, stage: int) -> None:
        cost = self.rows.objective(stage)
        self._stage = stage
        self._cost_is_zero = not np.any(cost)
        self.h.changeColsCost(len(cost), np.arange(len(cost), dtype=np.int32), cost)
        self.h.changeObjectiveSense(self._hs.ObjSense.kMinimize)

    def bound_objective(self, stage: int, value: int) -> None:
        cut_stages = len(self.rows.stage_cols)
        if stage > cut_stages:  # a rank stage, -x_r <= value: a column bound, exactly
            r = int(np.flatnonzero(self.rows.objective(stage))[0])
            self.h.changeColBounds(r, float(-value), float(self.program.hi[r]))
            return
        cost = self.rows.objective(stage)
        nz = np.flatnonzero(cost)
        self._add_rows(
            np.array([0]), nz, cost[nz], np.array([-np.inf]), np.array([value + _MARGIN])
        )

    def _lp_max(self, r: int) -> float | None:
        """The largest ``x_r`` of the LP relaxation under the current rows (None if the LP
        did not solve): an upper bound on any allocation's."""
        h, n = self.h, self.program.size
        columns = np.arange(n, dtype=np.int32)
        kind = self._hs.HighsVarType
        h.changeColsIntegrality(n, columns, np.array([kind.kContinuous] * n))
        try:
            h.run()
            if h.getModelStatus() != self._hs.HighsModelStatus.kOptimal:
                return None
            return float(h.getSolution().col_value[r])
        finally:
            h.changeColsIntegrality(n, columns, np.array([kind.kInteger] * n))

    def run(self, time_limit_s: float) -> RunResult:
        h = self.h
        last = self._last
        if last is not None and self._cost_is_zero:
            # nothing to optimise (divisor methods have no secondary cost): the last
            # stage's answer satisfies every row, the new objective bound included
            return RunResult(Status.OPTIMAL, last[: self.program.size], 0.0, 0.0)
        if last is not None and self._stage > len(self.rows.stage_cols):
            # a rank stage (take as many units for r as an optimum allows): when the LP
            # relaxation cannot fit one unit more, the last answer is this stage's optimum
            r = int(np.flatnonzero(self.rows.objective(self._stage))[0])
            most = self._lp_max(r)
            if most is not None and most < last[r] + 1.0 - 1e-6:
                value = -float(round(last[r]))
                return RunResult(Status.OPTIMAL, last[: self.program.size], value, value)
        if last is not None:
            # start from the last stage's answer: it is feasible, bound rows included
            start = self._hs.HighsSolution()
            start.col_value = last.tolist()
            start.value_valid = True
            h.setSolution(start)
        h.setOptionValue("time_limit", float(time_limit_s))
        h.run()
        status = h.getModelStatus()
        ms = self._hs.HighsModelStatus
        if status in (ms.kSolveError, ms.kUnbounded, ms.kUnboundedOrInfeasible):
            # without presolve HiGHS can stop with a solve error on these models (cost
            # slopes of 1e9, tolerances of 1e-9), or call a bounded one unbounded: solve
            # that run again with presolve
            h.setOptionValue("presolve", "on")
            try:
                h.run()
            finally:
                h.setOptionValue("presolve", "off")
            status = h.getModelStatus()
        info = h.getInfo()
        has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
        values = None
        if has_solution:
            self._last = np.array(h.getSolution().col_value)
            values = self._last[: self.program.size]
        if status == ms.kOptimal:
            return RunResult(
                Status.OPTIMAL, values, info.objective_function_value, info.mip_dual_bound
            )
        if status in (ms.kInfeasible,):
            return RunResult(Status.INFEASIBLE, None, None, None)
        if status in (ms.kTimeLimit, ms.kInterrupt, ms.kIterationLimit, ms.kSolutionLimit):
            return RunResult(
                Status.TIME_LIMIT if values is None else Status.FEASIBLE,
                values,
                info.objective_function_value if has_solution else None,
                info.mip_dual_bound,
            )
        return RunResult(Status.ERROR, None, None, None)


@functools.cache
def _installed() -> bool:
    """highspy's spec, looked up once a process: each look is a few file-system calls, and
    the paradox checks choose a backend for every re-solve."""
    return importlib.util.find_spec("highspy") is not None
