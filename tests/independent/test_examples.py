"""Every example scenario's result is pinned by an independent derivation
(``scenarios/expected/``), and Allot, the PuLP baseline and the README agree with it."""

from __future__ import annotations

import copy
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.baseline import run_baseline
from benchmarks.check import Problem
from optimizer.loading import load_data, load_scenario
from optimizer.result import Status
from optimizer.solve import solve
from tests.independent import exchange
from tests.independent.expected import ROOT, derive, examples, expected_path, l1, stored
from tests.independent.instance import composite, exact, read

README = (ROOT / "README.md").read_text(encoding="utf-8")
NAMED = pytest.mark.parametrize("scenario", examples(), ids=lambda p: p.name)


def test_every_example_has_an_expected_result() -> None:
    assert examples(), "no example scenarios found"
    for scenario in examples():
        assert expected_path(scenario).is_file(), "run python -m tests.independent.expected"


@NAMED
def test_the_judge_derives_the_stored_result(scenario: Path) -> None:
    assert derive(scenario) == stored(scenario)


@NAMED
def test_allot_returns_the_expected_result(scenario: Path) -> None:
    want = stored(scenario)
    result = solve(load_scenario(scenario))
    assert result.status == Status(want["status"]), result.message
    if want["status"] == "optimal":
        assert {a.id: a.units for a in result.allocations} == want["units"]


def baseline_data(scenario: Path) -> dict[str, Any]:
    """The scenario's data as the baseline reads it: composite scores written out."""
    data = copy.deepcopy(load_data(scenario))
    weights = {k: exact(v) for k, v in (data.pop("criteria", None) or {}).items()}
    for rec in data["recipients"]:
        rec["score"] = float(composite(rec, weights))
        rec.pop("criteria", None)
    return data


@NAMED
def test_the_pulp_baseline_finds_the_same_optimal_value(scenario: Path) -> None:
    """A second derivation of the optimum's value: the plain PuLP + CBC model of
    benchmarks/baseline.py (no tie-breaks, so its allocation may be another of equal
    value: the value is compared, and its allocation checked against the rules)."""
    want = stored(scenario)
    data = baseline_data(scenario)
    run = run_baseline(data, time_limit_s=60)
    if want["status"] == "infeasible":
        assert run.status == "Infeasible"
        return
    assert run.status == "Optimal" and run.units is not None
    units = np.array(run.units, dtype=np.int64)
    problem = Problem.of(data)
    assert problem.violations(units) == []
    assert read(data).violations(run.units) == []
    value = Fraction(want["objective"]["sum |x - q|"])
    assert problem.cost(units) == pytest.approx(float(value), abs=1e-6)


def readme_block(command: str) -> list[str]:
    """The lines the README shows after ``$ <command>``, to the end of its code block."""
    start = README.index(f"$ {command}\n")
    block = README[start:].split("```", 1)[0]
    return block.splitlines()[1:]


def units_by_name(scenario: Path) -> dict[str, str]:
    """Recipient name -> id (the README's tables show names)."""
    return {r.get("name", r["id"]): r["id"] for r in load_data(scenario)["recipients"]}


def table_rows(lines: list[str], names: dict[str, str]) -> dict[str, list[str]]:
    """The rows of a README table whose first cell is a recipient's name, by id."""
    rows = {}
    for line in lines:
        cells = line.split()
        if cells and cells[0] in names:
            rows[names[cells[0]]] = cells[1:]
    return rows


def test_readme_solve_table_shows_the_expected_units() -> None:
    scenario = ROOT / "scenarios" / "regions-2025-metro-cap.yaml"
    lines = readme_block(".venv/bin/allot solve scenarios/regions-2025-metro-cap.yaml")
    rows = table_rows(lines, units_by_name(scenario))
    # cells after the name: grade, score, quota, units, amount, share, binding...
    assert {i: int(cells[3]) for i, cells in rows.items()} == stored(scenario)["units"]


def test_readme_compare_table_shows_the_expected_units() -> None:
    files = ["regions-2025", "regions-2025-cut", "regions-2025-metro-cap"]
    command = ".venv/bin/allot compare " + " ".join(f"scenarios/{f}.yaml" for f in files)
    names = units_by_name(ROOT / "scenarios" / "regions-2025.yaml")
    rows = table_rows(readme_block(command), names)
    for column, name in enumerate(files):
        shown = {i: int(cells[column]) for i, cells in rows.items()}
        assert shown == stored(ROOT / "scenarios" / f"{name}.yaml")["units"], name


def test_readme_sweep_table_shows_optimal_units() -> None:
    """The budget sweep of the baseline scenario: each column is the judge's optimum where
    exchanges decide it; where ``grade_order`` binds (exchanges cannot judge that), the
    column keeps every rule and its ``sum |x - q|`` is the PuLP baseline's optimum."""
    scenario = ROOT / "scenarios" / "regions-2025.yaml"
    command = ".venv/bin/allot sweep scenarios/regions-2025.yaml --set budget=1100:1400:100"
    lines = readme_block(command)
    header = next(line for line in lines if line.split()[:1] == ["recipient"])
    budgets = [int(b) for b in re.findall(r"\b(\d{4})\b", header)]
    assert budgets == [1100, 1200, 1300, 1400]
    rows = table_rows(lines, units_by_name(scenario))
    for column, budget in enumerate(budgets):
        data = {**load_data(scenario), "budget": budget}
        shown = {i: int(cells[column]) for i, cells in rows.items()}
        try:
            assert shown == exchange.allocate(data), budget
        except exchange.Undecided:
            inst = read(data)
            x = [shown[i] for i in inst.ids]
            assert inst.violations(x) == [], budget
            run = run_baseline(data, time_limit_s=60)
            assert run.status == "Optimal" and run.units is not None
            best = Problem.of(data).cost(np.array(run.units, dtype=np.int64))
            assert float(l1(inst, tuple(x))) == pytest.approx(best, abs=1e-6), budget
