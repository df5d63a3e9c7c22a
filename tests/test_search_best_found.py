"""A threshold search that gives up (:mod:`optimizer.thresholds`) still gives the best
allocation it can find that keeps every rule, and a bound on how far its primary cost is
from the optimum's; ``solve`` returns it as ``feasible`` where the MILP cannot take over.
Both are judged against the exhaustive optimum, never against the search's own claims."""

from __future__ import annotations

import copy
import time
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from optimizer import thresholds
from optimizer.compile import build_program
from optimizer.entitlement import IntArray
from optimizer.exact import ExactQuota
from optimizer.guard import TimeLimitReached
from optimizer.model import IntegerProgram, RatioOrder, SubsetSum
from optimizer.objectives import SCALE, MarginalCost
from optimizer.result import Result, Status
from optimizer.scenario import Scenario
from optimizer.solve import GaveUp, _best_found, solve
from optimizer.solvers.bruteforce import brute_force
from optimizer.verify import verify
from tests.test_backends import TIE
from tests.test_partition import RULES, quotas
from tests.test_thresholds import EXAMPLES, WEIGHTS


@st.composite
def binding_programs(draw: st.DrawFn) -> IntegerProgram:
    """A small program whose grade order binds: two or three levels dealt against the
    quotas (the recipients with the fewest quota units per weight make the best level),
    the best level uncapped, the others' caps at or above the quotas, maybe a floor above
    a quota in the worst level (as a change limit sets one) and a group rule over some:
    the nested greedy's optimum, the order dropped, breaks the order in most (about half
    then give up at once at two nodes, the rest settle)."""
    n = draw(st.integers(3, 6))  # within the exhaustive search's reach
    budget = draw(st.integers(4, 30))
    q = draw(quotas(n, budget))
    weight = np.array([draw(st.sampled_from(WEIGHTS)) for _ in range(n)])
    count = draw(st.integers(2, 3))
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), min_size=count - 1, max_size=count - 1)))
    dealt = np.argsort(q / weight, kind="stable").astype(np.int64)
    levels = tuple(np.sort(part) for part in np.split(dealt, cuts))
    lo = np.zeros(n, dtype=np.int64)
    hi = np.array(
        [budget if draw(st.booleans()) else int(np.ceil(v)) + draw(st.integers(0, 3)) for v in q],
        dtype=np.int64,
    )
    hi[levels[0]] = budget  # room for the best level to rise to the others' ratios
    if draw(st.booleans()):  # a floor above a quota, as change limits set: the others
        held = draw(st.sampled_from(levels[-1].tolist()))  # give up units: sum |x - q| flat
        lo[held] = min(int(np.ceil(q[held])) + draw(st.integers(1, 3)), budget)
        hi[held] = max(hi[held], lo[held])
    sums: tuple[SubsetSum, ...] = ()
    if draw(st.booleans()):
        members = np.array(sorted(draw(st.sets(st.integers(0, n - 1), min_size=1))))
        total = int(q[members].sum())
        sums = (SubsetSum("g", members.astype(np.int64), total // 2, total + 2),)
    rank = np.array(draw(st.permutations(range(n))), dtype=np.int64)
    cost = MarginalCost(draw(st.sampled_from(RULES)), q, rank)
    order = RatioOrder("grade_order", levels, weight)
    return IntegerProgram(budget, lo, hi, sums, (order,), cost)


def objective(rule: str, exact: ExactQuota, x: IntArray) -> Fraction:
    """What the bound is stated in, larger worse: ``sum |x - q|`` (Hamilton), ``-sum q x``
    (``weighted``), exactly."""
    units = x.tolist()
    if rule == "weighted":
        return -Fraction(sum(u * q for u, q in zip(units, exact.numer, strict=True)), exact.denom)
    return sum(
        (
            abs(Fraction(u * exact.denom - q, exact.denom))
            for u, q in zip(units, exact.numer, strict=True)
        ),
        Fraction(0),
    )


def squares(exact: ExactQuota, x: IntArray) -> Fraction:
    """``sum (x - q)^2``, exactly: the tie-break among allocations of least primary cost."""
    pairs = zip(x.tolist(), exact.numer, strict=True)
    return sum((Fraction(u * exact.denom - q, exact.denom) ** 2 for u, q in pairs), Fraction(0))


@EXAMPLES
@given(binding_programs(), st.booleans())
def test_a_search_that_gives_up_at_once_still_finds_an_allocation_and_bounds_it(
    program: IntegerProgram, exact_mode: bool
) -> None:
    """Allowed two nodes (with or without the relaxation's bound), the search gives up as
    soon as the root's optimum breaks an order: what it found then keeps every rule, and
    its primary cost is at most the stated gap above the exhaustive optimum's (the costs
    rounded to ``SCALE`` on the sorted table: at most half a unit of rounding per unit);
    where that gap is 0 in exact arithmetic, its least squares are at most the stated
    ``ties`` above the optimum's."""
    limit, bounded = thresholds.MAX_SORTED_UNITS, thresholds.MAX_BOUNDED_NODES
    thresholds.MAX_SORTED_UNITS = -1 if exact_mode else limit
    thresholds.MAX_BOUNDED_NODES = 2  # ``weighted``: the search bounded by its relaxation
    try:
        searcher = thresholds.ThresholdSearch(program)
        searcher.max_nodes = 2
        found = searcher.run()
    finally:
        thresholds.MAX_SORTED_UNITS, thresholds.MAX_BOUNDED_NODES = limit, bounded
    best = searcher.best_found
    if found is not None or best is None:
        assert best is None  # settled, or gave up before any node could be split
        return
    assert isinstance(program.cost, MarginalCost)
    rule = program.cost.rule
    expected = brute_force(program)
    note(f"rule {rule}, found {best.x}, gap {best.gap}, optimum {expected}")
    if best.x is None:  # a dive may end in an empty node, or the overlap breaks
        return
    assert not program.violations(best.x)
    assert expected is not None  # an allocation keeps every rule, so an optimum does
    if rule not in ("hamilton", "weighted"):
        assert best.gap is None  # a sum of priorities has no gap to state
        return
    assert best.gap is not None and best.gap >= 0
    exact = program.cost.exact
    found_cost = objective(rule, exact, best.x)
    least = objective(rule, exact, expected)
    rounding = Fraction(0)
    if not exact_mode:  # per unit half an integer cost, times max q for weighted
        top = max(exact.numer) / Fraction(exact.denom) if rule == "weighted" else 1
        rounding = Fraction(program.budget + int(program.lo.sum()) + 1, 2 * SCALE) * max(top, 1)
    assert found_cost - least <= best.gap + rounding
    assert found_cost >= least - rounding  # the exhaustive optimum is the least
    if best.ties is not None:  # stated in exact arithmetic, where the primary is the least
        assert exact_mode and best.gap == 0 and found_cost <= least
        if found_cost == least:  # (the exhaustive search compares rounded costs)
            assert squares(exact, best.x) - squares(exact, expected) <= best.ties


def test_the_gap_is_exercised_where_an_order_binds() -> None:
    """The property above is not vacuous: on the tie scenario (Hamilton) the root breaks the
    order, so two nodes are not enough; the search still finds an allocation keeping every
    rule, and the optimum lies within the gap it states (here above zero: the root's
    nested greedy, orders dropped, is the only bound it has)."""
    scenario = Scenario.from_data({**TIE, "objective": {"kind": "proportional"}})
    _, _, program = build_program(scenario)
    searcher = thresholds.ThresholdSearch(program.folded())
    searcher.max_nodes = 2
    assert searcher.run() is None
    best = searcher.best_found
    assert best is not None and best.x is not None and best.gap is not None
    assert not searcher.program.violations(best.x)
    optimum = brute_force(searcher.program)
    assert optimum is not None
    assert isinstance(program.cost, MarginalCost)
    exact = program.cost.exact
    found, least = objective("hamilton", exact, best.x), objective("hamilton", exact, optimum)
    assert least <= found <= least + best.gap
    assert best.gap > 0


def units(result: Result) -> list[int]:
    return [a.units for a in result.allocations]


@pytest.mark.parametrize("kind", ["proportional", "weighted"])
def test_where_the_milp_cannot_take_over_the_search_s_best_is_feasible(
    monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Five nodes and no memory for the MILP: the run ends ``feasible`` with the
    search's best allocation, which keeps every rule (``allot verify`` agrees, and says no
    optimum is claimed) and whose stated gap holds against the optimum an unlimited run
    proves."""
    data: dict[str, Any] = copy.deepcopy({**TIE, "objective": {"kind": kind}})
    scenario = Scenario.from_data(data)
    proven = solve(scenario)
    assert proven.status == Status.OPTIMAL and proven.solver.path == "search"
    monkeypatch.setattr(thresholds, "MAX_EXACT_NODES", 5)  # too little memory to sort
    monkeypatch.setattr(thresholds, "MAX_BOUNDED_NODES", 5)  # weighted: bounded search
    limited = solve(scenario, memory_mb=0.001)
    assert limited.status == Status.FEASIBLE
    assert (limited.solver.backend, limited.solver.path) == ("greedy", "search")
    assert limited.message.startswith(
        "not proven optimal: the exact search over grade thresholds opened 5 nodes without "
        "settling it, and the MILP could not take over (too large: the MILP would encode"
    )
    assert "the allocation is the best the search found that keeps every rule" in limited.message
    assert limited.solver.gap is not None and limited.solver.gap >= 0
    checks = verify(limited.to_dict(), scenario)  # every rule holds; no optimum is claimed
    assert not [c for c in checks if c.ok is False]
    (claim,) = [c for c in checks if c.name == "optimality"]
    assert claim.ok is None and claim.detail.startswith("not claimed (status feasible): not")
    _, _, program = build_program(scenario)
    assert isinstance(program.cost, MarginalCost)
    rule = program.cost.rule
    mine = objective(rule, program.cost.exact, int_array(units(limited)))
    least = objective(rule, program.cost.exact, int_array(units(proven)))
    assert mine >= least
    if limited.solver.gap == 0:
        assert mine == least
        assert "(proven), but which of those it is" in limited.message
    else:
        assert mine - least <= limited.solver.gap * abs(mine) * (1 + 1e-9)


def int_array(values: list[int]) -> IntArray:
    return np.array(values, dtype=np.int64)


class Clock:
    """``time.monotonic`` that jumps a day ahead after ``calls`` readings: a deadline that
    passes after a set number of the search's checks, the same on every machine."""

    def __init__(self, calls: int) -> None:
        self.calls, self.read = calls, 0

    def __call__(self) -> float:
        self.read += 1
        return time.monotonic() + (86_400.0 if self.read > self.calls else 0.0)


def finer_tie() -> Scenario:
    """The tie scenario (Hamilton) counted a million times finer: its search opens 43
    nodes, in exact arithmetic."""
    data = copy.deepcopy({**TIE, "objective": {"kind": "proportional"}})
    data["budget"] *= 10**6
    data["rules"][0].update(min_units=3 * 10**6, max_units=11 * 10**6)
    return Scenario.from_data(data)


def test_a_search_out_of_time_keeps_its_early_dive(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past its share :data:`thresholds.EARLY_DIVE` of its nodes a search dives once; when
    its deadline then passes, the allocation that dive found is kept (every rule held, the
    optimum the unlimited search proves within its stated gap) and the run stops as
    before, with :class:`TimeLimitReached`."""
    _, _, program = build_program(finer_tie())
    optimum = thresholds.ThresholdSearch(program.folded()).run()
    assert optimum is not None and optimum.x is not None and optimum.nodes > 20
    monkeypatch.setattr(thresholds, "EARLY_DIVE", 1e-4)  # at node 2 of 20,000
    monkeypatch.setattr(thresholds, "monotonic", Clock(40))  # the dive reads it 20 times
    searcher = thresholds.ThresholdSearch(program.folded(), deadline=time.monotonic() + 60)
    with pytest.raises(TimeLimitReached):
        searcher.run()
    best = searcher.best_found
    assert best is not None and best.x is not None and best.gap is not None
    assert not searcher.program.violations(best.x)
    assert isinstance(program.cost, MarginalCost)
    exact = program.cost.exact
    found, least = objective("hamilton", exact, best.x), objective("hamilton", exact, optimum.x)
    assert least <= found <= least + best.gap


def test_a_run_out_of_time_gives_the_search_s_best_with_what_is_proven(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through ``solve``: status ``time_limit`` with an allocation keeping every rule, and
    the sentence says the time limit stopped the search and what is proven; before the
    early dive (by default at half the nodes it may open, far more than this search
    opens) the same deadline leaves no allocation, as before."""
    scenario = finer_tie()
    monkeypatch.setattr(thresholds, "monotonic", Clock(20))
    bare = solve(scenario)
    assert bare.status == Status.TIME_LIMIT and not bare.allocations
    assert bare.message.endswith("; no allocation")
    monkeypatch.setattr(thresholds, "EARLY_DIVE", 1e-4)  # at node 2 of 20,000
    monkeypatch.setattr(thresholds, "monotonic", Clock(40))  # the dive reads it 20 times
    stopped = solve(scenario)
    assert stopped.status == Status.TIME_LIMIT and stopped.allocations
    assert stopped.message.startswith("time limit: the threshold search opened ")
    assert (
        "s the run may take (solver.time_limit_s or --time-limit); the allocation is the "
        "best the search found that keeps every rule" in stopped.message
    )
    assert "no allocation" not in stopped.message
    assert stopped.solver.gap is not None
    monkeypatch.setattr(thresholds, "monotonic", time.monotonic)
    proven = solve(scenario)
    assert proven.status == Status.OPTIMAL
    _, _, program = build_program(scenario)
    assert isinstance(program.cost, MarginalCost)
    exact = program.cost.exact
    mine = objective("hamilton", exact, int_array(units(stopped)))
    least = objective("hamilton", exact, int_array(units(proven)))
    assert least <= mine <= least + Fraction(stopped.solver.gap) * mine


def test_where_the_primary_is_proven_the_tie_break_s_gap_is_stated_and_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Six recipients (found by hypothesis, kept here as data) where a search allowed seven
    nodes in exact arithmetic proves the least ``sum |x - q|`` but not which of those
    allocations is the least-squares one: the stated ``ties`` is above zero and bounds how
    far the answer's squares are from the exhaustive optimum's; the run's sentence says
    both."""
    q = np.array([23 / 7] * 5 + [46 / 7])
    program = IntegerProgram(
        23,
        np.zeros(6, dtype=np.int64),
        np.array([23, 4, 23, 23, 23, 23], dtype=np.int64),
        (),
        (
            RatioOrder(
                "grade_order",
                (np.array([0, 4]), np.array([1, 2, 3, 5])),
                np.array([0.5, 0.5, 0.5, 0.5, 1.0, 0.5]),
            ),
        ),
        MarginalCost("hamilton", q, np.arange(6, dtype=np.int64)),
    )
    monkeypatch.setattr(thresholds, "MAX_SORTED_UNITS", -1)
    searcher = thresholds.ThresholdSearch(program)
    searcher.max_nodes = 7
    assert searcher.run() is None
    best = searcher.best_found
    assert best is not None and best.x is not None and best.gap == 0
    assert best.ties is not None and best.ties > 0
    assert not program.violations(best.x)
    expected = brute_force(program)
    assert expected is not None
    exact = program.cost.exact  # type: ignore[attr-defined]
    assert objective("hamilton", exact, best.x) == objective("hamilton", exact, expected)
    assert 0 <= squares(exact, best.x) - squares(exact, expected) <= best.ties
    gap, sentence = _best_found(
        program, GaveUp(7, best.x, best.gap, best.ties), "why", maxmin=False
    )
    assert gap == 0.0
    assert sentence.startswith(
        "why; the allocation is the best the search found that keeps every rule: no "
        "allocation keeping them has a smaller sum |x - q| (proven), but which of those it "
        "is (least squares, then rank) is not: its sum (x - q)^2 is at most "
    )
    assert sentence.endswith("above the least of those")
