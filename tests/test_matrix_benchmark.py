"""The biproportional benchmark's baseline (the unit-binary MILP of the biproportional
objective in PuLP + CBC) as an independent judge: on small matrices it finds the same
cells as Allot, for every divisor method, and both pass the benchmark's checks."""

from __future__ import annotations

import pytest

from benchmarks.matrix import MatrixSpec, markdown, matrix_of, measure, problem, scenario_data
from optimizer.biproportional import DIVISOR_METHODS
from optimizer.scenario import Scenario
from optimizer.solve import solve


@pytest.mark.parametrize("method", DIVISOR_METHODS)
def test_the_milp_of_the_objective_finds_allots_cells(method: str) -> None:
    row = measure(MatrixSpec(4, 6, 90, method, seed=3), time_limit_s=60)
    assert row.check == "ok"
    assert row.baseline_status == "Optimal"
    assert row.agree is True
    assert row.cells == 24 and row.unit_variables > 0


def test_a_baseline_too_large_to_build_is_reported_not_run() -> None:
    row = measure(MatrixSpec(20, 40, 40_000, seed=1))
    assert row.baseline_build_s is None and row.ratio is None
    assert row.baseline_status.startswith("not run:") and "unit variables" in row.baseline_status
    assert "| not run:" in markdown([row]) and row.check == "ok"


def test_the_matrix_alone_row_is_the_scenarios_matrix() -> None:
    """The 1,000 x 1,000 row skips the scenario: its matrix (entitlements, row totals from
    the budget, column totals) is the one solve() builds from the same draws, and its
    answer passes the same exact check."""
    spec = MatrixSpec(6, 9, 300, seed=2)
    data = scenario_data(spec)
    result = solve(Scenario.from_data(data))
    assert result.certificate is not None
    built = problem(data, result.certificate)
    alone = matrix_of(MatrixSpec(6, 9, 300, seed=2, scenario=False))
    assert alone.weight == built.weight
    assert alone.row_totals == built.row_totals
    assert alone.column_totals == built.column_totals
    row = measure(MatrixSpec(6, 9, 300, seed=2, scenario=False))
    assert row.check == "ok" and row.allot_s is None and row.name.endswith("-matrix")
    assert row.baseline_status.startswith("not run:")
    assert "| - |" in markdown([row])
