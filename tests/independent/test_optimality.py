"""Allot's answers against the independent judge: the documented optimum and tie-break
order, on every path and backend, for random small scenarios with any rules.

The judge (:mod:`tests.independent.enumeration`) enumerates every allowed allocation and
takes the smallest documented key; nothing of the engine's is shared with it. A wrong
optimum, a rule off by one unit, another rounding of a divisor method or another order
of the last tie-break each fail here.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from optimizer.result import Result, Status
from optimizer.scenario import Scenario
from optimizer.solve import solve
from tests.hypothesis_profile import examples
from tests.independent import enumeration, exchange
from tests.independent.generate import KINDS, objective, scenarios
from tests.independent.instance import read

MILP = ("highs", "cbc", "cp-sat")


def property_settings(n: int) -> settings:
    """``n`` random examples (times the depth of tests/hypothesis_profile.py)."""
    return settings(
        max_examples=examples(n),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


def units(result: Result) -> dict[str, int]:
    return {a.id: a.units for a in result.allocations}


def check(data: dict[str, Any], backend: str) -> None:
    """``solve`` with ``backend`` gives the judge's optimum, or says infeasible with it."""
    expected = enumeration.allocate(data)
    result = solve(Scenario.from_data(data), backend=backend)
    note(f"judge: {expected}; {backend}: {result.status} {units(result)} {result.message}")
    event(f"{result.status}, path {result.solver.path}")
    if expected is None:
        assert result.status == Status.INFEASIBLE
    else:
        assert result.status == Status.OPTIMAL, result.message
        assert units(result) == expected


def _member(i: int, *groups: str) -> dict[str, Any]:
    tags = {t: ("y" if t in groups else "n") for t in ("t1", "t2", "t3")}
    return {"id": f"r{i}", "score": 50, "floor": 4 if i == 3 else 3, "cap": 4, "tags": tags}


RANK_TIE: dict[str, Any] = {
    "name": "a tie only the rank order settles",
    "budget": 25,
    "recipients": [
        _member(0, "t1", "t2"),
        _member(1, "t1", "t3"),
        _member(2, "t2", "t3"),
        _member(3),
        _member(4, "t3"),
        _member(5, "t3"),
        _member(6),
    ],
    "rules": [
        {"type": "group", "name": "r0 r1", "tag": "t1", "value": "y", "max_units": 7},
        {"type": "group", "name": "r0 r2", "tag": "t2", "value": "y", "max_units": 7},
        {"type": "group", "name": "r1 r2 r4 r5", "tag": "t3", "value": "y", "max_units": 14},
    ],
}
"""Equal entitlements (rank order = id order), every recipient 3 or 4 units, r3 exactly 4:
25 units leave three 4s among r0 r1 r2 r4 r5 r6, and every such allocation has the same
``sum |x - q|`` and least squares. ``rank . x`` wants the 4s at the smallest ranks; the
groups forbid two 4s in {r0, r1}, two in {r0, r2} and three in {r1, r2, r4, r5}, which
leaves exactly two triples of the smallest rank sum, 9: {r1, r2, r6} and {r0, r4, r5}
(by hand: every other triple of sum <= 9 has two of r0 r1 r2, or is {r1, r2, r4|r5}).
The documented last tie-break (the first recipient in rank order takes the most) picks
r0 = 4; the reverse order would pick r6 = 4."""
RANK_TIE_ANSWER = {"r0": 4, "r1": 3, "r2": 3, "r3": 4, "r4": 4, "r5": 4, "r6": 3}


@property_settings(120)
@given(scenarios())
def test_auto_returns_the_documented_optimum(data: dict[str, Any]) -> None:
    check(data, "auto")


@pytest.mark.parametrize("backend", ("auto", *MILP))
def test_rank_order_settles_a_full_tie(backend: str) -> None:
    inst = read(RANK_TIE)
    tied = enumeration.primary_ties(inst)
    assert sorted(dict(zip(inst.ids, x, strict=True))["r0"] for x in tied) == [3, 4]
    assert enumeration.allocate(RANK_TIE) == RANK_TIE_ANSWER
    result = solve(Scenario.from_data(RANK_TIE), backend=backend)
    assert result.status == Status.OPTIMAL
    assert units(result) == RANK_TIE_ANSWER


@property_settings(25)
@given(scenarios(), st.sampled_from(MILP))
def test_every_milp_backend_returns_the_documented_optimum(
    data: dict[str, Any], backend: str
) -> None:
    check(data, backend)


@property_settings(60)
@given(scenarios(grade_order=True))
def test_grade_order_by_the_search_or_the_milp(data: dict[str, Any]) -> None:
    """``grade_order`` always: the relaxation's proof, the threshold search, or the MILP."""
    check(data, "auto")


@pytest.mark.parametrize("kind", KINDS)
@property_settings(12)
@given(data=st.data())
def test_each_objective_on_the_structured_paths(kind: str, data: st.DataObject) -> None:
    """Every objective, bounds and group rules only (the greedy and partition paths)."""
    drawn = data.draw(scenarios(kinds=(kind,)))
    drawn["rules"] = [r for r in drawn["rules"] if r["type"] != "grade_order"]
    check(drawn, "auto")


def _edge(rule: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Two recipients, quotas 8 and 2 of 10 units, and one rule that binds."""
    a: dict[str, Any] = {"id": "a", "score": 80, "tags": {"kind": "p"}}
    b: dict[str, Any] = {"id": "b", "score": 20, "tags": {"kind": "q"}}
    for rec in (a, b):
        rec.update(extra.get(rec["id"], {}))
    return {"name": "edge", "budget": 10, "recipients": [a, b], "rules": [rule]}


EDGES = [
    # 0.35 * 10 = 3.5 units: b at least 4, a at most 3 (shares round inwards)
    (_edge({"type": "group", "tag": "kind", "value": "q", "min_share": 0.35}), (6, 4)),
    (_edge({"type": "group", "tag": "kind", "value": "p", "max_share": 0.35}), (3, 7)),
    (_edge({"type": "group", "tag": "kind", "value": "q", "min_units": 4}), (6, 4)),
    (_edge({"type": "group", "tag": "kind", "value": "p", "max_units": 6}), (6, 4)),
    # both last had 5: a at most 5 * 1.25 = 6.25 -> 6, b at least 5 * 0.75 = 3.75 -> 4
    (
        _edge(
            {"type": "change_limit", "max_decrease": 0.25, "max_increase": 0.25},
            a={"previous": 5},
            b={"previous": 5},
        ),
        (6, 4),
    ),
]
"""Scenarios whose answer sits on a rule's edge, with the answer worked out by hand: an
engine whose rule is one unit tighter or looser answers otherwise."""


@pytest.mark.parametrize("backend", ("auto", "highs"))
@pytest.mark.parametrize(("data", "answer"), EDGES)
def test_rule_edges_by_hand(data: dict[str, Any], answer: tuple[int, int], backend: str) -> None:
    expected = {"a": answer[0], "b": answer[1]}
    assert enumeration.allocate(data) == expected
    assert units(solve(Scenario.from_data(data), backend=backend)) == expected


@property_settings(30)
@given(scenarios(kinds=("hamilton", "weighted", "maxmin")).filter(lambda d: len(d["rules"]) > 0))
def test_rules_hold_exactly_at_their_edges(data: dict[str, Any]) -> None:
    """The judge's rules are the README's (shares and change limits rounded inwards);
    an answer one unit off an edge is either not allowed or not optimal."""
    check(data, "auto")
    inst = read(data)
    result = solve(Scenario.from_data(data))
    if result.status == Status.OPTIMAL:
        x = [units(result)[i] for i in inst.ids]
        assert not inst.violations(x)


SWEEP_VOTES = {"a": 100_000, "b": 80_000, "c": 30_000, "d": 20_000, "e": 7_500}
DIVISOR_KINDS = ("jefferson", "webster", "huntington-hill", "adams", "dean")


def sweep(method: str, house: int) -> dict[str, Any]:
    return {
        "name": "house sweep",
        "budget": house,
        "recipients": [{"id": k, "score": v} for k, v in SWEEP_VOTES.items()],
        "objective": objective(method),
    }


@pytest.mark.parametrize("method", ("hamilton", *DIVISOR_KINDS))
def test_every_house_size_on_the_greedy_path(method: str) -> None:
    """Houses 1 to 60 of five parties: each seat's rounding (d(k) of each divisor method,
    Hamilton's remainders) decides some house size here. The judge is the exchange
    argument (no rules: every unit from one party to another makes it worse)."""
    for house in range(1, 61):
        data = sweep(method, house)
        result = solve(Scenario.from_data(data))
        assert units(result) == exchange.allocate(data), house


@pytest.mark.parametrize("method", ("hamilton", *DIVISOR_KINDS))
def test_every_house_size_on_the_milp_path(method: str) -> None:
    """The same houses through HiGHS (the MILP's integer unit costs)."""
    for house in range(1, 41, 3):
        data = sweep(method, house)
        result = solve(Scenario.from_data(data), backend="highs")
        assert units(result) == exchange.allocate(data), house


@pytest.mark.parametrize("backend", ("auto", "highs"))
def test_ids_with_nul_characters_still_rank_by_id(backend: str) -> None:
    """Equal entitlements, one unit: the smaller id takes it, however the ids are written
    (NumPy strings cannot hold NUL, so such ids take another sorting path) and listed."""
    data: dict[str, Any] = {
        "name": "nul ids",
        "budget": 1,
        "recipients": [{"id": "b\x00", "score": 1}, {"id": "a\x00", "score": 1}],
    }
    expected = enumeration.allocate(data)
    assert expected == {"a\x00": 1, "b\x00": 0}
    assert units(solve(Scenario.from_data(data), backend=backend)) == expected
