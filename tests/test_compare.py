"""``optimizer.compare``: units, differences from the baseline, grades, metrics, rules."""

from __future__ import annotations

from typing import Any

import pytest

from optimizer.compare import compare
from optimizer.errors import InputError
from optimizer.loading import load_scenario
from optimizer.solve import solve
from tests.api.conftest import SCENARIOS


def _result(units: dict[str, int], binding: dict[str, list[str]] | None = None) -> dict[str, Any]:
    binding = binding or {}
    return {
        "status": "optimal",
        "scenario": {"name": "s", "hash": "h"},
        "budget": sum(units.values()),
        "allocations": [
            {"id": k, "name": k.upper(), "units": u, "grade": "A", "binding": binding.get(k, [])}
            for k, u in units.items()
        ],
        "metrics": {"total": sum(units.values())},
        "solver": {"backend": "greedy", "version": "1", "path": "greedy", "seconds": 0.1},
    }


def test_differences_are_against_the_first_run() -> None:
    out = compare(
        [_result({"a": 10, "b": 0}), _result({"a": 12, "b": 3}), _result({"a": 5, "c": 1})],
        labels=["base", "more", "other"],
    )
    a, b, c = out["recipients"]
    assert a["units"] == [10, 12, 5] and a["diff_units"] == [0, 2, -5]
    assert a["diff_pct"] == [0.0, 20.0, -50.0]
    assert b["diff_pct"] == [None, None, None]
    assert b["units"] == [0, 3, None] and b["diff_units"] == [0, 3, None]
    assert c["units"] == [None, None, 1] and c["diff_units"] == [None, None, None]
    assert out["baseline"] == "base"
    assert [r["total_units"] for r in out["runs"]] == [10, 15, 6]


def test_rules_that_bound_are_listed_per_run_but_bounds_are_not() -> None:
    out = compare(
        [
            _result({"a": 1}, {"a": ["floor", "metro cap"]}),
            _result({"a": 1}, {"a": ["cap", "grade_order"]}),
        ]
    )
    assert out["rules"] == [
        {"rule": "metro cap", "bound": [True, False]},
        {"rule": "grade_order", "bound": [False, True]},
    ]
    assert out["recipients"][0]["binding"] == [["floor", "metro cap"], ["cap", "grade_order"]]


def test_it_needs_two_results() -> None:
    with pytest.raises(InputError):
        compare([_result({"a": 1})])
    with pytest.raises(InputError):
        compare([_result({"a": 1}), {"status": "error"}])


def test_real_results_compare() -> None:
    results = [
        solve(load_scenario(SCENARIOS / name)).to_dict()
        for name in ("regions-2025.yaml", "regions-2025-infeasible.yaml")
    ]
    out = compare(results)
    assert len(out["recipients"]) == 14
    assert all(r["units"][1] is None for r in out["recipients"])
    assert out["runs"][1]["status"] == "infeasible"
