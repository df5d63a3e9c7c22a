"""The plan's rules beside other rules: a ``change_limit`` sits beside a ``biproportional``
or ``two_stage`` rule and is exact (it is each recipient's floor and cap, so the answer is
the one with those bounds written as floors and caps); every other rule beside them is an
input error with a sentence at its field path."""

from __future__ import annotations

import math
from typing import Any

import pytest

from optimizer.errors import InputError
from optimizer.result import Status
from optimizer.scenario import Scenario
from optimizer.solve import solve
from tests.test_biproportional import regions_kinds
from tests.test_stages import two_stage

LIMIT = {"type": "change_limit", "max_decrease": 0.1, "max_increase": 0.1}


def units(data: dict[str, Any]) -> dict[str, int]:
    result = solve(Scenario.from_data(data))
    assert result.status == Status.OPTIMAL, result.message
    return {a.id: a.units for a in result.allocations}


def as_bounds(data: dict[str, Any], decrease: float, increase: float) -> dict[str, Any]:
    """The same scenario with the change limit written as floors and caps, by hand
    (previous x 0.9 rounded up, previous x 1.1 rounded down)."""
    out = {**data, "rules": [r for r in data["rules"] if r["type"] != "change_limit"]}
    out["recipients"] = []
    for rec in data["recipients"]:
        rec = dict(rec)
        if "previous" in rec:
            rec["floor"] = max(rec.get("floor", 0), math.ceil(rec["previous"] * (1 - decrease)))
            cap = math.floor(rec["previous"] * (1 + increase) + 1e-9)
            rec["cap"] = min(rec["cap"], cap) if "cap" in rec else cap
        out["recipients"].append(rec)
    return out


def test_a_change_limit_beside_a_matrix_is_each_cells_floor_and_cap() -> None:
    """Without the limit busan-main gets 25; held at 27 (30 less 10%) the rows and columns
    (apportioned from the budget, as before) still add up, the other cells moving."""
    alone = units(regions_kinds())
    data = regions_kinds()
    data["recipients"][0]["previous"] = 30  # 27 .. 33: busan-main must gain
    data["recipients"][2]["previous"] = 18  # daegu-main 18 is inside 17 .. 19
    data["rules"].append(LIMIT)
    got = units(data)
    assert alone["busan-main"] == 25 and got["busan-main"] == 27
    assert got == units(as_bounds(data, 0.1, 0.1))
    for tag in ("region", "kind"):  # the same margins
        for line in {r["tags"][tag] for r in data["recipients"]}:
            ids = [r["id"] for r in data["recipients"] if r["tags"][tag] == line]
            assert sum(got[i] for i in ids) == sum(alone[i] for i in ids), line
    result = solve(Scenario.from_data(data))
    held = {a.id: a.binding for a in result.allocations}
    assert held["busan-main"] == ("change_limit",)


def test_a_floor_above_its_change_limit_is_diagnosed_by_name() -> None:
    data = regions_kinds()
    data["recipients"][1].update(previous=10, floor=20)  # at most 11 by the limit
    data["rules"].append(LIMIT)
    result = solve(Scenario.from_data(data))
    assert result.status == Status.INFEASIBLE and result.diagnosis is not None
    (relax,) = result.diagnosis.relax
    assert relax.recipients == ("busan-future",) and relax.amount == 9
    assert "busan-future must get at least 20 units (floor) and at most 11 (change_limit)" in (
        relax.message
    )


def test_a_change_limit_beside_two_stages_holds_in_every_group() -> None:
    data = two_stage()  # without the limit: jeju-a 17, jeju-b 23 of jeju's 40
    data["recipients"][3]["previous"] = 20  # jeju-a 18 .. 22: gains
    data["recipients"][4]["previous"] = 20  # jeju-b 18 .. 22: loses
    data["rules"].append(LIMIT)
    got = units(data)
    assert got == units(as_bounds(data, 0.1, 0.1))
    assert (got["jeju-a"], got["jeju-b"]) == (18, 22)


def test_a_group_left_without_units_cannot_keep_its_change_limit() -> None:
    data = two_stage(rules=[])  # the metro group's cap would leave units to jeju
    first = data["rules"][0]["first"]
    for group in first["recipients"]:
        if group["id"] == "jeju":
            group["cap"] = 0
    data["recipients"][3]["previous"] = 20
    data["rules"].append({"type": "change_limit", "max_decrease": 0.5})
    result = solve(Scenario.from_data(data))
    assert result.status == Status.INFEASIBLE
    assert "jeju gets no units" in result.message and "need 10" in result.message


def test_eligibility_beside_a_matrix_empties_the_excluded_cells() -> None:
    """daegu-future (score 30) below 35: its cell gets nothing, and the matrix is the one
    whose cell has no entitlement and no room (written by hand as weight 0, cap 0)."""
    data = regions_kinds()
    data["rules"].append({"type": "eligibility", "min_score": 35})
    result = solve(Scenario.from_data(data))
    assert result.status == Status.OPTIMAL, result.message
    got = {a.id: a.units for a in result.allocations}
    by_hand = regions_kinds()
    by_hand["recipients"][3].update(weight=0, cap=0)
    assert got == units(by_hand) and got["daegu-future"] == 0
    held = {a.id: a.binding for a in result.allocations}
    assert held["daegu-future"] == ("excluded: score 30 < 35",)
    assert "1 excluded below 35 (daegu-future)" in result.message


def test_grades_by_rank_beside_a_matrix_set_the_multipliers() -> None:
    """At most one S: busan-main (80) keeps it, gwangju-future (70) falls to A; the matrix is
    the one with S starting above 70 (written by hand)."""
    grades = [
        {"grade": "S", "min_score": 65, "multiplier": 1.5},
        {"grade": "A", "min_score": 0, "multiplier": 1.0},
    ]
    data = {**regions_kinds(), "grades": grades}
    data["rules"].append({"type": "grade_quota", "grade": "S", "max_count": 1})
    result = solve(Scenario.from_data(data))
    assert result.status == Status.OPTIMAL, result.message
    assert [a.id for a in result.allocations if a.grade == "S"] == ["busan-main"]
    by_hand = {**regions_kinds(), "grades": [{**grades[0], "min_score": 75}, grades[1]]}
    assert {a.id: a.units for a in result.allocations} == units(by_hand)
    assert units(by_hand) != units({**regions_kinds(), "grades": grades})  # it mattered


@pytest.mark.parametrize(
    ("make", "rule", "path", "words"),
    [
        (
            regions_kinds,
            {"type": "group", "tag": "region", "value": "busan", "max_units": 30},
            "rules[1].type",
            "give a row or column its total in rules[0].row_totals",
        ),
        (
            regions_kinds,
            {"type": "grade_order"},
            "rules[1].type",
            "each cell's units follow from its row and column divisors alone",
        ),
        (
            lambda: {**regions_kinds(), "grades": [{"grade": "S", "min_score": 0}]},
            {"type": "grade_increments", "units": {"S": 1}},
            "rules[1].type",
            "the increments would come off the budget that the row and column totals add up to",
        ),
        (
            two_stage,
            {"type": "eligibility", "min_score": 10},
            "rules[1].type",
            "cannot be combined with the two_stage rule (rules[0])",
        ),
        (
            two_stage,
            {"type": "group", "tag": "region", "value": "busan", "max_units": 30},
            "rules[1].type",
            "a group rule over the second-stage recipients of every group at once is not",
        ),
        (
            two_stage,
            {"type": "grade_order"},
            "rules[1].type",
            "put first-stage rules in rules[0].first.rules",
        ),
    ],
)
def test_other_rules_beside_the_plans_rules_are_refused_at_their_path(
    make: Any, rule: dict[str, Any], path: str, words: str
) -> None:
    data = make()
    data["rules"].append(rule)
    with pytest.raises(InputError) as caught:
        Scenario.from_data(data)
    assert any(p.path == path and words in p.message for p in caught.value.problems), (
        caught.value.problems
    )
