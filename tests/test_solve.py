"""Engine-level properties: every bound and rule holds, the budget is spent exactly, and the
answer does not depend on how the scenario was written."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.loading import load_scenario
from optimizer.result import Result, Status
from optimizer.scenario import Scenario
from optimizer.solve import solve

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
OBJECTIVES = [
    {"kind": "proportional", "method": m}
    for m in ("hamilton", "jefferson", "webster", "huntington-hill", "adams")
] + [{"kind": "weighted"}, {"kind": "maxmin"}]
GRADES = [
    {"grade": "S", "min_score": 80, "multiplier": 1.3},
    {"grade": "A", "min_score": 50, "multiplier": 1.1},
    {"grade": "B", "min_score": 0, "multiplier": 1.0},
]


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(2, 9))
    budget = draw(st.integers(n, 120))
    recipients = []
    for i in range(n):
        rec: dict[str, Any] = {
            "id": f"r{i}",
            "score": draw(st.floats(1, 100, allow_nan=False)),
            "weight": draw(st.sampled_from([0.5, 1.0, 1.0, 2.0])),
            "tags": {"type": draw(st.sampled_from(["main", "future"]))},
        }
        if draw(st.booleans()):
            rec["floor"] = draw(st.integers(0, budget // (2 * n)))
        if draw(st.booleans()):
            rec["cap"] = rec.get("floor", 0) + draw(st.integers(0, budget))
        if draw(st.booleans()):
            rec["previous"] = draw(st.integers(0, 2 * budget // n))
        recipients.append(rec)
    rules: list[dict[str, Any]] = []
    if draw(st.booleans()):
        low = draw(st.floats(0, 0.6))
        rules.append(
            {
                "type": "group",
                "tag": "type",
                "value": recipients[0]["tags"]["type"],
                "min_share": low,
                "max_share": min(1.0, low + draw(st.floats(0, 0.6))),
            }
        )
    if draw(st.booleans()):
        rules.append({"type": "grade_order"})
    if any("previous" in r for r in recipients) and draw(st.booleans()):
        rules.append(
            {
                "type": "change_limit",
                "max_decrease": draw(st.floats(0, 1)),
                "max_increase": draw(st.floats(0, 3)),
            }
        )
    return {
        "name": "random",
        "budget": budget,
        "recipients": recipients,
        "grades": GRADES,
        "objective": draw(st.sampled_from(OBJECTIVES)),
        "rules": rules,
    }


def check_holds(data: dict[str, Any], result: Result) -> None:
    """Check every bound and rule from the scenario *data*, independently of the engine."""
    units = {a.id: a.units for a in result.allocations}
    assert all(isinstance(u, int) for u in units.values())
    assert sum(units.values()) == data["budget"]
    by_id = {r["id"]: r for r in data["recipients"]}
    for rid, rec in by_id.items():
        assert units[rid] >= rec.get("floor", 0)
        if "cap" in rec:
            assert units[rid] <= rec["cap"]
    grade = {a.id: a.grade for a in result.allocations}
    order = [g["grade"] for g in data.get("grades", [])]
    for rule in data["rules"]:
        if rule["type"] == "group":
            total = sum(
                units[r] for r, rec in by_id.items() if rec["tags"]["type"] == rule["value"]
            )
            assert total >= math.ceil(rule["min_share"] * data["budget"] - 1e-9)
            assert total <= math.floor(rule["max_share"] * data["budget"] + 1e-9)
        elif rule["type"] == "grade_order":
            for a, ra in by_id.items():
                for b, rb in by_id.items():
                    if (
                        ra["weight"]
                        and rb["weight"]
                        and (order.index(grade[a]) < order.index(grade[b]))
                    ):
                        assert units[a] / ra["weight"] >= units[b] / rb["weight"] - 1e-9
        elif rule["type"] == "change_limit":
            for rid, rec in by_id.items():
                if "previous" in rec:
                    prev = rec["previous"]
                    assert units[rid] >= math.ceil(prev * (1 - rule["max_decrease"]) - 1e-9)
                    assert units[rid] <= math.floor(prev * (1 + rule["max_increase"]) + 1e-9)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_every_bound_and_rule_holds_and_budget_is_spent(data: dict[str, Any]) -> None:
    result = solve(Scenario.from_data(data))
    assert result.status in (Status.OPTIMAL, Status.INFEASIBLE)
    if result.status == Status.OPTIMAL:
        check_holds(data, result)
        assert result.diagnosis is None
    else:
        assert result.allocations == ()
        assert result.diagnosis is not None and result.diagnosis.relax


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.randoms(use_true_random=False))
def test_result_does_not_depend_on_recipient_order(data: dict[str, Any], rnd: Any) -> None:
    shuffled = dict(data, recipients=list(data["recipients"]))
    rnd.shuffle(shuffled["recipients"])
    first, second = Scenario.from_data(data), Scenario.from_data(shuffled)
    assert first.content_hash == second.content_hash
    a, b = solve(first), solve(second)
    assert a.status == b.status
    assert {x.id: x.units for x in a.allocations} == {x.id: x.units for x in b.allocations}
    if b.status == Status.OPTIMAL:
        assert [x.id for x in b.allocations] == [r["id"] for r in shuffled["recipients"]]


def test_example_scenarios_solve_as_documented() -> None:
    statuses = {p.name: solve(load_scenario(p)).status for p in SCENARIOS.glob("*.yaml")}
    assert statuses.pop("regions-2025-infeasible.yaml") == Status.INFEASIBLE
    assert statuses and set(statuses.values()) == {Status.OPTIMAL}


def test_infeasible_example_names_the_floors() -> None:
    result = solve(load_scenario(SCENARIOS / "regions-2025-infeasible.yaml"))
    assert result.diagnosis is not None
    (relax,) = result.diagnosis.relax
    assert relax.kind == "floor" and relax.amount == 14 * 90 - 1200
    assert "sum of floors is 1,260 > budget 1,200" in relax.message


def test_maxmin_maximises_the_smallest_units_per_quota() -> None:
    data = {
        "name": "m",
        "budget": 30,
        "objective": {"kind": "maxmin"},
        "recipients": [
            {"id": "a", "score": 10, "cap": 4},
            {"id": "b", "score": 10},
            {"id": "c", "score": 40},
        ],
    }
    result = solve(Scenario.from_data(data))
    units = {a.id: a.units for a in result.allocations}
    quota = {a.id: a.quota for a in result.allocations}
    best = min(units[i] / quota[i] for i in units)
    # brute force over every allocation within bounds: none has a larger minimum ratio
    for a in range(0, 5):
        for b in range(0, 31 - a):
            c = 30 - a - b
            assert min(a / quota["a"], b / quota["b"], c / quota["c"]) <= best + 1e-12
    assert result.metrics is not None and result.metrics.objective == pytest.approx(best)
