"""The Quota method (Balinski & Young 1975): seats one at a time, each to the highest
Jefferson priority ``e_i / (x_i + 1)`` among the recipients that would not exceed their
upper quota ``ceil(e_i * (h + 1) / E)`` with it. It stays within quota (every recipient
gets its quota rounded down or up) and is house monotone (a larger budget never takes a
unit away), which no divisor method guarantees and Hamilton does not.

Exact: priorities and quotas are compared as integer ratios. The work is one heap step per
unit, so budgets are limited to :data:`MAX_UNITS`. Floors are given first; a recipient at
its cap takes no more; when floors leave nobody within upper quota, the unit goes to the
highest priority below its cap (said in the result's message).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

import optimizer
from optimizer.entitlement import entitlements
from optimizer.exact import exact_entitlements
from optimizer.result import Allocation, Diagnosis, Relaxation, Result, SolverReport, Status
from optimizer.scenario import Objective, Scenario

MAX_UNITS = 2_000_000
"""The largest budget the Quota method allocates (one heap step per unit)."""


@dataclass(frozen=True)
class QuotaAnswer:
    """The units, and how many were given outside upper quota because floors left no one
    within it."""

    units: list[int]
    outside_quota: int


def quota_method(
    entitlement: Sequence[int],
    house: int,
    floors: Sequence[int] | None = None,
    caps: Sequence[int] | None = None,
) -> QuotaAnswer:
    """Allocate ``house`` units to exact integer ``entitlement`` by the Quota method;
    ties go to the larger entitlement, then the earlier position."""
    n = len(entitlement)
    total = sum(entitlement)
    x = list(floors) if floors is not None else [0] * n
    cap = list(caps) if caps is not None else [house] * n
    if total <= 0 or sum(x) > house or sum(min(c, house) for c in cap) < house:
        raise ValueError("no allocation: floors above the house, caps below it, or no entitlement")
    order = sorted(range(n), key=lambda i: (-entitlement[i], i))
    rank = [0] * n
    for r, i in enumerate(order):
        rank[i] = r

    def eligible_from(i: int) -> int:
        """The smallest house ``h`` (units already given) at which one more unit keeps
        ``i`` within upper quota: ``x_i < e_i (h + 1) / E``."""
        if entitlement[i] == 0:
            return house + 1
        return (x[i] * total) // entitlement[i]

    ready: list[tuple[_Priority, int]] = []  # max-heap on e_i / (x_i + 1)
    waiting: list[tuple[int, int]] = []  # (house at which eligible, i)
    given = sum(x)
    for i in range(n):
        if x[i] < cap[i]:
            heapq.heappush(waiting, (eligible_from(i), i))
    outside = 0
    while given < house:
        while waiting and waiting[0][0] <= given:
            _, i = heapq.heappop(waiting)
            heapq.heappush(ready, (_Priority(entitlement[i], x[i] + 1, rank[i]), i))
        if ready:
            _, i = heapq.heappop(ready)
        else:  # floors left nobody within upper quota: the highest priority below its cap
            _, i = min(
                ((_Priority(entitlement[k], x[k] + 1, rank[k]), k) for _, k in waiting),
            )
            waiting = [(h, k) for h, k in waiting if k != i]
            heapq.heapify(waiting)
            outside += 1
        x[i] += 1
        given += 1
        if x[i] < cap[i]:
            heapq.heappush(waiting, (eligible_from(i), i))
    return QuotaAnswer(x, outside)


class _Priority:
    """``e / d`` ordered largest first (then rank), compared by cross-multiplying."""

    __slots__ = ("d", "e", "rank")

    def __init__(self, e: int, d: int, rank: int) -> None:
        self.e, self.d, self.rank = e, d, rank

    def __lt__(self, other: _Priority) -> bool:
        left, right = self.e * other.d, other.e * self.d
        return left > right or (left == right and self.rank < other.rank)


def solve_quota(scenario: Scenario) -> Result:
    """A scenario whose objective method is ``quota`` (bounds only), as a Result."""
    from optimizer.compile import build_program
    from optimizer.explain import metrics
    from optimizer.solve import _versions

    started = time.perf_counter()
    ent = entitlements(scenario)
    exact, _ = exact_entitlements(ent.weight, ent.score, ent.multiplier)
    floors, caps = ent.floor.tolist(), ent.cap.tolist()
    report = SolverReport(
        "exact", optimizer.__version__, "quota", 0.0, 0.0, 0.0, versions=_versions()
    )
    common: dict[str, Any] = {
        "scenario": scenario.name,
        "scenario_hash": scenario.content_hash,
        "budget": scenario.budget,
        "unit": scenario.unit.model_dump(),
        "objective": {"kind": "proportional", "method": "quota"},
    }
    if sum(floors) > scenario.budget or sum(caps) < scenario.budget:
        text = (
            f"floors need {sum(floors):,} units"
            if sum(floors) > scenario.budget
            else f"caps hold only {sum(caps):,} units"
        )
        text = f"infeasible: {text}, the budget is {scenario.budget:,}"
        relax = Relaxation(
            "floors" if sum(floors) > scenario.budget else "caps",
            "floor" if sum(floors) > scenario.budget else "cap",
            abs(sum(floors) - scenario.budget)
            if sum(floors) > scenario.budget
            else scenario.budget - sum(caps),
            text,
        )
        return Result(
            status=Status.INFEASIBLE,
            allocations=(),
            metrics=None,
            solver=report,
            diagnosis=Diagnosis(text, (relax,)),
            message=text,
            **common,
        )
    answer = quota_method(exact, scenario.budget, floors, caps)
    x = np.array(answer.units, dtype=np.int64)
    flat = scenario.model_copy(
        update={"objective": Objective(kind="proportional", method="hamilton")}
    )
    _, _, program = build_program(flat)
    at = np.empty(ent.size, dtype=np.int64)
    at[ent.position] = np.arange(ent.size)
    value, budget = scenario.unit.value, scenario.budget
    allocations = []
    for rec, i in zip(scenario.recipients, at.tolist(), strict=True):
        units = int(x[i])
        held: tuple[str, ...] = ()
        if units == floors[i] and units > ent.quota[i] + 1:
            held = ("floor",)
        elif units == caps[i] and units < ent.quota[i] - 1:
            held = ("cap",)
        allocations.append(
            Allocation(
                rec.id,
                rec.label,
                units,
                units * value,
                float(ent.quota[i]),
                units / budget,
                float(ent.entitlement[i]),
                rec.score,
                ent.grade[i],
                held,
            )
        )
    message = "quota method (Balinski-Young): within quota and house monotone"
    if answer.outside_quota:
        message += (
            f"; {answer.outside_quota:,} unit{'s' if answer.outside_quota > 1 else ''} "
            "given outside upper quota: the floors left nobody within it"
        )
    report = replace(report, seconds=round(time.perf_counter() - started, 6))
    return Result(
        status=Status.OPTIMAL,
        allocations=tuple(allocations),
        metrics=metrics(program, x, "proportional"),
        solver=report,
        message=message,
        **common,
    )
