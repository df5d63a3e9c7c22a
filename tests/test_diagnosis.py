"""Infeasibility diagnosis: the smallest set of bounds/rules to relax, and by how much.

Every expected amount is computed by hand from the numbers of the scenario; the amounts are
then applied to the scenario data to check that they suffice (and, where the conflict is a
plain total, that one unit less does not).
"""

from __future__ import annotations

import copy
import math
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer import diagnosis
from optimizer.compile import build_program
from optimizer.loading import load_data, validate_data
from optimizer.result import Diagnosis, Relaxation, Result, Status
from optimizer.scenario import Scenario
from optimizer.solve import solve
from optimizer.solvers.highs import HighsBackend

Data = dict[str, Any]


def scenario(
    recipients: list[dict[str, Any]], *, budget: int = 1200, rules: list[Data] | None = None
) -> Data:
    data: Data = {"name": "diagnosis case", "budget": budget, "recipients": recipients}
    if rules:
        data["rules"] = rules
    return data


def run(data: Data) -> Result:
    return solve(Scenario.from_data(data))


def diagnosis_of(data: Data) -> Diagnosis:
    """Solve ``data``, check it is reported infeasible the contract's way, return the
    diagnosis."""
    result = run(data)
    assert result.status == Status.INFEASIBLE
    assert result.allocations == ()
    assert result.metrics is None
    assert result.diagnosis is not None
    assert result.diagnosis.relax, result.diagnosis.summary
    assert result.message == result.diagnosis.summary
    for item in result.diagnosis.relax:
        assert item.message in result.diagnosis.summary
    return result.diagnosis


def single(data: Data) -> Relaxation:
    diagnosis = diagnosis_of(data)
    assert len(diagnosis.relax) == 1, diagnosis
    return diagnosis.relax[0]


def status_of(data: Data) -> Status:
    return run(data).status


def edited(data: Data) -> Data:
    return copy.deepcopy(data)


def recipient(data: Data, rid: str) -> dict[str, Any]:
    return next(r for r in data["recipients"] if r["id"] == rid)


# --------------------------------------------------------------------------- floors, caps


def floors_case() -> Data:
    # 400 + 400 + 440 = 1,240 > 1,200: the floors must give 40 units in total
    return scenario(
        [
            {"id": "a", "score": 3, "floor": 400},
            {"id": "b", "score": 2, "floor": 400},
            {"id": "c", "score": 1, "floor": 440},
        ]
    )


def test_sum_of_floors_above_budget() -> None:
    data = floors_case()
    relax = single(data)
    assert relax.constraint == "floors"
    assert relax.kind == "floor"
    assert relax.amount == 1240 - 1200
    assert "sum of floors is 1,240 > budget 1,200" in relax.message
    assert relax.recipients
    assert set(relax.recipients) <= {"a", "b", "c"}


def test_floor_relaxation_is_sufficient_and_minimal() -> None:
    data = floors_case()
    amount = single(data).amount
    for rid in ("a", "b", "c"):
        enough = edited(data)
        recipient(enough, rid)["floor"] -= amount
        assert status_of(enough) == Status.OPTIMAL
        short = edited(data)
        recipient(short, rid)["floor"] -= amount - 1
        assert status_of(short) == Status.INFEASIBLE
        assert single(short).amount == 1


def caps_case() -> Data:
    # 300 + 400 + 450 = 1,150 < 1,200: the caps must give 50 units in total
    return scenario(
        [
            {"id": "a", "score": 1, "cap": 300},
            {"id": "b", "score": 1, "cap": 400},
            {"id": "c", "score": 1, "floor": 100, "cap": 450},
        ]
    )


def test_sum_of_caps_below_budget() -> None:
    data = caps_case()
    relax = single(data)
    assert relax.constraint == "caps"
    assert relax.kind == "cap"
    assert relax.amount == 1200 - (300 + 400 + 450)
    assert "sum of caps is 1,150 < budget 1,200" in relax.message
    assert relax.recipients
    assert set(relax.recipients) <= {"a", "b", "c"}


def test_cap_relaxation_is_sufficient_and_minimal() -> None:
    data = caps_case()
    amount = single(data).amount
    for rid in ("a", "b", "c"):
        enough = edited(data)
        recipient(enough, rid)["cap"] += amount
        assert status_of(enough) == Status.OPTIMAL
        short = edited(data)
        recipient(short, rid)["cap"] += amount - 1
        assert status_of(short) == Status.INFEASIBLE
        assert single(short).amount == 1


@settings(max_examples=25, deadline=None)
@given(
    floors=st.lists(st.integers(0, 400), min_size=1, max_size=6),
    scores=st.lists(st.integers(1, 100), min_size=6, max_size=6),
    data=st.data(),
)
def test_floor_totals_property(floors: list[int], scores: list[int], data: st.DataObject) -> None:
    if sum(floors) < 2:
        floors[0] += 2
    total = sum(floors)
    budget = data.draw(st.integers(1, total - 1), label="budget")
    recipients = [{"id": f"r{i}", "score": scores[i], "floor": f} for i, f in enumerate(floors)]
    case = scenario(recipients, budget=budget)
    relax = single(case)
    assert relax.kind == "floor"
    assert relax.amount == total - budget
    assert f"sum of floors is {total:,} > budget {budget:,}" in relax.message
    # lower the floors by exactly the amount, largest floors first: feasible
    enough = edited(case)
    left = relax.amount
    for rec in sorted(enough["recipients"], key=lambda r: -r["floor"]):
        cut = min(left, rec["floor"])
        rec["floor"] -= cut
        left -= cut
    assert left == 0
    assert status_of(enough) == Status.OPTIMAL
    # one unit less: still one unit over the budget
    if relax.amount > 1:
        short = edited(case)
        left = relax.amount - 1
        for rec in sorted(short["recipients"], key=lambda r: -r["floor"]):
            cut = min(left, rec["floor"])
            rec["floor"] -= cut
            left -= cut
        assert single(short).amount == 1


@settings(max_examples=25, deadline=None)
@given(
    caps=st.lists(st.integers(0, 300), min_size=1, max_size=6),
    extra=st.integers(1, 500),
    scores=st.lists(st.integers(1, 100), min_size=6, max_size=6),
)
def test_cap_totals_property(caps: list[int], extra: int, scores: list[int]) -> None:
    budget = sum(caps) + extra
    recipients = [{"id": f"r{i}", "score": scores[i], "cap": c} for i, c in enumerate(caps)]
    case = scenario(recipients, budget=budget)
    relax = single(case)
    assert relax.kind == "cap"
    assert relax.amount == budget - sum(caps) == extra
    assert f"sum of caps is {sum(caps):,} < budget {budget:,}" in relax.message
    enough = edited(case)
    enough["recipients"][-1]["cap"] += relax.amount
    assert status_of(enough) == Status.OPTIMAL
    if relax.amount > 1:
        short = edited(case)
        short["recipients"][0]["cap"] += relax.amount - 1
        assert single(short).amount == 1


# --------------------------------------------------------------------------- group rules


def group_min_case() -> Data:
    # the future members' caps allow 256 + 256 = 512 units; min_share 0.6 of 1,200 = 720
    return scenario(
        [
            {"id": "f1", "score": 1, "cap": 256, "tags": {"type": "future"}},
            {"id": "f2", "score": 1, "cap": 256, "tags": {"type": "future"}},
            {"id": "m1", "score": 1, "tags": {"type": "main"}},
        ],
        rules=[
            {
                "type": "group",
                "name": "future share",
                "tag": "type",
                "value": "future",
                "min_share": 0.6,
            }
        ],
    )


def test_group_min_share_conflicts_with_caps() -> None:
    data = group_min_case()
    relax = single(data)
    assert relax.constraint == "future share"
    assert relax.kind == "group_min"
    assert relax.amount == 720 - 512 == 208
    assert "at most 512 units possible, 720 required" in relax.message


def test_group_min_relaxation_is_sufficient_and_minimal() -> None:
    data = group_min_case()
    amount = single(data).amount
    # the same bound expressed in units (ceil(0.6 * 1200) = 720), lowered by the amount
    enough = edited(data)
    rule = enough["rules"][0]
    del rule["min_share"]
    rule["min_units"] = 720 - amount
    assert status_of(enough) == Status.OPTIMAL
    rule["min_units"] = 720 - amount + 1
    assert status_of(enough) == Status.INFEASIBLE
    assert single(enough).amount == 1


def test_rule_is_named_when_relaxing_caps_costs_the_same() -> None:
    """Documented preference: when relaxing a rule or a bound needs the same amount, the
    rule (the policy choice) is named."""
    data = group_min_case()
    relax = single(data)
    assert relax.constraint == "future share"
    assert relax.kind == "group_min"
    # relaxing the caps by the same amount works just as well, and one unit less does not
    via_caps = edited(data)
    recipient(via_caps, "f1")["cap"] += relax.amount
    assert status_of(via_caps) == Status.OPTIMAL
    recipient(via_caps, "f1")["cap"] -= 1
    assert status_of(via_caps) == Status.INFEASIBLE


def test_rule_is_named_when_relaxing_floors_costs_the_same() -> None:
    # floors 300 + 200 = 500 in the group, max 450: the rule or the floors must give 50
    data = scenario(
        [
            {"id": "a", "score": 1, "floor": 300, "tags": {"type": "x"}},
            {"id": "b", "score": 1, "floor": 200, "tags": {"type": "x"}},
            {"id": "c", "score": 1},
        ],
        rules=[{"type": "group", "tag": "type", "value": "x", "max_units": 450}],
    )
    relax = single(data)
    assert relax.constraint == "group type=x"
    assert relax.kind == "group_max"
    assert relax.amount == 50
    via_floors = edited(data)
    recipient(via_floors, "a")["floor"] -= 50
    assert status_of(via_floors) == Status.OPTIMAL
    recipient(via_floors, "a")["floor"] += 1
    assert status_of(via_floors) == Status.INFEASIBLE


def test_group_max_below_members_floors() -> None:
    floors = {"n1": 250, "n2": 180, "n3": 120}
    cap_units = 400
    data = scenario(
        [
            *(
                {"id": rid, "score": 2, "floor": f, "tags": {"stage": "new"}}
                for rid, f in floors.items()
            ),
            {"id": "o1", "score": 5, "tags": {"stage": "old"}},
            {"id": "o2", "score": 3, "floor": 100, "tags": {"stage": "old"}},
        ],
        rules=[
            {
                "type": "group",
                "name": "new cap",
                "tag": "stage",
                "value": "new",
                "max_units": cap_units,
            }
        ],
    )
    relax = single(data)
    assert relax.constraint == "new cap"
    assert relax.kind == "group_max"
    assert relax.amount == sum(floors.values()) - cap_units == 150
    assert "at least 550 units required, at most 400 allowed" in relax.message
    enough = edited(data)
    enough["rules"][0]["max_units"] += relax.amount
    assert status_of(enough) == Status.OPTIMAL
    enough["rules"][0]["max_units"] -= 1
    assert single(enough).amount == 1


# --------------------------------------------------------------------------- change_limit


def test_change_limit_decrease_cannot_meet_budget() -> None:
    # a had 1,000 and may lose at most 10%: at least ceil(900) = 900 units, budget 800
    data = scenario(
        [{"id": "a", "score": 1, "previous": 1000}, {"id": "b", "score": 1}],
        budget=800,
        rules=[{"type": "change_limit", "name": "stability", "max_decrease": 0.1}],
    )
    relax = single(data)
    assert relax.constraint == "stability"
    assert relax.kind == "change_limit"
    assert relax.amount == 900 - 800 == 100
    assert relax.recipients == ("a",)
    assert "100 units more decrease" in relax.message
    # allow a to lose 100 more of its 1,000 units: 20% -> at least 800
    enough = edited(data)
    enough["rules"][0]["max_decrease"] = 0.1 + relax.amount / 1000
    assert status_of(enough) == Status.OPTIMAL
    # 99 more only: at least ceil(1000 * 0.801) = 801 > 800
    short = edited(data)
    short["rules"][0]["max_decrease"] = 0.1 + (relax.amount - 1) / 1000
    assert single(short).amount == 1


def test_change_limit_increase_cannot_meet_budget() -> None:
    # three recipients had 100 each and may gain at most 30%: at most 3 * 130 = 390 < 500
    data = scenario(
        [{"id": rid, "score": s, "previous": 100} for rid, s in (("a", 3), ("b", 2), ("c", 1))],
        budget=500,
        rules=[{"type": "change_limit", "max_increase": 0.3}],
    )
    relax = single(data)
    assert relax.constraint == "change_limit"
    assert relax.kind == "change_limit"
    assert relax.amount == 500 - 3 * 130 == 110
    assert set(relax.recipients) <= {"a", "b", "c"}
    assert "110 units more increase" in relax.message
    # spread the 110 units over the three: 37 more each -> at most 167 each, 501 >= 500
    enough = edited(data)
    enough["rules"][0]["max_increase"] = 0.67  # as written: 0.3 + 37 / 100 is 0.66999...
    assert status_of(enough) == Status.OPTIMAL
    # 109 units more in total (37 + 36 + 36) is one short, expressed through `previous`
    short = edited(data)
    for rec, extra in zip(short["recipients"], (37, 36, 36), strict=True):
        # the smallest 2-decimal previous whose +30% reaches 130 + extra (the bound is
        # floor(previous * 1.3) on the decimals as written, so 167 / 1.3 would give 166)
        rec["previous"] = math.ceil((130 + extra) / 1.3 * 100) / 100
    assert single(short).amount == 1


# --------------------------------------------------------------------------- several conflicts


def test_two_independent_rule_conflicts() -> None:
    # group x: floors 300 + 200 = 500 vs max 450 (50); region d: cap 200 vs min 300 (100);
    # e is free to absorb the rest of the budget, so neither fix helps the other
    data = scenario(
        [
            {"id": "a", "score": 1, "floor": 300, "tags": {"type": "x"}},
            {"id": "b", "score": 1, "floor": 200, "tags": {"type": "x"}},
            {"id": "d", "score": 1, "cap": 200, "tags": {"region": "d"}},
            {"id": "e", "score": 1},
        ],
        rules=[
            {"type": "group", "name": "x max", "tag": "type", "value": "x", "max_units": 450},
            {"type": "group", "name": "d min", "tag": "region", "value": "d", "min_units": 300},
        ],
    )
    diagnosis = diagnosis_of(data)
    assert len(diagnosis.relax) == 2
    by_name = {r.constraint: r for r in diagnosis.relax}
    assert set(by_name) == {"x max", "d min"}
    assert by_name["x max"].kind == "group_max"
    assert by_name["x max"].amount == 50
    assert by_name["d min"].kind == "group_min"
    assert by_name["d min"].amount == 100
    assert "x max" in diagnosis.summary and "d min" in diagnosis.summary
    # both relaxations together: feasible; either alone: not
    enough = edited(data)
    enough["rules"][0]["max_units"] += 50
    enough["rules"][1]["min_units"] -= 100
    assert status_of(enough) == Status.OPTIMAL
    for index, amount in ((0, 50), (1, -100)):
        one = edited(data)
        one["rules"][index]["max_units" if index == 0 else "min_units"] += amount
        assert single(one).constraint == ("d min" if index == 0 else "x max")


def test_two_independent_conflicts_rule_and_caps() -> None:
    # group x: floors 300 + 200 = 500 vs max 450 (50); caps 300 + 200 + 400 + 200 = 1,100
    # vs budget 1,200 (100)
    data = scenario(
        [
            {"id": "a", "score": 1, "floor": 300, "cap": 300, "tags": {"type": "x"}},
            {"id": "b", "score": 1, "floor": 200, "cap": 200, "tags": {"type": "x"}},
            {"id": "c", "score": 1, "cap": 400},
            {"id": "d", "score": 1, "cap": 200},
        ],
        rules=[{"type": "group", "tag": "type", "value": "x", "max_units": 450}],
    )
    diagnosis = diagnosis_of(data)
    assert len(diagnosis.relax) == 2
    by_name = {r.constraint: r for r in diagnosis.relax}
    assert set(by_name) == {"group type=x", "caps"}
    assert (by_name["group type=x"].kind, by_name["group type=x"].amount) == ("group_max", 50)
    assert (by_name["caps"].kind, by_name["caps"].amount) == ("cap", 100)
    assert "sum of caps is 1,100 < budget 1,200" in by_name["caps"].message
    enough = edited(data)
    enough["rules"][0]["max_units"] += 50
    recipient(enough, "d")["cap"] += 100
    assert status_of(enough) == Status.OPTIMAL
    recipient(enough, "d")["cap"] -= 1
    assert status_of(enough) == Status.INFEASIBLE


def test_two_rule_conflicts_with_a_harmless_rule_between() -> None:
    """Families are keyed by their position in the scenario; removing one rule must not
    shift which other rule is removed or relaxed."""
    data = scenario(
        [
            {"id": "a", "score": 1, "floor": 300, "tags": {"type": "x"}},
            {"id": "b", "score": 1, "floor": 200, "tags": {"type": "x"}},
            {"id": "d", "score": 1, "cap": 200, "tags": {"region": "d"}},
            {"id": "e", "score": 1, "tags": {"region": "e"}},
        ],
        rules=[
            {"type": "group", "name": "x max", "tag": "type", "value": "x", "max_units": 450},
            {"type": "group", "name": "e loose", "tag": "region", "value": "e", "max_units": 1200},
            {"type": "group", "name": "d min", "tag": "region", "value": "d", "min_units": 300},
        ],
    )
    diagnosis = diagnosis_of(data)
    assert {(r.constraint, r.kind, r.amount) for r in diagnosis.relax} == {
        ("x max", "group_max", 50),
        ("d min", "group_min", 100),
    }


# --------------------------------------------------------------------------- feasible


def test_feasible_scenario_has_no_diagnosis() -> None:
    data = scenario(
        [
            {"id": "a", "score": 3, "floor": 100, "cap": 600, "tags": {"type": "x"}},
            {"id": "b", "score": 2, "previous": 300, "tags": {"type": "x"}},
            {"id": "c", "score": 1, "floor": 50},
        ],
        rules=[
            {"type": "group", "tag": "type", "value": "x", "min_share": 0.5},
            {"type": "change_limit", "max_decrease": 0.2, "max_increase": 0.5},
        ],
    )
    result = run(data)
    assert result.status == Status.OPTIMAL
    assert result.diagnosis is None
    assert sum(a.units for a in result.allocations) == 1200
    assert result.to_dict()["diagnosis"] is None


@settings(max_examples=20, deadline=None)
@given(
    floors=st.lists(st.integers(0, 100), min_size=1, max_size=6),
    slack=st.integers(1, 200),
    scores=st.lists(st.integers(1, 100), min_size=6, max_size=6),
)
def test_feasible_bounds_have_no_diagnosis(
    floors: list[int], slack: int, scores: list[int]
) -> None:
    budget = sum(floors) + slack
    recipients = [
        {"id": f"r{i}", "score": scores[i], "floor": f, "cap": f + slack}
        for i, f in enumerate(floors)
    ]
    result = run(scenario(recipients, budget=budget))
    assert result.status == Status.OPTIMAL
    assert result.diagnosis is None
    assert sum(a.units for a in result.allocations) == budget


# --------------------------------------------------------------------------- any budget size

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
GRADE_ORDER: Data = {"type": "grade_order"}
CHANGE_LIMIT: Data = {"type": "change_limit", "max_decrease": 0.10, "max_increase": 0.30}
METRO_CAP: Data = {
    "type": "group",
    "name": "metro at most 35%",
    "tag": "kind",
    "value": "metro",
    "max_share": 0.35,
}


def regions_scaled(scale: int, rules: list[Data] | None = None) -> Scenario:
    """regions-2025 with budget, floors, caps and previous times ``scale``, and each cap
    lowered to the region's previous allocation: 1,100 x scale in all, below the budget."""
    data = load_data(SCENARIOS / "regions-2025.yaml")
    data["budget"] *= scale
    for rec in data["recipients"]:
        rec["floor"] *= scale
        rec["previous"] *= scale
        rec["cap"] = rec["previous"]
    if rules is not None:
        data["rules"] = rules
    return validate_data(data)


def refuse(*_: object, **__: object) -> None:
    raise AssertionError("the diagnosis tabulated units (HiGHS or the threshold search)")


@pytest.mark.parametrize(
    "rules",
    [None, [CHANGE_LIMIT], [GRADE_ORDER], []],
    ids=["file rules (grade_order, change_limit)", "change_limit", "grade_order", "none"],
)
@pytest.mark.parametrize("scale", [1, 10**9])
def test_caps_below_budget_at_any_scale(
    scale: int, rules: list[Data] | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Budget 1.2e12 (scale 10^9): the caps are named with the exact shortfall, as at 1,200,
    without HiGHS or the threshold search (the old diagnosis ran out of memory there)."""
    if scale > 1:
        monkeypatch.setattr(HighsBackend, "solve", refuse)
        monkeypatch.setattr(diagnosis, "ThresholdSearch", refuse)
    scenario = regions_scaled(scale, rules)
    assert scenario.budget == 1200 * scale
    caps = sum(r.cap for r in scenario.recipients if r.cap is not None)
    assert caps == 1100 * scale
    result = solve(scenario)
    assert result.status == Status.INFEASIBLE
    assert result.diagnosis is not None
    (relax,) = result.diagnosis.relax
    assert (relax.constraint, relax.kind) == ("caps", "cap")
    assert relax.amount == scenario.budget - caps == 100 * scale
    assert f"sum of caps is {caps:,} < budget {scenario.budget:,}" in relax.message
    assert f"raise caps by {relax.amount:,} units in total" in relax.message
    assert "at least" not in relax.message
    assert relax.recipients
    assert set(relax.recipients) <= {r.id for r in scenario.recipients}
    assert result.message == result.diagnosis.summary


def test_diagnosis_at_10_12_allocates_little() -> None:
    """Diagnosing the 1.2e12 case allocates no array per unit (it once asked for terabytes)."""
    scenario = regions_scaled(10**9)
    solve(scenario)  # imports and caches outside the measurement
    tracemalloc.start()
    try:
        result = solve(scenario)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.status == Status.INFEASIBLE
    assert result.diagnosis is not None and result.diagnosis.relax[0].amount == 10**11
    assert peak < 50 * 2**20, f"peak {peak:,} bytes"


def test_grade_order_with_a_group_rule_at_10_12_is_exact() -> None:
    """grade_order and a group rule, too many units for the MILP: the split search still
    finds the least the caps must give, and an allocation that shows it."""
    scenario = regions_scaled(10**9, [GRADE_ORDER, CHANGE_LIMIT, METRO_CAP])
    relax = diagnosis_of_scenario(scenario)
    assert (relax.constraint, relax.kind) == ("caps", "cap")
    assert relax.amount >= 100 * 10**9
    assert "at least" not in relax.message and "lower bound" not in relax.message
    # the allocation behind the amount keeps every rule but the caps, and goes over the
    # caps by exactly the amount
    without_caps = diagnosis._without(scenario, (diagnosis._Family("caps", "caps", "cap"),))
    ent, _, program = build_program(without_caps)
    give = diagnosis._elastic(
        program, ent.quota, ent.rank, program.lo, build_program(scenario)[0].cap, diagnosis._Work()
    )
    assert give is not None and give.x is not None
    assert program.violations(give.x) == []
    assert give.least == relax.amount


def diagnosis_of_scenario(scenario: Scenario) -> Relaxation:
    result = solve(scenario)
    assert result.status == Status.INFEASIBLE
    assert result.diagnosis is not None
    assert len(result.diagnosis.relax) == 1, result.diagnosis.summary
    return result.diagnosis.relax[0]


def test_amount_beyond_every_exact_check_is_a_lower_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the split search gives up and the MILP would need too many units, the amount is
    the bound the structured rules give, and the message says so."""
    monkeypatch.setattr(diagnosis, "MAX_NODES", 2)
    scenario = regions_scaled(10**9, [GRADE_ORDER, CHANGE_LIMIT, METRO_CAP])
    relax = diagnosis_of_scenario(scenario)
    assert (relax.constraint, relax.kind, relax.amount) == ("caps", "cap", 100 * 10**9)
    assert "raise caps by at least 100,000,000,000 units" in relax.message
    assert "a lower bound" in relax.message and "more may be needed" in relax.message


def test_undecided_sets_are_said_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """A set whose feasibility no exact check could settle is reported as undecided."""
    monkeypatch.setattr(diagnosis, "MAX_NODES", 2)
    rule = {**METRO_CAP, "name": "metro at most 25%", "max_share": 0.25}
    scenario = regions_scaled(10**9, [GRADE_ORDER, rule])
    result = solve(scenario)
    assert result.status == Status.INFEASIBLE
    assert result.diagnosis is not None
    assert "undecided" in result.diagnosis.summary
    assert "whether relaxing caps" in result.diagnosis.summary


ORDERED_GRADES = [
    {"grade": "S", "min_score": 90, "multiplier": 1.3},
    {"grade": "A", "min_score": 80, "multiplier": 1.1},
    {"grade": "C", "min_score": 0, "multiplier": 0.9},
]


@st.composite
def ordered_scenarios(draw: st.DrawFn) -> Data:
    """Small scenarios with grade_order and sometimes group rules, often infeasible."""
    n = draw(st.integers(2, 5))
    recipients = []
    for i in range(n):
        rec: dict[str, Any] = {
            "id": f"r{i}",
            "score": draw(st.sampled_from([95, 85, 60])),
            "weight": draw(st.sampled_from([0.5, 1, 1.2, 2])),
            "tags": {"t": "x" if i == 0 else draw(st.sampled_from("xy"))},
        }
        floor = draw(st.integers(0, 8))
        if draw(st.booleans()):
            rec["floor"] = floor
        if draw(st.booleans()):
            rec["cap"] = floor + draw(st.integers(0, 10))
        recipients.append(rec)
    rules: list[Data] = [GRADE_ORDER]
    budget = draw(st.integers(1, 40))
    if draw(st.booleans()):
        bound = "min_units" if draw(st.booleans()) else "max_units"
        rules.append(
            {"type": "group", "tag": "t", "value": "x", bound: draw(st.integers(0, budget))}
        )
    data = scenario(recipients, budget=budget, rules=rules)
    data["grades"] = ORDERED_GRADES
    return data


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=ordered_scenarios())
def test_structured_checks_agree_with_the_milp(data: Data, monkeypatch: pytest.MonkeyPatch) -> None:
    """The budget-independent checks (propagated orders, split search) find the same
    diagnosis as HiGHS and the threshold search where those may run."""
    case = Scenario.from_data(data)
    if solve(case).status != Status.INFEASIBLE:
        return
    by_milp = diagnosis.diagnose(case)
    with monkeypatch.context() as patch:
        patch.setattr(HighsBackend, "solve", refuse)
        patch.setattr(diagnosis, "ThresholdSearch", refuse)
        structured = diagnosis.diagnose(case, milp_units=-1)
    if "undecided" in structured.summary or "lower bound" in structured.summary:
        return  # said so; nothing claimed to compare
    assert [(r.constraint, r.kind, r.amount) for r in structured.relax] == [
        (r.constraint, r.kind, r.amount) for r in by_milp.relax
    ], (structured.summary, by_milp.summary)


def test_overlapping_group_rules_at_10_12_say_what_is_undecided() -> None:
    """Group rules over two tags overlap: beyond the MILP's units nothing settles whether
    relaxing the caps alone would do, and the diagnosis says so instead of guessing."""
    coast = {"busan", "ulsan", "gangwon", "jeonnam", "gyeongbuk", "gyeongnam", "jeju"}
    data = load_data(SCENARIOS / "regions-2025.yaml")
    data["budget"] *= 10**9
    for rec in data["recipients"]:
        rec["floor"] *= 10**9
        rec["previous"] *= 10**9
        rec["cap"] = rec["previous"]
        rec["tags"] = {**rec["tags"], "coast": "yes" if rec["id"] in coast else "no"}
    coast_rule = {"type": "group", "name": "coast", "tag": "coast", "value": "yes"}
    data["rules"] = [METRO_CAP, {**coast_rule, "max_share": 0.3}]
    result = solve(validate_data(data))
    assert result.status == Status.INFEASIBLE
    assert result.diagnosis is not None and result.diagnosis.relax
    assert "undecided" in result.diagnosis.summary
    assert "whether relaxing caps" in result.diagnosis.summary


# --------------------------------------------------------------------------- hard rules


def test_hard_floors_are_never_lowered() -> None:
    # floors 40 + 40 + 30 = 110 > 100: the cheapest fix lowers someone's floor by 10
    data = scenario(
        [
            {"id": "a", "score": 1, "floor": 40},
            {"id": "b", "score": 1, "floor": 40, "hard": True},
            {"id": "c", "score": 5, "floor": 30, "hard": True},
        ],
        budget=100,
    )
    relax = single(data)
    assert relax.kind == "floor" and relax.amount == 10
    assert relax.recipients == ("a",)  # b and c are hard: only a may give
    assert "hard, kept as they are: the floors and caps of b, c" in diagnosis_of(data).summary


def test_a_hard_rule_is_never_suggested() -> None:
    rules: list[Data] = [
        {"type": "group", "tag": "k", "value": "x", "max_units": 50, "name": "x cap"},
        {"type": "group", "tag": "k", "value": "x", "min_units": 80, "name": "x floor"},
    ]
    recipients = [{"id": rid, "score": 1, "tags": {"k": "x"}} for rid in ("a", "b")]
    recipients.append({"id": "c", "score": 1, "tags": {"k": "y"}})
    soft = single(scenario(recipients, budget=100, rules=rules))
    assert soft.constraint in ("x cap", "x floor") and soft.amount == 30
    for hard in (0, 1):
        marked = [dict(rule, hard=(i == hard)) for i, rule in enumerate(rules)]
        relax = single(scenario(recipients, budget=100, rules=marked))
        assert relax.constraint == rules[1 - hard]["name"]  # the other one gives
        assert relax.amount == 30


def test_hard_rules_alone_in_conflict_are_named() -> None:
    rules: list[Data] = [
        {"type": "group", "tag": "k", "value": "x", "max_units": 50, "name": "x cap", "hard": True},
        {
            "type": "group",
            "tag": "k",
            "value": "x",
            "min_units": 80,
            "name": "x floor",
            "hard": True,
        },
    ]
    rules = [dict(rule, hard=True) for rule in rules]
    recipients = [{"id": rid, "score": 1, "tags": {"k": "x"}, "cap": 90} for rid in ("a", "b")]
    result = run(scenario(recipients, budget=100, rules=rules))
    assert result.status == Status.INFEASIBLE and result.diagnosis is not None
    diagnosis = result.diagnosis
    assert diagnosis.relax == ()  # nothing may move
    assert diagnosis.summary.startswith(
        "infeasible: no allocation exists with the hard rules as they are, whatever else "
        "changes (x cap; x floor):"
    )
    # what among them conflicts, and by how much: a and b hold all 100 units, the cap is 50
    assert "at least 100 units required, at most 50 allowed" in diagnosis.summary


def test_hard_is_left_out_of_the_hash_unless_set() -> None:
    recipients = [{"id": "a", "score": 1}, {"id": "b", "score": 2}]
    rules: list[Data] = [{"type": "change_limit", "max_increase": 0.5}]
    for r in recipients:
        r["previous"] = 10
    plain = Scenario.from_data(scenario(recipients, budget=30, rules=rules))
    explicit = Scenario.from_data(
        scenario(
            [dict(r, hard=False) for r in recipients],
            budget=30,
            rules=[dict(rules[0], hard=False)],
        )
    )
    assert plain.content_hash == explicit.content_hash
    marked = Scenario.from_data(scenario(recipients, budget=30, rules=[dict(rules[0], hard=True)]))
    assert marked.content_hash != plain.content_hash


def test_scenario_wide_hard_floors() -> None:
    # floors 40 + 40 + 30 = 110 > 100 and every floor is fixed: only the rule may give
    recipients = [
        {"id": "a", "score": 1, "floor": 40, "tags": {"k": "x"}},
        {"id": "b", "score": 1, "floor": 40, "tags": {"k": "x"}},
        {"id": "c", "score": 5, "floor": 30, "tags": {"k": "y"}},
    ]
    data = scenario(recipients, budget=120)
    data["rules"] = [{"type": "group", "tag": "k", "value": "x", "max_units": 60, "name": "x cap"}]
    soft = diagnosis_of(data)
    assert [r.constraint for r in soft.relax] in (["x cap"], ["floors"])
    data["hard"] = ["floors"]
    relax = single(data)
    assert relax.constraint == "x cap" and relax.amount == 20
    assert "hard, kept as they are: all floors" in diagnosis_of(data).summary
    plain = Scenario.from_data({k: v for k, v in data.items() if k != "hard"})
    assert Scenario.from_data(data).content_hash != plain.content_hash
