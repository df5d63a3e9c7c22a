"""Paradox checks with verdicts, on the textbook cases of each pathology."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.paradox import paradox_checks
from optimizer.result import Result
from optimizer.scenario import Scenario
from optimizer.solve import solve


def scenario(scores: list[float], budget: int, method: str = "hamilton") -> Scenario:
    return Scenario.from_data(
        {
            "name": "paradox",
            "budget": budget,
            "objective": {"kind": "proportional", "method": method},
            "recipients": [{"id": f"s{i}", "score": s} for i, s in enumerate(scores)],
        }
    )


def verdicts(s: Scenario, solver: Any = solve) -> dict[str, tuple[str, str]]:
    result = solve(s)
    return {v.check: (v.verdict, v.detail) for v in paradox_checks(s, result, solver)}


def test_the_alabama_paradox_is_found_under_hamilton() -> None:
    # populations 6, 6, 2: 10 seats give 4, 4, 2; 11 seats give 5, 5, 1
    got = verdicts(scenario([6, 6, 2], 10))
    verdict, detail = got["budget_monotonicity"]
    assert verdict == "fails"
    assert "s2 gets 2 units with a budget of 10 but 1 with 11" in detail


@pytest.mark.parametrize("method", ["jefferson", "webster", "adams", "huntington-hill"])
def test_divisor_methods_are_house_monotone(method: str) -> None:
    assert verdicts(scenario([6, 6, 2], 10, method))["budget_monotonicity"][0] == "holds"


def test_jefferson_leaves_the_quota_by_itself() -> None:
    # quotas 8.7, 0.7, 0.6: D'Hondt gives the large one all 10 units, above ceil(8.7)
    verdict, detail = verdicts(scenario([87, 7, 6], 10, "jefferson"))["quota"]
    assert verdict == "fails"
    assert "s0 10 units for a quota of 8.70 (jefferson itself" in detail
    assert verdicts(scenario([87, 7, 6], 10))["quota"][0] == "holds"  # Hamilton stays within


def test_a_score_that_rises_and_loses_units_is_named() -> None:
    s = scenario([5, 3, 2], 10)

    def losing(variant: Scenario) -> Result:
        """The real solve, except that whoever's score was raised loses a unit to s1."""
        result = solve(variant)
        raised = [
            r.id
            for r, base in zip(variant.recipients, s.recipients, strict=True)
            if r.score != base.score
        ]
        if not raised or raised[0] == "s1":
            return result
        rows = [
            a._replace(units=a.units - 1) if a.id == raised[0] else a for a in result.allocations
        ]
        rows = [a._replace(units=a.units + 1) if a.id == "s1" else a for a in rows]
        return replace(result, allocations=tuple(rows))

    verdict, detail = verdicts(s, losing)["score_monotonicity"]
    assert verdict == "fails"
    assert detail.startswith("population paradox: s0 gets 5 units with a score of 5 but 4")
    assert verdicts(s)["score_monotonicity"][0] == "holds"


def test_an_infeasible_run_has_nothing_to_check() -> None:
    data = {"name": "x", "budget": 5, "recipients": [{"id": "a", "score": 1, "cap": 1}]}
    s = Scenario.from_data(data)
    got = verdicts(s)
    assert {v for v, _ in got.values()} == {"not applicable"}


def test_the_cli_prints_the_verdicts_and_json_carries_them(tmp_path: Any) -> None:
    path = tmp_path / "alabama.yaml"
    path.write_text(
        "name: alabama\nbudget: 10\nrecipients:\n"
        "  - {id: a, score: 6}\n  - {id: b, score: 6}\n  - {id: c, score: 2}\n",
        encoding="utf-8",
    )
    run = CliRunner().invoke(app, ["solve", str(path), "--format", "json"])
    assert run.exit_code == 0, run.output
    assert '"verdict": "fails"' in run.stdout and "Alabama paradox" in run.stdout
    quiet = CliRunner().invoke(app, ["solve", str(path), "--format", "json", "--no-checks"])
    assert '"checks": []' in quiet.stdout
