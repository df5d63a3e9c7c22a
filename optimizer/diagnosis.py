"""Infeasibility diagnosis: the smallest set of bounds/rules to relax, and by how much.

Constraint *families* are the floors, the caps and each rule. The smallest set is found by
trying sets of increasing size (removing a family entirely) until the scenario becomes
feasible; among sets of that size the one needing the least relaxation wins (then the
first in scenario order). The amount for each family is an elastic relaxation: with the
rest of the set removed, minimise how far that family must give (units below floors, above
caps, short of a group minimum...), which is itself a small allocation problem.

Both questions are answered without tabulating units wherever the rules allow, so the cost
does not grow with the budget:

- bounds only, or group rules over disjoint sets: the exact structured paths of
  :mod:`optimizer.partition` (O(n) feasibility, the nested greedy for the amounts);
- ``grade_order`` with bounds only: exact by propagating the order through the bounds
  (:func:`_order_fill`, see there why that is exact);
- otherwise the structured relaxation first (its infeasibility proves the program's, its
  answer proves feasibility when it keeps every rule); then, within the MILP's unit limit,
  the threshold search and HiGHS; then :func:`_split_search`, a branch and bound over
  grade thresholds whose nodes are structured solves. What none of these settles is
  reported as such: a set as undecided, an amount as the lower bound the relaxation gives.
"""

from __future__ import annotations

import heapq
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import combinations, pairwise
from typing import Any

import numpy as np

from optimizer.compile import build_program
from optimizer.entitlement import FloatArray, IntArray
from optimizer.errors import SolverUnavailable
from optimizer.model import IntegerProgram
from optimizer.partition import Layout, feasible, relaxation, solve_structured, structure
from optimizer.result import Diagnosis, Relaxation, Status
from optimizer.rules import change_limit
from optimizer.scenario import ChangeLimitRule, GradeOrderRule, GroupRule, Recipient, Scenario
from optimizer.thresholds import ExactOrders, ThresholdSearch

MAX_SET = 3
_TIME_LIMIT_S = 30.0
_DEFAULT_MILP_UNITS = 5_000_000
"""The MILP unit limit if :data:`optimizer.solve.MAX_MILP_UNITS` cannot be read."""
_TIE_SCALE = 1000
_SHOWN_UNDECIDED = 3
MAX_NODES = 500
"""Nodes one :func:`_split_search` may open before it gives up (a count, not a clock)."""
MAX_TOTAL_NODES = 1000
"""Nodes all split searches of one diagnosis may open together."""


def _milp_units() -> int:
    """The most units a MILP (or the threshold search) may tabulate by default: solve's
    limit, read lazily because :mod:`optimizer.solve` imports this module."""
    module = sys.modules.get("optimizer.solve")
    return int(getattr(module, "MAX_MILP_UNITS", _DEFAULT_MILP_UNITS))


@dataclass(frozen=True)
class _Family:
    key: str  # "floors", "caps" or "rules[i]"
    label: str
    kind: str


@dataclass(frozen=True)
class _ElasticCost:
    """Unit costs that count violations: each unit up to ``want_lo`` saves one (a unit short
    of a lower bound fewer), each unit from ``want_hi`` on costs one (a unit over an upper
    bound more)."""

    quota: FloatArray
    want_lo: IntArray
    want_hi: IntArray
    rank: IntArray

    def primary(self, i: IntArray, k: IntArray) -> IntArray:
        """-1 below ``want_lo``, +1 from ``want_hi`` (both when the two cross)."""
        out: IntArray = (k >= self.want_hi[i]).astype(np.int64) - (k < self.want_lo[i])
        return out

    def secondary(self, i: IntArray, k: IntArray) -> IntArray:
        """The least-squares tie-break of the scenario costs."""
        return np.rint((2.0 * (k - self.quota[i]) + 1.0) * _TIE_SCALE).astype(np.int64)

    def tertiary(self, i: IntArray) -> IntArray:
        return self.rank[i]

    def first_guess(self, stage: int, i: IntArray, value: IntArray) -> FloatArray:
        """Where stage ``stage`` of recipient ``i`` first reaches ``value`` (exact for the
        primary, a guess for the secondary that the threshold search checks)."""
        v = value.astype(np.float64)
        if stage == 1:
            return self.quota[i] + ((v - 0.5) / _TIE_SCALE - 1.0) / 2.0
        low = np.minimum(self.want_lo[i], self.want_hi[i]).astype(np.float64)
        high = np.maximum(self.want_lo[i], self.want_hi[i]).astype(np.float64)
        return np.where(v <= -1, -np.inf, np.where(v <= 0, low, np.where(v <= 1, high, np.inf)))


@dataclass
class _Work:
    """One diagnosis's limits: the units HiGHS and the threshold search may tabulate, and
    what is left of the node allowance of the split searches."""

    milp_units: int = field(default_factory=_milp_units)
    nodes: int = field(default_factory=lambda: MAX_TOTAL_NODES)


@dataclass(frozen=True)
class _Give:
    """How far a family must give: exact with the allocation that shows it, else only a
    lower bound (``x`` None)."""

    x: IntArray | None
    least: int


def diagnose(scenario: Scenario, *, milp_units: int | None = None) -> Diagnosis:
    """Explain why ``scenario`` has no allocation (call only when it has none);
    ``milp_units``: the run's limit on units to tabulate (default: solve's)."""
    families = _families(scenario)
    hard = _hard_conflict(scenario, families)
    if hard is not None:
        return hard
    work = _Work() if milp_units is None else _Work(milp_units=milp_units)
    undecided: list[tuple[_Family, ...]] = []
    for size in range(1, min(MAX_SET, len(families)) + 1):
        candidates = []
        for subset in combinations(families, size):
            verdict = _feasible(_without(scenario, subset), work)
            if verdict is None:
                undecided.append(subset)
            elif verdict:
                relax = tuple(_amount(scenario, f, subset, work) for f in subset)
                candidates.append((sum(r.amount for r in relax), relax))
        if candidates:
            best = min(candidates, key=lambda c: c[0])[1]
            summary = "infeasible: " + "; ".join(r.message for r in best) + _hard_note(scenario)
            return Diagnosis(summary=summary + _undecided_note(undecided), relax=best)
    if undecided:
        return Diagnosis(
            summary="infeasible: could not decide what to relax" + _undecided_note(undecided),
            relax=(),
        )
    return Diagnosis(
        summary=f"infeasible: no set of up to {MAX_SET} bounds or rules explains the conflict",
        relax=(),
    )


def _undecided_note(undecided: list[tuple[_Family, ...]]) -> str:
    """The sets whose feasibility no exact check settled, or ``""``."""
    if not undecided:
        return ""
    sets = [" + ".join(f.label for f in subset) for subset in undecided[:_SHOWN_UNDECIDED]]
    more = len(undecided) - len(sets)
    listed = "; ".join(sets) + (f" and {more} more" if more > 0 else "")
    return (
        f" (undecided, too large for the exact checks: whether relaxing {listed} would be enough)"
    )


def _families(scenario: Scenario) -> list[_Family]:
    """What may be relaxed, rules first, so that when relaxing a rule or a bound costs the
    same, the rule (the policy choice) is named. Hard rules and the floors and caps of
    hard recipients are never listed."""
    out = [
        _Family(f"rules[{i}]", rule.label, rule.type)
        for i, rule in enumerate(scenario.rules)
        if not getattr(rule, "hard", False)
    ]
    decided = {o.id for o in scenario.overrides or ()}  # a committee's decision stays
    soft = [r for r in scenario.recipients if not r.hard and r.id not in decided]
    wide = scenario.hard or ()
    if "floors" not in wide and any(r.floor > 0 for r in soft):
        out.append(_Family("floors", "floors", "floor"))
    if "caps" not in wide and any(r.cap is not None for r in soft):
        out.append(_Family("caps", "caps", "cap"))
    return out


def _hard_labels(scenario: Scenario) -> list[str]:
    """The hard rules and bounds, named as the diagnosis names them."""
    out = [rule.label for rule in scenario.rules if getattr(rule, "hard", False)]
    out.extend(f"all {bounds}" for bounds in scenario.hard or ())
    out.extend(f"the override of {o.id} ({o.reason})" for o in scenario.overrides or ())
    held = [r.id for r in scenario.recipients if r.hard and (r.floor > 0 or r.cap is not None)]
    if held:
        names = ", ".join(held[:5]) + (f" and {len(held) - 5} more" if len(held) > 5 else "")
        out.append(f"the floors and caps of {names}")
    return out


def _hard_note(scenario: Scenario) -> str:
    """`` (kept: ...)`` naming the hard rules the suggestion leaves alone, or ``""``."""
    labels = _hard_labels(scenario)
    return f" (hard, kept as they are: {'; '.join(labels)})" if labels else ""


def _hard_conflict(scenario: Scenario, families: list[_Family]) -> Diagnosis | None:
    """When the hard rules alone admit no allocation: say so, and what among them conflicts
    (diagnosed as if they could move). None when relaxing the other rules would do."""
    if not _hard_labels(scenario):
        return None
    core = _without(scenario, tuple(families))
    if _feasible(core, _Work()) is not False:
        return None
    softened = core.model_copy(
        update={
            "rules": tuple(
                rule.model_copy(update={"hard": False}) if hasattr(rule, "hard") else rule
                for rule in core.rules
            ),
            "recipients": tuple(_decided(r, core) for r in core.recipients),
            "hard": None,
            "overrides": None,
        }
    )
    inner = diagnose(softened)  # nothing hard left: no recursion
    reason = inner.summary.removeprefix("infeasible: ")
    return Diagnosis(
        summary=(
            "infeasible: no allocation exists with the hard rules as they are, whatever "
            f"else changes ({'; '.join(_hard_labels(scenario))}): {reason}"
        ),
        relax=(),
    )


def _decided(rec: Recipient, scenario: Scenario) -> Recipient:
    """A recipient as a plain one: not hard, an override's units as its floor and cap."""
    update: dict[str, Any] = {"hard": False}
    for override in scenario.overrides or ():
        if override.id == rec.id:
            low, high = override.bounds
            update["floor"] = low if low is not None else rec.floor
            update["cap"] = high if high is not None else rec.cap
    return rec.model_copy(update=update)


def _without(scenario: Scenario, subset: tuple[_Family, ...]) -> Scenario:
    """The scenario with the families in ``subset`` removed (keys index the original);
    hard recipients keep their floors and caps."""
    keys = {f.key for f in subset}
    recipients = tuple(
        r.model_copy(
            update={
                "floor": 0 if "floors" in keys and not r.hard else r.floor,
                "cap": None if "caps" in keys and not r.hard else r.cap,
            }
        )
        for r in scenario.recipients
    )
    rules = tuple(rule for i, rule in enumerate(scenario.rules) if f"rules[{i}]" not in keys)
    return scenario.model_copy(update={"recipients": recipients, "rules": rules})


def _feasible(scenario: Scenario, work: _Work) -> bool | None:
    """Whether ``scenario`` has an allocation; None when that cannot be decided (too many
    units for the MILP, and the split search gave up)."""
    _, _, program = build_program(scenario)
    return _decide(program, work)


def _bounds_conflict(program: IntegerProgram) -> bool:
    return bool(
        np.any(program.lo > program.hi)
        or not int(program.lo.sum()) <= program.budget <= int(program.hi.sum())
    )


def _decide(program: IntegerProgram, work: _Work) -> bool | None:
    """Whether ``program`` has an allocation, cheapest exact test first (None: unknown)."""
    if _bounds_conflict(program):
        return False
    if structure(program) is not None:
        return feasible(program)
    relaxed, _ = relaxation(program)
    if not feasible(relaxed):
        return False
    x = solve_structured(relaxed)
    if x is not None and not program.violations(x):
        return True
    if not program.sums:
        filled = _order_fill(program, program.lo, program.hi)
        if filled is not None:
            return filled[0] is not None
    if program.tightened().window() <= work.milp_units:
        found = _search(program, first_feasible=True)
        if found is not None:
            return found[0] is not None
        status, _ = _highs(program, stages=0)
        if status in (Status.OPTIMAL, Status.INFEASIBLE):
            return status == Status.OPTIMAL
    found = _split_search(program, None, work)
    return None if found is None else found[0] is not None


def _search(program: IntegerProgram, *, first_feasible: bool) -> tuple[IntArray | None] | None:
    """The threshold search (grade orders) as ``(x,)``; None when it gives up or fails.
    Only for programs within the unit limit: it sorts every unit."""
    if not program.orders:
        return None
    try:
        found = ThresholdSearch(program).run(None, first_feasible=first_feasible)
    except (MemoryError, ValueError):
        return None
    return None if found is None else (found.x,)


def _highs(program: IntegerProgram, *, stages: int) -> tuple[Status, IntArray | None]:
    """HiGHS on ``program`` (within the unit limit): its status and allocation."""
    from optimizer import solvers

    try:
        outcome = solvers.backend("highs").solve(
            program.tightened(), time_limit_s=_TIME_LIMIT_S, stages=stages
        )
    except (MemoryError, ValueError, SolverUnavailable):
        return Status.ERROR, None
    if outcome.x is not None and program.violations(outcome.x):
        return Status.ERROR, None
    return outcome.status, outcome.x


# --------------------------------------------------------------------------- grade orders


@dataclass(frozen=True)
class _Chain:
    """The grade levels (best first, recipient indices) and their exact arithmetic, as
    :meth:`IntegerProgram.violations` reads the order."""

    levels: tuple[list[int], ...]
    orders: ExactOrders


def _chain(program: IntegerProgram) -> _Chain | None:
    """The one chain of grade levels every order of ``program`` states (grade_order rules
    all compile to the same chain), or None when they differ or there are none."""
    if not program.orders:
        return None
    first = program.orders[0]
    for order in program.orders[1:]:
        if (
            len(order.levels) != len(first.levels)
            or not all(map(np.array_equal, order.levels, first.levels))
            or not np.array_equal(order.weight, first.weight)
        ):
            return None
    levels = tuple(level for level in first.levels if len(level))
    pairs = tuple(
        (better, first.weight[better], worse, first.weight[worse])
        for better, worse in pairwise(levels)
    )
    return _Chain(tuple(level.tolist() for level in levels), ExactOrders(pairs))


def _order_fill(
    program: IntegerProgram, lo: IntArray, hi: IntArray
) -> tuple[IntArray | None] | None:
    """For bounds and grade orders only: an allocation within ``lo..hi`` keeping the orders,
    as ``(x,)`` (``(None,)``: there is none), or None when the orders differ.

    Exact: with the bounds propagated along the chain, the floors keep the order and so do
    the caps; from the floors, the next unit can always go to a recipient outside the chain
    or to the best level not yet at its caps (the level above it is at its caps, which the
    propagation keeps at or above its new ratio), so every total between the two is reached.
    """
    chain = _chain(program)
    if chain is None:
        return None
    bounds = chain.orders.propagate(lo, hi)
    if bounds is None:
        return (None,)
    low, high = bounds
    need = program.budget - int(low.sum())
    room = high - low
    if need < 0 or need > int(room.sum()):
        return (None,)
    in_chain = np.zeros(program.size, dtype=bool)
    for level in chain.levels:
        in_chain[level] = True
    order = np.concatenate(
        [np.flatnonzero(~in_chain), *(np.array(level, dtype=np.int64) for level in chain.levels)]
    )
    before = np.cumsum(room[order]) - room[order]
    x = low.copy()
    x[order] += np.clip(need - before, 0, room[order])
    if replace(program, lo=lo, hi=hi).violations(x):
        return None  # pragma: no cover - the construction keeps every order
    return (x,)


def _split_search(
    program: IntegerProgram, value: Callable[[IntArray], int] | None, work: _Work
) -> tuple[IntArray | None] | None:
    """Grade orders by branching on the ratio between two levels, each node one structured
    solve (no unit is tabulated): ``(x,)`` with the allocation of least ``value`` (None:
    the first found), ``(None,)`` when there is none, None when the search gives up (an
    overlapping group rule, the orders differ, or out of nodes: :data:`MAX_NODES`, and
    ``work``'s allowance).

    A node's structured optimum is the least ``value`` any allocation in it reaches; when
    it breaks the order of two levels (the better one's smallest ratio ``a`` below the worse
    one's largest ``c``), every allocation keeping it has the better level at ``(a + c) / 2``
    or above, or the worse one at or below: two children, neither holding that optimum.
    Best first, the first optimum keeping every order is the least overall. Ratios are
    exact fractions, so the search decides what :meth:`IntegerProgram.violations` checks."""
    chain = _chain(program)
    if chain is None or work.nodes <= 0:
        return None
    relaxed, _ = relaxation(program)
    layout = Layout.of(relaxed)
    orders = chain.orders
    heap: list[tuple[int, int, IntArray, IntArray, IntArray]] = []
    opened = 0

    def push(lo: IntArray, hi: IntArray) -> None:
        nonlocal opened
        opened += 1
        work.nodes -= 1
        bounds = orders.propagate(lo, hi)
        if bounds is None:
            return
        x = solve_structured(replace(relaxed, lo=bounds[0], hi=bounds[1]), layout)
        if x is None:
            return
        entry = (0 if value is None else value(x), -opened, bounds[0], bounds[1], x)
        if value is None:
            heap.append(entry)  # depth first: any allocation will do
        else:
            heapq.heappush(heap, entry)  # least value first, then the newest node

    push(program.lo, program.hi)
    while heap:
        _, _, lo, hi, x = heap.pop() if value is None else heapq.heappop(heap)
        split = orders.worst_pair(x)
        if split is None:
            return None if program.violations(x) else (x,)
        if opened + 2 > MAX_NODES or work.nodes < 2:
            return None
        (better, _, worse, _), m = split
        up = lo.copy()
        up[better] = np.maximum(up[better], orders.at_least(m, better))
        push(up, hi)
        down = hi.copy()
        down[worse] = np.minimum(down[worse], orders.at_most(m, worse))
        push(lo, down)
    return (None,)


# --------------------------------------------------------------------------- amounts


def _violation(x: IntArray, want_lo: IntArray, want_hi: IntArray) -> int:
    return int(np.maximum(want_lo - x, 0).sum() + np.maximum(x - want_hi, 0).sum())


def _elastic(
    program: IntegerProgram,
    quota: FloatArray,
    rank: IntArray,
    want_lo: IntArray,
    want_hi: IntArray,
    work: _Work,
) -> _Give | None:
    """The least total violation of ``want_lo..want_hi`` over ``program``'s allocations
    (on the structured paths, the one closest to the quotas among equals), or None when
    it has none."""
    elastic = replace(program, cost=_ElasticCost(quota, want_lo, want_hi, rank))
    if structure(elastic) is not None:
        x = solve_structured(elastic)
        return None if x is None else _Give(x, _violation(x, want_lo, want_hi))
    relaxed, _ = relaxation(elastic)
    x = solve_structured(relaxed)
    if x is None:
        return None
    least = _violation(x, want_lo, want_hi)  # nothing the rules allow does better
    if not elastic.violations(x):
        return _Give(x, least)
    if not elastic.sums:
        lo, hi = _attaining(elastic, want_lo, want_hi)
        filled = _order_fill(elastic, lo, hi)
        if filled is not None:
            y = filled[0]
            if y is not None and _violation(y, want_lo, want_hi) == least:
                return _Give(y, least)
            if y is None:
                least += 1  # exact: no allocation keeping the orders attains it
    if elastic.tightened().window() <= work.milp_units:
        found = _search(elastic, first_feasible=False)
        z = None if found is None else found[0]
        if z is None:
            status, z = _highs(elastic, stages=1)
            z = z if status == Status.OPTIMAL else None
        if z is not None:
            return _Give(z, _violation(z, want_lo, want_hi))
    found = _split_search(elastic, lambda z: _violation(z, want_lo, want_hi), work)
    if found is not None and found[0] is not None:
        return _Give(found[0], _violation(found[0], want_lo, want_hi))
    return _Give(None, least)


def _attaining(
    program: IntegerProgram, want_lo: IntArray, want_hi: IntArray
) -> tuple[IntArray, IntArray]:
    """Bounds holding exactly the allocations of ``program``'s bounds (rules aside) whose
    violation is the least the bounds allow.

    Each recipient's violation is convex with slopes -1, 0, +1, flat on ``[a, b]``; the least
    total keeps everyone in ``[a, b]`` when the budget fits, else everyone at or below ``a``
    (too many units wanted) or at or above ``b`` (too few)."""
    lo, hi = program.lo, program.hi
    a = np.clip(np.minimum(want_lo, want_hi), lo, hi)
    b = np.clip(np.maximum(want_lo, want_hi), lo, hi)
    if program.budget < int(a.sum()):
        return lo, a
    if program.budget > int(b.sum()):
        return b, hi
    return a, b


def _amount(
    scenario: Scenario, family: _Family, subset: tuple[_Family, ...], work: _Work
) -> Relaxation:
    """How far ``family`` must give when the rest of ``subset`` is removed."""
    others = tuple(f for f in subset if f.key != family.key)
    base = _without(scenario, others)
    relaxed = _without(scenario, subset)
    ent, _, program = build_program(relaxed)
    budget = scenario.budget
    ids = ent.ids
    if family.kind in ("floor", "cap", "change_limit"):
        base_ent = build_program(base)[0]
        want_lo, want_hi = program.lo, program.hi
        if family.kind == "floor":
            want_lo = base_ent.floor
        elif family.kind == "cap":
            want_hi = base_ent.cap
        else:
            limit = scenario.rules[int(family.key[6:-1])]
            assert isinstance(limit, ChangeLimitRule)
            want_lo, want_hi = change_limit.bounds(limit, base_ent, budget)
        give = _elastic(program, ent.quota, ent.rank, want_lo, want_hi, work)
        if give is None:  # the relaxed set was feasible a moment ago: only a solver failure
            return Relaxation(
                family.label,
                family.kind,
                0,
                f"relax {family.label} (the amount could not be computed)",
            )
        if give.x is None:
            short, over = _forced(program, want_lo, want_hi)
            who = tuple(ids[i] for i in np.flatnonzero(short | over))
            return Relaxation(
                family.label,
                family.kind,
                give.least,
                _lower_bound_message(family, scenario, give.least, who) + _inexact_note(program),
                who,
            )
        short = np.maximum(want_lo - give.x, 0)
        over = np.maximum(give.x - want_hi, 0)
        amount = int(short.sum() + over.sum())
        who = tuple(ids[i] for i in np.flatnonzero(short + over))
        return Relaxation(
            family.label,
            family.kind,
            amount,
            _bound_message(family, scenario, amount, int(short.sum()), int(over.sum()), who),
            who,
        )
    rule = scenario.rules[int(family.key[6:-1])]
    if isinstance(rule, GroupRule):
        _, _, with_rule = build_program(base)
        row = next(r for r in with_rule.sums if r.label == rule.label)
        members = row.index
        cap_room = int(program.hi[members].sum())
        floor_need = int(program.lo[members].sum())
        settled = True  # every extreme computed was exact
        if row.lower is not None:
            most, exact = _group_extreme(program, members, work, largest=True)
            settled = settled and exact
            if most < row.lower:
                what = (
                    "caps"
                    if exact and most == min(cap_room, budget)
                    else "the other bounds and rules"
                )
                return Relaxation(
                    rule.label,
                    "group_min",
                    row.lower - most,
                    f"{rule.label} {_group_bound_text(rule, True)} conflicts with "
                    f"{what}: at most {most:,} units possible, {row.lower:,} "
                    "required" + ("" if exact else _inexact_note(program)),
                )
        if row.upper is not None:
            least, exact = _group_extreme(program, members, work, largest=False)
            settled = settled and exact
            if least > row.upper:
                what = "floors" if exact and least == floor_need else "the other bounds and rules"
                return Relaxation(
                    rule.label,
                    "group_max",
                    least - row.upper,
                    f"{rule.label} {_group_bound_text(rule, False)} conflicts with "
                    f"{what}: at least {least:,} units required, at most "
                    f"{row.upper:,} allowed" + ("" if exact else _inexact_note(program)),
                )
        kind = "group_min" if row.lower is not None else "group_max"
        if settled:
            message = (
                f"{rule.label}: no amount found, its group total can meet its bounds once "
                "the rest of this set is relaxed"
            )
        else:
            message = (
                f"{rule.label} conflicts with the other bounds and rules; the amount to "
                f"relax it by could not be computed ({_too_large(program)})"
            )
        return Relaxation(rule.label, kind, 0, message)
    assert isinstance(rule, GradeOrderRule)
    return Relaxation(
        rule.label,
        "grade_order",
        0,
        f"{rule.label} cannot hold together with the floors, caps and other "
        "rules: drop it or relax the bounds of the recipients it ties",
    )


def _forced(
    program: IntegerProgram, want_lo: IntArray, want_hi: IntArray
) -> tuple[np.ndarray, np.ndarray]:
    """Per recipient, whether the bounds alone leave room to fall short of ``want_lo`` or
    go over ``want_hi``: who may have to give when only a bound is known."""
    return program.lo < want_lo, program.hi > want_hi


def _inexact_note(program: IntegerProgram) -> str:
    """Why an amount is only a lower bound."""
    return f" (a lower bound: {_too_large(program)}; more may be needed)"


def _too_large(program: IntegerProgram) -> str:
    """Which rules defeated the exact checks, and how many units they would tabulate."""
    return (
        f"{_rule_kinds(program)} could not be checked exactly with "
        f"{program.tightened().window():,} units between floors and caps"
    )


def _rule_kinds(program: IntegerProgram) -> str:
    labels = [o.label for o in program.orders] + [s.label for s in program.sums]
    return ", ".join(dict.fromkeys(labels))


def _group_extreme(
    program: IntegerProgram, members: IntArray, work: _Work, *, largest: bool
) -> tuple[int, bool]:
    """The most (or fewest) units the group can get under everything else, and whether
    that is exact (else it is the bound the bounds and the structured rules give)."""
    want_lo = np.zeros(program.size, dtype=np.int64)
    want_hi = np.full(program.size, program.budget, dtype=np.int64)
    if largest:
        want_lo[members] = program.hi[members]
    else:
        want_hi[members] = program.lo[members]
    give = _elastic(
        program,
        program.cost.quota,
        program.cost.tertiary(np.arange(program.size)),
        want_lo,
        want_hi,
        work,
    )
    if give is None:  # only a solver failure: fall back to the bound the members allow
        return int((program.hi if largest else program.lo)[members].sum()), False
    if largest:
        return int(program.hi[members].sum()) - give.least, give.x is not None
    return int(program.lo[members].sum()) + give.least, give.x is not None


def _group_bound_text(rule: GroupRule, lower: bool) -> str:
    parts = [
        (k, getattr(rule, k))
        for k in (("min_share", "min_units") if lower else ("max_share", "max_units"))
    ]
    return " ".join(f"{k} {v:g}" for k, v in parts if v is not None)


def _lower_bound_message(
    family: _Family, scenario: Scenario, least: int, who: tuple[str, ...]
) -> str:
    """:func:`_bound_message` when only a lower bound on the amount is known."""
    names = ", ".join(who[:5]) + (f" and {len(who) - 5} more" if len(who) > 5 else "")
    if family.kind in ("floor", "cap"):
        exact = _bound_message(family, scenario, least, 0, 0, who)
        return exact.replace(f"by {least:,} units", f"by at least {least:,} units")
    return (
        f"{family.label} must allow at least {least:,} units more change than it does "
        f"(among {names})"
    )


def _bound_message(
    family: _Family, scenario: Scenario, amount: int, short: int, over: int, who: tuple[str, ...]
) -> str:
    budget = scenario.budget
    names = ", ".join(who[:5]) + (f" and {len(who) - 5} more" if len(who) > 5 else "")
    if family.kind == "floor":
        total = sum(r.floor for r in scenario.recipients)
        if total > budget:
            return (
                f"sum of floors is {total:,} > budget {budget:,}: lower floors by "
                f"{amount:,} units in total ({names})"
            )
        return f"floors conflict with the rules: lower floors by {amount:,} units ({names})"
    if family.kind == "cap":
        caps = [r.cap for r in scenario.recipients]
        if all(c is not None for c in caps) and sum(c for c in caps if c is not None) < budget:
            total = sum(c for c in caps if c is not None)
            return (
                f"sum of caps is {total:,} < budget {budget:,}: raise caps by "
                f"{amount:,} units in total ({names})"
            )
        return f"caps conflict with the rules: raise caps by {amount:,} units ({names})"
    rule = scenario.rules[int(family.key[6:-1])]
    assert isinstance(rule, ChangeLimitRule)
    parts = []
    if short:
        parts.append(f"{short:,} units more decrease")
    if over:
        parts.append(f"{over:,} units more increase")
    return f"{rule.label} must allow {' and '.join(parts)} than it does ({names})"
