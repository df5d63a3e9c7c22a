"""Ties: reported exactly, decided by the scenario's ``tie_break`` the same way everywhere.

The judge is an exhaustive enumeration written here from the documented objectives (exact
fractions, nothing from ``optimizer`` but the public ``solve``): a scenario has a tie
exactly when two allocations are optimal on every stated cost, and the recipients a result
names in its ties are exactly those whose units differ between such optima.
"""

from __future__ import annotations

import hashlib
import itertools
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.errors import InputError
from optimizer.loading import load_scenario
from optimizer.result import Result, Status
from optimizer.scenario import Scenario
from optimizer.solve import solve

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("auto", "highs", "cbc", "cp-sat")
METHODS = ("hamilton", "jefferson", "webster", "weighted")


def objective(method: str) -> dict[str, str]:
    return (
        {"kind": "weighted"} if method == "weighted" else {"kind": "proportional", "method": method}
    )


def three_equal(tie_break: dict[str, Any] | None = None, method: str = "hamilton") -> Scenario:
    data: dict[str, Any] = {
        "name": "three equal",
        "budget": 5,
        "objective": objective(method),
        "recipients": [{"id": rid, "score": 1} for rid in ("a", "b", "c")],
    }
    if tie_break is not None:
        data["tie_break"] = tie_break
    return Scenario.from_data(data)


def units(result: Result) -> dict[str, int]:
    return {a.id: a.units for a in result.allocations}


# --------------------------------------------------------------------------- the policies


@pytest.mark.parametrize("method", METHODS)
def test_an_odd_unit_between_equals_is_reported(method: str) -> None:
    # 5 units, three equal entitlements: each is owed 5/3; two of them get the second unit
    result = solve(three_equal(method=method))
    assert result.status == Status.OPTIMAL
    assert sorted(units(result).values()) == [1, 2, 2]
    (tie,) = result.ties
    assert tie.units == 2
    assert set(tie.given) | set(tie.passed) == {"a", "b", "c"}
    assert {rid for rid, u in units(result).items() if u == 2} == set(tie.given)
    assert tie.decided_by == "order: larger entitlement, then id"
    assert tie.given == ("a", "b")  # equal entitlements: by id


def lot_order(seed: int, ids: list[str]) -> list[str]:
    """The draw as the README documents it, recomputed here."""
    return sorted(ids, key=lambda i: (hashlib.sha256(f"{seed}:{i}".encode()).hexdigest(), i))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", [0, 7, 2026])
def test_a_lot_is_the_documented_draw_on_every_backend_and_rerun(method: str, seed: int) -> None:
    drawn = lot_order(seed, ["a", "b", "c"])
    scenario = three_equal({"kind": "lot", "seed": seed}, method)
    answers = {backend: solve(scenario, backend=backend) for backend in BACKENDS}
    answers["rerun"] = solve(scenario)
    for result in answers.values():
        assert result.status == Status.OPTIMAL
        assert units(result) == {drawn[0]: 2, drawn[1]: 2, drawn[2]: 1}
        (tie,) = result.ties
        assert list(tie.given) + list(tie.passed) == drawn  # the drawn order, recorded
        assert tie.decided_by == f"lot (seed {seed})"


def test_different_seeds_draw_differently() -> None:
    winners = {
        tuple(
            sorted(
                rid
                for rid, u in units(solve(three_equal({"kind": "lot", "seed": s}))).items()
                if u == 2
            )
        )
        for s in range(20)
    }
    assert len(winners) == 3  # every pair wins some draw


def test_refuse_stops_with_the_tie_named() -> None:
    result = solve(three_equal({"kind": "refuse"}))
    assert result.status == Status.TIE
    assert result.allocations == ()
    assert "a, b or c" in result.message and "tie_break" in result.message
    assert result.to_dict()["ties"][0]["passed"] == ["c"]


@pytest.mark.parametrize("method", METHODS)
def test_internal_variants_skip_the_tie_search_but_not_the_allocation(method: str) -> None:
    # ties=False (paradox and sensitivity variants) gives the same units and lists no ties
    with_ties, without = (
        solve(three_equal(method=method)),
        solve(three_equal(method=method), ties=False),
    )
    assert with_ties.ties and without.ties == ()
    assert units(with_ties) == units(without)


def test_a_refusing_scenario_still_refuses_in_an_internal_variant() -> None:
    assert solve(three_equal({"kind": "refuse"}), ties=False).status == Status.TIE


def test_refuse_without_a_tie_allocates() -> None:
    data = {
        "name": "no tie",
        "budget": 5,
        "recipients": [{"id": "a", "score": 2}, {"id": "b", "score": 1}],
        "tie_break": {"kind": "refuse"},
    }
    result = solve(Scenario.from_data(data))
    assert result.status == Status.OPTIMAL and result.ties == ()


def test_refuse_exits_1_in_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "tie.yaml"
    path.write_text(
        "name: tie\nbudget: 3\ntie_break: {kind: refuse}\n"
        "recipients:\n  - {id: a, score: 1}\n  - {id: b, score: 1}\n",
        encoding="utf-8",
    )
    run = CliRunner().invoke(app, ["solve", str(path), "--format", "json"])
    assert run.exit_code == 1, run.stderr
    assert '"status": "tie"' in run.stdout
    assert "a or b" in run.stderr


def test_a_committee_order_decides() -> None:
    result = solve(three_equal({"kind": "order", "by": ["c", "b"]}))
    assert units(result) == {"a": 1, "b": 2, "c": 2}
    assert result.ties[0].given == ("c", "b")
    by_id = solve(three_equal({"kind": "order", "by": "id"}))
    assert units(by_id) == {"a": 2, "b": 2, "c": 1}


@pytest.mark.parametrize(
    ("tie_break", "path"),
    [
        ({"kind": "lot"}, "tie_break"),
        ({"kind": "order", "seed": 3}, "tie_break"),
        ({"kind": "refuse", "by": "id"}, "tie_break"),
        ({"kind": "order", "by": ["zz"]}, "tie_break.by[0]"),
        ({"kind": "order", "by": ["a", "a"]}, "tie_break.by[1]"),
        ({"kind": "coin"}, "tie_break.kind"),
    ],
)
def test_bad_tie_breaks_name_their_field(tie_break: dict[str, Any], path: str) -> None:
    with pytest.raises(InputError) as err:
        three_equal(tie_break)
    assert path in [p.path for p in err.value.problems], err.value.problems


def test_the_hash_is_unchanged_without_a_tie_break() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "regions-2025.yaml")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert scenario.content_hash in readme  # the tour's hash, from before tie_break existed
    data = scenario.model_dump(mode="json")
    data["tie_break"] = {"kind": "lot", "seed": 1}
    assert Scenario.from_data(data).content_hash != scenario.content_hash


# --------------------------------------------------------------------------- huge budgets


def test_ties_are_exact_at_10_12() -> None:
    base = {"name": "big", "budget": 10**12 + 1, "objective": objective("webster")}
    equal = solve(
        Scenario.from_data(
            {**base, "recipients": [{"id": "a", "score": 1}, {"id": "b", "score": 1}]}
        )
    )
    assert len(equal.ties) == 1 and equal.ties[0].units == 1
    # scores 1 and 1 + 1e-12: the larger quota takes the odd unit; no tie
    near = solve(
        Scenario.from_data(
            {**base, "recipients": [{"id": "a", "score": 1}, {"id": "b", "score": 1.000000000001}]}
        )
    )
    assert near.ties == ()
    assert units(near)["b"] == units(near)["a"] + 1


# --------------------------------------------------------------------------- the judge


def _costs(method: str, q: list[Fraction], x: tuple[int, ...]) -> tuple[Fraction, Fraction]:
    """The documented objective of ``x``, lexicographic, smaller is better."""
    squares = sum(((xi - qi) ** 2 for xi, qi in zip(x, q, strict=True)), Fraction(0))
    if method == "hamilton":
        return sum((abs(xi - qi) for xi, qi in zip(x, q, strict=True)), Fraction(0)), squares
    if method == "weighted":
        return -sum((xi * qi for xi, qi in zip(x, q, strict=True)), Fraction(0)), squares
    step = Fraction(1) if method == "jefferson" else Fraction(1, 2)
    priorities = sum(
        (qi / (k + step) for xi, qi in zip(x, q, strict=True) for k in range(xi)), Fraction(0)
    )
    return -priorities, Fraction(0)


def optima(data: dict[str, Any], method: str) -> list[tuple[int, ...]]:
    """Every allocation optimal on the stated costs (brute force)."""
    recs = data["recipients"]
    scores = [Fraction(str(r["score"])) for r in recs]
    q = [data["budget"] * s / sum(scores) for s in scores]
    best: list[tuple[int, ...]] = []
    best_cost: tuple[Fraction, Fraction] | None = None
    ranges = [
        range(r.get("floor", 0), min(r.get("cap", data["budget"]), data["budget"]) + 1)
        for r in recs
    ]
    for x in itertools.product(*ranges):
        if sum(x) != data["budget"]:
            continue
        ok = True
        for rule in data.get("rules", []):
            total = sum(
                xi for xi, r in zip(x, recs, strict=True) if r["tags"]["g"] == rule["value"]
            )
            ok = ok and rule.get("min_units", 0) <= total <= rule.get("max_units", total)
        if not ok:
            continue
        cost = _costs(method, q, x)
        if best_cost is None or cost < best_cost:
            best, best_cost = [x], cost
        elif cost == best_cost:
            best.append(x)
    return best


@st.composite
def small_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(2, 4))
    budget = draw(st.integers(1, 9))
    recipients = []
    for i in range(n):
        rec: dict[str, Any] = {
            "id": f"r{i}",
            "score": draw(st.sampled_from([1, 2, 3, 1.5, 4])),
            "tags": {"g": draw(st.sampled_from(["x", "y"]))},
        }
        if draw(st.booleans()):
            rec["floor"] = draw(st.integers(0, 2))
        if draw(st.booleans()):
            rec["cap"] = draw(st.integers(rec.get("floor", 0), max(budget, rec.get("floor", 0))))
        recipients.append(rec)
    rules = []
    if draw(st.booleans()) and any(r["tags"]["g"] == "x" for r in recipients):
        rules.append(
            {"type": "group", "tag": "g", "value": "x", "max_units": draw(st.integers(0, budget))}
        )
    return {"name": "small", "budget": budget, "recipients": recipients, "rules": rules}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=small_scenarios(), method=st.sampled_from(METHODS), seed=st.integers(0, 10**6))
def test_ties_are_exactly_the_optima_that_differ(
    data: dict[str, Any], method: str, seed: int
) -> None:
    best = optima(data, method)
    result = solve(Scenario.from_data({**data, "objective": objective(method)}))
    if not best:
        assert result.status == Status.INFEASIBLE
        return
    assert result.status == Status.OPTIMAL
    ids = [r["id"] for r in data["recipients"]]
    assert tuple(units(result)[i] for i in ids) in best
    varying = {ids[i] for i in range(len(ids)) if len({x[i] for x in best}) > 1}
    named = {rid for tie in result.ties for rid in (*tie.given, *tie.passed)}
    assert named == varying
    # a lot picks one of the optima, and every tie goes the way of the drawn order
    lot = solve(
        Scenario.from_data(
            {**data, "objective": objective(method), "tie_break": {"kind": "lot", "seed": seed}}
        )
    )
    assert tuple(units(lot)[i] for i in ids) in best
    if not data["rules"]:  # (a group rule may keep the unit from someone drawn earlier)
        place = {rid: p for p, rid in enumerate(lot_order(seed, ids))}
        for tie in lot.ties:
            assert max(place[r] for r in tie.given) < min(place[r] for r in tie.passed)
