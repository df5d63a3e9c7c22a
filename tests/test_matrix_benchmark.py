"""The biproportional benchmark's baseline (the unit-binary MILP of the biproportional
objective in PuLP + CBC) as an independent judge: on small matrices it finds the same
cells as Allot, for every divisor method, and both pass the benchmark's checks."""

from __future__ import annotations

import pytest

from benchmarks.matrix import MatrixSpec, markdown, measure
from optimizer.biproportional import DIVISOR_METHODS


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
