"""The diagnosis sentences users read, whole (the rest of the diagnosis is tested in
test_diagnosis.py): a changed word is a changed answer for the planner."""

from __future__ import annotations

from typing import Any

from optimizer.result import Status
from optimizer.scenario import Scenario
from optimizer.solve import solve

GRADES = [
    {"grade": "S", "min_score": 80, "multiplier": 1.0},
    {"grade": "B", "min_score": 0, "multiplier": 1.0},
]


def test_a_grade_order_that_cannot_hold_is_named_with_its_remedy() -> None:
    """By hand: S (weight 1) may have at most 5 units, so B (weight 1) may have at most 5
    too, under its floor of 6; no bound alone is at fault, grade_order is."""
    data: dict[str, Any] = {
        "name": "order against bounds",
        "budget": 10,
        "grades": GRADES,
        "recipients": [
            {"id": "a", "score": 90, "floor": 4, "cap": 5},
            {"id": "b", "score": 50, "floor": 6},
        ],
        "rules": [{"type": "grade_order"}],
    }
    result = solve(Scenario.from_data(data))
    assert result.status == Status.INFEASIBLE
    assert result.message == (
        "infeasible: grade_order cannot hold together with the floors, caps and other "
        "rules: drop it or relax the bounds of the recipients it ties"
    )
