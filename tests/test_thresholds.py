"""The threshold search (:mod:`optimizer.thresholds`) gives the exact optimum under
``grade_order``, the same allocation as exhaustive search and the MILP, ties included;
the sorted nested greedy it runs at every node equals the nested greedy."""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from optimizer import solvers, thresholds
from optimizer.compile import build_program
from optimizer.model import IntegerProgram, RatioOrder, SubsetSum
from optimizer.objectives import MarginalCost
from optimizer.partition import Layout, SortedUnits, nested_greedy
from optimizer.result import Result, Status
from optimizer.scenario import Scenario
from optimizer.solve import solve
from optimizer.solvers.bruteforce import brute_force
from tests.hypothesis_profile import examples
from tests.test_backends import TIE, scenarios
from tests.test_partition import RULES, partition_programs, quotas

EXAMPLES = settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
WEIGHTS = (0.5, 0.7, 1.0, 1.0, 1.1, 1.3, 2.0, 3.0)


@st.composite
def ordered_programs(draw: st.DrawFn, *, max_n: int = 6, max_budget: int = 24) -> IntegerProgram:
    """A small program under a grade order of two or three levels, maybe with group rules
    over a partition and one group rule overlapping them."""
    n = draw(st.integers(2, max_n))
    budget = draw(st.integers(0, max_budget))
    q = draw(quotas(n, max(budget, 1)))
    lo = np.array([draw(st.integers(0, 3)) for _ in range(n)], dtype=np.int64)
    hi = np.array(
        [draw(st.one_of(st.just(budget), st.integers(0, budget))) for _ in range(n)],
        dtype=np.int64,
    )
    hi = np.maximum(hi, lo)
    rank = np.array(draw(st.permutations(range(n))), dtype=np.int64)
    weight = np.array([draw(st.sampled_from(WEIGHTS)) for _ in range(n)])
    level = np.array([draw(st.integers(0, 2)) for _ in range(n)])
    levels = tuple(
        np.flatnonzero(level == g).astype(np.int64) for g in range(3) if np.any(level == g)
    )
    sums: list[SubsetSum] = []
    label = [draw(st.integers(0, 2)) for _ in range(n)]  # 2: ungrouped
    for g in range(2):
        members = np.flatnonzero(np.array(label) == g).astype(np.int64)
        if len(members) and draw(st.booleans()):
            low = draw(st.integers(0, budget))
            sums.append(SubsetSum(f"g{g}", members, low // 2, low + draw(st.integers(0, 6))))
    if draw(st.integers(0, 3)) == 0:  # overlapping the partition
        members = np.array(sorted(draw(st.sets(st.integers(0, n - 1), min_size=1))))
        sums.append(
            SubsetSum("cross", members.astype(np.int64), None, draw(st.integers(0, budget)))
        )
    order = RatioOrder("grade_order", levels, weight)
    rule = draw(st.sampled_from(RULES))
    return IntegerProgram(budget, lo, hi, tuple(sums), (order,), MarginalCost(rule, q, rank))


@EXAMPLES
@given(ordered_programs())
def test_search_is_the_exhaustive_optimum(program: IntegerProgram) -> None:
    expected = brute_force(program)
    found = thresholds.search(program)
    if found is None:  # it gives up only when a group rule outside the partition binds
        assert any(row.label == "cross" for row in program.sums)
        return
    note(f"{found.nodes} nodes")
    assert (found.x is None) == (expected is None)
    if expected is not None and found.x is not None:
        assert found.x.tolist() == expected.tolist()
    # depth first, as maxmin's feasibility test: any allocation that keeps every rule
    feasible = thresholds.search(program, first_feasible=True)
    if feasible is None:  # it met the overlapping rule first, and gave up
        assert any(row.label == "cross" for row in program.sums)
        return
    assert (feasible.x is None) == (expected is None)
    if feasible.x is not None:
        assert not program.violations(feasible.x)


@EXAMPLES
@given(scenarios(maxmin=False))
def test_search_on_scenario_programs_is_the_exhaustive_optimum(data: dict[str, Any]) -> None:
    """The programs of random scenarios (decimal weights, weight 0, change limits)."""
    program = build_program(Scenario.from_data(data))[2]
    if not program.orders:
        return
    found = thresholds.search(program)
    expected = brute_force(program)
    assert found is not None  # one tag only: the groups are a partition
    assert (found.x is None) == (expected is None)
    if expected is not None and found.x is not None:
        assert found.x.tolist() == expected.tolist()


def test_search_settles_the_lexicographic_tie_as_the_rank_stages_do() -> None:
    """Two allocations tie on every cost stage; like the MILP's rank stages, the search
    gives the first recipient in rank order (r0) as many units as an optimum allows."""
    scenario = Scenario.from_data(TIE)
    result = solve(scenario)
    assert result.solver.path == "search"
    assert {a.id: a.units for a in result.allocations} == {"r0": 4, "r1": 1, "r2": 5, "r3": 4}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000))
def test_search_equals_the_milp_on_larger_programs(seed: int) -> None:
    """Forty recipients in four grades and five groups, budgets in the hundreds."""
    rng = np.random.default_rng(seed)
    n, budget = 40, int(rng.integers(100, 800))
    weight = np.round(rng.uniform(0.3, 3.0, n), 1)
    level = rng.integers(0, 4, n)
    q = weight * (1.6 - 0.2 * level) * rng.uniform(0.8, 1.2, n)
    q = budget * q / q.sum()
    previous = q * rng.uniform(0.7, 1.3, n)
    lo = np.floor(previous * 0.85).astype(np.int64)
    hi = np.ceil(previous * 1.2).astype(np.int64) + 1
    label = rng.integers(0, 6, n)
    sums = []
    for g in range(5):
        members = np.flatnonzero(label == g).astype(np.int64)
        if len(members):
            target = float(q[members].sum()) * rng.uniform(0.9, 1.1)
            sums.append(SubsetSum(f"g{g}", members, int(target * 0.97), int(target * 1.03)))
    levels = tuple(np.flatnonzero(level == g).astype(np.int64) for g in range(4))
    program = IntegerProgram(
        budget,
        lo,
        hi,
        tuple(sums),
        (RatioOrder("grade_order", levels, weight),),
        MarginalCost(str(rng.choice(RULES)), q, rng.permutation(n)),
    )
    found = thresholds.search(program)
    assert found is not None
    outcome = solvers.backend("highs").solve(program.tightened(), time_limit_s=120)
    note(f"{found.nodes} nodes; HiGHS {outcome.status}")
    if found.x is None:
        assert outcome.status == Status.INFEASIBLE
        return
    assert outcome.status == Status.OPTIMAL and outcome.x is not None
    assert program.stage_values(outcome.x) == program.stage_values(found.x)
    assert outcome.x.tolist() == found.x.tolist()


@EXAMPLES
@given(partition_programs(max_n=8), st.data())
def test_sorted_units_give_the_nested_greedy_under_tighter_bounds(
    program: IntegerProgram, data: st.DataObject
) -> None:
    units = SortedUnits(program, Layout.of(program))
    lift = np.array([data.draw(st.integers(0, 3)) for _ in range(program.size)])
    drop = np.array([data.draw(st.integers(0, 3)) for _ in range(program.size)])
    tighter = replace(
        program,
        lo=np.minimum(program.lo + lift, np.maximum(program.hi, program.lo)),
        hi=np.maximum(program.hi - drop, program.lo),
    )
    expected = nested_greedy(tighter)
    found = units.solve(tighter)
    assert (found is None) == (expected is None)
    if expected is not None and found is not None:
        assert found.tolist() == expected.tolist()


def graded(rules: list[dict[str, Any]]) -> dict[str, Any]:
    """Six recipients whose previous allocations pull against their grades."""
    return {
        "name": "binding grade order",
        "budget": 60,
        "grades": [
            {"grade": "S", "min_score": 80, "multiplier": 1.3},
            {"grade": "B", "min_score": 0, "multiplier": 1.0},
        ],
        "recipients": [
            {
                "id": f"r{i}",
                "score": s,
                "weight": w,
                "previous": p,
                "tags": {"kind": k, "region": "aabbab"[i]},
            }
            for i, (s, w, p, k) in enumerate(
                [
                    (90, 2.0, 5, "x"),
                    (85, 1.0, 12, "y"),
                    (82, 1.5, 15, "x"),
                    (60, 2.0, 10, "y"),
                    (50, 1.0, 5, "x"),
                    (40, 2.0, 4, "y"),
                ]
            )
        ],
        "rules": [{"type": "change_limit", "max_decrease": 0.5, "max_increase": 0.5}, *rules],
    }


@pytest.mark.parametrize("kind", ["proportional", "weighted", "maxmin"])
def test_solve_takes_the_search_path_where_grade_order_binds(kind: str) -> None:
    data = graded([{"type": "grade_order"}])
    data["objective"] = {"kind": kind}
    scenario = Scenario.from_data(data)
    auto = solve(scenario)
    assert auto.status == Status.OPTIMAL
    assert (auto.solver.backend, auto.solver.path) == ("greedy", "search"), auto.message
    assert "exact search over grade thresholds" in auto.message
    relaxed = solve(Scenario.from_data({**data, "rules": data["rules"][:1]}))
    assert [a.units for a in relaxed.allocations] != [a.units for a in auto.allocations]
    for backend in ("highs", "cp-sat"):
        milp = solve(scenario, backend=backend)
        assert [a.units for a in milp.allocations] == [a.units for a in auto.allocations]


def test_a_binding_overlapping_group_leaves_the_program_to_the_milp() -> None:
    rules: list[dict[str, Any]] = [
        {"type": "grade_order"},
        {"type": "group", "tag": "kind", "value": "x", "max_units": 40},
        {"type": "group", "tag": "region", "value": "a", "max_units": 26},
    ]
    scenario = Scenario.from_data(graded(rules))
    auto = solve(scenario)
    assert auto.status == Status.OPTIMAL
    assert auto.solver.path == "milp"
    milp = solve(scenario, backend="highs")
    assert [a.units for a in milp.allocations] == [a.units for a in auto.allocations]


def searched_nodes(result: Result) -> int:
    """The nodes the threshold search says it opened."""
    opened = re.search(r"\(([\d,]+) nodes?", result.message)
    assert opened is not None, result.message
    return int(opened.group(1).replace(",", ""))


def assert_the_milp_took_over(searched: Result, limited: Result) -> None:
    """``limited`` went to the MILP where ``searched`` was settled by the search, with the
    same answer."""
    assert (searched.solver.path, limited.solver.path) == ("search", "milp")
    assert [a.units for a in limited.allocations] == [a.units for a in searched.allocations]


def test_past_its_node_limit_the_search_leaves_the_program_to_the_milp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario = Scenario.from_data(TIE)
    searched = solve(scenario)
    nodes = searched_nodes(searched)
    assert nodes >= 2  # it branched: a limit one node short of its count stops it
    monkeypatch.setattr(thresholds, "MAX_NODES", nodes - 1)
    limited = solve(scenario)
    assert_the_milp_took_over(searched, limited)


def test_a_milp_refused_after_the_search_gave_up_says_how_far_the_search_went(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where the search found no allocation keeping every rule either (its dives are
    allowed no split here; with one, the run is ``feasible``: tests/test_search_best_found)."""
    scenario = Scenario.from_data({**TIE, "objective": {"kind": "proportional"}})
    monkeypatch.setattr(thresholds, "MAX_EXACT_NODES", 5)  # too little memory to sort
    monkeypatch.setattr(thresholds, "MAX_DIVE_STEPS", 0)
    refused = solve(scenario, memory_mb=0.001)
    assert refused.status == Status.ERROR
    assert refused.message.startswith("too large: the MILP would encode")
    assert refused.message.endswith(
        "(the exact search over grade thresholds opened 5 nodes without settling it)"
    )


def test_the_sorted_search_stops_where_its_greedies_would_walk_too_many_units(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each node's nested greedy walks the whole sorted table, so the nodes allowed are
    :data:`thresholds.MAX_SORTED_WORK` over the units between the bounds: enough for the
    nodes it needs, it settles; one node short, the MILP takes over with the same answer."""
    scenario = Scenario.from_data({**TIE, "objective": {"kind": "proportional"}})
    searched = solve(scenario)
    nodes = searched_nodes(searched)
    assert nodes > 4  # the search may always open 4
    _, _, program = build_program(scenario)
    window = thresholds.ThresholdSearch(program.folded()).program.window()
    monkeypatch.setattr(thresholds, "MAX_SORTED_WORK", window * nodes)
    assert solve(scenario).solver.path == "search"
    monkeypatch.setattr(thresholds, "MAX_SORTED_WORK", window * nodes - 1)
    limited = solve(scenario)
    assert_the_milp_took_over(searched, limited)


def test_past_its_recipient_nodes_the_exact_search_leaves_the_program_to_the_milp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Counted 1,000 times finer the program has more than :data:`thresholds.EXACT_FROM`
    units a recipient: searched exactly, it may open :data:`thresholds.MAX_EXACT_WORK`
    recipient-nodes; one node short of what it needs, the MILP answers the same."""
    data = copy.deepcopy({**TIE, "objective": {"kind": "proportional"}})
    data["budget"] *= 1000
    data["rules"][0].update(min_units=3000, max_units=11000)
    scenario = Scenario.from_data(data)
    _, _, program = build_program(scenario)
    searcher = thresholds.ThresholdSearch(program.folded())
    assert searcher.exact is not None  # it would fit a sorted table: the exact mode by choice
    searched = solve(scenario)
    nodes = searched_nodes(searched)
    assert nodes > 4
    monkeypatch.setattr(thresholds, "MAX_EXACT_WORK", program.size * nodes)
    assert solve(scenario).solver.path == "search"
    monkeypatch.setattr(thresholds, "MAX_EXACT_WORK", program.size * nodes - 1)
    limited = solve(scenario)
    assert_the_milp_took_over(searched, limited)


@EXAMPLES
@given(ordered_programs())
def test_the_exact_mode_for_huge_programs_finds_the_same_optimum(
    program: IntegerProgram,
) -> None:
    """Programs too large to sort their units are searched in exact arithmetic (bounds,
    splits, node costs); forced onto small programs, it gives the exhaustive optimum, or
    gives up (node limit, a divisor method's costs past the first node, the overlap).

    The exhaustive search compares costs rounded to integers (``SCALE``), the exact mode
    the exact ones: where rounding ties two allocations (quotas a rounding error apart,
    e.g. 4 and 4 + 2^-50), the exact one may be the other; it is never worse exactly."""
    expected = brute_force(program)
    limit = thresholds.MAX_SORTED_UNITS
    thresholds.MAX_SORTED_UNITS = -1
    try:
        searcher = thresholds.ThresholdSearch(program)
        assert searcher.exact is not None
        found = searcher.run()
        feasible = searcher.run(first_feasible=True)
    finally:
        thresholds.MAX_SORTED_UNITS = limit
    if found is not None:
        assert (found.x is None) == (expected is None)
        if expected is not None and found.x is not None:
            assert not program.violations(found.x)
            exact = searcher.exact.key
            assert exact(found.x) <= exact(expected)
    else:
        # small programs never reach the node limit: only these give up
        assert any(row.label == "cross" for row in program.sums) or (
            program.cost.rule not in ("hamilton", "weighted")  # type: ignore[attr-defined]
        )
    if feasible is not None:
        assert (feasible.x is None) == (expected is None)
        if feasible.x is not None:
            assert not program.violations(feasible.x)
