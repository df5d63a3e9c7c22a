"""Google OR-Tools CP-SAT: the same program in pure integer arithmetic.

Everything CP-SAT sees is an integer, so no tolerance is involved anywhere:

- units ``x_i`` and the budget, group rows: integers as given;
- each stage's epigraph variable ``t_i`` is an integer in ``[floor_value_i, max(F_i(lo),
  F_i(hi))]`` (a convex cost is largest at an end of its range) above the integer cuts;
- a ratio order ``x_i / w_i >= x_j / w_j`` is written, for every ``i`` of a better grade and
  ``j`` of the next worse one, as ``q * x_i >= p * x_j`` with small integers that allow
  exactly the same integer points as the weights' decimal values (:func:`ratio_coefficients`;
  CBC uses the same rows);
- a finished stage is bounded by ``objective <= v`` exactly (no margin needed), written
  around the stage's answer so that the row's numbers stay small;
- a stage that prices every allocation the same (the secondary cost of divisor methods)
  is not searched: the previous answer is optimal.

The search is deterministic: one worker and a fixed seed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import numpy as np

from optimizer.entitlement import IntArray
from optimizer.exact import decimal
from optimizer.model import Cuts, IntegerProgram
from optimizer.result import Status
from optimizer.solvers.base import Backend, RunResult, Session, linear_stage

SEED = 0
# CP-SAT requires every domain inside [-2**62, 2**62]
_DOMAIN_LIMIT = 2**62 - 1


def ratio_coefficients(w_better: float, w_worse: float, worse_max: int) -> tuple[int, int]:
    """``(q, p)`` such that, for integers ``x_j`` in ``[0, worse_max]``,
    ``x_i / w_better >= x_j / w_worse`` holds exactly when ``q * x_i >= p * x_j``.

    The weights are taken as the exact fractions of their shortest decimal form (``1.1`` is
    11/10, not the nearest binary float), so ``x_i >= r * x_j`` with ``r = w_better /
    w_worse``. Only the lattice points matter: for ``x_j <= worse_max`` the ratio
    ``x_i / x_j`` is a fraction with denominator at most ``worse_max``, so ``r`` can be
    replaced by the smallest such fraction ``p / q >= r`` without changing which points are
    allowed. Coefficients then stay below ``worse_max * (r + 1)``, however many digits the
    weights have (1.0000001 and 1 are not confused, as rounding each weight would).
    """
    r = decimal(w_better) / decimal(w_worse)
    bounded = ceiling_fraction(r, max(int(worse_max), 1))
    return bounded.denominator, bounded.numerator


def ratio_rows(program: IntegerProgram) -> Iterator[tuple[int, int, int, int]]:
    """``(i, j, q, p)`` for every exact row ``q * x_i >= p * x_j`` of the program's ratio
    orders: ``i`` of a better grade, ``j`` of the next worse one that can get units."""
    hi = program.hi.tolist()
    for order in program.orders:
        for better, worse in zip(order.levels, order.levels[1:], strict=False):
            for i in better.tolist():
                for j in worse.tolist():
                    if hi[j] > 0:
                        q, p = ratio_coefficients(order.weight[i], order.weight[j], hi[j])
                        yield i, j, q, p


def ceiling_fraction(r: Fraction, max_denominator: int) -> Fraction:
    """The smallest fraction ``p / q >= r`` with ``1 <= q <= max_denominator``
    (Stern-Brocot descent, moving each side in one step per run of equal turns)."""
    if max_denominator < 1:
        raise ValueError("max_denominator must be at least 1")
    if r.denominator <= max_denominator:
        return r
    # invariant: a/b < r < c/d, Farey neighbours (b * c - a * d == 1)
    a, b = math.floor(r), 1
    c, d = a + 1, 1
    while b + d <= max_denominator:
        if Fraction(a + c, b + d) < r:
            # the largest k with (a + k c) / (b + k d) < r
            k = math.ceil((r * b - a) / (c - r * d)) - 1
            k = min(k, (max_denominator - b) // d)
            a, b = a + k * c, b + k * d
        else:
            # the largest k with (k a + c) / (k b + d) > r
            k = math.ceil((c - r * d) / (r * b - a)) - 1
            k = min(k, (max_denominator - d) // b)
            c, d = k * a + c, k * b + d
    return Fraction(c, d)


def constant_stage(cuts: tuple[Cuts, ...], stage: int) -> bool:
    """Whether stage ``stage`` prices every allocation the same (no cut has a slope)."""
    return 0 <= stage < len(cuts) and not np.any(cuts[stage].slope)


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

        return str(getattr(ortools, "__version__", "unknown"))

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
        self.x = [model.new_int_var(lo[i], max(lo[i], hi[i]), f"x{i}") for i in range(n)]
        linear = cp_model.LinearExpr
        model.add(linear.sum(self.x) == program.budget)
        for row in program.sums:
            total = linear.sum([self.x[i] for i in row.index.tolist()])
            if row.lower is not None:
                model.add(total >= row.lower)
            if row.upper is not None:
                model.add(total <= row.upper)
        self.t: list[list[Any]] = []
        self.t_bounds: list[list[tuple[int, int]]] = []
        for stage, cut in enumerate(cuts):
            self.t.append(self._epigraph(stage, cut, lo, hi))
        for i, j, q, p in ratio_rows(program):
            model.add(q * self.x[i] >= p * self.x[j])
        self.cuts = cuts
        self.stage = -1
        self.last: tuple[IntArray, list[list[int]]] | None = None
        self.shifts: list[tuple[int, list[Any], IntArray]] = []

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
        bounds = [(max(floor[i], -_DOMAIN_LIMIT), min(top[i], _DOMAIN_LIMIT)) for i in range(n)]
        self.t_bounds.append(bounds)
        t = [
            self.model.new_int_var(low, high, f"t{stage}_{i}")
            for i, (low, high) in enumerate(bounds)
        ]
        for o, s, c in zip(owner, slope, intercept, strict=True):
            self.model.add(t[o] - s * self.x[o] >= c)
        return t

    def _expression(self, stage: int) -> Any:
        linear = self._cp.LinearExpr
        if stage < len(self.t):
            return linear.sum(self.t[stage])
        return linear.weighted_sum(self.x, self._linear(stage))

    def set_objective(self, stage: int) -> None:
        self.stage = stage
        if stage < 0:
            self.model.clear_objective()  # type: ignore[no-untyped-call]
        else:
            self.model.minimize(self._expression(stage))

    def bound_objective(self, stage: int, value: int) -> None:
        """``objective <= value``; a cost stage is written around its answer ``x*`` as
        ``u_i = t_i - F_i(x*_i)``, ``sum(u) <= 0``, which keeps the numbers in CP-SAT's
        LP relaxation small (the plain row has a right-hand side of order 10**14)."""
        if stage >= len(self.t) or self.last is None:
            self.model.add(self._expression(stage) <= int(value))
            return
        x = self.last[0]
        cut = self.cuts[stage]
        level = cut.floor_value.astype(np.int64).copy()
        np.maximum.at(level, cut.owner, cut.intercept + cut.slope * x[cut.owner])
        if int(level.sum()) != int(value):
            self.model.add(self._expression(stage) <= int(value))
            return
        shifted = []
        for i, t in enumerate(self.t[stage]):
            low, high = self.t_bounds[stage][i]
            f = int(level[i])
            u = self.model.new_int_var(low - f, high - f, f"u{stage}_{i}")
            self.model.add(t - u == f)
            shifted.append(u)
        self.model.add(self._cp.LinearExpr.sum(shifted) <= 0)
        self.shifts.append((stage, shifted, level))

    def run(self, time_limit_s: float) -> RunResult:
        cp_model = self._cp
        if not self.valid:
            return RunResult(Status.ERROR, None, None, None)
        if np.any(self.program.lo > self.program.hi):
            # an empty domain makes the model invalid, but the program is just infeasible
            return RunResult(Status.INFEASIBLE, None, None, None)
        if self.last is not None and constant_stage(self.cuts, self.stage):
            # every allocation costs the same here (divisor methods have no secondary
            # cost): the previous stage's answer is optimal, no search needed
            previous = self.last[0]
            value = float(self._stage_value(previous))
            return RunResult(Status.OPTIMAL, previous.astype(np.float64), value, value)
        solver = cp_model.CpSolver()
        params = solver.parameters
        params.num_workers = 1
        params.random_seed = SEED
        params.max_time_in_seconds = max(float(time_limit_s), 0.001)
        params.log_search_progress = False
        # By default CP-SAT starts its LP relaxation empty and adds rows "lazily"; with
        # epigraph costs of order 10**8 it can then stay empty, and the search lowers the
        # objective one unit per solution without ever proving it (6 recipients, budget 26,
        # Adams: > 30 s instead of 10 ms). The models are small: load every row.
        params.add_lp_constraints_lazily = False
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
        return sum(c * int(v) for c, v in zip(self._linear(self.stage), x.tolist(), strict=True))

    def _linear(self, stage: int) -> list[int]:
        out: list[int] = linear_stage(self.program, stage, len(self.t)).tolist()
        return out

    def _hint(self, solver: Any, x: IntArray) -> None:
        """Start the next stage from this solution (still feasible under the new bound)."""
        self.model.clear_hints()  # type: ignore[no-untyped-call]
        levels = [[int(solver.value(var)) for var in stage] for stage in self.t]
        for var, value in zip(self.x, x.tolist(), strict=True):
            self.model.add_hint(var, value)
        for stage, values in zip(self.t, levels, strict=True):
            for var, value in zip(stage, values, strict=True):
                self.model.add_hint(var, value)
        for stage_index, shifted, base in self.shifts:
            for i, var in enumerate(shifted):
                self.model.add_hint(var, levels[stage_index][i] - int(base[i]))
        self.last = (x, levels)
