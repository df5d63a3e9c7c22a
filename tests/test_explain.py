"""Explanations of an allocation: metrics against independent formulas, what binds each
recipient, the result contract, and that a rule which does not bind changes nothing."""

from __future__ import annotations

import math
from itertools import product
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from optimizer.explain import objective_value
from optimizer.model import IntegerProgram
from optimizer.objectives import SCALE, MarginalCost
from optimizer.result import Result, Status
from optimizer.scenario import Scenario
from optimizer.solve import solve

Data = dict[str, Any]

OBJECTIVES: list[Data] = [
    {"kind": "proportional", "method": m}
    for m in ("hamilton", "jefferson", "webster", "huntington-hill", "adams")
] + [{"kind": "weighted"}]


def run(data: Data) -> Result:
    return solve(Scenario.from_data(data))


def run_milp(data: Data) -> Result:
    """The same scenario through the MILP (``auto`` takes the structured paths it can)."""
    return solve(Scenario.from_data(data), backend="highs")


def units_of(result: Result) -> dict[str, int]:
    return {a.id: a.units for a in result.allocations}


def binding_of(result: Result) -> dict[str, tuple[str, ...]]:
    return {a.id: a.binding for a in result.allocations}


# --------------------------------------------------------------------------- metrics


def quotas(data: Data) -> list[float]:
    """q_i = budget * e_i / sum(e), e_i = weight * score * multiplier(grade), by hand."""
    grades = data.get("grades", [])

    def multiplier(score: float) -> float:
        for g in grades:
            if score >= g["min_score"]:
                return float(g.get("multiplier", 1.0))
        return 1.0

    ent = [r.get("weight", 1.0) * r["score"] * multiplier(r["score"]) for r in data["recipients"]]
    return [data["budget"] * e / sum(ent) for e in ent]


def gini_by_pairs(x: list[int]) -> float:
    n = len(x)
    mean = sum(x) / n
    if mean == 0:
        return 0.0
    return sum(abs(a - b) for a, b in product(x, x)) / (2 * n * n * mean)


def check_metrics(data: Data, result: Result) -> None:
    budget = data["budget"]
    by_id = units_of(result)
    x = [by_id[r["id"]] for r in data["recipients"]]
    q = quotas(data)
    allocs = {a.id: a for a in result.allocations}
    for rec, qi in zip(data["recipients"], q, strict=True):
        assert allocs[rec["id"]].quota == pytest.approx(qi, rel=1e-9, abs=1e-9)
    m = result.metrics
    assert m is not None
    assert m.total == budget == sum(x)
    assert isinstance(m.total, int)
    assert m.gini == pytest.approx(gini_by_pairs(x), abs=1e-9)
    lh = 50 * sum(abs(xi / budget - qi / budget) for xi, qi in zip(x, q, strict=True))
    assert m.loosemore_hanby == pytest.approx(lh, abs=1e-9)
    gallagher = 100 * math.sqrt(
        0.5 * sum((xi / budget - qi / budget) ** 2 for xi, qi in zip(x, q, strict=True))
    )
    assert m.gallagher == pytest.approx(gallagher, abs=1e-9)
    per_quota = [xi / qi for xi, qi in zip(x, q, strict=True) if qi > 0]
    low, high = min(per_quota), max(per_quota)
    assert m.min_units_per_quota == pytest.approx(low, rel=1e-9)
    assert m.max_units_per_quota == pytest.approx(high, rel=1e-9)
    if low > 0:
        assert m.max_min_ratio == pytest.approx(high / low, rel=1e-9)
    else:
        assert m.max_min_ratio is None


def test_metrics_of_an_exact_allocation() -> None:
    data: Data = {
        "name": "exact",
        "budget": 10,
        "recipients": [
            {"id": "a", "score": 5},
            {"id": "b", "score": 3},
            {"id": "c", "score": 2},
        ],
    }
    result = run(data)
    assert units_of(result) == {"a": 5, "b": 3, "c": 2}
    m = result.metrics
    assert m is not None
    # |5-3| + |5-2| + |3-2| = 6, twice over ordered pairs = 12; 2 * 3^2 * (10/3) = 60
    assert m.gini == pytest.approx(12 / 60)
    assert m.loosemore_hanby == pytest.approx(0.0, abs=1e-12)
    assert m.gallagher == pytest.approx(0.0, abs=1e-12)
    assert m.min_units_per_quota == pytest.approx(1.0)
    assert m.max_units_per_quota == pytest.approx(1.0)
    assert m.max_min_ratio == pytest.approx(1.0)
    check_metrics(data, result)


def test_metrics_of_a_rounded_allocation() -> None:
    data: Data = {
        "name": "thirds",
        "budget": 10,
        "recipients": [{"id": rid, "score": 1} for rid in ("a", "b", "c")],
    }
    result = run(data)
    # quotas 10/3 each; the tie goes to the smallest id
    assert units_of(result) == {"a": 4, "b": 3, "c": 3}
    m = result.metrics
    assert m is not None
    assert m.total == 10
    # pairs: |4-3| twice, |3-3| once; ordered sum 4; 2 * 9 * (10/3) = 60
    assert m.gini == pytest.approx(4 / 60)
    # 50 * (2/3 + 1/3 + 1/3) / 10 = 20/3 percent
    assert m.loosemore_hanby == pytest.approx(20 / 3)
    # 100 * sqrt(0.5 * ((2/3)^2 + 2 (1/3)^2) / 100) = 100 * sqrt(1/300)
    assert m.gallagher == pytest.approx(100 * math.sqrt(1 / 300))
    assert m.min_units_per_quota == pytest.approx(0.9)
    assert m.max_units_per_quota == pytest.approx(1.2)
    assert m.max_min_ratio == pytest.approx(4 / 3)
    check_metrics(data, result)


@st.composite
def bounded_scenarios(draw: st.DrawFn, *, with_groups: bool = False) -> Data:
    """Feasible scenarios with scores, weights (some 0), floors, caps and grades."""
    n = draw(st.integers(2, 7), label="n")
    budget = draw(st.integers(n, 150), label="budget")
    recipients = []
    for i in range(n):
        rec: dict[str, Any] = {
            "id": f"r{i}",
            "score": draw(st.one_of(st.integers(1, 4), st.floats(0.5, 100.0)), label="score"),
        }
        weight = draw(st.sampled_from([1, 1, 2, 3, 0.5, 0]), label="weight")
        if weight != 1:
            rec["weight"] = weight
        if draw(st.booleans(), label="has floor"):
            rec["floor"] = draw(st.integers(0, budget // n), label="floor")
        if draw(st.booleans(), label="has cap"):
            rec["cap"] = draw(st.integers(rec.get("floor", 0), budget), label="cap")
        if with_groups:
            rec["tags"] = {"g": draw(st.sampled_from(["in", "out"]), label="group")}
        recipients.append(rec)
    recipients[0].pop("weight", None)  # at least one positive weight
    if with_groups:
        recipients[0]["tags"] = {"g": "in"}
    data: Data = {"name": "generated", "budget": budget, "recipients": recipients}
    if draw(st.booleans(), label="graded"):
        data["grades"] = [
            {"grade": "A", "min_score": 50, "multiplier": 1.2},
            {"grade": "B", "min_score": 0, "multiplier": 1.0},
        ]
    caps = [r.get("cap", budget) for r in recipients]
    assume(sum(r.get("floor", 0) for r in recipients) <= budget <= sum(caps))
    return data


@settings(max_examples=30, deadline=None)
@given(data=bounded_scenarios(), objective=st.sampled_from(OBJECTIVES))
def test_metrics_match_independent_formulas(data: Data, objective: Data) -> None:
    data = {**data, "objective": objective}
    result = run(data)
    assert result.status == Status.OPTIMAL
    check_metrics(data, result)


def test_metrics_with_grades_and_rules() -> None:
    data: Data = {
        "name": "graded",
        "budget": 500,
        "grades": [
            {"grade": "S", "min_score": 90, "multiplier": 1.3},
            {"grade": "A", "min_score": 80, "multiplier": 1.15},
            {"grade": "B", "min_score": 0, "multiplier": 1.0},
        ],
        "recipients": [
            {"id": "a", "score": 95, "weight": 2, "tags": {"t": "f"}},
            {"id": "b", "score": 85, "weight": 1, "floor": 120},
            {"id": "c", "score": 60, "weight": 3, "tags": {"t": "f"}},
            {"id": "d", "score": 70, "weight": 0.5, "cap": 20},
        ],
        "rules": [
            {"type": "group", "tag": "t", "value": "f", "max_share": 0.75},
            {"type": "grade_order"},
        ],
    }
    result = run(data)
    assert result.status == Status.OPTIMAL
    check_metrics(data, result)


# --------------------------------------------------------------------------- binding


def test_binding_floor_cap_change_limit_and_free() -> None:
    # five equal scores, budget 1,250: every quota is 250
    data: Data = {
        "name": "bounds",
        "budget": 1250,
        "recipients": [
            {"id": "a", "score": 1, "previous": 100},  # at most 110 (increase limit)
            {"id": "b", "score": 1, "previous": 500},  # at least 450 (decrease limit)
            {"id": "c", "score": 1, "floor": 340},
            {"id": "d", "score": 1, "cap": 100},
            {"id": "e", "score": 1, "floor": 10, "cap": 1000},  # gets its quota exactly
        ],
        "rules": [
            {"type": "change_limit", "name": "stability", "max_decrease": 0.1, "max_increase": 0.1}
        ],
    }
    result = run(data)
    assert result.status == Status.OPTIMAL
    # 110 + 450 + 340 + 100 = 1,000, so e gets the remaining 250 = its quota
    assert units_of(result) == {"a": 110, "b": 450, "c": 340, "d": 100, "e": 250}
    assert binding_of(result) == {
        "a": ("stability",),
        "b": ("stability",),
        "c": ("floor",),
        "d": ("cap",),
        "e": (),
    }
    assert all(a.quota == pytest.approx(250) for a in result.allocations)


def test_binding_floor_not_named_when_below_quota() -> None:
    data: Data = {
        "name": "slack floor",
        "budget": 300,
        "recipients": [
            {"id": "a", "score": 2, "floor": 50, "cap": 290},  # quota 200
            {"id": "b", "score": 1, "floor": 90},  # quota 100, floor 90 below it
        ],
    }
    result = run(data)
    assert units_of(result) == {"a": 200, "b": 100}
    assert binding_of(result) == {"a": (), "b": ()}


@pytest.mark.parametrize(
    ("bound", "value", "inside", "outside"),
    [("min_units", 600, 300, 200), ("max_units", 400, 200, 300)],
)
def test_binding_group_rule_at_its_bound(bound: str, value: int, inside: int, outside: int) -> None:
    # four equal quotas of 250; the group {a, b} (quota 500) is held at its bound
    data: Data = {
        "name": "group",
        "budget": 1000,
        "recipients": [
            {"id": "a", "score": 1, "tags": {"type": "future"}},
            {"id": "b", "score": 1, "tags": {"type": "future"}},
            {"id": "c", "score": 1, "tags": {"type": "main"}},
            {"id": "d", "score": 1, "tags": {"type": "main"}},
        ],
        "rules": [
            {
                "type": "group",
                "name": "future share",
                "tag": "type",
                "value": "future",
                bound: value,
            }
        ],
    }
    result = run(data)
    assert result.status == Status.OPTIMAL
    assert units_of(result) == {"a": inside, "b": inside, "c": outside, "d": outside}
    assert binding_of(result) == {
        "a": ("future share",),
        "b": ("future share",),
        "c": (),
        "d": (),
    }


def test_binding_grade_order_tie() -> None:
    # quotas: s 1,080, b 960, c 360. b's floor 1,100 puts it above s's quota; grade_order
    # makes s (better grade) get at least as much: tie at 1,100; c takes the rest, 200
    data: Data = {
        "name": "grade tie",
        "budget": 2400,
        "grades": [{"grade": "S", "min_score": 85}, {"grade": "B", "min_score": 0}],
        "recipients": [
            {"id": "s", "score": 90},
            {"id": "b", "score": 80, "floor": 1100},
            {"id": "c", "score": 30},
        ],
        "rules": [{"type": "grade_order"}],
    }
    result = run(data)
    assert result.status == Status.OPTIMAL
    assert units_of(result) == {"s": 1100, "b": 1100, "c": 200}
    assert binding_of(result) == {"s": ("grade_order",), "b": ("floor",), "c": ()}
    grades = {a.id: a.grade for a in result.allocations}
    assert grades == {"s": "S", "b": "B", "c": "B"}


def test_binding_without_constraints_is_empty() -> None:
    data: Data = {
        "name": "free",
        "budget": 100,
        "recipients": [{"id": f"r{i}", "score": s} for i, s in enumerate((7, 5, 3, 1))],
    }
    result = run(data)
    assert all(a.binding == () for a in result.allocations)


# --------------------------------------------------------------------------- contract


def contract_case() -> Data:
    return {
        "name": "2025 baseline",
        "budget": 1200,
        "unit": {"label": "100M KRW", "value": 100_000_000},
        "grades": [
            {"grade": "S", "min_score": 90, "multiplier": 1.3},
            {"grade": "A", "min_score": 80, "multiplier": 1.15},
            {"grade": "B", "min_score": 0, "multiplier": 1.0},
        ],
        "recipients": [
            {"id": "busan", "score": 87.5, "floor": 10, "cap": 400, "tags": {"type": "main"}},
            {"id": "daegu", "score": 92, "weight": 1.2, "tags": {"type": "future"}},
            {"id": "gwangju", "score": 75, "previous": 150, "tags": {"type": "main"}},
            {"id": "ulsan", "score": 81, "weight": 0.8, "tags": {"type": "future"}},
        ],
        "rules": [
            {"type": "group", "tag": "type", "value": "future", "min_share": 0.25},
            {"type": "grade_order"},
            {"type": "change_limit", "max_decrease": 0.1, "max_increase": 0.3},
        ],
    }


def test_result_dict_contract() -> None:
    data = contract_case()
    result = run(data)
    out = result.to_dict()
    assert out["status"] == "optimal"
    assert out["scenario"]["name"] == "2025 baseline"
    assert out["scenario"]["hash"].startswith("sha256:")
    assert out["scenario"]["hash"] == Scenario.from_data(data).content_hash
    assert [a["id"] for a in out["allocations"]] == ["busan", "daegu", "gwangju", "ulsan"]
    for alloc in out["allocations"]:
        for key in ("id", "units", "amount", "quota", "share", "grade", "binding"):
            assert key in alloc
        assert type(alloc["units"]) is int
        assert alloc["amount"] == alloc["units"] * 100_000_000
        assert alloc["share"] == pytest.approx(alloc["units"] / 1200)
        assert isinstance(alloc["binding"], list)
        assert all(isinstance(b, str) for b in alloc["binding"])
    assert sum(a["units"] for a in out["allocations"]) == 1200
    assert sum(a["share"] for a in out["allocations"]) == pytest.approx(1.0)
    grades = {a["id"]: a["grade"] for a in out["allocations"]}
    assert grades == {"busan": "A", "daegu": "S", "gwangju": "B", "ulsan": "A"}
    metrics = out["metrics"]
    assert type(metrics["total"]) is int
    assert metrics["total"] == 1200
    for key in (
        "gini",
        "min_units_per_quota",
        "max_units_per_quota",
        "max_min_ratio",
        "loosemore_hanby",
        "gallagher",
    ):
        assert key in metrics
    solver = out["solver"]
    for key in ("backend", "version", "seconds", "gap"):
        assert key in solver
    # grade_order needs the MILP unless it holds at the group rules' (partition) optimum
    assert (solver["backend"], solver["path"]) in (("highs", "milp"), ("greedy", "partition"))
    assert isinstance(solver["version"], str) and solver["version"]
    assert solver["seconds"] >= 0
    assert solver["gap"] == pytest.approx(0.0, abs=1e-6)
    assert out["diagnosis"] is None
    check_metrics(data, result)


def test_result_dict_contract_greedy_path() -> None:
    data: Data = {
        "name": "greedy",
        "budget": 7,
        "unit": {"label": "KRW", "value": 2.5},
        "recipients": [{"id": "x", "score": 2}, {"id": "y", "score": 1, "floor": 3}],
    }
    out = run(data).to_dict()
    assert out["status"] == "optimal"
    assert out["solver"]["backend"] == "greedy"
    assert out["solver"]["gap"] == 0.0
    assert all(type(a["units"]) is int for a in out["allocations"])
    assert [a["amount"] for a in out["allocations"]] == [
        a["units"] * 2.5 for a in out["allocations"]
    ]
    assert sum(a["share"] for a in out["allocations"]) == pytest.approx(1.0)
    assert [a["grade"] for a in out["allocations"]] == [None, None]


# --------------------------------------------------------------------------- loose rules


def _loose_group_rule(data: Data, result: Result, *, margin: int = 5) -> Data:
    members = {r["id"] for r in data["recipients"] if r["tags"]["g"] == "in"}
    total = sum(a.units for a in result.allocations if a.id in members)
    rule = {
        "type": "group",
        "tag": "g",
        "value": "in",
        "min_units": max(0, total - margin),
        "max_units": min(data["budget"], total + margin),
    }
    return {**data, "rules": [rule]}


@pytest.mark.parametrize("objective", OBJECTIVES, ids=lambda o: o.get("method", o["kind"]))
@settings(max_examples=12, deadline=None)
@given(data=bounded_scenarios(with_groups=True))
def test_loose_group_rule_changes_nothing(objective: Data, data: Data) -> None:
    data = {**data, "objective": objective}
    plain = run(data)
    assert plain.status == Status.OPTIMAL
    assert plain.solver.path == "greedy"
    ruled_data = _loose_group_rule(data, plain)
    for ruled, path in ((run(ruled_data), "partition"), (run_milp(ruled_data), "milp")):
        assert ruled.status == Status.OPTIMAL
        assert ruled.solver.path == path
        assert units_of(ruled) == units_of(plain)
        assert binding_of(ruled) == binding_of(plain)
        assert ruled.metrics == plain.metrics


@pytest.mark.parametrize("objective", OBJECTIVES, ids=lambda o: o.get("method", o["kind"]))
def test_loose_group_rule_changes_nothing_with_ties(objective: Data) -> None:
    # equal scores everywhere: every tie-break matters and must be the same on both paths
    data: Data = {
        "name": "ties",
        "budget": 23,
        "objective": objective,
        "recipients": [
            {"id": f"r{i}", "score": 1, "tags": {"g": "in" if i % 2 else "out"}} for i in range(6)
        ],
    }
    plain = run(data)
    ruled_data = _loose_group_rule(data, plain, margin=1)
    for ruled, path in ((run(ruled_data), "partition"), (run_milp(ruled_data), "milp")):
        assert ruled.solver.path == path
        assert units_of(ruled) == units_of(plain)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0.1, 50.0), min_size=1, max_size=8),
    st.lists(st.integers(0, 30), min_size=8, max_size=8),
    st.sampled_from(["weighted", "hamilton", "jefferson", "adams"]),
)
def test_objective_value_is_the_sum_over_the_units_given(
    quota: list[float], units: list[int], rule: str
) -> None:
    """The metric is the objective the solver minimised, negated for the maximising rules:
    the sum of every given unit's marginal cost (weighted's closed form must agree)."""
    n = len(quota)
    q = np.array(quota)
    x = np.array(units[:n], dtype=np.int64)
    cost = MarginalCost(rule, q, np.arange(n))
    program = IntegerProgram(int(x.sum()), np.zeros(n, dtype=np.int64), x.copy(), (), (), cost)
    value = objective_value(program, x, "proportional")
    if rule == "hamilton":
        assert value == pytest.approx(float(np.abs(x - q).sum()))
        return
    given_units = [(i, k) for i in range(n) for k in range(int(x[i]))]
    owners = np.array([i for i, _ in given_units], dtype=np.int64)
    ks = np.array([k for _, k in given_units], dtype=np.int64)
    expected = -int(cost.primary(owners, ks).sum()) / SCALE if given_units else 0.0
    assert value == expected
