"""Group rules of two crossing families (``optimizer/crossing.py``): the flow over the cells
equals the independent judge and HiGHS where they can run, and keeps every rule at any
budget without a MILP."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.instances import InstanceSpec, generate, parse_budget
from optimizer.compile import build_program
from optimizer.crossing import cells_of, crossing_feasible
from optimizer.result import Status
from optimizer.scenario import Scenario
from optimizer.solve import solve
from optimizer.verify import verify
from tests.independent import enumeration

KINDS = ("hamilton", "webster", "jefferson", "adams", "dean", "weighted", "maxmin")


def _objective(kind: str) -> dict[str, str]:
    return (
        {"kind": kind}
        if kind in ("weighted", "maxmin")
        else {"kind": "proportional", "method": kind}
    )


@st.composite
def crossing_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """Recipients in two regions x two kinds, a band on each region and a bound on one kind."""
    n = draw(st.integers(3, 6))
    budget = draw(st.integers(2, 13))
    recipients = []
    for i in range(n):
        rec: dict[str, Any] = {
            "id": f"r{i}",
            "score": draw(st.sampled_from([10, 30, 50, 50, 61, 72.5, 80, 99])),
            "weight": draw(st.sampled_from([0.5, 0.7, 1.0, 1.5])),
            "tags": {  # r0 in region a of kind x, r1 in b of kind y: every rule has members
                "region": "ab"[i] if i < 2 else draw(st.sampled_from("ab")),
                "kind": "xy"[i] if i < 2 else draw(st.sampled_from("xy")),
            },
        }
        if draw(st.booleans()):
            rec["cap"] = draw(st.integers(1, budget))
        recipients.append(rec)
    rules: list[dict[str, Any]] = []
    for region in "ab":
        if draw(st.booleans()):
            low = draw(st.integers(0, budget))
            rules.append(
                {
                    "type": "group",
                    "tag": "region",
                    "value": region,
                    "min_units": low,
                    "max_units": draw(st.integers(low, budget)),
                }
            )
    bound = draw(st.integers(0, budget))
    side = draw(st.sampled_from(["min_units", "max_units"]))
    rules.append({"type": "group", "tag": "kind", "value": "x", side: bound})
    return {
        "name": "crossing",
        "budget": budget,
        "recipients": recipients,
        "objective": _objective(draw(st.sampled_from(KINDS))),
        "rules": rules,
    }


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(crossing_scenarios())
def test_the_flow_equals_the_independent_judge(data: dict[str, Any]) -> None:
    expected = enumeration.allocate(data)
    result = solve(Scenario.from_data(data))
    if expected is None:
        assert result.status == Status.INFEASIBLE
        return
    assert result.status == Status.OPTIMAL, result.message
    assert {a.id: a.units for a in result.allocations} == expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(crossing_scenarios())
def test_the_flow_equals_highs(data: dict[str, Any]) -> None:
    scenario = Scenario.from_data(data)
    auto, milp = solve(scenario), solve(scenario, backend="highs")
    assert auto.status == milp.status
    assert [a.units for a in auto.allocations] == [a.units for a in milp.allocations]


def _instance(method: str, budget: str) -> dict[str, Any]:
    """The benchmark's 840 programmes (14 regional bands, a share for the future kind,
    change limits) without their grade order (Dean: Webster's instance, rounded by Dean)."""
    if method == "dean":
        webster = _instance("webster", budget)
        return {**webster, "objective": {**webster["objective"], "method": "dean"}}
    data = generate(InstanceSpec(840, method, "all", budget=parse_budget(budget)))
    data["rules"] = [r for r in data["rules"] if r["type"] != "grade_order"]
    for rule in data["rules"]:
        if rule.get("value") == "future":
            rule["min_share"] = 0.36  # binds: the relaxation without it breaks it
    return data


def test_840_programmes_the_flow_equals_highs() -> None:
    scenario = Scenario.from_data(_instance("webster", "33600"))
    auto, milp = solve(scenario), solve(scenario, backend="highs")
    assert auto.solver.path == "crossing" and milp.solver.path == "milp"
    assert [a.units for a in auto.allocations] == [a.units for a in milp.allocations]


@pytest.mark.parametrize("method", ["hamilton", "webster", "dean", "weighted"])
@pytest.mark.parametrize("budget", ["1e12", "1e15"])
def test_any_budget_keeps_every_rule_without_a_milp(method: str, budget: str) -> None:
    data = _instance(method, budget)
    scenario = Scenario.from_data(data)
    result = solve(scenario)
    assert result.status == Status.OPTIMAL, result.message
    assert result.solver.path == "crossing"
    assert sum(a.units for a in result.allocations) == scenario.budget
    ent, _, program = build_program(scenario)
    units = {a.id: a.units for a in result.allocations}
    x = np.array([units[i] for i in ent.ids], dtype=np.int64)  # the program's order
    assert program.folded().violations(x) == []
    # the verifier (its own arithmetic): bounds, every group, no improving single move
    failures = [
        f"{c.name}: {c.detail}" for c in verify(result.to_dict(), scenario) if c.ok is False
    ]
    assert failures == []


def test_feasibility_is_the_flow_with_lower_bounds() -> None:
    """Bands that leave the kind's minimum out of reach: infeasible, and said so."""
    data = {
        "name": "no room",
        "budget": 10,
        "recipients": [
            {"id": "ax", "score": 1, "tags": {"region": "a", "kind": "x"}},
            {"id": "ay", "score": 1, "tags": {"region": "a", "kind": "y"}},
            {"id": "bx", "score": 1, "cap": 1, "tags": {"region": "b", "kind": "x"}},
            {"id": "by", "score": 1, "tags": {"region": "b", "kind": "y"}},
        ],
        "rules": [
            {"type": "group", "tag": "region", "value": "a", "max_units": 3},
            {"type": "group", "tag": "kind", "value": "x", "min_units": 5},
        ],
    }
    scenario = Scenario.from_data(data)
    _, _, program = build_program(scenario)
    program = program.folded()
    cells = cells_of(program)
    assert cells is not None and len(cells.members) == 4
    assert not crossing_feasible(program, cells)
    assert solve(scenario).status == Status.INFEASIBLE
    data["rules"][1]["min_units"] = 4  # type: ignore[index]  # 3 in a (its max) and 1 in bx
    assert solve(Scenario.from_data(data)).status == Status.OPTIMAL


def _cost(text: str | None) -> tuple[Fraction, ...] | None:
    return None if text is None else tuple(Fraction(part) for part in text.split("; "))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(crossing_scenarios())
def test_the_certificate_prices_prove_the_cells(data: dict[str, Any]) -> None:
    """Each cell's last unit costs at most price(second) - price(first), its next unit at
    least that; a group strictly inside its bounds is priced as the budget's side; the cells'
    units add up to the allocation's group totals."""
    result = solve(Scenario.from_data(data))
    if result.solver.path != "crossing" or result.status != Status.OPTIMAL:
        return
    proof = result.certificate
    assert proof is not None and proof["kind"] == "flow"
    price = {p["group"]: _cost(p["price"]) for p in proof["prices"]}
    for cell in proof["cells"]:
        first, second = price[cell["first"]], price[cell["second"]]
        assert first is not None and second is not None
        gap = tuple(b - a for a, b in zip(first, second, strict=True))
        last, following = _cost(cell["last_unit_cost"]), _cost(cell["next_unit_cost"])
        assert last is None or last <= gap
        assert following is None or gap <= following
    inside = [p for p in proof["prices"][2:] if p["lower"] < p["total"] < (p["upper"] or 10**30)]
    sides = {price["budget in"], price["budget out"]}
    for group in inside:
        assert _cost(group["price"]) in sides
    assert sum(c["units"] for c in proof["cells"]) == result.budget
