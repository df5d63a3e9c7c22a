"""``allot verify``: every example result verifies; a result with one unit moved does not."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.loading import load_scenario
from optimizer.scenario import Scenario
from optimizer.solve import solve
from optimizer.verify import verify

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "scenarios").rglob("*.yaml"))


def failures(result: dict[str, Any], scenario: Scenario | None) -> list[str]:
    return [f"{c.name}: {c.detail}" for c in verify(result, scenario) if c.ok is False]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT / "scenarios")))
def test_every_example_result_verifies(path: Path) -> None:
    scenario = load_scenario(path)
    result = solve(scenario).to_dict()
    checks = verify(result, scenario)
    if result["status"] != "optimal":
        assert [c.name for c in checks if c.ok is False] == ["status"]
        return
    assert not failures(result, scenario)
    names = {c.name for c in checks if c.ok is True}
    assert {"hash", "budget", "recipients"} <= names
    # bounds are checked unless a plan rule (eligibility, two stages...) changes them
    modelled = all(r.type in ("group", "grade_order", "change_limit") for r in scenario.rules)
    assert ("bounds" in names) == modelled


def moved(result: dict[str, Any], giver: str, taker: str) -> dict[str, Any]:
    out = copy.deepcopy(result)
    for row in out["allocations"]:
        if row["id"] in (giver, taker):
            row["units"] += -1 if row["id"] == giver else 1
            row["amount"] = row["units"] * out["unit"]["value"]
    return out


def test_one_unit_moved_is_rejected_on_the_baseline() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "regions-2025.yaml")
    result = solve(scenario).to_dict()
    bad = failures(moved(result, "busan", "jeju"), scenario)
    assert bad and bad[0].startswith(("certificate", "optimality", "rule", "bounds")), bad


def test_a_result_of_another_scenario_fails_on_the_hash() -> None:
    base = load_scenario(ROOT / "scenarios" / "regions-2025.yaml")
    cut = load_scenario(ROOT / "scenarios" / "regions-2025-cut.yaml")
    bad = failures(solve(base).to_dict(), cut)
    assert bad[0].startswith("hash:")


METHODS = ("hamilton", "jefferson", "webster", "adams", "huntington-hill", "dean", "weighted")


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(2, 6))
    budget = draw(st.integers(n, 60))
    recs = []
    for i in range(n):
        rec: dict[str, Any] = {
            "id": f"r{i}",
            "score": draw(st.sampled_from([1, 2, 3, 1.5, 7.25, 10])),
            "tags": {"g": draw(st.sampled_from(["x", "y"]))},
        }
        if draw(st.booleans()):
            rec["floor"] = draw(st.integers(0, budget // n))
        if draw(st.booleans()):
            rec["cap"] = draw(st.integers(rec.get("floor", 0) + 1, budget))
        recs.append(rec)
    method = draw(st.sampled_from(METHODS))
    objective = (
        {"kind": "weighted"} if method == "weighted" else {"kind": "proportional", "method": method}
    )
    data: dict[str, Any] = {
        "name": "v",
        "budget": budget,
        "recipients": recs,
        "objective": objective,
    }
    if draw(st.booleans()) and any(r["tags"]["g"] == "x" for r in recs):
        data["rules"] = [
            {"type": "group", "tag": "g", "value": "x", "max_units": draw(st.integers(0, budget))}
        ]
    return data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=scenarios(), pick=st.data())
def test_results_verify_and_moved_units_do_not(data: dict[str, Any], pick: st.DataObject) -> None:
    scenario = Scenario.from_data(data)
    result = solve(scenario)
    payload = result.to_dict()
    if result.status != "optimal":
        return
    assert not failures(payload, scenario)
    units = {a.id: a.units for a in result.allocations}
    tied = {(g, p) for t in result.ties for g in t.given for p in t.passed}
    givers = [r for r in units if units[r] > 0]
    takers = [r for r in units if r in units]
    giver = pick.draw(st.sampled_from(givers))
    taker = pick.draw(st.sampled_from([t for t in takers if t != giver]))
    if (giver, taker) in tied:
        return  # an equally good allocation: the tie, not an error
    assert failures(moved(payload, giver, taker), scenario)


def test_the_cli_exit_codes(tmp_path: Path) -> None:
    path = ROOT / "scenarios" / "regions-2025.yaml"
    result = solve(load_scenario(path)).to_dict()
    good = tmp_path / "good.json"
    good.write_text(json.dumps(result), encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(moved(result, "busan", "jeju")), encoding="utf-8")
    runner = CliRunner()
    ok = runner.invoke(app, ["verify", str(good), str(path)])
    assert ok.exit_code == 0, ok.output
    assert "verified:" in ok.stdout
    failed = runner.invoke(app, ["verify", str(bad), str(path)])
    assert failed.exit_code == 1
    assert "not verified:" in failed.stderr
    broken = tmp_path / "broken.json"
    broken.write_text('{"status": "optimal", "allocations": [{"id": "a", "units": "x"}]}')
    wrong = runner.invoke(app, ["verify", str(broken), str(path)])
    assert wrong.exit_code == 2
    assert "allocations[0].units: must be a whole number" in wrong.stderr
    alone = runner.invoke(app, ["verify", str(good)])  # no scenario: the budget only
    assert alone.exit_code == 0 and "no scenario given" in alone.stdout
