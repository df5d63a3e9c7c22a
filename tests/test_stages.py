"""Two-stage allocation: regions first (their own scores, bounds, rules and method), then
each region's units to its programmes; both stages explained, either one diagnosed."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from optimizer import cli
from optimizer.errors import InputError
from optimizer.result import Status
from optimizer.scenario import Scenario
from optimizer.solve import solve

FIRST: dict[str, Any] = {
    "objective": {"kind": "proportional", "method": "hamilton"},
    "recipients": [
        {"id": "busan", "score": 84.5, "weight": 1.2, "floor": 30, "tags": {"kind": "metro"}},
        {"id": "daegu", "score": 78.0, "weight": 1.1, "tags": {"kind": "metro"}},
        {"id": "jeju", "score": 70.2, "weight": 0.7, "cap": 40},
    ],
    "rules": [{"type": "group", "tag": "kind", "value": "metro", "max_units": 270}],
}


def two_stage(**first: Any) -> dict[str, Any]:
    return {
        "name": "two stages (illustrative)",
        "budget": 300,
        "objective": {"kind": "proportional", "method": "webster"},
        "rules": [{"type": "two_stage", "by": "region", "first": copy.deepcopy(FIRST) | first}],
        "recipients": [
            {"id": "busan-a", "score": 80, "tags": {"region": "busan"}},
            {"id": "busan-b", "score": 60, "floor": 50, "tags": {"region": "busan"}},
            {"id": "daegu-a", "score": 70, "tags": {"region": "daegu"}},
            {"id": "jeju-a", "score": 65, "tags": {"region": "jeju"}},
            {"id": "jeju-b", "score": 90, "tags": {"region": "jeju"}},
        ],
    }


def test_each_stage_is_the_allocation_of_its_own_scenario() -> None:
    data = two_stage()
    result = solve(Scenario.from_data(data))
    assert result.status == Status.OPTIMAL, result.message
    first = solve(Scenario.from_data({"name": "first", "budget": 300, **FIRST}))
    regions = {a.id: a.units for a in first.allocations}
    cert = result.certificate
    assert cert is not None and cert["kind"] == "two_stage"
    assert cert["first"]["units"] == regions
    units = {a.id: a.units for a in result.allocations}
    for region, total in regions.items():
        members = [r for r in data["recipients"] if r["tags"]["region"] == region]
        alone = solve(
            Scenario.from_data(
                {
                    "name": region,
                    "budget": total,
                    "objective": {"kind": "proportional", "method": "webster"},
                    "recipients": members,
                }
            )
        )
        assert {a.id: a.units for a in alone.allocations} == {
            r["id"]: units[r["id"]] for r in members
        }
        assert cert["within"][region]["method"] == "webster"
    assert sum(units.values()) == 300
    assert "3 regions by hamilton (first stage)" in result.message


def test_an_infeasible_first_stage_is_named() -> None:
    data = two_stage()
    data["rules"][0]["first"]["rules"][0]["max_units"] = 200
    result = solve(Scenario.from_data(data))
    assert result.status == Status.INFEASIBLE and result.diagnosis is not None
    assert result.diagnosis.summary.startswith("first stage (region): infeasible")
    assert [(r.kind, r.amount) for r in result.diagnosis.relax] == [("group_max", 60)]


def test_an_infeasible_second_stage_names_its_region() -> None:
    data = two_stage()
    data["recipients"][1]["floor"] = 200  # busan-b: more than busan's first-stage units
    result = solve(Scenario.from_data(data))
    assert result.status == Status.INFEASIBLE and result.diagnosis is not None
    assert result.diagnosis.summary.startswith("second stage in busan (")


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (
            lambda d: d["rules"][0]["first"]["recipients"][0].update(score=-1),
            "rules[0].first.recipients[0].score",
            "greater than 0",
        ),
        (
            lambda d: d["recipients"][0]["tags"].update(region="seoul"),
            "recipients[0].tags.region",
            "'seoul' is not a first-stage recipient",
        ),
        (
            lambda d: [r["tags"].update(region="busan") for r in d["recipients"][3:]],
            "rules[0].first.recipients[2].id",
            "no recipient has tags.region == 'jeju'",
        ),
        (
            lambda d: d["rules"].append({"type": "grade_order"}),
            "rules[1].type",
            "cannot be combined with the two_stage rule",
        ),
        (
            lambda d: d["rules"][0]["first"].update(budget=5),
            "rules[0].first.budget",
            "set by the scenario",
        ),
    ],
)
def test_bad_stages_are_input_errors_with_paths(change: Any, path: str, words: str) -> None:
    data = two_stage()
    change(data)
    with pytest.raises(InputError) as caught:
        Scenario.from_data(data)
    assert any(p.path == path and words in p.message for p in caught.value.problems), (
        caught.value.problems
    )


def test_the_cli_prints_both_stages(tmp_path: Path) -> None:
    path = tmp_path / "stages.json"
    path.write_text(json.dumps(two_stage()), encoding="utf-8")
    outcome = CliRunner().invoke(cli.app, ["solve", str(path)])
    assert outcome.exit_code == 0, outcome.output
    assert "first stage (region, hamilton): busan 140 · daegu 120 · jeju 40" in outcome.output
