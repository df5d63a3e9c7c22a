"""Budget components: a base by size, an incentive by evaluation, a part by one criterion;
each recipient's quota is the exact sum of its component quotas, rounded once so the budget
is spent exactly, and each allocation is split back into its components."""

from __future__ import annotations

import copy
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from optimizer import cli
from optimizer.errors import InputError
from optimizer.result import Status
from optimizer.scenario import Scenario
from optimizer.solve import solve

DATA: dict[str, Any] = {
    "name": "base and incentive (illustrative)",
    "budget": 1000,
    "criteria": {"performance": 0.6, "jobs": 0.4},
    "grades": [
        {"grade": "S", "min_score": 90, "multiplier": 1.3},
        {"grade": "A", "min_score": 80, "multiplier": 1.1},
        {"grade": "B", "min_score": 0},
    ],
    "recipients": [
        {"id": "busan", "weight": 1.2, "criteria": {"performance": 92, "jobs": 80}},
        {"id": "daegu", "weight": 1.0, "criteria": {"performance": 80, "jobs": 75}},
        {"id": "jeju", "weight": 0.5, "criteria": {"performance": 70, "jobs": 90}},
    ],
    "rules": [
        {
            "type": "components",
            "parts": [
                {"name": "base", "share": 0.6, "basis": "weight"},
                {"name": "incentive", "share": 0.3, "basis": "entitlement"},
                {"name": "jobs", "share": 0.1, "basis": "criteria.jobs"},
            ],
        }
    ],
}


def by_hand() -> dict[str, Fraction]:
    """The component quotas summed, computed here from the definitions."""
    weight = {"busan": Fraction(12, 10), "daegu": Fraction(1), "jeju": Fraction(1, 2)}
    score = {"busan": Fraction(872, 10), "daegu": Fraction(78), "jeju": Fraction(78)}
    multiplier = {"busan": Fraction(11, 10), "daegu": Fraction(1), "jeju": Fraction(1)}
    jobs = {"busan": 80, "daegu": 75, "jeju": 90}
    bases = [
        (600, weight),
        (300, {k: weight[k] * score[k] * multiplier[k] for k in weight}),
        (100, {k: weight[k] * jobs[k] for k in weight}),
    ]
    total = dict.fromkeys(weight, Fraction(0))
    for units, values in bases:
        whole = sum(values.values())
        for k in total:
            total[k] += units * values[k] / whole
    return total


def hamilton(quota: dict[str, Fraction], house: int) -> dict[str, int]:
    units = {k: int(q) for k, q in quota.items()}
    for k in sorted(quota, key=lambda k: -(quota[k] - units[k]))[: house - sum(units.values())]:
        units[k] += 1
    return units


def test_the_summed_quotas_are_rounded_once() -> None:
    result = solve(Scenario.from_data(copy.deepcopy(DATA)))
    assert result.status == Status.OPTIMAL
    quota = by_hand()
    for a in result.allocations:
        assert a.quota == pytest.approx(float(quota[a.id]), abs=1e-9)
    assert {a.id: a.units for a in result.allocations} == hamilton(quota, 1000)
    assert {a.id: a.grade for a in result.allocations} == {"busan": "A", "daegu": "B", "jeju": "B"}


def test_each_allocation_splits_back_into_its_components() -> None:
    result = solve(Scenario.from_data(copy.deepcopy(DATA)))
    cert = result.certificate
    assert cert is not None and cert["kind"] == "components"
    assert [(c["name"], c["units"]) for c in cert["components"]] == [
        ("base", 600),
        ("incentive", 300),
        ("jobs", 100),
    ]
    for a in result.allocations:
        assert sum(c["split"][a.id] for c in cert["components"]) == a.units
    for c in cert["components"]:  # both margins: the split is biproportional
        assert sum(c["split"].values()) == c["units"]
    assert "biproportionally" in cert["rule"]
    assert "components: base 600 by weight" in result.message


def test_floors_hold_on_the_whole_allocation() -> None:
    data = copy.deepcopy(DATA)
    data["recipients"][2]["floor"] = 300  # jeju: about 182 without it
    result = solve(Scenario.from_data(data))
    jeju = next(a for a in result.allocations if a.id == "jeju")
    assert jeju.units == 300 and jeju.binding == ("floor",)
    assert sum(a.units for a in result.allocations) == 1000


def test_excluded_recipients_get_nothing_in_any_component() -> None:
    data = copy.deepcopy(DATA)
    data["recipients"][2]["floor"] = 300
    data["rules"].append({"type": "eligibility", "min_score": 78.5})
    result = solve(Scenario.from_data(data))
    assert result.status == Status.OPTIMAL
    units = {a.id: a.units for a in result.allocations}
    assert units["jeju"] == 0 and units["daegu"] == 0 and units["busan"] == 1000
    cert = result.certificate
    assert cert is not None
    assert all(c["split"]["jeju"] == 0 for c in cert["components"])


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (lambda p: p[0].update(share=0.5), "rules[0].parts", "add up to 0.9"),
        (lambda p: p[1].update(basis="criteria.growth"), "rules[0].parts[1].basis", "criterion"),
        (lambda p: p[2].update(units=100), "rules[0].parts[2]", "one of them"),
        (lambda p: p[2].update(name="base"), "rules[0].parts[2].name", "duplicate"),
    ],
)
def test_bad_components_are_input_errors(change: Any, path: str, words: str) -> None:
    data = copy.deepcopy(DATA)
    change(data["rules"][0]["parts"])
    with pytest.raises(InputError) as caught:
        Scenario.from_data(data)
    assert any(p.path == path and words in p.message for p in caught.value.problems), (
        caught.value.problems
    )


def test_units_must_add_up_to_the_budget() -> None:
    data = copy.deepcopy(DATA)
    for part, units in zip(data["rules"][0]["parts"], (600, 300, 50), strict=True):
        del part["share"]
        part["units"] = units
    with pytest.raises(InputError) as caught:
        Scenario.from_data(data)
    assert [p.message for p in caught.value.problems] == [
        "the components' units add up to 950, the budget is 1,000"
    ]


def test_the_cli_shows_the_components(tmp_path: Path) -> None:
    path = tmp_path / "components.json"
    path.write_text(json.dumps(DATA), encoding="utf-8")
    outcome = CliRunner().invoke(cli.app, ["solve", str(path)])
    assert outcome.exit_code == 0, outcome.output
    assert "units by component" in outcome.output and "criteria.jobs" in outcome.output
