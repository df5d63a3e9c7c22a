"""Strict, bounded input: booleans are not numbers, text is not a number, lengths and
magnitudes are bounded so every derived figure is finite; each refusal names its field."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.errors import InputError
from optimizer.scenario import MAX_MAGNITUDE, Scenario
from optimizer.solve import solve

BASE: dict[str, Any] = {
    "name": "strict",
    "budget": 10,
    "recipients": [{"id": "a", "score": 1, "previous": 4}, {"id": "b", "score": 2}],
}


def problems(edit: Any) -> list[str]:
    data = copy.deepcopy(BASE)
    edit(data)
    with pytest.raises(InputError) as err:
        Scenario.from_data(data)
    return [str(p) for p in err.value.problems]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("budget", True, "budget: must be a whole number (got True)"),
        ("budget", "1200", "budget: must be a whole number (got '1200')"),
        (
            "budget",
            1200.5,
            "budget: must be a valid integer, got a number with a fractional part (got 1200.5)",
        ),
        ("name", "x" * 501, "name: string should have at most 500 characters"),
    ],
)
def test_scenario_fields(field: str, value: Any, expected: str) -> None:
    assert problems(lambda d: d.__setitem__(field, value)) == [expected]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("score", True, "recipients[0].score: must be a valid number (got True)"),
        ("score", "3", "recipients[0].score: must be a valid number (got '3')"),
        ("weight", False, "recipients[0].weight: must be a valid number (got False)"),
        ("floor", True, "recipients[0].floor: must be a whole number (got True)"),
        (
            "floor",
            2.5,
            "recipients[0].floor: must be a valid integer, got a number with a "
            "fractional part (got 2.5)",
        ),
        ("cap", "7", "recipients[0].cap: must be a whole number (got '7')"),
        ("previous", True, "recipients[0].previous: must be a valid number (got True)"),
        ("name", "n" * 501, "recipients[0].name: string should have at most 500 characters"),
    ],
)
def test_recipient_fields(field: str, value: Any, expected: str) -> None:
    assert problems(lambda d: d["recipients"][0].__setitem__(field, value)) == [expected]


def test_whole_numbers_may_be_written_as_integral_floats() -> None:
    data = copy.deepcopy(BASE)
    data["budget"] = 1.2e3  # YAML reads 1.2e3 as a float: its value is whole
    assert Scenario.from_data(data).budget == 1200


def test_rule_and_unit_fields() -> None:
    def rule(d: dict[str, Any]) -> None:
        d["rules"] = [{"type": "change_limit", "max_increase": True}]

    assert problems(rule) == ["rules[0].max_increase: must be a valid number (got True)"]

    def unit(d: dict[str, Any]) -> None:
        d["unit"] = {"label": "KRW", "value": "1e8"}

    assert problems(unit) == ["unit.value: must be a valid number (got '1e8')"]


def test_magnitudes_keep_every_derived_figure_finite() -> None:
    def huge(d: dict[str, Any]) -> None:
        d["recipients"][0].update(score=1e300, weight=1e300)

    found = problems(huge)
    assert any(p.startswith("recipients[0].score: must be less than or equal to") for p in found)
    assert any(p.startswith("recipients[0].weight: must be less than or equal to") for p in found)
    largest = copy.deepcopy(BASE)
    largest["unit"] = {"label": "x", "value": MAX_MAGNITUDE}
    for rec in largest["recipients"]:
        rec.update(score=MAX_MAGNITUDE, weight=MAX_MAGNITUDE)
    result = solve(Scenario.from_data(largest)).to_dict()
    for row in result["allocations"]:
        assert all(math.isfinite(row[k]) for k in ("amount", "quota", "entitlement", "share"))


def test_the_cli_says_the_same_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\nbudget: true\nrecipients:\n  - {id: a, score: '3'}\n", encoding="utf-8"
    )
    run = CliRunner().invoke(app, ["validate", str(path)])
    assert run.exit_code == 2
    assert "error: budget: must be a whole number (got True)" in run.stderr
    assert "error: recipients[0].score: must be a valid number (got '3')" in run.stderr
