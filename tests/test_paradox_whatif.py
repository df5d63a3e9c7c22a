"""Paradox verdicts in ``allot compare`` and ``allot sweep``: each compared run's checks, each
sweep point's quota verdict, and budget / score monotonicity across a sweep's own points
(the Alabama paradox of the textbook example is found; a divisor method holds)."""

from __future__ import annotations

import doctest
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from optimizer import cli, paradox, report_blocks
from optimizer import sweep as sweep_module
from optimizer.cli import app
from optimizer.loading import load_data, load_scenario, validate_data
from optimizer.paradox import paradox_checks
from optimizer.solve import solve
from optimizer.sweep import parse_axis, run_sweep, variants

ROOT = Path(__file__).resolve().parents[1]
REGIONS = ROOT / "scenarios" / "regions-2025.yaml"


def alabama(method: str = "hamilton") -> dict[str, Any]:
    """The textbook Alabama paradox: shares 6:6:2, 10 seats give c 2, 11 seats give c 1."""
    return {
        "name": "alabama",
        "budget": 10,
        "recipients": [
            {"id": "a", "score": 6},
            {"id": "b", "score": 6},
            {"id": "c", "score": 2},
        ],
        "objective": {"kind": "proportional", "method": method},
    }


def sweep(data: dict[str, Any], *sets: str) -> dict[str, Any]:
    axes = [parse_axis(s) for s in sets]
    return run_sweep(variants(data, axes), axes, jobs=1).to_dict()


def test_a_budget_sweep_finds_the_alabama_paradox_of_hamilton() -> None:
    out = sweep(alabama(), "budget=10,11")
    assert [v["units"] for v in out["variants"]] == [
        {"a": 4, "b": 4, "c": 2},
        {"a": 5, "b": 5, "c": 1},
    ]
    (verdict,) = out["checks"]
    assert verdict["check"] == "budget_monotonicity" and verdict["verdict"] == "fails"
    assert "c gets 2 units with a budget of 10 but 1 with 11" in verdict["detail"]


def test_a_divisor_method_holds_across_the_sweep() -> None:
    out = sweep(alabama("jefferson"), "budget=5:20:1")
    (verdict,) = out["checks"]
    assert verdict["verdict"] == "holds" and "15 steps" in verdict["detail"]


def test_a_grid_compares_only_points_that_differ_in_the_budget() -> None:
    """Two lines (one per method): Hamilton's fails, Jefferson's holds; the points of
    different methods are never compared with each other."""
    out = sweep(alabama(), "objective.method=jefferson,hamilton", "budget=10,11")
    (verdict,) = out["checks"]
    assert verdict["verdict"] == "fails" and "c gets 2" in verdict["detail"]
    jefferson_only = sweep(alabama(), "objective.method=jefferson", "budget=10,11")
    assert jefferson_only["checks"][0]["verdict"] == "holds"
    assert "2 steps" not in jefferson_only["checks"][0]["detail"]  # one line, one step


def test_a_swept_score_is_checked_for_the_population_paradox() -> None:
    out = sweep(alabama(), "recipients[c].score=1:4:0.5")
    (verdict,) = out["checks"]
    assert verdict["check"] == "score_monotonicity" and verdict["verdict"] == "holds"
    assert verdict["detail"].startswith("c never gets fewer units at a higher score of c")
    by_index = sweep(alabama(), "recipients[2].score=1,2")
    assert by_index["checks"][0]["detail"].startswith("c never gets fewer")


def test_other_parameters_have_no_monotonicity_verdict() -> None:
    out = sweep(alabama(), "recipients[c].floor=0,3")
    assert out["checks"] == [
        {
            "check": "budget_monotonicity",
            "verdict": "not applicable",
            "detail": "the sweep varies neither the budget nor a recipient's score",
        }
    ]


def test_each_points_quota_verdict_is_the_runs_own() -> None:
    data = load_data(REGIONS)
    out = sweep(data, "budget=1150,1200,1250")
    for variant, budget in zip(out["variants"], (1150, 1200, 1250), strict=True):
        scenario = validate_data({**data, "budget": budget})
        alone = paradox_checks(scenario, solve(scenario), solve)
        assert variant["checks"] == [
            {"check": "quota", "verdict": alone[0].verdict, "detail": alone[0].detail}
        ]


def test_an_infeasible_point_is_not_applicable_and_skipped_by_the_line() -> None:
    data = alabama()
    for recipient in data["recipients"]:
        recipient["floor"] = 1
    out = sweep(data, "budget=2,10,11")  # 2 units cannot meet three floors of 1
    assert [v["status"] for v in out["variants"]] == ["infeasible", "optimal", "optimal"]
    assert out["variants"][0]["checks"][0]["verdict"] == "not applicable"
    (verdict,) = out["checks"]
    assert verdict["verdict"] == "fails" and "budget of 10 but 1 with 11" in verdict["detail"]
    only_one = sweep(data, "budget=2,10")
    assert only_one["checks"][0]["verdict"] == "not applicable"


@settings(max_examples=40, deadline=None)
@given(
    scores=st.lists(st.integers(1, 30), min_size=2, max_size=5),
    start=st.integers(3, 30),
    method=st.sampled_from(["hamilton", "webster", "jefferson"]),
)
def test_the_sweep_verdict_fails_exactly_when_someone_loses_a_unit(
    scores: list[int], start: int, method: str
) -> None:
    data = {
        "name": "p",
        "budget": start,
        "recipients": [{"id": f"r{i}", "score": s} for i, s in enumerate(scores)],
        "objective": {"kind": "proportional", "method": method},
    }
    out = sweep(data, f"budget={start}:{start + 6}:1")
    units = [v["units"] for v in out["variants"]]
    loses = any(after[r] < before[r] for before, after in itertools.pairwise(units) for r in before)
    assert out["checks"][0]["verdict"] == ("fails" if loses else "holds")
    if method == "jefferson":  # divisor methods are house monotone
        assert not loses


# --------------------------------------------------------------------------- the CLI


def test_the_cli_sweep_prints_and_writes_the_verdicts(tmp_path: Path) -> None:
    file = tmp_path / "alabama.yaml"
    file.write_text(yaml.safe_dump(alabama()), encoding="utf-8")
    runner = CliRunner()
    table = runner.invoke(app, ["sweep", str(file), "--set", "budget=10,11"])
    assert table.exit_code == 0, table.output
    assert "paradox checks across the sweep" in table.stdout
    assert "budget_monotonicity" in table.stdout and "fails" in table.stdout
    as_json = runner.invoke(app, ["sweep", str(file), "--set", "budget=10,11", "-f", "json"])
    assert json.loads(as_json.stdout)["checks"][0]["verdict"] == "fails"


def test_the_cli_compare_shows_each_runs_verdicts(tmp_path: Path) -> None:
    hamilton = tmp_path / "hamilton.yaml"
    hamilton.write_text(yaml.safe_dump(alabama() | {"budget": 11}), encoding="utf-8")
    saved = tmp_path / "saved.json"
    solved = solve(load_scenario(hamilton)).to_dict()  # a saved result without checks
    saved.write_text(json.dumps(solved), encoding="utf-8")
    runner = CliRunner()
    answer = runner.invoke(app, ["compare", str(hamilton), str(saved), "-f", "json"])
    assert answer.exit_code == 0, answer.output
    runs = json.loads(answer.stdout)["runs"]
    assert [c["check"] for c in runs[0]["checks"]] == [
        "quota",
        "budget_monotonicity",
        "score_monotonicity",
    ]
    assert runs[1]["checks"] == []
    table = runner.invoke(app, ["compare", str(hamilton), str(saved)])
    assert "paradox checks" in table.stdout and "not computed" in table.stdout
    quick = runner.invoke(app, ["compare", str(hamilton), str(saved), "--no-checks"])
    assert "paradox checks: not computed for these runs" in quick.stdout


@pytest.mark.parametrize("flag", ["--checks", "--no-checks"])
def test_compare_keeps_a_saved_results_own_checks(tmp_path: Path, flag: str) -> None:
    runner = CliRunner()
    saved = tmp_path / "regions.json"
    wrote = runner.invoke(app, ["solve", str(REGIONS), "-f", "json", "-o", str(saved)])
    assert wrote.exit_code == 0
    own = json.loads(saved.read_text(encoding="utf-8"))["checks"]
    answer = runner.invoke(app, ["compare", str(saved), str(saved), "-f", "json", flag])
    runs = json.loads(answer.stdout)["runs"]
    assert runs[0]["checks"] == runs[1]["checks"] == own


@pytest.mark.parametrize("module", [paradox, sweep_module, cli, report_blocks])
def test_the_examples_in_the_docstrings_hold(module: Any) -> None:
    failed, tried = doctest.testmod(module)
    assert tried > 0 and failed == 0


def test_the_cli_prints_the_certificate_in_one_line(tmp_path: Path) -> None:
    file = tmp_path / "jefferson.yaml"
    file.write_text(yaml.safe_dump(alabama("jefferson")), encoding="utf-8")
    answer = CliRunner().invoke(app, ["solve", str(file), "--no-checks"])
    assert answer.exit_code == 0
    line = next(x for x in answer.stdout.splitlines() if x.startswith("certificate"))
    assert line.startswith("certificate (divisor): units = clip(round(entitlement / D)")
    assert "divisor: low 1.2, high 1.2" in line


def test_the_compare_workbook_has_the_verdicts(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    hamilton = tmp_path / "hamilton.yaml"
    hamilton.write_text(yaml.safe_dump(alabama()), encoding="utf-8")
    jefferson = tmp_path / "jefferson.yaml"
    jefferson.write_text(yaml.safe_dump(alabama("jefferson")), encoding="utf-8")
    out = tmp_path / "c.xlsx"
    answer = CliRunner().invoke(
        app, ["compare", str(hamilton), str(jefferson), "-o", str(out), "-f", "xlsx"]
    )
    assert answer.exit_code == 0, answer.output
    book = load_workbook(out)
    assert book.sheetnames[:3] == ["comparison", "metrics", "checks"]
    rows = list(book["checks"].iter_rows(values_only=True))
    assert rows[0] == ("run", "check", "verdict", "detail")
    verdicts = {(r[0], r[1]): r[2] for r in rows[1:]}
    assert verdicts[("hamilton", "budget_monotonicity")] == "fails"
    assert verdicts[("jefferson", "budget_monotonicity")] == "holds"
