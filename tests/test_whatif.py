"""What-if analysis on the example scenarios: ``allot compare``, ``sweep``, ``robust`` and
``sensitivity``, locally (in process and on worker processes) and on a Dask cluster."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from optimizer import cli, parallel
from optimizer.compare import compare, load_result
from optimizer.errors import InputError
from optimizer.loading import load_data, load_scenario, validate_data
from optimizer.overrides import apply_overrides
from optimizer.robust import RobustReport, robustness
from optimizer.sensitivity import SensitivityReport, sensitivity
from optimizer.solve import solve
from optimizer.sweep import parse_axis, run_sweep, variants
from tests.independent.expected import stored

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
REGIONS = SCENARIOS / "regions-2025.yaml"
CUT = SCENARIOS / "regions-2025-cut.yaml"
METRO = SCENARIOS / "regions-2025-metro-cap.yaml"
INFEASIBLE = SCENARIOS / "regions-2025-infeasible.yaml"
PROGRAMMES = SCENARIOS / "programmes-2025-baseline.yaml"
FUTURE = SCENARIOS / "programmes-2025-future-floor.yaml"

runner = CliRunner()


def run(*args: str | Path) -> Any:
    return runner.invoke(cli.app, [str(a) for a in args])


def units_of(result: dict[str, Any]) -> dict[str, int]:
    return {a["id"]: a["units"] for a in result["allocations"]}


def assert_input_error(result: Any, *expected: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), lines
    for text in expected:
        assert any(text in line for line in lines), (text, lines)


@pytest.fixture(scope="module")
def solved() -> dict[str, dict[str, Any]]:
    """Each region-level example solved alone."""
    return {p.stem: solve(load_scenario(p)).to_dict() for p in (REGIONS, CUT, METRO, INFEASIBLE)}


# --------------------------------------------------------------------------- compare


def test_compare_json_holds_every_run_as_solved_alone(solved: dict[str, dict[str, Any]]) -> None:
    answer = run("compare", REGIONS, CUT, METRO, "--format", "json")
    assert answer.exit_code == 0, answer.output
    out = json.loads(answer.stdout)
    labels = ["regions-2025", "regions-2025-cut", "regions-2025-metro-cap"]
    assert out["baseline"] == "regions-2025"
    assert [r["label"] for r in out["runs"]] == labels
    for index, label in enumerate(labels):
        expected = units_of(solved[label])
        assert {r["id"]: r["units"][index] for r in out["recipients"]} == expected
    busan = next(r for r in out["recipients"] if r["id"] == "busan")
    base, cut = (
        units_of(solved["regions-2025"])["busan"],
        units_of(solved["regions-2025-cut"])["busan"],
    )
    assert busan["diff_units"][1] == cut - base
    assert busan["diff_pct"][1] == pytest.approx(100 * (cut - base) / base)
    assert {r["rule"]: r["bound"] for r in out["rules"]}["metro at most 35%"] == [
        False,
        False,
        True,
    ]
    assert [r["budget"] for r in out["runs"]] == [1200, 1080, 1200]


def test_compare_reads_saved_results_as_well_as_scenarios(tmp_path: Path) -> None:
    saved = tmp_path / "cut-result.json"
    answer = run("solve", CUT, "--format", "json", "--out", saved)
    assert answer.exit_code == 0, answer.output
    from_files = json.loads(run("compare", REGIONS, saved, "--format", "json").stdout)
    from_scenarios = json.loads(run("compare", REGIONS, CUT, "--format", "json").stdout)
    assert from_files["runs"][1]["label"] == "cut-result"
    assert from_files["recipients"] == from_scenarios["recipients"]
    assert from_files["rules"] == from_scenarios["rules"]
    assert load_result(saved) == json.loads(saved.read_text(encoding="utf-8"))


def test_compare_table_shows_units_differences_grades_metrics_and_rules() -> None:
    answer = run("compare", REGIONS, METRO, INFEASIBLE)
    assert answer.exit_code == 0, answer.output
    text = answer.stdout
    assert "units per recipient (baseline: regions-2025)" in text
    assert "Δ regions-2025-metro-cap" in text
    busan = next(line for line in text.splitlines() if "부산광역시" in line)
    # busan's units in each file, as scenarios/expected/ has them (derived independently)
    before, after = (stored(path)["units"]["busan"] for path in (REGIONS, METRO))
    assert busan.split()[1:5] == [str(before), str(after), "-", f"{after - before:+d}"]
    assert "metrics" in text and "Gini (units)" in text and "infeasible" in text
    assert "metro at most 35%" in text and "bound" in text


def test_compare_csv_is_the_recipient_table(solved: dict[str, dict[str, Any]]) -> None:
    answer = run("compare", REGIONS, CUT, "--format", "csv")
    assert answer.exit_code == 0, answer.output
    rows = list(csv.DictReader(io.StringIO(answer.stdout)))
    assert len(rows) == 14
    first = rows[0]
    assert list(first) == [
        "id",
        "name",
        "units regions-2025",
        "units regions-2025-cut",
        "diff units regions-2025-cut",
        "diff % regions-2025-cut",
        "grade regions-2025",
        "grade regions-2025-cut",
    ]
    base, cut = units_of(solved["regions-2025"]), units_of(solved["regions-2025-cut"])
    for row in rows:
        assert int(row["units regions-2025"]) == base[row["id"]]
        assert int(row["diff units regions-2025-cut"]) == cut[row["id"]] - base[row["id"]]


def test_compare_xlsx_is_a_workbook_holding_the_json_numbers(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    book_path = tmp_path / "compare.xlsx"
    answer = run("compare", REGIONS, CUT, METRO, "--format", "xlsx", "--out", book_path)
    assert answer.exit_code == 0, answer.output
    assert answer.stderr.strip() == f"wrote xlsx output to {book_path}"
    out = json.loads(run("compare", REGIONS, CUT, METRO, "--format", "json").stdout)

    book = load_workbook(book_path)
    assert book.sheetnames == [
        "comparison",
        "metrics",
        "checks",
        "regions-2025",
        "regions-2025-cut",
        "regions-2025-metro-cap",
    ]
    sheet = book["comparison"]
    assert sheet.freeze_panes == "C2"
    header = [c.value for c in sheet[1]]
    assert header[:5] == [
        "id",
        "name",
        "units regions-2025",
        "units regions-2025-cut",
        "units regions-2025-metro-cap",
    ]
    assert all(c.font.bold for c in sheet[1])
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert len(rows) == len(out["recipients"]) == 14
    for row, rec in zip(rows, out["recipients"], strict=True):
        assert row[0] == rec["id"] and row[1] == rec["name"]
        assert row[2:5] == rec["units"]
        assert row[5:7] == rec["diff_units"][1:]
        assert row[7:9] == pytest.approx([p / 100 for p in rec["diff_pct"][1:]])
        assert row[9:12] == rec["grade"]
    assert sheet["C2"].number_format == "#,##0"
    assert sheet["H2"].number_format == "+0.0%;-0.0%;0.0%"

    metrics = {row[0].value: [c.value for c in row[1:]] for row in book["metrics"].iter_rows()}
    # Excel keeps 15 significant digits
    gini = [r["metrics"]["gini"] for r in out["runs"]]
    assert metrics["Gini (units)"] == pytest.approx(gini, rel=1e-14)
    assert metrics["metro at most 35%"] == ["no", "no", "yes"]

    run_sheet = book["regions-2025-cut"]
    assert run_sheet.freeze_panes == "C2"
    header = [c.value for c in run_sheet[1]]
    assert header == [
        "id",
        "name",
        "grade",
        "score",
        "quota",
        "entitlement",
        "units",
        "amount",
        "share",
        "binding",
    ]
    cut = {r["id"]: r["units"][1] for r in out["recipients"]}
    assert {row[0].value: row[6].value for row in run_sheet.iter_rows(min_row=2)} == cut
    assert run_sheet["I2"].number_format == "0.00%"  # share
    assert run_sheet["F2"].number_format == "#,##0.00"  # entitlement


def test_compare_html_is_a_standalone_escaped_page(tmp_path: Path) -> None:
    data = load_data(REGIONS)
    data["name"] = "<script>alert('x')</script> & co"
    data["recipients"][0]["name"] = "<b>Busan</b>"
    (tmp_path / "odd.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    answer = run("compare", tmp_path / "odd.json", REGIONS, "--format", "html")
    assert answer.exit_code == 0, answer.output
    page = answer.stdout
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script" not in page and "<b>Busan" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in page
    assert "&lt;b&gt;Busan&lt;/b&gt;" in page
    assert "http" not in page  # nothing fetched from elsewhere


def test_compare_reports_bad_input_with_exit_2(tmp_path: Path) -> None:
    assert_input_error(run("compare", REGIONS), "FILES: give two or more files (got 1)")
    assert_input_error(
        run("compare", REGIONS, CUT, "--format", "xlsx"),
        "--out: --format xlsx writes a workbook: give --out FILE",
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nbudget: 10\nrecipients: [{id: a, score: -1}]\n", encoding="utf-8")
    assert_input_error(
        run("compare", REGIONS, bad, tmp_path / "missing.yaml"),
        f"{bad}: recipients[0].score: must be greater than 0",
        f"{tmp_path / 'missing.yaml'}: file not found",
    )
    broken = tmp_path / "broken.json"
    broken.write_text(
        json.dumps({"status": "optimal", "scenario": {}, "allocations": [{"id": "a"}]}),
        encoding="utf-8",
    )
    assert_input_error(
        run("compare", REGIONS, broken), f"{broken}: allocations[0].units: must be a whole number"
    )


def test_compare_labels_tell_equal_file_names_apart(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    copy = tmp_path / "a" / "regions-2025.yaml"
    copy.write_text("extends: " + str(REGIONS) + "\nname: copy\n", encoding="utf-8")
    out = json.loads(run("compare", REGIONS, copy, "--format", "json").stdout)
    assert [r["label"] for r in out["runs"]] == ["regions-2025 (1)", "regions-2025 (2)"]
    assert all(r["diff_units"] == [0, 0] for r in out["recipients"])


# --------------------------------------------------------------------------- sweep


def alone(data: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """One variant solved by hand: overrides, validation, solve."""
    return solve(validate_data(apply_overrides(data, assignments))).to_dict()


def test_a_parallel_sweep_equals_solving_each_variant_alone() -> None:
    data = load_data(REGIONS)
    axes = [parse_axis("budget=1100:1300:100")]
    report = run_sweep(variants(data, axes), axes, jobs=2)
    out = report.to_dict()
    assert [v["values"] for v in out["variants"]] == [{"budget": b} for b in (1100, 1200, 1300)]
    for index, budget in enumerate((1100, 1200, 1300)):
        expected = alone(data, [f"budget={budget}"])
        assert out["variants"][index]["status"] == expected["status"] == "optimal"
        assert out["variants"][index]["units"] == units_of(expected)
        assert out["variants"][index]["metrics"] == expected["metrics"]
        assert {r["id"]: r["units"][index] for r in out["recipients"]} == units_of(expected)


def test_a_grid_sweep_varies_the_first_parameter_slowest() -> None:
    data = load_data(FUTURE)
    axes = [parse_axis("rules[1].min_share=0.3,0.34"), parse_axis("budget=1400,1500")]
    out = run_sweep(variants(data, axes), axes, jobs=1).to_dict()
    assert out["parameters"] == ["rules[1].min_share", "budget"]
    points = [(0.3, 1400), (0.3, 1500), (0.34, 1400), (0.34, 1500)]
    assert [tuple(v["values"].values()) for v in out["variants"]] == points
    for variant, (share, budget) in zip(out["variants"], points, strict=True):
        expected = alone(data, [f"rules[1].min_share={share}", f"budget={budget}"])
        assert variant["status"] == expected["status"] == "optimal"
        assert variant["units"] == units_of(expected)
        assert variant["label"] == f"rules[1].min_share={share}, budget={budget}"


def test_sweep_command_prints_the_same_table_in_every_format() -> None:
    args = (REGIONS, "--set", "budget=1100:1300:100", "--jobs", "1")
    as_json = run("sweep", *args, "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    out = json.loads(as_json.stdout)
    data = load_data(REGIONS)
    for index, budget in enumerate((1100, 1200, 1300)):
        assert out["variants"][index]["units"] == units_of(alone(data, [f"budget={budget}"]))

    rows = list(csv.DictReader(io.StringIO(run("sweep", *args, "--format", "csv").stdout)))
    assert len(rows) == 3 * 14
    assert {(int(r["budget"]), r["id"]): int(r["units"]) for r in rows} == {
        (v["values"]["budget"], rid): units
        for v in out["variants"]
        for rid, units in v["units"].items()
    }

    table = run("sweep", *args).stdout
    assert table.startswith("2025 baseline (illustrative): sweep of budget")
    header = next(line for line in table.splitlines() if "recipient" in line)
    assert header.split() == ["recipient", "1100", "1200", "1300"]
    busan = next(line for line in table.splitlines() if "부산광역시" in line)
    assert [int(u) for u in busan.split()[1:]] == [v["units"]["busan"] for v in out["variants"]]


def test_long_sweeps_show_a_progress_bar_on_a_terminal_stderr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # Rich treats stderr as a terminal
    answer = run("sweep", REGIONS, "--set", "budget=1100:1800:100", "-j", "1", "-f", "json")
    assert answer.exit_code == 0, answer.output
    assert "solving variants" in answer.stderr and "8/8" in answer.stderr
    assert len(json.loads(answer.stdout)["variants"]) == 8  # stdout is the report alone
    short = run("sweep", REGIONS, "--set", "budget=1100,1200", "-j", "1", "-f", "json")
    assert short.stderr == ""


def test_sweep_reports_infeasible_variants_in_the_table() -> None:
    answer = run("sweep", INFEASIBLE, "--set", "budget=1200,1300", "--jobs", "1")
    assert answer.exit_code == 0, answer.output
    assert "budget=1200: infeasible: sum of floors is 1,260 > budget 1,200" in answer.stdout
    out = json.loads(
        run("sweep", INFEASIBLE, "--set", "budget=1200,1300", "-j", "1", "-f", "json").stdout
    )
    assert [v["status"] for v in out["variants"]] == ["infeasible", "optimal"]
    assert out["recipients"][0]["units"][0] is None


def test_sweep_reports_bad_values_and_bad_variants_with_exit_2() -> None:
    assert_input_error(
        run("sweep", REGIONS, "--set", "budget=1000:2000:0", "--set", "nonsense"),
        "--set[0]: 'budget=1000:2000:0': step 0 never gets from 1000 to 2000",
        "--set[1]: 'nonsense': expected path=value",
    )
    answer = run("sweep", REGIONS, "--set", "budget=0,1200", "--jobs", "0")
    assert_input_error(answer, "--jobs: must be at least 1 (got 0)")
    answer = run("sweep", REGIONS, "--set", "budget=0,1200")
    assert_input_error(answer, "budget: with budget=0: must be greater than 0 (got 0)")
    answer = run("sweep", REGIONS, "--set", "rules[7].max_share=0.3")
    assert_input_error(answer, "rules[7]: with rules[7].max_share=0.3: index out of range")


def test_sweep_axes_parse_ranges_and_lists_exactly() -> None:
    assert parse_axis("budget=1000:1300:150").texts == ("1000", "1150", "1300")
    assert parse_axis("rules[0].min_share=0.2:0.3:0.05").values == (0.2, 0.25, 0.3)
    assert parse_axis("budget=1300:1000:-100").values == (1300, 1200, 1100, 1000)
    assert parse_axis("objective.method=hamilton, webster").values == ("hamilton", "webster")
    with pytest.raises(InputError, match="at most 3"):
        parse_axis("budget=1:10:1", limit=3)
    with pytest.raises(InputError, match="an empty value"):
        parse_axis("budget=1,,2")


# --------------------------------------------------------------------------- robust


def test_robust_is_reproducible_for_a_seed_whatever_the_jobs() -> None:
    args = (PROGRAMMES, "--noise", "2.0", "--samples", "40", "--seed", "7", "--format", "json")
    one = run("robust", *args, "--jobs", "1")
    two = run("robust", *args, "--jobs", "2")
    assert one.exit_code == 0, one.output
    assert one.stdout == two.stdout
    other = run("robust", *args[:-3], "--seed", "8", "--format", "json", "--jobs", "1")
    assert other.stdout != one.stdout
    out = json.loads(one.stdout)
    assert out["samples"] == out["solved"] == 40 and out["seed"] == 7
    recipients = out["recipients"]
    assert len(recipients) == 60
    for r in recipients:
        assert r["min"] <= r["p5"] <= r["median"] <= r["p95"] <= r["max"]
        assert 0 <= r["p_grade_change"] <= 1 and 0 <= r["p_units_change"] <= 1
    assert any(r["p_grade_change"] > 0 for r in recipients)
    assert any(r["max"] > r["min"] for r in recipients)


def test_robust_statistics_are_those_of_the_samples_solved_again() -> None:
    """Each sample solved again here, with the noise drawn as the README says (one
    generator seeded with the seed, one matrix, recipients in id order, clipped at 0.01):
    min, max, the sample quantiles (inverted CDF: the ceil(p N)-th smallest), the mean and
    how often units and grades change are those of these samples."""
    samples, noise, seed = 12, 3.0, 5
    report = robustness(load_scenario(REGIONS), noise=noise, samples=samples, seed=seed, jobs=1)
    assert isinstance(report, RobustReport)
    data = load_data(REGIONS)
    ids = sorted(r["id"] for r in data["recipients"])
    base = {r["id"]: r["score"] for r in data["recipients"]}
    draws = np.random.default_rng(seed).normal(0.0, noise, size=(samples, len(ids)))
    grades = [(float(g["min_score"]), str(g["grade"])) for g in data["grades"]]

    def grade(score: float) -> str:
        return next(name for low, name in grades if score >= low)

    runs = []
    for row in draws:
        noisy = {rid: max(base[rid] + float(d), 0.01) for rid, d in zip(ids, row, strict=True)}
        variant = {
            **data,
            "recipients": [{**r, "score": noisy[r["id"]]} for r in data["recipients"]],
        }
        result = solve(validate_data(variant))
        runs.append(({a.id: a.units for a in result.allocations}, noisy))
    for r in report.recipients:
        got = sorted(units[r.id] for units, _ in runs)
        quantile = [got[max(math.ceil(p / 100 * samples) - 1, 0)] for p in (5, 50, 95)]
        assert (r.min, r.p5, r.median, r.p95, r.max) == (got[0], *quantile, got[-1]), r.id
        assert r.mean == pytest.approx(sum(got) / samples, abs=1e-6)
        moved = sum(units[r.id] != r.units for units, _ in runs) / samples
        regraded = sum(grade(noisy[r.id]) != r.grade for _, noisy in runs) / samples
        assert (r.p_units_change, r.p_grade_change) == pytest.approx((moved, regraded), abs=1e-6)


def test_robust_does_not_depend_on_the_order_recipients_are_listed_in(tmp_path: Path) -> None:
    scenario = load_scenario(PROGRAMMES)
    reordered = scenario.model_copy(update={"recipients": scenario.recipients[::-1]})
    a = robustness(scenario, noise=3.0, samples=15, seed=3, jobs=1)
    b = robustness(reordered, noise=3.0, samples=15, seed=3, jobs=1)
    assert isinstance(a, RobustReport) and isinstance(b, RobustReport)
    assert {r.id: r for r in a.recipients} == {r.id: r for r in b.recipients}


def test_robust_without_noise_is_the_baseline() -> None:
    scenario = load_scenario(PROGRAMMES)
    report = robustness(scenario, noise=0.0, samples=3, seed=1, jobs=1)
    assert isinstance(report, RobustReport)
    base = {a.id: a.units for a in solve(scenario).allocations}
    for r in report.recipients:
        assert r.min == r.p5 == r.median == r.p95 == r.max == base[r.id] == r.units
        assert r.p_grade_change == 0 == r.p_units_change


def test_robust_table_and_csv() -> None:
    args = (PROGRAMMES, "--samples", "10", "--seed", "7", "--jobs", "1")
    table = run("robust", *args)
    assert table.exit_code == 0, table.output
    assert "10 samples, score noise N(0, 2²) points, seed 7" in table.stdout
    assert "solved 10 of 10 samples" in table.stdout
    rows = list(csv.DictReader(io.StringIO(run("robust", *args, "--format", "csv").stdout)))
    assert len(rows) == 60 and list(rows[0])[:5] == ["id", "name", "score", "grade", "units"]


def test_robust_on_an_infeasible_scenario_prints_the_diagnosis_and_exits_1() -> None:
    answer = run("robust", INFEASIBLE, "--samples", "5", "--jobs", "1")
    assert answer.exit_code == 1
    assert answer.stdout == ""
    assert "infeasible: sum of floors is 1,260 > budget 1,200" in answer.stderr


def test_robust_checks_its_options() -> None:
    assert_input_error(
        run("robust", PROGRAMMES, "--noise", "-1", "--samples", "0", "--seed", "-2"),
        "noise: must be a number of score points >= 0 (got -1.0)",
        "samples: must be 1 to 1,000,000 (got 0)",
        "seed: must be >= 0 (got -2)",
    )


# --------------------------------------------------------------------------- sensitivity


def units_with(scenario: Any, rid: str, score: float) -> int:
    result = solve(scenario.with_scores({rid: score}))
    return next(a.units for a in result.allocations if a.id == rid)


def check_thresholds(scenario: Any, report: SensitivityReport) -> int:
    """Moving the score by the reported change (plus a hair) changes the units, by one
    precision step less does not. Returns how many thresholds were checked."""
    checked = 0
    p = report.precision
    for t in report.recipients:
        for change, sign in ((t.up, 1), (t.down, -1)):
            if change is None:
                continue
            assert change.units != t.units
            assert change.score == pytest.approx(t.score + sign * change.delta)
            assert units_with(scenario, t.id, t.score + sign * change.delta) == change.units
            assert units_with(scenario, t.id, t.score + sign * (change.delta + 1e-9)) != t.units
            assert units_with(scenario, t.id, t.score + sign * (change.delta - p)) == t.units
            checked += 1
    return checked


def test_sensitivity_thresholds_really_move_the_units_on_the_milp_path() -> None:
    scenario = load_scenario(REGIONS)
    report = sensitivity(scenario, precision=0.05, only=["daegu", "chungnam"], jobs=2)
    assert isinstance(report, SensitivityReport)
    assert [t.id for t in report.recipients] == ["daegu", "chungnam"]
    assert check_thresholds(scenario, report) == 3
    chungnam = report.recipients[1]
    assert chungnam.up is None  # held at +30% over last year by change_limit
    assert chungnam.down is not None and chungnam.down.units is not None
    assert chungnam.down.units < chungnam.units


def test_sensitivity_thresholds_on_the_programmes(tmp_path: Path) -> None:
    scenario = load_scenario(PROGRAMMES)
    picked = ["busan-life-care", "jeju-green-hydrogen", "ulsan-battery"]
    report = sensitivity(scenario, only=picked, jobs=1)
    assert isinstance(report, SensitivityReport)
    assert report.precision == 0.01
    assert check_thresholds(scenario, report) == 6
    for t in report.recipients:
        assert t.up is not None and t.down is not None
        assert round(t.up.delta / 0.01, 6).is_integer()


def test_sensitivity_command_formats() -> None:
    args = (REGIONS, "--only", "daegu,jeonbuk", "--precision", "0.1", "--jobs", "1")
    out = json.loads(run("sensitivity", *args, "--format", "json").stdout)
    assert out["precision"] == 0.1
    assert [r["id"] for r in out["recipients"]] == ["daegu", "jeonbuk"]
    rows = list(csv.DictReader(io.StringIO(run("sensitivity", *args, "--format", "csv").stdout)))
    assert [(r["id"], int(r["units"])) for r in rows] == [
        (r["id"], r["units"]) for r in out["recipients"]
    ]
    table = run("sensitivity", *args).stdout
    daegu = out["recipients"][0]
    line = next(line for line in table.splitlines() if "대구광역시" in line)
    assert f"+{daegu['up']['delta']:g} → {daegu['up']['units']}" in line
    assert_input_error(
        run("sensitivity", REGIONS, "--only", "atlantis", "--precision", "0"),
        "only: no recipient with id 'atlantis'",
        "precision: must be score points > 0 and <= 100 (got 0.0)",
    )


# --------------------------------------------------------------------------- Dask


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    from distributed import LocalCluster  # a hard dependency (dask[distributed]): no skip

    with LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local:
        yield local.scheduler_address


def test_a_dask_cluster_gives_the_same_sweep_as_a_local_run(cluster: str) -> None:
    data = load_data(REGIONS)
    axes = [parse_axis("budget=1100:1300:100")]
    chosen = variants(data, axes)
    on_dask = run_sweep(chosen, axes, scheduler=cluster).to_dict()
    local = run_sweep(chosen, axes, jobs=1).to_dict()
    assert on_dask == local


def test_a_dask_cluster_gives_the_same_robustness_report(cluster: str) -> None:
    args = (PROGRAMMES, "--samples", "30", "--seed", "11", "--format", "json")
    on_dask = run("robust", *args, "--scheduler", cluster)
    assert on_dask.exit_code == 0, on_dask.output
    assert on_dask.stdout == run("robust", *args, "--jobs", "1").stdout


def test_a_dask_cluster_gives_the_same_sensitivity(cluster: str) -> None:
    scenario = load_scenario(PROGRAMMES)
    only = ["gangwon-hydrogen", "daejeon-quantum"]
    on_dask = sensitivity(scenario, only=only, scheduler=cluster)
    local = sensitivity(scenario, only=only, jobs=1)
    assert isinstance(on_dask, SensitivityReport) and isinstance(local, SensitivityReport)
    assert on_dask.to_dict() == local.to_dict()


def test_an_unreachable_scheduler_is_one_error_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT_S", 1)
    answer = run("sweep", REGIONS, "--set", "budget=1100,1200", "--scheduler", "tcp://127.0.0.1:9")
    assert_input_error(answer, "scheduler: cannot reach the Dask scheduler at tcp://127.0.0.1:9")


# --------------------------------------------------------------------------- compare API


def test_the_service_compare_is_unchanged_by_the_file_helpers(
    solved: dict[str, dict[str, Any]],
) -> None:
    out = compare([solved["regions-2025"], solved["regions-2025-cut"]])
    assert set(out) == {"baseline", "runs", "recipients", "rules"}
    assert out["runs"][0]["label"] == "run 1"
    yaml.safe_dump(out)  # plain values
