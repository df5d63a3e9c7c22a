"""The Quota method (Balinski & Young): within quota, house monotone, exact; where
Jefferson breaks upper quota it does not; through solve() and the CLI as a method."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from optimizer import cli
from optimizer.apportion import apportion
from optimizer.errors import InputError
from optimizer.quota_method import quota_method
from optimizer.result import Status
from optimizer.scenario import Scenario
from optimizer.solve import solve


def by_definition(entitlement: list[int], house: int) -> list[int]:
    """The method as Balinski and Young state it, one seat at a time, in fractions: the
    seat goes to the largest e / (x + 1) among those with x + 1 <= ceil(e (h + 1) / E)."""
    total = sum(entitlement)
    x = [0] * len(entitlement)
    for h in range(house):
        upper = [math.ceil(Fraction(e * (h + 1), total)) for e in entitlement]
        fits = [i for i in range(len(x)) if x[i] + 1 <= upper[i]]
        best = max(fits, key=lambda i: (Fraction(entitlement[i], x[i] + 1), entitlement[i], -i))
        x[best] += 1
    return x


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 10_000), min_size=1, max_size=8), st.integers(0, 60))
def test_within_quota_house_monotone_and_as_defined(entitlement: list[int], house: int) -> None:
    units = quota_method(entitlement, house).units
    assert units == by_definition(entitlement, house)
    total = sum(entitlement)
    for e, x in zip(entitlement, units, strict=True):
        quota = Fraction(e * house, total)
        assert math.floor(quota) <= x <= math.ceil(quota)
    bigger = quota_method(entitlement, house + 1).units
    assert all(b >= a for a, b in zip(units, bigger, strict=True))


def test_where_jefferson_breaks_upper_quota_the_quota_method_does_not() -> None:
    entitlement = [37700, 4279, 2301, 2031, 1133]  # one large state, four small
    house = 20
    quota = [Fraction(e * house, sum(entitlement)) for e in entitlement]  # 15.89, 1.80, ...
    jefferson = apportion(entitlement, house, "jefferson")
    assert jefferson == [17, 2, 1, 0, 0]  # 17 seats on a quota of 15.89: above upper quota
    units = quota_method(entitlement, house).units
    assert units == [16, 2, 1, 1, 0]
    assert all(math.floor(q) <= x <= math.ceil(q) for q, x in zip(quota, units, strict=True))


def regions(**extra: Any) -> dict[str, Any]:
    return {
        "name": "quota method",
        "budget": 26,
        "objective": {"kind": "proportional", "method": "quota"},
        "recipients": [
            {"id": f"r{k}", "score": e} for k, e in enumerate([9061, 7179, 5259, 3319, 1182])
        ],
        **extra,
    }


def test_through_solve_and_the_cli(tmp_path: Path) -> None:
    result = solve(Scenario.from_data(regions()))
    assert result.status == Status.OPTIMAL and result.solver.path == "quota"
    expected = quota_method([9061, 7179, 5259, 3319, 1182], 26).units
    assert [a.units for a in result.allocations] == expected
    path = tmp_path / "quota.json"
    path.write_text(json.dumps(regions()), encoding="utf-8")
    outcome = CliRunner().invoke(cli.app, ["solve", str(path), "--format", "json"])
    assert outcome.exit_code == 0, outcome.output
    assert [a["units"] for a in json.loads(outcome.stdout)["allocations"]] == expected


def test_floors_and_caps_hold() -> None:
    data = regions()
    data["recipients"][4]["floor"] = 3
    data["recipients"][0]["cap"] = 8
    result = solve(Scenario.from_data(data))
    units = [a.units for a in result.allocations]
    assert units[4] >= 3 and units[0] <= 8 and sum(units) == 26


def test_floors_above_the_budget_are_diagnosed() -> None:
    data = regions()
    for rec in data["recipients"]:
        rec["floor"] = 6
    result = solve(Scenario.from_data(data))
    assert result.status == Status.INFEASIBLE and result.diagnosis is not None
    assert result.diagnosis.relax[0].amount == 4


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        (
            {"rules": [{"type": "grade_order"}], "grades": [{"grade": "A", "min_score": 0}]},
            "rules[0].type",
        ),
        ({"budget": 3_000_000}, "budget"),
    ],
)
def test_what_the_quota_method_does_not_take(extra: dict[str, Any], path: str) -> None:
    with pytest.raises(InputError) as caught:
        Scenario.from_data(regions(**extra))
    assert path in [p.path for p in caught.value.problems]
