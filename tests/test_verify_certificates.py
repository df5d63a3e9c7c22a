"""``allot verify`` on the crossing path's ``kind: flow`` certificate and the search path's
``kind: threshold_search`` tree (:mod:`optimizer.certificate_check`), and the benchmark
checker on the flow: a correct result verifies, a tampered one fails with the line that says
where."""

from __future__ import annotations

import copy
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from benchmarks.certificate import flow
from benchmarks.check import Problem, compare
from benchmarks.instances import InstanceSpec, generate
from optimizer.scenario import Scenario
from optimizer.solve import solve
from optimizer.verify import Check, verify
from tests.hypothesis_profile import examples
from tests.test_crossing import _instance
from tests.test_search_certificate import (
    EVERY_OBJECTIVE,
    OBJECTIVES,
    SEEDS,
    search_scenario,
    unbounded,
)
from tests.test_verify import moved


def _certificate(result: dict[str, Any], scenario: Scenario) -> Check:
    (check,) = [c for c in verify(result, scenario) if c.name == "certificate"]
    return check


def _failures(result: dict[str, Any], scenario: Scenario) -> list[str]:
    return [f"{c.name}: {c.detail}" for c in verify(result, scenario) if c.ok is False]


@pytest.fixture(scope="module")
def crossing() -> tuple[dict[str, Any], Scenario]:
    """The 840 programmes with two crossing families (regional bands, a share for the
    future kind) and no grade order: the crossing path."""
    scenario = Scenario.from_data(_instance("webster", "33600"))
    result = solve(scenario)
    assert result.solver.path == "crossing"
    return result.to_dict(), scenario


def test_a_flow_certificate_verifies(crossing: tuple[dict[str, Any], Scenario]) -> None:
    result, scenario = crossing
    assert result["certificate"]["kind"] == "flow"
    assert _failures(result, scenario) == []
    check = _certificate(result, scenario)
    assert check.ok is True and "proof of optimality" in check.detail


def _shifted(price: str, by: int) -> str:
    parts = price.split("; ")
    return "; ".join([str(Fraction(parts[0]) + by), *parts[1:]])


def test_a_changed_price_is_caught(crossing: tuple[dict[str, Any], Scenario]) -> None:
    result, scenario = crossing
    bad = copy.deepcopy(result)
    row = next(p for p in bad["certificate"]["prices"] if p["group"] == "busan band")
    row["price"] = _shifted(row["price"], 1000)
    check = _certificate(bad, scenario)
    assert check.ok is False
    assert "busan band" in check.detail and "reduced cost" in check.detail, check.detail
    assert _failures(bad, scenario)[0].startswith("certificate: ")


def test_a_unit_moved_within_a_cell_is_caught(crossing: tuple[dict[str, Any], Scenario]) -> None:
    """Two recipients of the same region and kind: the cell's totals hold, every rule holds,
    and the certificate's cost of the cell's last or next unit no longer does."""
    result, scenario = crossing
    units = {a["id"]: a["units"] for a in result["allocations"]}
    by_cell: dict[tuple[Any, ...], list[str]] = {}
    for r in scenario.recipients:
        key = (r.tags.get("region"), r.tags.get("type") == "future")
        by_cell.setdefault(key, []).append(r.id)
    members = next(m for m in by_cell.values() if len(m) > 2)
    giver = max(members, key=lambda i: units[i])
    taker = next(i for i in members if i != giver)
    bad = moved(result, giver, taker)
    check = _certificate(bad, scenario)
    assert check.ok is False and "cell (" in check.detail, check.detail


KINDS = ("hamilton", "webster", "jefferson", "adams", "dean", "weighted", "maxmin")


@st.composite
def crossing_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """Recipients in regions a, b, c and kinds x, y, with region a held down, region b and
    kind x held up: most such scenarios take the crossing path (both families bind)."""
    n = draw(st.integers(4, 9))
    budget = draw(st.integers(8, 60))
    recipients = []
    for i in range(n):
        rec: dict[str, Any] = {
            "id": f"r{i}",
            "score": draw(st.sampled_from([10, 30, 50, 61, 72.5, 80, 99])),
            "weight": draw(st.sampled_from([0.5, 0.7, 1.0, 1.5])),
            "tags": {
                "region": "ab"[i % 2] if i < 4 else draw(st.sampled_from("abc")),
                "kind": "xy"[i // 2 % 2] if i < 4 else draw(st.sampled_from("xy")),
            },
        }
        if draw(st.integers(0, 9)) < 3:
            rec["cap"] = draw(st.integers(1, budget))
        recipients.append(rec)
    kind = draw(st.sampled_from(KINDS))
    objective = (
        {"kind": kind}
        if kind in ("weighted", "maxmin")
        else {"kind": "proportional", "method": kind}
    )
    third = budget // 3
    rules = [
        {"type": "group", "tag": "region", "value": "a", "max_units": draw(st.integers(0, third))},
        {
            "type": "group",
            "tag": "region",
            "value": "b",
            "min_units": draw(st.integers(third, budget)),
        },
        {
            "type": "group",
            "tag": "kind",
            "value": "x",
            "min_units": draw(st.integers(third, budget)),
        },
    ]
    return {
        "name": "crossing",
        "budget": budget,
        "recipients": recipients,
        "objective": objective,
        "rules": rules,
    }


def _units(result: dict[str, Any], problem: Problem) -> np.ndarray:
    units = {a["id"]: a["units"] for a in result["allocations"]}
    return np.array([units[i] for i in problem.ids], dtype=np.int64)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(crossing_scenarios())
def test_every_flow_certificate_verifies(data: dict[str, Any]) -> None:
    """verify and the benchmark checker both accept every flow certificate the engine
    writes (maxmin: not checked by verify, whose level the prices do not prove)."""
    scenario = Scenario.from_data(data)
    result = solve(scenario)
    if result.solver.path != "crossing" or result.status != "optimal":
        return
    payload = result.to_dict()
    assert _failures(payload, scenario) == []
    check = _certificate(payload, scenario)
    assert check.ok is (None if data["objective"]["kind"] == "maxmin" else True), check.detail
    problem = Problem.of(data)
    assert flow(problem, _units(payload, problem), payload["certificate"]) == []


def test_the_benchmark_checker_certifies_flows_and_catches_tampering(
    crossing: tuple[dict[str, Any], Scenario],
) -> None:
    result, _ = crossing
    data = _instance("webster", "33600")
    problem = Problem.of(data)
    x = _units(result, problem)
    verdict = compare(problem, x, "optimal", None, "skipped", result["certificate"])
    assert verdict.ok and verdict.relation == "certified", verdict
    bad = copy.deepcopy(result["certificate"])
    row = next(p for p in bad["prices"] if p["group"] == "busan band")
    row["price"] = _shifted(row["price"], 1000)
    wrong = flow(problem, x, bad)
    assert wrong and "busan band" in wrong[0] and "reduced cost" in wrong[0], wrong
    verdict = compare(problem, x, "optimal", None, "skipped", bad)
    assert not verdict.ok and verdict.relation == "certificate wrong"


# ---------------------------------------------------------------------- threshold_search

SEARCH_EXAMPLES = settings(
    max_examples=examples(30),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _search_result(seed: int, objective: str) -> tuple[dict[str, Any], Scenario]:
    """A random grade_order scenario the search settled (else the example is discarded)."""
    scenario = Scenario.from_data(search_scenario(seed, objective))
    result = solve(scenario)
    assume(result.status == "optimal" and result.solver.path == "search")
    payload = result.to_dict()
    assert payload["certificate"]["kind"] == "threshold_search"
    return payload, scenario


def _nodes(result: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {int(row["node"]): row for row in result["certificate"]["nodes"]}


@SEARCH_EXAMPLES
@given(SEEDS, EVERY_OBJECTIVE)
def test_a_search_tree_verifies(seed: int, objective: str) -> None:
    result, scenario = _search_result(seed, objective)
    assert _failures(result, scenario) == []
    check = _certificate(result, scenario)
    assert check.ok is True, check.detail
    if objective == "maxmin":
        assert "cannot rise" in check.detail
    else:
        assert "proof of optimality" in check.detail


@SEARCH_EXAMPLES
@given(SEEDS, OBJECTIVES)
def test_a_costlier_allocation_is_refused_under_the_same_tree(seed: int, objective: str) -> None:
    """Every single-unit move away from the answer that keeps every rule and costs more is
    refused by the certificate check itself (the accepted leaf no longer holds the optimum)."""
    result, scenario = _search_result(seed, objective)
    problem = Problem.of(search_scenario(seed, objective))
    x = _units(result, problem)
    best = problem.cost(x)
    for i, giver in enumerate(problem.ids):
        for j, taker in enumerate(problem.ids):
            if i == j or x[i] == 0:
                continue
            y = x.copy()
            y[i] -= 1
            y[j] += 1
            if problem.violations(y) or problem.cost(y) <= best + 1e-9:
                continue
            check = _certificate(moved(result, giver, taker), scenario)
            assert check.ok is False, (giver, taker)


@SEARCH_EXAMPLES
@given(SEEDS, OBJECTIVES)
def test_a_tampered_tree_is_caught(seed: int, objective: str) -> None:
    """A split's ratio moved past the answer, an open leaf's optimum lowered below the
    answer's cost, its budget price pushed, a node dropped: each fails with a line naming
    the node."""
    with unbounded():
        result, scenario = _search_result(seed, objective)
    nodes = _nodes(result)
    accepted = next(n for n, row in nodes.items() if row.get("leaf") == "accepted")
    parents = [  # a split between grades (not one on a member's units)
        (n, row)
        for n, row in nodes.items()
        if accepted in _children(row) and "better" in row["split"]
    ]
    bound = [n for n, row in nodes.items() if row.get("leaf") == "bound"]
    assume(parents and bound)
    weight = {r.id: Fraction(repr(r.weight)) for r in scenario.recipients}
    units = {a["id"]: a["units"] for a in result["allocations"]}
    grade = {r.id: getattr(scenario.grade_of(r), "grade", None) for r in scenario.recipients}

    node, row = parents[0]
    split = row["split"]
    up = split["up"] == accepted
    name = split["better"] if up else split["worse"]
    ratios = [Fraction(units[i]) / weight[i] for i in units if grade[i] == name and weight[i] > 0]
    resplit = copy.deepcopy(result)  # the accepted leaf's ratio moved so x leaves it
    _nodes(resplit)[node]["split"]["ratio"] = str(min(ratios) + 1 if up else max(ratios) - 1)
    check = _certificate(resplit, scenario)  # (or its sibling, whose bounds widened, first)
    assert check.ok is False and check.detail.startswith("threshold_search node"), check.detail

    lowered = copy.deepcopy(result)  # an open leaf said to be cheaper than the answer
    _nodes(lowered)[bound[0]]["cost"] = str(-(10**12))
    check = _certificate(lowered, scenario)
    assert check.ok is False and f"node {bound[0]}: its stated optimum" in check.detail

    refused = []
    for shift in (10**6, -(10**6)):  # a budget price pushed far either way
        pushed = copy.deepcopy(result)
        prices = _nodes(pushed)[bound[0]]["prices"]
        prices["budget"] = str(Fraction(prices["budget"]) + shift)
        refused.append(_certificate(pushed, scenario))
    assert any(c.ok is False and "Lagrangian bound" in c.detail for c in refused)

    dropped = copy.deepcopy(result)  # a leaf missing: the tree no longer covers
    dropped["certificate"]["nodes"] = [
        r for r in dropped["certificate"]["nodes"] if int(r["node"]) != bound[0]
    ]
    check = _certificate(dropped, scenario)
    assert check.ok is False and "not a search tree" in check.detail


def _children(row: dict[str, Any]) -> tuple[int, ...]:
    split = row.get("split")
    return () if split is None else (int(split["up"]), int(split["down"]))


def test_the_840_programmes_search_tree_verifies() -> None:
    """The benchmark's 840 programmes with every rule (Hamilton): the search splits, and
    verify proves the answer from the tree; a maxmin tree of empty leaves with one said to
    be accepted fails."""
    data = generate(InstanceSpec(840, "hamilton", "all"))
    scenario = Scenario.from_data(data)
    result = solve(scenario).to_dict()
    assert any("split" in row for row in result["certificate"]["nodes"])
    assert _failures(result, scenario) == []
    (optimality,) = [c for c in verify(result, scenario) if c.name == "optimality"]
    assert optimality.ok and "proved by the certificate (threshold_search)" in optimality.detail
