"""Google OR-Tools CP-SAT: the same program in pure integer arithmetic.

Everything CP-SAT sees is an integer, so no tolerance is involved anywhere:

- units ``x_i`` and the budget, group rows: integers as given;
- each stage's epigraph variable ``t_i`` is an integer in ``[floor_value_i, max(F_i(lo),
  F_i(hi))]`` (a convex cost is largest at an end of its range) above the integer cuts;
- a ratio order ``x_i / w_i >= x_j / w_j`` is written, for every ``i`` of a better grade and
  ``j`` of the next worse one, as ``x_i * W_j >= x_j * W_i`` with the weights as exact
  fractions (the decimal the weight was written as; denominators over 10**6 are rounded to
  the nearest fraction with a denominator up to 10**6) cross-multiplied to integers;
- a finished stage is bounded by ``objective <= v`` exactly (no margin needed).

The search is deterministic: one worker and a fixed seed.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from optimizer.entitlement import IntArray
from optimizer.model import Cuts, IntegerProgram
from optimizer.result import Status
from optimizer.solvers.base import Backend, RunResult, Session

SEED = 0
# CP-SAT requires every domain inside [-2**62, 2**62]
_DOMAIN_LIMIT = 2**62 - 1


def weight_fraction(weight: float) -> Fraction:
    """A positive weight as an exact fraction of its shortest decimal form (``1.1`` is 11/10,
    not the binary float), with the denominator limited to 10**6."""
    return Fraction(repr(float(weight))).limit_denominator(10**6)


def cross_coefficients(w_better: float, w_worse: float) -> tuple[int, int]:
    """``(a, b)`` with ``x_i / w_better >= x_j / w_worse`` exactly ``a * x_i >= b * x_j``."""
    better, worse = weight_fraction(w_better), weight_fraction(w_worse)
    # x_i * worse >= x_j * better, times both denominators
    a = worse.numerator * better.denominator
    b = better.numerator * worse.denominator
    common = math.gcd(a, b) or 1
    return a // common, b // common


def status_of(code: Any) -> Status:
    """CP-SAT's solve status as an Allot status: FEASIBLE means stopped (by the time limit)
    with a solution; UNKNOWN means stopped without one."""
    from ortools.sat.python import cp_model

    table = {
        cp_model.OPTIMAL: Status.OPTIMAL,
        cp_model.FEASIBLE: Status.FEASIBLE,
        cp_model.INFEASIBLE: Status.INFEASIBLE,
        cp_model.UNKNOWN: Status.TIME_LIMIT,
        cp_model.MODEL_INVALID: Status.ERROR,
    }
    return table.get(code, Status.ERROR)


class CpSatBackend(Backend):
    """OR-Tools CP-SAT (exact integer arithmetic)."""

    name = "cp-sat"

    @classmethod
    def available(cls) -> bool:
        try:
            from ortools.sat.python import cp_model  # noqa: F401
        except ImportError:
            return False
        return True

    @classmethod
    def version(cls) -> str:
        import ortools

        return str(ortools.__version__)

    def open(self, program: IntegerProgram, cuts: tuple[Cuts, ...]) -> Session:
        return _CpSatSession(program, cuts)


class _CpSatSession(Session):
    def __init__(self, program: IntegerProgram, cuts: tuple[Cuts, ...]) -> None:
        from ortools.sat.python import cp_model

        self._cp = cp_model
        self.program = program
        self.model = model = cp_model.CpModel()
        self.valid = True
        n = program.size
        lo, hi = program.lo.tolist(), program.hi.tolist()
        self.x = [model.new_int_var(lo[i], hi[i], f"x{i}") for i in range(n)]
        linear = cp_model.LinearExpr
        model.add(linear.sum(self.x) == program.budget)
        for row in program.sums:
            total = linear.sum([self.x[i] for i in row.index.tolist()])
            if row.lower is not None:
                model.add(total >= row.lower)
            if row.upper is not None:
                model.add(total <= row.upper)
        self.t: list[list[Any]] = []
        for stage, cut in enumerate(cuts):
            self.t.append(self._epigraph(stage, cut, lo, hi))
        for order in program.orders:
            for better, worse in zip(order.levels, order.levels[1:], strict=False):
                for i in better.tolist():
                    for j in worse.tolist():
                        a, b = cross_coefficients(order.weight[i], order.weight[j])
                        model.add(a * self.x[i] >= b * self.x[j])
        self.rank = program.cost.tertiary(np.arange(n)).tolist()
        self.stage = -1

    def _epigraph(self, stage: int, cut: Cuts, lo: list[int], hi: list[int]) -> list[Any]:
        """Integer ``t_i`` above every cut of recipient ``i``, within its exact range."""
        n = self.program.size
        owner = cut.owner.tolist()
        slope = cut.slope.tolist()
        intercept = cut.intercept.tolist()
        floor = cut.floor_value.tolist()
        top = list(floor)
        for o, s, c in zip(owner, slope, intercept, strict=True):
            top[o] = max(top[o], c + s * lo[o], c + s * hi[o])
        if any(abs(v) > _DOMAIN_LIMIT for v in floor + top):
            self.valid = False
        t = [
            self.model.new_int_var(
                max(floor[i], -_DOMAIN_LIMIT), min(top[i], _DOMAIN_LIMIT), f"t{stage}_{i}"
            )
            for i in range(n)
        ]
        for o, s, c in zip(owner, slope, intercept, strict=True):
            self.model.add(t[o] - s * self.x[o] >= c)
        return t

    def _expression(self, stage: int) -> Any:
        linear = self._cp.LinearExpr
        if stage < len(self.t):
            return linear.sum(self.t[stage])
        return linear.weighted_sum(self.x, self.rank)

    def set_objective(self, stage: int) -> None:
        self.stage = stage
        if stage < 0:
            self.model.clear_objective()
        else:
            self.model.minimize(self._expression(stage))

    def bound_objective(self, stage: int, value: int) -> None:
        self.model.add(self._expression(stage) <= int(value))

    def run(self, time_limit_s: float) -> RunResult:
        cp_model = self._cp
        if not self.valid:
            return RunResult(Status.ERROR, None, None, None)
        solver = cp_model.CpSolver()
        params = solver.parameters
        params.num_workers = 1
        params.random_seed = SEED
        params.max_time_in_seconds = max(float(time_limit_s), 0.001)
        params.log_search_progress = False
        code = solver.solve(self.model)
        status = status_of(code)
        if status not in (Status.OPTIMAL, Status.FEASIBLE):
            return RunResult(status, None, None, None)
        x: IntArray = np.array([solver.value(v) for v in self.x], dtype=np.int64)
        self._hint(solver, x)
        objective: float | None = None
        bound: float | None = None
        if self.stage >= 0:
            objective = float(self._stage_value(x))
            bound = float(solver.best_objective_bound)
        return RunResult(status, x.astype(np.float64), objective, bound)

    def _stage_value(self, x: IntArray) -> int:
        """The exact integer objective of the current stage at ``x`` (``objective_value`` is
        a float, inexact beyond 2**53)."""
        if self.stage < len(self.t):
            return self.program.stage_values(x)[self.stage]
        return sum(r * int(v) for r, v in zip(self.rank, x.tolist(), strict=True))

    def _hint(self, solver: Any, x: IntArray) -> None:
        """Start the next stage from this solution (still feasible under the new bound)."""
        self.model.clear_hints()
        for var, value in zip(self.x, x.tolist(), strict=True):
            self.model.add_hint(var, value)
        for stage in self.t:
            for var in stage:
                self.model.add_hint(var, solver.value(var))
