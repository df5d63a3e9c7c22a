"""Committee overrides: a recipient's units decided by hand, with the reason and author,
shown beside what the method alone gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from optimizer.errors import InputError
from optimizer.loading import load_data
from optimizer.result import Status
from optimizer.scenario import Scenario
from optimizer.solve import solve

ROOT = Path(__file__).resolve().parents[1]
REASON = "locked at last year's amount pending the 2025 audit"
AUTHOR = "Budget committee, 2025-03-14"


def baseline() -> dict[str, Any]:
    return load_data(ROOT / "scenarios" / "regions-2025.yaml")


def units(result: Any) -> dict[str, int]:
    return {a.id: a.units for a in result.allocations}


@pytest.mark.parametrize("backend", ["auto", "highs"])
def test_a_lock_holds_and_the_method_alone_is_shown(backend: str) -> None:
    data = baseline()
    alone = solve(Scenario.from_data(data), backend=backend)
    assert units(alone)["gangwon"] != 82
    data["overrides"] = [{"id": "gangwon", "units": 82, "reason": REASON, "author": AUTHOR}]
    result = solve(Scenario.from_data(data), backend=backend)
    assert result.status == Status.OPTIMAL
    got = units(result)
    assert got["gangwon"] == 82 and sum(got.values()) == data["budget"]
    (note,) = result.overrides
    assert (note.id, note.units, note.method_units) == ("gangwon", 82, units(alone)["gangwon"])
    assert (note.reason, note.author) == (REASON, AUTHOR)
    row = next(a for a in result.allocations if a.id == "gangwon")
    assert row.binding == (f"override: {REASON}",)
    assert result.to_dict()["overrides"][0]["method_units"] == units(alone)["gangwon"]


def test_the_rest_is_the_method_on_what_remains() -> None:
    """The others get exactly what the method gives them with gangwon fixed at 82 by its
    floor and cap (the override replaces both, and change_limit on gangwon)."""
    data = baseline()
    data["overrides"] = [{"id": "gangwon", "units": 82, "reason": REASON, "author": AUTHOR}]
    locked = solve(Scenario.from_data(data))
    same = baseline()
    for rec in same["recipients"]:
        if rec["id"] == "gangwon":
            rec.update(floor=82, cap=82, previous=82)
    assert units(locked) == units(solve(Scenario.from_data(same)))


def test_bounds_override_and_infeasible_override() -> None:
    data = baseline()
    data["overrides"] = [{"id": "sejong", "min": 45, "reason": "new capital", "author": "MSS"}]
    result = solve(Scenario.from_data(data))
    assert units(result)["sejong"] >= 45  # the method alone gives 37
    data["overrides"][0]["min"] = 1300  # more than the budget: infeasible, never relaxed
    bad = solve(Scenario.from_data(data))
    assert bad.status == Status.INFEASIBLE
    assert "the override of sejong (new capital)" in bad.message


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ({"id": "nowhere", "units": 1, "reason": "r", "author": "a"}, "overrides[0].id"),
        ({"id": "busan", "units": 1, "reason": "", "author": "a"}, "overrides[0].reason"),
        ({"id": "busan", "units": 1, "reason": "r"}, "overrides[0].author"),
        ({"id": "busan", "units": 1, "min": 2, "reason": "r", "author": "a"}, "overrides[0]"),
        ({"id": "busan", "reason": "r", "author": "a"}, "overrides[0]"),
    ],
)
def test_an_override_needs_a_recipient_a_reason_and_an_author(
    override: dict[str, Any], path: str
) -> None:
    data = baseline()
    data["overrides"] = [override]
    with pytest.raises(InputError) as err:
        Scenario.from_data(data)
    assert path in [p.path for p in err.value.problems], err.value.problems


def test_overrides_are_hashed_only_when_given() -> None:
    data = baseline()
    plain = Scenario.from_data(data)
    data["overrides"] = [{"id": "busan", "units": 100, "reason": "r", "author": "a"}]
    assert Scenario.from_data(data).content_hash != plain.content_hash
    assert plain.content_hash.startswith("sha256:a338fd2c")  # the README tour's hash
