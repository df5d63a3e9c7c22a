"""Explanations of an allocation: metrics against independent formulas, what binds each
recipient, the result contract, and that a rule which does not bind changes nothing."""

from __future__ import annotations

import math
import tracemalloc
from decimal import Decimal, localcontext
from itertools import product
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from optimizer.explain import digamma, objective_value
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


def test_binding_names_every_bound_that_holds_it() -> None:
    """A floor and a change limit at the same number both hold the recipient there: both
    are named (and only the limit where the floor is lower)."""
    data: Data = {
        "name": "same bound twice",
        "budget": 30,
        "recipients": [
            {"id": "a", "score": 10, "floor": 10, "previous": 10},  # quota 3, held at 10
            {"id": "b", "score": 90},
        ],
        "rules": [{"type": "change_limit", "max_decrease": 0.0}],
    }
    result = run(data)
    assert units_of(result) == {"a": 10, "b": 20}
    assert binding_of(result)["a"] == ("floor", "change_limit")
    data["recipients"][0]["floor"] = 5
    assert binding_of(run(data))["a"] == ("change_limit",)


def test_a_floor_of_one_unit_is_named_like_any_other() -> None:
    """The smallest floor, one unit, held at the same number as a change limit: both named
    (a bound of 0 is no bound, a bound of 1 is one)."""
    data: Data = {
        "name": "one unit",
        "budget": 10,
        "recipients": [
            {"id": "a", "score": 100},
            {"id": "b", "score": 1, "floor": 1, "previous": 1},  # quota 0.1, held at 1
        ],
        "rules": [{"type": "change_limit", "max_decrease": 0.0, "name": "stability"}],
    }
    result = run(data)
    assert units_of(result) == {"a": 9, "b": 1}
    assert binding_of(result)["b"] == ("floor", "stability")


def test_an_override_with_only_a_maximum_keeps_the_floor() -> None:
    """An override that sets only ``max`` caps the recipient and is named; its floor stays
    the scenario's (the other side is not the override's)."""
    data: Data = {
        "name": "override max",
        "budget": 10,
        "recipients": [{"id": "a", "score": 50, "floor": 2}, {"id": "b", "score": 50}],
        "overrides": [{"id": "a", "max": 3, "reason": "audit", "author": "kim"}],
    }
    result = run(data)
    assert units_of(result) == {"a": 3, "b": 7}
    assert binding_of(result)["a"] == ("override: audit",)
    data["budget"] = 3  # b's quota is 1.5 and a's floor 2 holds it: a keeps its floor
    result = run(data)
    assert units_of(result) == {"a": 2, "b": 1}
    assert binding_of(result)["a"] == ("floor",)


def test_an_override_with_only_a_minimum_keeps_the_cap() -> None:
    """An override that sets only ``min`` holds the recipient up and is named; its cap
    stays the scenario's and is named as the cap where it binds."""
    data: Data = {
        "name": "override min",
        "budget": 6,
        "recipients": [{"id": "a", "score": 50, "cap": 5}, {"id": "b", "score": 50}],
        "overrides": [{"id": "a", "min": 4, "reason": "audit", "author": "kim"}],
    }
    result = run(data)
    assert units_of(result) == {"a": 4, "b": 2}  # quotas 3 and 3
    assert binding_of(result)["a"] == ("override: audit",)
    data["budget"] = 20  # a's quota is 10: its cap of 5 holds it
    result = run(data)
    assert units_of(result) == {"a": 5, "b": 15}
    assert binding_of(result)["a"] == ("cap",)


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
    # a group of one recipient is folded into its bounds: the greedy path, not the partition
    one = sum(r["tags"]["g"] == "in" for r in data["recipients"]) == 1
    auto = "greedy" if one else "partition"
    for ruled, path in ((run(ruled_data), auto), (run_milp(ruled_data), "milp")):
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


DIVISOR_METHODS = ("jefferson", "webster", "adams", "huntington-hill")
EULER_GAMMA = Decimal("0.5772156649015328606065120900824024310422")


def program_for(rule: str, q: np.ndarray, x: np.ndarray) -> IntegerProgram:
    """A bounds-only program whose upper bounds are ``x`` (only its cost matters here)."""
    n = len(q)
    cost = MarginalCost(rule, q, np.arange(n))
    return IntegerProgram(int(x.sum()), np.zeros(n, dtype=np.int64), x.copy(), (), (), cost)


def unit_priority(rule: str, q: list[float], i: int, k: int) -> float:
    """The priority of recipient i's (k+1)-th unit, written out from the definition."""
    d = {
        "jefferson": k + 1.0,
        "webster": k + 0.5,
        "adams": float(k),
        "huntington-hill": math.sqrt(k * (k + 1.0)),
    }[rule]
    return q[i] / d if d > 0 else 2.0 * max(q) + q[i]


def priority_sum(rule: str, q: list[float], x: list[int]) -> float:
    """The objective unit by unit: math.fsum of every given unit's priority."""
    return math.fsum(unit_priority(rule, q, i, k) for i in range(len(q)) for k in range(x[i]))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0.1, 50.0), min_size=1, max_size=8),
    st.lists(st.integers(0, 30), min_size=8, max_size=8),
    st.sampled_from(["weighted", "hamilton", *DIVISOR_METHODS]),
)
def test_objective_value_is_the_sum_over_the_units_given(
    quota: list[float], units: list[int], rule: str
) -> None:
    """The metric is the objective the solver minimised, negated for the maximising rules:
    the sum of every given unit's marginal cost (weighted's closed form must agree exactly;
    divisor methods give the unrounded sum, within half a 1/SCALE per unit of the solver's)."""
    n = len(quota)
    q = np.array(quota)
    x = np.array(units[:n], dtype=np.int64)
    program = program_for(rule, q, x)
    value = objective_value(program, x, "proportional")
    if rule == "hamilton":
        assert value == pytest.approx(float(np.abs(x - q).sum()))
        return
    given_units = [(i, k) for i in range(n) for k in range(int(x[i]))]
    owners = np.array([i for i, _ in given_units], dtype=np.int64)
    ks = np.array([k for _, k in given_units], dtype=np.int64)
    rounded = -int(program.cost.primary(owners, ks).sum()) / SCALE if given_units else 0.0
    if rule == "weighted":
        # sum e_i x_i scaled to max(e) = 1, i.e. sum q_i x_i / max(q), computed here (not
        # from the engine's cost table), within the solver's rounding of each unit's cost
        direct = math.fsum(qi * xi for qi, xi in zip(quota, units[:n], strict=True)) / max(quota)
        assert abs(value - direct) <= 0.5 * len(given_units) / SCALE + 1e-12 * abs(direct)
        assert value == rounded  # the closed form is exactly the solver's integer costs
        return
    assert value == pytest.approx(priority_sum(rule, quota, units[:n]), rel=1e-12, abs=0.0)
    assert abs(value - rounded) <= 0.5 * len(given_units) / SCALE + 1e-12 * abs(rounded)


@pytest.mark.parametrize("rule", DIVISOR_METHODS)
@settings(max_examples=40, deadline=None)
@given(
    quota=st.lists(st.floats(0.01, 1e6), min_size=1, max_size=4),
    units=st.lists(st.one_of(st.integers(0, 3000), st.integers(60, 70)), min_size=4, max_size=4),
)
def test_objective_value_matches_the_exact_terms(
    rule: str, quota: list[float], units: list[int]
) -> None:
    """Past the 64 directly summed terms the closed forms (digamma, Euler-Maclaurin) agree
    with the unit-by-unit sum to 1e-12 relative."""
    x = units[: len(quota)]
    xs = np.array(x, dtype=np.int64)
    value = objective_value(program_for(rule, np.array(quota), xs), xs, "proportional")
    assert value == pytest.approx(priority_sum(rule, quota, x), rel=1e-12, abs=0.0)


def reciprocal_sum_reference(rule: str, start: int, end: int, split: int) -> Decimal:
    """sum_{k=start}^{end-1} 1/d(k), independently: k < split one by one (math.fsum), the
    rest by Euler-Maclaurin in 40-digit decimals to the first derivative term (the next one
    is below 1e-25 at split = 10^6)."""
    ks = np.arange(start, split, dtype=np.float64)
    c = {"jefferson": 1.0, "webster": 0.5, "adams": 0.0}.get(rule)
    terms = 1.0 / (ks + c) if c is not None else 1.0 / np.sqrt(ks * (ks + 1.0))
    head = Decimal(math.fsum(terms.tolist()))
    with localcontext() as ctx:
        ctx.prec = 40
        a, b = Decimal(split), Decimal(end - 1)
        if c is not None:

            def f(k: Decimal) -> Decimal:
                return 1 / (k + Decimal(c))

            def df(k: Decimal) -> Decimal:
                return -1 / (k + Decimal(c)) ** 2

            integral = (b + Decimal(c)).ln() - (a + Decimal(c)).ln()
        else:

            def f(k: Decimal) -> Decimal:
                return 1 / (k * (k + 1)).sqrt()

            def df(k: Decimal) -> Decimal:
                return -(2 * k + 1) / (2 * (k * (k + 1)) ** Decimal("1.5"))

            def antiderivative(k: Decimal) -> Decimal:
                return 2 * (k.sqrt() + (k + 1).sqrt()).ln()

            integral = antiderivative(b) - antiderivative(a)
        return head + integral + (f(a) + f(b)) / 2 + (df(b) - df(a)) / 12


@pytest.mark.parametrize("rule", DIVISOR_METHODS)
def test_objective_value_at_a_trillion_units(rule: str) -> None:
    """About 10^12 units per recipient (and one at 10^15): the closed forms against an
    independent reference (brute force below 10^6, 40-digit Euler-Maclaurin above)."""
    q = [1.5, 2.25, 0.75, 3.0]
    x = [10**12, 3 * 10**12 + 7, 999_999_999_989, 10**15]
    xs = np.array(x, dtype=np.int64)
    value = objective_value(program_for(rule, np.array(q), xs), xs, "proportional")
    start = 1 if rule in ("adams", "huntington-hill") else 0
    expected = Decimal(0)
    for qi, xi in zip(q, x, strict=True):
        tail = reciprocal_sum_reference(rule, start, xi, 10**6)
        expected += Decimal(qi) * tail + (Decimal(2 * max(q) + qi) if start else 0)
    assert value == pytest.approx(float(expected), rel=1e-12, abs=0.0)


def test_objective_value_jefferson_is_a_harmonic_number() -> None:
    """Jefferson's sum is q H_x; H_x = ln x + gamma + 1/(2x) - 1/(12x^2) + O(x^-4)."""
    x = 10**12
    with localcontext() as ctx:
        ctx.prec = 40
        n = Decimal(x)
        harmonic = n.ln() + EULER_GAMMA + 1 / (2 * n) - 1 / (12 * n * n)
    xs = np.array([x], dtype=np.int64)
    value = objective_value(program_for("jefferson", np.array([2.0]), xs), xs, "proportional")
    assert value == pytest.approx(2 * float(harmonic), rel=1e-14, abs=0.0)


@pytest.mark.parametrize("rule", DIVISOR_METHODS)
def test_objective_value_does_not_allocate_per_unit(rule: str) -> None:
    """A budget of 10^15 units costs O(recipients) memory, not one entry per unit."""
    xs = np.array([10**15 - 3, 5, 0, 70, 12_345], dtype=np.int64)
    program = program_for(rule, np.array([7.0, 1.0, 2.0, 0.5, 3.0]), xs)
    tracemalloc.start()
    try:
        value = objective_value(program, xs, "proportional")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert math.isfinite(value) and value > 0
    assert peak < 10 * 2**20


def test_digamma_known_values() -> None:
    """psi(1) = -gamma, psi(n) = H_{n-1} - gamma, psi(n + 1/2) = -gamma - 2 ln 2 +
    sum_{k<=n} 2/(2k-1), and psi(z+1) - psi(z) = 1/z from 0.1 to 10^6 (to a few ulps of psi)."""
    gamma = float(EULER_GAMMA)
    n = np.arange(1, 40)
    whole = [math.fsum(1 / k for k in range(1, m)) - gamma for m in n.tolist()]
    half = [
        math.fsum([-gamma, -2 * math.log(2)] + [2 / (2 * k - 1) for k in range(1, m + 1)])
        for m in range(40)
    ]
    np.testing.assert_allclose(
        digamma(n.astype(np.float64)), np.array(whole), rtol=1e-14, atol=1e-15
    )
    halves = np.arange(40, dtype=np.float64) + 0.5
    np.testing.assert_allclose(digamma(halves), np.array(half), rtol=1e-14, atol=1e-15)
    z = np.geomspace(0.1, 1e6, 200)
    np.testing.assert_allclose(digamma(z + 1.0) - digamma(z), 1.0 / z, rtol=1e-12, atol=1e-14)
