"""The baseline a user would otherwise write: a plain PuLP model of the same problem, built
the usual way (one variable, one ``lpSum`` and one constraint at a time, with PuLP 3's
``add_variable``), solved by PuLP's bundled CBC.

The model reads the scenario *data* directly, as such a user would:

- one integer variable per recipient, floors and caps as its bounds, ``change_limit`` as
  two constraints per recipient with a previous allocation, one constraint per group
  bound, ``grade_order`` through one level variable per pair of grades adjacent among
  those somebody holds (``x_i >= w_i y`` for the better grade, ``x_j <= w_j y`` for the
  worse);
- Hamilton: minimise ``sum t_i`` with ``t_i >= x_i - q_i`` and ``t_i >= q_i - x_i``;
- weighted: maximise ``sum q_i x_i``; maxmin: maximise ``z`` with ``x_i >= z q_i``;
- divisor methods: maximise the sum of the priorities of the units given, the concave
  piecewise-linear ``z_i <= F_i(k) + p_i(k) (x_i - k)`` with one constraint per possible
  unit (only built when that is not absurdly many).

No model is built for a budget over :data:`MAX_BASELINE_UNITS` (the budget rows of 10^9 and
10^12 units): CBC works in doubles with absolute tolerances, and from 10^9 units on its
answers miss the budget, floors and caps by a few units (measured: 14 regions, Hamilton,
``weighted`` and maxmin, bounds and group rules, valid and equal to Allot's up to 10^8).

Its answer is never trusted: :mod:`benchmarks.check` checks it against the constraints.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.check import Problem, as_written, unit_priority

MAX_DIVISOR_ROWS = 100_000
"""Larger divisor-method models (one row per possible unit) are not built: the 14 regions at
10^6 units would have 390,904 rows, and CBC did not finish one in two minutes."""
MAX_BASELINE_UNITS = 10**8
"""Models of larger budgets are not built: CBC cannot hold billions of units to the unit."""


@dataclass(frozen=True)
class BaselineRun:
    """What the baseline did: seconds to build and to solve, CBC's status as PuLP reports
    it, and the values it returned (rounded), if any."""

    build_s: float
    solve_s: float
    status: str  # PuLP's status ("Optimal", "Not Solved", ...), or why it was not run
    units: list[int] | None
    integral: bool  # every value was within 1e-6 of a whole number

    @property
    def total_s(self) -> float:
        return self.build_s + self.solve_s


def divisor_rows(data: dict[str, Any]) -> int:
    """How many unit rows a divisor-method baseline model would have."""
    problem = Problem.of(data)
    return int(np.maximum(problem.hi - problem.lo, 0).sum())


def run_baseline(data: dict[str, Any], *, time_limit_s: float) -> BaselineRun:
    """Build and solve the baseline model of ``data``."""
    import pulp

    problem = Problem.of(data)
    if problem.budget > MAX_BASELINE_UNITS:
        return BaselineRun(0.0, 0.0, f"not built ({problem.budget:,} units)", None, False)
    if problem.kind in ("jefferson", "webster", "huntington-hill", "adams"):
        rows = divisor_rows(data)
        if rows > MAX_DIVISOR_ROWS:
            return BaselineRun(0.0, 0.0, f"not built ({rows:,} unit rows)", None, False)
    started = time.perf_counter()
    model = _build(pulp, data, problem)
    built = time.perf_counter()
    model.prob.solve(cbc(pulp, time_limit_s))
    solved = time.perf_counter()
    status = pulp.LpStatus[model.prob.status]
    values = [v.varValue for v in model.x]
    units: list[int] | None = None
    integral = False
    if all(v is not None for v in values):
        floats = np.array(values, dtype=np.float64)
        rounded = np.rint(floats)
        integral = bool(np.all(np.abs(floats - rounded) <= 1e-6))
        units = [int(u) for u in rounded]
    return BaselineRun(built - started, solved - built, status, units, integral)


def cbc(pulp: Any, time_limit_s: float) -> Any:
    """PuLP's bundled CBC, as ``PULP_CBC_CMD(msg=False, timeLimit=...)`` gives it (through
    ``COIN_CMD``: PuLP 3 warns that ``PULP_CBC_CMD`` itself is deprecated)."""
    path = getattr(pulp.PULP_CBC_CMD, "pulp_cbc_path", None)
    return pulp.COIN_CMD(path=path, msg=False, timeLimit=time_limit_s)


@dataclass
class _Model:
    prob: Any
    x: list[Any]


def _build(pulp: Any, data: dict[str, Any], problem: Problem) -> _Model:
    recipients = data["recipients"]
    budget = int(data["budget"])
    kind = problem.kind
    sense = pulp.LpMinimize if kind == "hamilton" else pulp.LpMaximize
    prob = pulp.LpProblem("allocation", sense)
    x = []
    for r in recipients:
        cap = r.get("cap")
        x.append(
            prob.add_variable(
                f"x_{r['id']}",
                lowBound=r.get("floor", 0),
                upBound=budget if cap is None else cap,
                cat="Integer",
            )
        )
    prob += pulp.lpSum(x) == budget, "budget"
    for rule_no, rule in enumerate(data.get("rules", [])):
        if rule["type"] == "change_limit":
            for i, r in enumerate(recipients):
                prev = r.get("previous")
                if prev is None:
                    continue
                if rule.get("max_decrease") is not None:
                    prob += x[i] >= math.ceil(prev * (1 - as_written(rule["max_decrease"])))
                if rule.get("max_increase") is not None:
                    prob += x[i] <= math.floor(prev * (1 + as_written(rule["max_increase"])))
        elif rule["type"] == "group":
            members = [
                x[i]
                for i, r in enumerate(recipients)
                if r.get("tags", {}).get(rule["tag"]) == rule["value"]
            ]
            total = pulp.lpSum(members)
            if rule.get("min_units") is not None:
                prob += total >= rule["min_units"]
            if rule.get("max_units") is not None:
                prob += total <= rule["max_units"]
            if rule.get("min_share") is not None:
                prob += total >= math.ceil(as_written(rule["min_share"]) * budget)
            if rule.get("max_share") is not None:
                prob += total <= math.floor(as_written(rule["max_share"]) * budget)
        elif rule["type"] == "grade_order":
            # the chain of grades somebody (weight > 0) holds: an empty grade between two
            # others must not cut the chain (min of the better >= y >= max of the next)
            weights = [r.get("weight", 1.0) for r in recipients]
            held = sorted(
                {int(g) for g, w in zip(problem.level, weights, strict=True) if w > 0 and g >= 0}
            )
            for better, worse in itertools.pairwise(held):
                y = prob.add_variable(f"level_{rule_no}_{better}", lowBound=0)
                for i, w in enumerate(weights):
                    if w <= 0:
                        continue
                    if problem.level[i] == better:
                        prob += x[i] >= w * y
                    elif problem.level[i] == worse:
                        prob += x[i] <= w * y
    q = problem.quota.tolist()
    if kind == "hamilton":
        t = [prob.add_variable(f"t_{r['id']}", lowBound=0) for r in recipients]
        for i in range(len(recipients)):
            prob += t[i] >= x[i] - q[i]
            prob += t[i] >= q[i] - x[i]
        prob += pulp.lpSum(t)
    elif kind == "weighted":
        top = max(q)
        prob += pulp.lpSum(q[i] / top * x[i] for i in range(len(recipients)))
    elif kind == "maxmin":
        z = prob.add_variable("z", lowBound=0)
        for i in range(len(recipients)):
            if q[i] > 0:
                prob += x[i] >= q[i] * z
        prob += z
    else:
        z = []
        lo, hi = problem.lo, problem.hi
        for i, r in enumerate(recipients):
            zi = prob.add_variable(f"z_{r['id']}")
            z.append(zi)
            k = np.arange(int(lo[i]), int(hi[i]), dtype=np.float64)
            owner = np.full(len(k), i)
            p = unit_priority(kind, problem.quota, owner, k)
            # F(k): priorities of units 0..k-1 (the units below the floor count too)
            below = unit_priority(kind, problem.quota, np.full(int(lo[i]), i), np.arange(lo[i]))
            value = float(below.sum())
            for kk, pk in zip(k.tolist(), p.tolist(), strict=True):
                prob += zi <= value + pk * (x[i] - kk)
                value += pk
            if len(k) == 0:
                prob += zi <= value
        prob += pulp.lpSum(z)
    return _Model(prob, x)
