"""The ``allot`` command line: output formats, exit codes and error reporting.

Most tests drive the Typer app in-process with ``CliRunner`` (stdout and stderr apart); one
runs the installed console script in a real subprocess.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from optimizer import cli, solvers
from optimizer.loading import load_scenario
from optimizer.result import Result, Status
from optimizer.solve import solve as real_solve
from tests.test_thresholds import graded

# (id, name, score, weight, previous, type) -- illustrative numbers, not real evaluations
REGIONS: list[tuple[str, str, float, float, int, str]] = [
    ("busan", "부산광역시", 91.0, 1.3, 130, "main"),
    ("daegu", "대구광역시", 84.5, 1.1, 100, "main"),
    ("gwangju", "광주광역시", 78.0, 0.9, 80, "future"),
    ("daejeon", "대전광역시", 88.0, 0.9, 85, "future"),
    ("ulsan", "울산광역시", 82.0, 0.9, 80, "main"),
    ("sejong", "세종특별자치시", 75.5, 0.5, 40, "future"),
    ("gangwon", "강원특별자치도", 80.0, 1.0, 85, "main"),
    ("chungbuk", "충청북도", 86.0, 1.0, 90, "future"),
    ("chungnam", "충청남도", 89.5, 1.1, 100, "main"),
    ("jeonbuk", "전북특별자치도", 77.0, 1.0, 80, "future"),
    ("jeonnam", "전라남도", 83.0, 1.1, 90, "main"),
    ("gyeongbuk", "경상북도", 85.0, 1.2, 100, "main"),
    ("gyeongnam", "경상남도", 90.5, 1.2, 110, "main"),
    ("jeju", "제주특별자치도", 79.0, 0.6, 45, "future"),
]
IDS = [r[0] for r in REGIONS]
NAMES = [r[1] for r in REGIONS]
BUDGET = 1200
GROUP_RULE = {"type": "group", "tag": "type", "value": "future", "min_share": 0.3}
CHANGE_LIMIT = {"type": "change_limit", "max_decrease": 0.10, "max_increase": 0.30}


def scenario(rules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The 14-region scenario: grades, a group rule, grade_order and change_limit."""
    small = ("sejong", "jeju")
    return {
        "name": "2025 지역 인센티브 (illustrative)",
        "budget": BUDGET,
        "unit": {"label": "100M KRW", "value": 100_000_000},
        "recipients": [
            {
                "id": rid,
                "name": name,
                "score": score,
                "weight": weight,
                "floor": 20 if rid in small else 40,
                "cap": 120 if rid in small else 200,
                "previous": previous,
                "tags": {"type": kind},
            }
            for rid, name, score, weight, previous, kind in REGIONS
        ],
        "grades": [
            {"grade": "S", "min_score": 90, "multiplier": 1.3},
            {"grade": "A", "min_score": 80, "multiplier": 1.15},
            {"grade": "B", "min_score": 0, "multiplier": 1.0},
        ],
        "objective": {"kind": "proportional", "method": "hamilton"},
        "rules": (
            [GROUP_RULE, {"type": "grade_order"}, CHANGE_LIMIT]
            if rules is None
            else copy.deepcopy(rules)
        ),
    }


def write_yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def regions_file(tmp_path: Path) -> Path:
    return write_yaml(tmp_path / "regions.yaml", scenario())


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def run(runner: CliRunner, *args: str | Path) -> Any:
    return runner.invoke(cli.app, [str(a) for a in args])


def solve_json(runner: CliRunner, file: Path, *extra: str) -> dict[str, Any]:
    result = run(runner, "solve", file, "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def units_of(data: dict[str, Any]) -> dict[str, int]:
    return {a["id"]: a["units"] for a in data["allocations"]}


def assert_input_error(result: Any, *expected: str) -> None:
    """Exit 2, nothing on stdout, only ``error:`` lines on stderr, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert lines, "no error line"
    assert all(line.startswith("error: ") for line in lines), lines
    for text in expected:
        assert any(text in line for line in lines), (text, lines)


# --------------------------------------------------------------------------- success


def test_validate_prints_name_size_budget_and_hash(runner: CliRunner, regions_file: Path) -> None:
    result = run(runner, "validate", regions_file)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    line = result.stdout.strip()
    assert line.startswith("ok: 2025 지역 인센티브 (illustrative) (14 recipients, budget 1200, ")
    assert line.endswith(")")
    assert "hash sha256:" in line


def test_solve_json_is_the_result_contract(runner: CliRunner, regions_file: Path) -> None:
    result = run(runner, "solve", regions_file, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # exactly the result's JSON, nothing else
    assert result.stdout == cli.result_json(data)
    assert "부산광역시" in result.stdout  # not \\u-escaped
    assert data["status"] == "optimal"
    assert [a["id"] for a in data["allocations"]] == IDS
    units = [a["units"] for a in data["allocations"]]
    assert all(type(u) is int for u in units)
    assert sum(units) == BUDGET
    assert data["diagnosis"] is None
    assert data["scenario"]["hash"].startswith("sha256:")


def test_json_output_is_the_result_dict_one_allocation_per_line(regions_file: Path) -> None:
    """The fast writer (indented, allocations one per line) parses back to exactly
    ``to_dict()``, even when a name looks like its placeholder line."""
    result = real_solve(load_scenario(regions_file))
    tricky = replace(
        result,
        scenario='x\n  "allocations": "?"',
        allocations=(result.allocations[0]._replace(name='"allocations": "?"'),),
    )
    for each in (result, tricky, replace(result, allocations=())):
        text = cli.result_json(each.to_dict())
        assert json.loads(text) == each.to_dict()
    lines = cli.result_json(result.to_dict()).splitlines()
    assert sum(line.startswith('    {"id":') for line in lines) == len(result.allocations)


def test_csv_has_the_same_units_as_json(runner: CliRunner, regions_file: Path) -> None:
    result = run(runner, "solve", regions_file, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == list(cli.CSV_COLUMNS)
    assert [r["id"] for r in rows] == IDS
    assert [r["name"] for r in rows] == NAMES
    assert {r["id"]: int(r["units"]) for r in rows} == units_of(solve_json(runner, regions_file))
    for row in rows:
        assert row["grade"] in ("S", "A", "B")
        assert float(row["amount"]) == int(row["units"]) * 100_000_000
        assert all(part for part in row["binding"].split(";")) or row["binding"] == ""
    assert any(row["binding"] for row in rows)  # change_limit holds someone here


def test_table_lists_every_recipient_with_metrics_and_solver(
    runner: CliRunner, regions_file: Path
) -> None:
    result = run(runner, "solve", regions_file)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for name in NAMES:
        assert name in out
    assert "\x1b[" not in out  # not a terminal: no colour codes
    assert "100M KRW" in out
    assert "1,200" in out
    amounts = {f"{u * 100_000_000:,}" for u in units_of(solve_json(runner, regions_file)).values()}
    assert all(amount in out for amount in amounts)
    assert "metrics: total 1,200 units" in out
    assert "Gini" in out and "Gallagher" in out and "Loosemore-Hanby" in out
    solver = solve_json(runner, regions_file)["solver"]
    assert f"solver: {solver['backend']} " in out and f"({solver['path']} path)" in out
    assert "status optimal" in out
    assert result.stderr == ""


@pytest.mark.parametrize("width", [72, 100])
def test_table_on_a_narrow_terminal_keeps_names_and_numbers(regions_file: Path, width: int) -> None:
    scenario_ = load_scenario(regions_file)
    result = real_solve(scenario_)
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=True, color_system=None)
    cli._print_report(console, result, scenario_)
    text = buffer.getvalue()
    assert all(name in text for name in NAMES)
    assert all(f" {a.units:,} " in text for a in result.allocations)
    assert "…" not in text  # nothing cut
    assert ("amount column hidden" in text) == (width < 90)


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_out_writes_the_file_and_notes_it_on_stderr(
    runner: CliRunner, regions_file: Path, tmp_path: Path, fmt: str
) -> None:
    target = tmp_path / f"allocation.{fmt}"
    result = run(runner, "solve", regions_file, "--format", fmt, "--out", target)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert str(target) in result.stderr
    text = target.read_text(encoding="utf-8")
    assert "\x1b[" not in text
    assert all(name in text for name in NAMES)
    if fmt == "json":
        assert units_of(json.loads(text)) == units_of(solve_json(runner, regions_file))
    elif fmt == "csv":
        assert len(list(csv.DictReader(io.StringIO(text)))) == len(REGIONS)
    else:
        assert f"solver: {solve_json(runner, regions_file)['solver']['backend']} " in text
        assert not any(line != line.rstrip() for line in text.splitlines())


@pytest.mark.parametrize("backend", cli.BACKENDS)
def test_every_backend_gives_the_same_units(
    runner: CliRunner, tmp_path: Path, backend: str
) -> None:
    # group and grade_order rules: every MILP backend; greedy refuses them (exit 2)
    full = write_yaml(tmp_path / "full.yaml", scenario())
    # bounds and change_limit only: greedy applies too
    bounds = write_yaml(tmp_path / "bounds.yaml", scenario(rules=[CHANGE_LIMIT]))
    for file in (full, bounds):
        result = run(runner, "solve", file, "--format", "json", "--backend", backend)
        if backend == "greedy" and file == full:
            assert_input_error(result, "error: solver.backend: greedy handles")
        elif backend not in ("auto", "greedy") and backend not in solvers.available_backends():
            assert_input_error(result, f"backend {backend!r} is not available")
        else:
            assert result.exit_code == 0, result.output
            data = json.loads(result.stdout)
            assert data["status"] == "optimal"
            assert units_of(data) == units_of(solve_json(runner, file))
            assert sum(units_of(data).values()) == BUDGET


def test_time_limit_option_is_accepted(runner: CliRunner, regions_file: Path) -> None:
    data = solve_json(runner, regions_file, "--time-limit", "5", "--backend", "highs")
    assert units_of(data) == units_of(solve_json(runner, regions_file))


# --------------------------------------------------------------------------- outcomes


def floors_over_budget(tmp_path: Path) -> Path:
    """Floors 12 x 90 + 2 x 80 = 1,240 > budget 1,200."""
    data = scenario(rules=[])
    for rec in data["recipients"]:
        rec["floor"] = 80 if rec["id"] in ("sejong", "jeju") else 90
    return write_yaml(tmp_path / "infeasible.yaml", data)


def test_infeasible_exits_1_with_the_diagnosis(runner: CliRunner, tmp_path: Path) -> None:
    result = run(runner, "solve", floors_over_budget(tmp_path))
    assert result.exit_code == 1, result.output
    assert "sum of floors is 1,240 > budget 1,200" in result.stdout
    assert "relax floors (floor) by 40 units" in result.stdout
    assert "status infeasible" in result.stdout
    assert "Traceback" not in result.output


def test_infeasible_json_still_prints_the_result(runner: CliRunner, tmp_path: Path) -> None:
    result = run(runner, "solve", floors_over_budget(tmp_path), "--format", "json")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "infeasible"
    assert data["allocations"] == []
    assert data["diagnosis"]["relax"][0]["amount"] == 40
    assert "sum of floors is 1,240 > budget 1,200" in data["diagnosis"]["summary"]
    assert "sum of floors is 1,240 > budget 1,200" in result.stderr  # for the human


def _fake_solve(status: Status, *, gap: float | None, keep: bool) -> Callable[..., Result]:
    def fake(*args: Any, **kwargs: Any) -> Result:
        result = real_solve(*args, **kwargs)
        return replace(
            result,
            status=status,
            solver=replace(result.solver, gap=gap),
            allocations=result.allocations if keep else (),
            metrics=result.metrics if keep else None,
            message="" if keep else "no incumbent",
        )

    return fake


def test_time_limit_with_an_allocation_warns_and_exits_0(
    runner: CliRunner, regions_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "solve", _fake_solve(Status.TIME_LIMIT, gap=0.05, keep=True))
    result = run(runner, "solve", regions_file, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "time_limit"
    assert "warning: the allocation is not proven optimal (status time_limit, gap 5.00%)" in (
        result.stderr
    )


def test_no_allocation_without_infeasibility_exits_3(
    runner: CliRunner, regions_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "solve", _fake_solve(Status.TIME_LIMIT, gap=None, keep=False))
    result = run(runner, "solve", regions_file)
    assert result.exit_code == 3, result.output
    assert "status time_limit: no incumbent" in result.stderr


def test_a_search_out_of_time_names_the_search_not_a_backend(
    runner: CliRunner, tmp_path: Path
) -> None:
    """The threshold search past a time limit it cannot meet: exit 3, and the error line
    names the search path (it was "solver greedy") with the run's sentence."""
    data = graded([{"type": "grade_order"}]) | {"solver": {"time_limit_s": 1e-9}}
    path = tmp_path / "graded.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = run(runner, "solve", path)
    assert result.exit_code == 3, result.output
    assert (
        "error: the search path stopped with status time_limit: time limit: the threshold "
        "search opened 0 nodes"
    ) in result.stderr


# --------------------------------------------------------------------------- bad input


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def _delete(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.pop(key)


BAD_DATA: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "unknown field": (
        _set(("recipients", 2, "bogus"), 1),
        "error: recipients[2].bogus: unknown field",
    ),
    "missing name": (_delete("name"), "error: name: required field is missing"),
    "negative score": (
        _set(("recipients", 3, "score"), -5),
        "error: recipients[3].score: must be greater than 0",
    ),
    "nan": (
        _set(("recipients", 4, "score"), float("nan")),
        "error: recipients[4].score: must be a finite number",
    ),
    "floor over cap": (
        _set(("recipients", 1, "cap"), 30),
        "error: recipients[1].cap: must be >= floor (40)",
    ),
    "duplicate ids": (
        _set(("recipients", 5, "id"), "busan"),
        "error: recipients[5].id: duplicate id 'busan' (also recipients[0])",
    ),
    "empty recipients": (
        _set(("recipients",), []),
        "error: recipients: must list at least one recipient",
    ),
    "unknown backend in file": (
        _set(("solver",), {"backend": "gurobi"}),
        "error: solver.backend: ",
    ),
    "greedy in file with a group rule": (
        _set(("solver",), {"backend": "greedy"}),
        "error: solver.backend: greedy handles",
    ),
}


@pytest.mark.parametrize("command", ["validate", "solve"])
@pytest.mark.parametrize("case", list(BAD_DATA))
def test_bad_scenario_data_exits_2(
    runner: CliRunner, tmp_path: Path, command: str, case: str
) -> None:
    edit, expected = BAD_DATA[case]
    data = scenario()
    edit(data)
    result = run(runner, command, write_yaml(tmp_path / "bad.yaml", data))
    assert_input_error(result, expected)


BAD_FILES: dict[str, tuple[bytes, str]] = {
    "malformed yaml": (b"name: [2025\nbudget: 1200\n", "malformed YAML"),
    "1e400": (
        b"name: big\nbudget: 1200\nrecipients:\n  - {id: busan, score: 1e400}\n",
        "error: recipients[0].score: must be a finite number",
    ),
    "binary garbage": (bytes(range(256)) * 4, "not UTF-8 text"),
    "not a mapping": (b"- just\n- a list\n", "must be a mapping"),
}


@pytest.mark.parametrize("command", ["validate", "solve"])
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_scenario_files_exit_2(
    runner: CliRunner, tmp_path: Path, command: str, case: str
) -> None:
    content, expected = BAD_FILES[case]
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    assert_input_error(run(runner, command, path), expected)


@pytest.mark.parametrize("command", ["validate", "solve"])
def test_extends_cycle_exits_2(runner: CliRunner, tmp_path: Path, command: str) -> None:
    write_yaml(tmp_path / "a.yaml", {"extends": "b.yaml", **scenario()})
    write_yaml(tmp_path / "b.yaml", {"extends": "a.yaml", "budget": 1000})
    assert_input_error(run(runner, command, tmp_path / "a.yaml"), "extends cycle")


@pytest.mark.parametrize("command", ["validate", "solve"])
def test_missing_file_exits_2(runner: CliRunner, tmp_path: Path, command: str) -> None:
    assert_input_error(run(runner, command, tmp_path / "nope.yaml"), "file not found")


def test_several_problems_in_one_file_are_all_reported(runner: CliRunner, tmp_path: Path) -> None:
    data = scenario()
    del data["name"]
    data["recipients"][1]["cap"] = 10
    data["recipients"][3]["score"] = -1
    data["recipients"][5]["id"] = "busan"
    data["recipients"][7]["colour"] = "blue"
    result = run(runner, "validate", write_yaml(tmp_path / "bad.yaml", data))
    assert_input_error(
        result,
        "error: name: required field is missing",
        "error: recipients[1].cap: must be >= floor (40)",
        "error: recipients[3].score: must be greater than 0",
        "error: recipients[5].id: duplicate id 'busan'",
        "error: recipients[7].colour: unknown field",
    )
    assert len(result.stderr.splitlines()) == 5


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--backend", "simplex"], "error: --backend: unknown backend 'simplex'"),
        (["--backend", "greedy"], "error: solver.backend: greedy handles"),
        (["--time-limit", "0"], "error: --time-limit: must be a number of seconds > 0"),
        (["--time-limit", "-3"], "error: --time-limit: must be a number of seconds > 0"),
        (["--time-limit", "nan"], "error: --time-limit: "),
        (["--out", "/nonexistent-dir/x.csv"], "error: --out: directory /nonexistent-dir"),
    ],
)
def test_bad_options_exit_2(
    runner: CliRunner, regions_file: Path, args: list[str], expected: str
) -> None:
    assert_input_error(run(runner, "solve", regions_file, *args), expected)


def test_bad_options_and_bad_file_are_reported_together(runner: CliRunner, tmp_path: Path) -> None:
    result = run(runner, "solve", tmp_path / "nope.yaml", "--backend", "simplex")
    assert_input_error(result, "error: --backend: unknown backend", "file not found")


def test_unavailable_solver_exits_2(
    runner: CliRunner, regions_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(solvers.MILP_BACKENDS, "cp-sat", raising=False)
    result = run(runner, "solve", regions_file, "--backend", "cp-sat")
    assert_input_error(result, "error: backend 'cp-sat' is not available here")


def test_usage_errors_keep_exit_2(runner: CliRunner, regions_file: Path) -> None:
    assert run(runner, "solve", regions_file, "--format", "xml").exit_code == 2
    assert run(runner, "solve").exit_code == 2
    assert run(runner, "frobnicate").exit_code == 2


# --------------------------------------------------------------------------- console script


def test_installed_console_script_end_to_end(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("allot")
    assert script.exists(), f"console script not installed next to {sys.executable}"
    file = write_yaml(tmp_path / "regions.yaml", scenario())
    env = {**os.environ, "NO_COLOR": "1"}

    done = subprocess.run(
        [script, "solve", file, "--format", "json"],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    data = json.loads(done.stdout.decode("utf-8"))  # stdout is pure JSON: no solver banners
    assert [a["id"] for a in data["allocations"]] == IDS
    assert sum(a["units"] for a in data["allocations"]) == BUDGET
    assert "부산광역시".encode() in done.stdout

    table = subprocess.run(
        [script, "solve", file], capture_output=True, env=env, timeout=120, check=False
    )
    assert table.returncode == 0, table.stderr.decode()
    assert all(name in table.stdout.decode("utf-8") for name in NAMES)

    bad = subprocess.run(
        [script, "validate", tmp_path / "nope.yaml"],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stdout == b""
    assert bad.stderr.decode().startswith("error: file not found")
    assert b"Traceback" not in bad.stderr


def test_a_small_gap_is_shown_with_its_digits() -> None:
    """The warning on a result not proven optimal: a gap of 2e-6 is not "0.00%"."""
    assert cli._gap_text(2.07e-6) == "0.00021%"
    assert cli._gap_text(9.5e-10) == "9.5e-08%"
    assert cli._gap_text(0.013) == "1.30%"
    assert cli._gap_text(0.0) == "0.00%"
    assert cli._gap_text(None) == "unknown"
