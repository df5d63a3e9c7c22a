"""The engine judged against an exact, independent oracle (:mod:`tests.oracle`).

The oracle computes every allocation with fractions only and shares no code with the
engine. First the oracle itself is checked: against hand-computed textbook apportionments,
against brute force on tiny problems, and its two implementations (:func:`unit_by_unit`, the
literal one-unit-at-a-time greedy, and :func:`by_threshold`, exact at any budget) against
each other. Then :func:`optimizer.solve.solve` must give exactly the oracle's units, through
the public entry point (``Scenario.from_data`` -> ``solve`` -> ``result.allocations``):

- random scenarios (2-12 recipients, decimal scores and weights, optional grades, floors and
  caps) under every objective, at small budgets and at budgets from 10**9 to 10**15;
- crafted near-ties (remainders or priorities that differ by about 1e-12, or less) and exact
  ties that only the rank breaks (entitlements equal as decimals, unequal as floats);
- the 14-region scenario ``regions-2025.yaml`` scaled to 1 KRW units;
- an infeasible scenario at a budget of 10**12, whose diagnosis must name the shortfall.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from optimizer.compile import build_program
from optimizer.loading import load_data
from optimizer.result import Status
from optimizer.scenario import Scenario
from optimizer.solve import solve
from tests import oracle
from tests.hypothesis_profile import examples as scaled
from tests.oracle import Problem, apportion, by_threshold, exact, unit_by_unit

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
DIVISOR_METHODS = ("jefferson", "webster", "adams", "huntington-hill")
METHODS = ("hamilton", *DIVISOR_METHODS)
OBJECTIVES: dict[str, dict[str, str]] = {
    **{m: {"kind": "proportional", "method": m} for m in METHODS},
    "weighted": {"kind": "weighted"},
    "maxmin": {"kind": "maxmin"},
}
ALIASES: dict[str, list[str | None]] = {
    "hamilton": [None, "hamilton", "largest-remainder", "Largest Remainder"],
    "jefferson": ["jefferson", "dhondt", "d'hondt", "DHondt"],
    "webster": ["webster", "sainte-lague", "sainte-laguë", "Sainte Lague"],
    "adams": ["adams"],
    "huntington-hill": ["huntington-hill", "Huntington_Hill"],
}


def profile(examples: int, *, shrink: bool = True) -> settings:
    """Random runs, replayable by the printed seed (tests/hypothesis_profile.py), no
    deadline. ``shrink=False`` reports the first failing example as drawn: at budgets of
    10**9 and more, a wrong engine can be slow on every example, and shrinking would run
    dozens of them."""
    return settings(
        max_examples=scaled(examples),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink]
        if shrink
        else [Phase.explicit, Phase.reuse, Phase.generate],
    )


# --------------------------------------------------------------------------------------
# 1. The oracle: hand-computed examples
# --------------------------------------------------------------------------------------

# populations [53, 24, 23], house 10 (quotas 5.3, 2.4, 2.3):
#   hamilton: floors 5 + 2 + 2 = 9, the last seat to the largest remainder .4 -> [5, 3, 2]
#   jefferson (d = 1, 2, 3...): 53 26.5 24 23 17.67 13.25 12 11.5 10.6 8.83 -> [6, 2, 2]
#   webster (d = .5, 1.5, 2.5...): 106 48 46 35.3 21.2 16 15.3 15.1 11.8 9.64 (A's sixth,
#     53 / 5.5, beats B's third, 24 / 2.5 = 9.6) -> [6, 2, 2]
#   adams (d = 0, 1, 2...): one each, then 53 26.5 24 23 17.67 13.25 12 -> [5, 3, 2]
#   huntington-hill (d = 0, 1.414, 2.449, 3.464, 4.472): one each, then 37.5 21.6 17.0
#     16.3 15.3 11.9, and B's 24 / 2.449 = 9.80 beats A's 53 / 5.477 = 9.68 -> [5, 3, 2]
# populations [71, 29], house 5 (quotas 3.55, 1.45):
#   hamilton [4, 1]; jefferson: 71 35.5 29 23.7 17.75 -> [4, 1]; webster: 142 58 47.3 28.4
#   20.3 -> [4, 1]; adams: one each, then 71 35.5 29 -> [3, 2]; huntington-hill: one each,
#   then 50.2 29.0 and B's 29 / 1.414 = 20.506 beats A's 71 / 3.464 = 20.496 -> [3, 2]
# votes [100000, 80000, 30000, 20000], 8 seats (the usual D'Hondt / Sainte-Laguë example):
#   d'hondt: 100 80 50 40 33.3 30 26.7 25 (thousands) -> [4, 3, 1, 0]
#   sainte-laguë: 100 80 33.3 30 26.7 20 20 16 -> [3, 3, 1, 1]
#   hamilton: quotas 3.48 2.78 1.04 0.70, floors 6, remainders .78 (B) .70 (D) -> [3, 3, 1, 1]
#   adams: one each, then 100 80 50 40 -> [3, 3, 1, 1]; huntington-hill: one each, then
#   70.7 56.6 40.8 32.7 -> [3, 3, 1, 1]
TEXTBOOK = [
    ([5, 3, 2], 7, "hamilton", [4, 2, 1]),
    ([5, 3, 2], 7, "jefferson", [4, 2, 1]),
    ([5, 3, 2], 7, "webster", [4, 2, 1]),
    ([5, 3, 2], 7, "adams", [3, 2, 2]),
    ([5, 3, 2], 7, "huntington-hill", [4, 2, 1]),
    ([53, 24, 23], 10, "hamilton", [5, 3, 2]),
    ([53, 24, 23], 10, "jefferson", [6, 2, 2]),
    ([53, 24, 23], 10, "webster", [6, 2, 2]),
    ([53, 24, 23], 10, "adams", [5, 3, 2]),
    ([53, 24, 23], 10, "huntington-hill", [5, 3, 2]),
    ([71, 29], 5, "hamilton", [4, 1]),
    ([71, 29], 5, "jefferson", [4, 1]),
    ([71, 29], 5, "webster", [4, 1]),
    ([71, 29], 5, "adams", [3, 2]),
    ([71, 29], 5, "huntington-hill", [3, 2]),
    ([100000, 80000, 30000, 20000], 8, "dhondt", [4, 3, 1, 0]),
    ([100000, 80000, 30000, 20000], 8, "sainte-lague", [3, 3, 1, 1]),
    ([100000, 80000, 30000, 20000], 8, "hamilton", [3, 3, 1, 1]),
    ([100000, 80000, 30000, 20000], 8, "adams", [3, 3, 1, 1]),
    ([100000, 80000, 30000, 20000], 8, "huntington-hill", [3, 3, 1, 1]),
    # weighted: everything to the largest entitlement
    ([5, 3, 2], 7, "weighted", [7, 0, 0]),
    # maxmin, quotas 3.5 2.1 1.4: lam = 6/7 raises the floors to 3 2 2 (sum 7); the next
    # breakpoint, 2/2.1, would need 4 + 2 + 2 = 8
    ([5, 3, 2], 7, "maxmin", [3, 2, 2]),
    # ties broken by rank: equal entitlements, then the smaller id (here: position)
    ([1, 1, 1], 2, "hamilton", [1, 1, 0]),
    ([1, 1, 1], 2, "jefferson", [1, 1, 0]),
    ([1, 1, 1], 4, "adams", [2, 1, 1]),
    ([2, 1, 1], 2, "huntington-hill", [1, 1, 0]),
    # 0.1 + 0.2 is exactly 0.3 as decimals: quotas 1.5, 1.5 and the tie goes by id
    (["0.1", "0.2", "0.3"], 6, "hamilton", [1, 2, 3]),
    ([0.1, 0.2, 0.3], 3, "webster", [0, 1, 2]),
]


@pytest.mark.parametrize(("ent", "house", "method", "expected"), TEXTBOOK)
@pytest.mark.parametrize("how", [unit_by_unit, by_threshold], ids=["unit", "threshold"])
def test_oracle_textbook(
    ent: list[Any], house: int, method: str, expected: list[int], how: oracle.Solver
) -> None:
    assert apportion(ent, house, method, how=how) == expected


# bounded cases, by hand:
#   [5, 3, 2], 7, cap 3 on the first: keys k - q: a -3.5 -2.5 -1.5 | b -2.1 -1.1 -0.1 |
#     c -1.4 -0.4; the seven smallest a a b a c b c (a's fourth, -0.5, is over its cap)
#   weighted with caps [3, 10, 10]: a to its cap, the rest to b -> [3, 4, 0]
#   [1, 3, 4], 10, floor 8 on the last (quotas 1.25, 3.75, 5): hamilton gives both spare
#     units to b (keys -3.75, -2.75 before a's -1.25); maxmin raises the floors at lam =
#     1/3.75 to ceil(0.33) = 1 and ceil(1) = 1 (the next breakpoint, 2/3.75, needs 1 + 2)
BOUNDED = [
    ([5, 3, 2], 7, "hamilton", [0, 0, 0], [3, 7, 7], [3, 2, 2]),
    ([5, 3, 2], 7, "weighted", [0, 0, 0], [3, 10, 10], [3, 4, 0]),
    ([1, 3, 4], 10, "hamilton", [0, 0, 8], [10, 10, 10], [0, 2, 8]),
    ([1, 3, 4], 10, "maxmin", [0, 0, 8], [10, 10, 10], [1, 1, 8]),
    ([1, 3, 4], 10, "jefferson", [0, 0, 8], [10, 10, 10], [0, 2, 8]),
    ([1, 3, 4], 10, "adams", [0, 0, 8], [10, 10, 10], [1, 1, 8]),
    # a zero entitlement: adams still gives it its first unit (d(0) = 0), jefferson only
    # once every other unit is capped
    ([0, 1], 3, "adams", [0, 0], [3, 3], [1, 2]),
    ([0, 1], 3, "jefferson", [0, 0], [3, 1], [2, 1]),
    ([0, 1], 3, "hamilton", [0, 0], [3, 3], [0, 3]),
]


@pytest.mark.parametrize(("ent", "house", "method", "floors", "caps", "expected"), BOUNDED)
@pytest.mark.parametrize("how", [unit_by_unit, by_threshold], ids=["unit", "threshold"])
def test_oracle_bounded_by_hand(
    ent: list[int],
    house: int,
    method: str,
    floors: list[int],
    caps: list[int],
    expected: list[int],
    how: oracle.Solver,
) -> None:
    assert apportion(ent, house, method, floors=floors, caps=caps, how=how) == expected


@pytest.mark.parametrize("how", [unit_by_unit, by_threshold], ids=["unit", "threshold"])
def test_oracle_infeasible(how: oracle.Solver) -> None:
    assert apportion([1, 1], 5, floors=[3, 3], how=how) is None
    assert apportion([1, 1], 5, caps=[2, 2], how=how) is None
    assert apportion([1, 1], 5, floors=[3, 0], caps=[2, 5], how=how) is None


def test_oracle_reads_inputs_as_written_decimals() -> None:
    assert exact(0.1) == Fraction(1, 10)
    assert exact(1.15) == Fraction(115, 100)
    assert exact(3) == 3
    data = {
        "budget": 10,
        "grades": [
            {"grade": "A", "min_score": 80.5, "multiplier": 1.15},
            {"grade": "B", "min_score": 0, "multiplier": 0.85},
        ],
        "recipients": [
            {"id": "b", "score": 80.5, "weight": 1.1},  # exactly at the band: grade A
            {"id": "a", "score": 80.4, "weight": 2},
        ],
    }
    p = oracle.problem(data)
    assert p.entitlement == (
        Fraction("80.5") * Fraction("1.1") * Fraction("1.15"),
        Fraction("80.4") * 2 * Fraction("0.85"),
    )
    # b: 80.5 * 1.1 * 1.15 = 101.8325 (grade A), a: 80.4 * 2 * 0.85 = 136.68: a ranks first
    assert p.rank == (1, 0)


# --------------------------------------------------------------------------------------
# 2. The oracle: its two implementations agree, and tiny cases by brute force
# --------------------------------------------------------------------------------------


def decimal(digits: int, shift: int) -> float:
    """``digits * 10**-shift`` as the float whose repr is that decimal (845, 1 -> 84.5)."""
    return float(f"{digits}e-{shift}")


DECIMAL = st.builds(decimal, st.integers(1, 999), st.integers(0, 2))
"""A positive decimal of 1-3 significant digits: 7, 84.5, 0.25, 9.99..."""

POOL: st.SearchStrategy[int | float | str] = st.sampled_from(
    [0, 1, 1, 2, 3, 5, "0.5", "1.5", "3.3", "0.1"]
)
"""Small entitlements that often tie (or are zero)."""


@st.composite
def problems(draw: st.DrawFn, max_n: int = 7, max_budget: int = 80) -> Problem:
    n = draw(st.integers(1, max_n), label="n")
    ent = [exact(v) for v in draw(st.lists(POOL | DECIMAL, min_size=n, max_size=n))]
    if sum(ent) == 0:
        ent[0] = Fraction(1)
    budget = draw(st.integers(1, max_budget), label="budget")
    floors = [draw(st.integers(0, budget // n + 1)) for _ in range(n)]
    caps = [draw(st.none() | st.integers(f, budget + 1)) for f in floors]
    ids = draw(
        st.lists(st.text("abB_0é", min_size=1, max_size=2), min_size=n, max_size=n, unique=True)
    )
    return Problem(
        budget=budget,
        ids=tuple(ids),
        entitlement=tuple(ent),
        floor=tuple(floors),
        cap=tuple(budget if c is None else c for c in caps),
        rule=draw(st.sampled_from(oracle.RULES)),
    )


def greedy_certificate(p: Problem, x: Sequence[int]) -> None:
    """No unit given after the floors has a larger key than a unit left out: the exchange
    argument that makes the greedy's answer the lexicographically smallest keys."""
    rule, lo = p.rule, list(p.floor)
    if rule == "maxmin":
        rule = "hamilton"
        if p.budget <= oracle.UNIT_BY_UNIT_LIMIT:
            lo = oracle.maxmin_floors_by_enumeration(p)
        else:
            lo = oracle.maxmin_floors_by_bisection(p)
        # and no allocation has a larger smallest x / q: one would need every x_i above
        # rho q_i, and those floors do not fit
        q = p.quota
        rho = min(Fraction(v) / w for v, w in zip(x, q, strict=True) if w > 0)
        above = [
            max(f, math.floor(rho * w) + 1) if w > 0 else f for f, w in zip(p.floor, q, strict=True)
        ]
        assert sum(above) > p.budget or any(a > c for a, c in zip(above, p.cap, strict=True))
    key = oracle.unit_key(p, rule)
    for i, j in itertools.permutations(range(p.size), 2):
        if x[i] > lo[i] and x[j] < p.cap[j]:
            assert key(i, x[i] - 1) < key(j, x[j]), (i, j)


@profile(150)
@given(p=problems())
def test_oracle_implementations_agree(p: Problem) -> None:
    one, two = unit_by_unit(p), by_threshold(p)
    assert one == two
    if one is None:
        assert not p.feasible
        return
    assert sum(one) == p.budget
    assert all(f <= v <= c for f, v, c in zip(p.floor, one, p.cap, strict=True))
    greedy_certificate(p, one)


@profile(60)
@given(p=problems(max_n=6, max_budget=3000))
def test_oracle_implementations_agree_on_larger_budgets(p: Problem) -> None:
    assert unit_by_unit(p) == by_threshold(p)


def allocations_within(p: Problem) -> list[tuple[int, ...]]:
    ranges = [range(f, c + 1) for f, c in zip(p.floor, p.cap, strict=True)]
    return [x for x in itertools.product(*ranges) if sum(x) == p.budget]


@profile(100)
@given(p=problems(max_n=4, max_budget=9))
def test_oracle_against_brute_force(p: Problem) -> None:
    """What each objective optimises, by enumerating every allocation: hamilton the least
    sum |x - q| (then squares), weighted the largest sum e x, maxmin the largest smallest
    x / q (over q > 0)."""
    x = by_threshold(p)
    every = allocations_within(p)
    assert (x is None) == (not every)
    if x is None:
        return
    q, e = p.quota, p.entitlement

    def l1_l2(y: Sequence[int]) -> tuple[Fraction, Fraction]:
        return (
            sum((abs(v - w) for v, w in zip(y, q, strict=True)), Fraction(0)),
            sum(((v - w) ** 2 for v, w in zip(y, q, strict=True)), Fraction(0)),
        )

    def smallest_ratio(y: Sequence[int]) -> Fraction:
        return min(Fraction(v) / w for v, w in zip(y, q, strict=True) if w > 0)

    if p.rule == "hamilton":
        assert l1_l2(x) == min(l1_l2(y) for y in every)
    elif p.rule == "weighted":
        value = sum(v * w for v, w in zip(x, e, strict=True))
        assert value == max(sum(v * w for v, w in zip(y, e, strict=True)) for y in every)
    elif p.rule == "maxmin":
        assert smallest_ratio(x) == max(smallest_ratio(y) for y in every)


@profile(60)
@given(data=st.data())
def test_oracle_by_threshold_certified_at_huge_budgets(
    data: st.DataObject,
) -> None:
    """At budgets far beyond unit_by_unit's reach, by_threshold still spends the budget
    within the bounds and passes the exchange certificate (no unit given has a larger key
    than a unit left out)."""
    p = data.draw(problems(max_n=8, max_budget=200))
    scale = 10 ** data.draw(st.integers(6, 13))
    big = Problem(
        budget=p.budget * scale,
        ids=p.ids,
        entitlement=p.entitlement,
        floor=tuple(f * scale for f in p.floor),
        cap=tuple(c * scale for c in p.cap),
        rule=p.rule,
    )
    x = by_threshold(big)
    assert (x is None) == (not p.feasible)
    if x is not None:
        assert sum(x) == big.budget
        assert all(f <= v <= c for f, v, c in zip(big.floor, x, big.cap, strict=True))
        greedy_certificate(big, x)


# --------------------------------------------------------------------------------------
# 3. The engine against the oracle
# --------------------------------------------------------------------------------------


def engine(data: dict[str, Any]) -> tuple[str, dict[str, int], str]:
    """Status, units per id and message of the engine's answer."""
    result = solve(Scenario.from_data(data))
    return str(result.status), {a.id: a.units for a in result.allocations}, result.message


def check_engine(data: dict[str, Any], expected: dict[str, int] | None) -> None:
    status, got, message = engine(data)
    if expected is None:
        assert status == "infeasible", (status, message)
        return
    assert status == "optimal", (status, message)
    if got != expected:
        wrong = {i: (got.get(i), expected[i]) for i in expected if got.get(i) != expected[i]}
        raise AssertionError(
            f"engine != oracle for {len(wrong)} of {len(expected)} recipients "
            f"(id: (engine, oracle)): {wrong}"
        )


TWIN_FACTORS = st.sampled_from(["2", "3", "5", "10", "0.5", "0.2", "0.1", "0.3"])


def twin(score: float, weight: float, factor: str) -> tuple[float, float]:
    """``(score * f, weight / f)`` as decimals, or ``(score / f, weight * f)`` when the first
    does not divide exactly (``f = 3`` or ``0.3``)."""
    s, w, f = Decimal(repr(score)), Decimal(repr(weight)), Decimal(factor)
    for a, b in ((s * f, w / f), (s / f, w * f)):
        if a > 0 and (a * b) == s * w and len(str(b).replace(".", "").strip("0")) <= 6:
            return float(a), float(b)
    return float(s * 10), float(w / 10)


@st.composite
def scenarios(draw: st.DrawFn, budgets: st.SearchStrategy[int], objective: str) -> dict[str, Any]:
    """A scenario with only floors and caps: 2-12 recipients, scores and weights decimals of
    1-3 digits, optional grades (with band edges at drawn scores), the given objective."""
    n = draw(st.integers(2, 12), label="n")
    budget = draw(budgets, label="budget")
    ids = draw(
        st.lists(
            st.text("abzAZ09_-é", min_size=1, max_size=3), min_size=n, max_size=n, unique=True
        ),
        label="ids",
    )
    recipients: list[dict[str, Any]] = []
    for rid in ids:
        rec: dict[str, Any] = {"id": rid, "score": draw(DECIMAL)}
        weight = draw(st.sampled_from(["default", "decimal", "decimal", "zero", "twin"]))
        if weight == "decimal":
            rec["weight"] = draw(DECIMAL)
        elif weight == "zero":
            rec["weight"] = 0.0
        elif weight == "twin" and recipients:
            # the entitlement of an earlier recipient, written another way: equal as
            # decimals, often not as float products (1.1 * 3 != 3.3 * 1)
            other = draw(st.sampled_from(recipients))
            rec["score"], rec["weight"] = twin(
                other["score"], other.get("weight", 1.0), draw(TWIN_FACTORS)
            )
        if draw(st.booleans()):
            rec["floor"] = draw(st.integers(0, budget // n))
        if draw(st.booleans()):
            rec["cap"] = draw(st.integers(rec.get("floor", 0), budget))
        recipients.append(rec)
    scores = [r["score"] for r in recipients]
    if all(r.get("weight", 1.0) == 0 for r in recipients):
        recipients[0]["weight"] = 1.0
    data: dict[str, Any] = {"name": "exact", "budget": budget, "recipients": recipients}
    if draw(st.booleans()):
        edges = sorted(set(draw(st.lists(st.sampled_from(scores), min_size=1, max_size=3))))
        multipliers = st.builds(decimal, st.integers(50, 200), st.just(2))
        bands = [
            {"grade": f"G{j}", "min_score": edge, "multiplier": draw(multipliers)}
            for j, edge in enumerate(reversed(edges))
        ]
        if edges[0] > min(scores):
            bands.append({"grade": "low", "min_score": 0, "multiplier": draw(multipliers)})
        data["grades"] = bands
    if objective in METHODS:
        method = draw(st.sampled_from(ALIASES[objective]), label="method")
        data["objective"] = {"kind": "proportional"}
        if method is not None:
            data["objective"]["method"] = method
    else:
        data["objective"] = {"kind": objective}
    return data


@pytest.mark.parametrize("objective", list(OBJECTIVES))
@profile(80)
@given(data=st.data())
def test_engine_small_budgets(objective: str, data: st.DataObject) -> None:
    scenario = data.draw(scenarios(st.integers(1, 400), objective))
    check_engine(scenario, oracle.allocate(scenario, unit_by_unit))


BUDGETS_TO_10_12 = st.sampled_from([10**9, 10**12, 286_400_000_000]) | st.integers(10**9, 10**12)
BUDGETS_TO_10_15 = st.sampled_from([10**15, 10**12 + 1]) | st.integers(10**12 + 1, 10**15)


@pytest.mark.parametrize("objective", list(OBJECTIVES))
@profile(60, shrink=False)
@given(data=st.data())
def test_engine_large_budgets(objective: str, data: st.DataObject) -> None:
    """Budgets 10**9 .. 10**12."""
    scenario = data.draw(scenarios(BUDGETS_TO_10_12, objective))
    check_engine(scenario, oracle.allocate(scenario, by_threshold))


@pytest.mark.parametrize("objective", list(OBJECTIVES))
@profile(40, shrink=False)
@given(data=st.data())
def test_engine_huge_budgets(objective: str, data: st.DataObject) -> None:
    """Budgets above 10**12, up to 10**15."""
    scenario = data.draw(scenarios(BUDGETS_TO_10_15, objective))
    check_engine(scenario, oracle.allocate(scenario, by_threshold))


# --------------------------------------------------------------------------------------
# 4. Crafted near-ties and exact ties
# --------------------------------------------------------------------------------------


def two_or_three(
    budget: int, recipients: list[dict[str, Any]], objective: str = "hamilton"
) -> dict[str, Any]:
    return {
        "name": "near-tie",
        "budget": budget,
        "recipients": recipients,
        "objective": OBJECTIVES[objective],
    }


# Each case: (data, the objective it was designed for, the units worked out by hand).
NEAR_TIES: dict[str, tuple[dict[str, Any], dict[str, int]]] = {
    # hamilton at 10**12: sum(e) = 399999999999.92, q_a = 10**14 / 39999999999992 =
    # 2.5000000000005..., q_b = 999999999997.4999999999995...: remainders .5 + 5e-13 and
    # .5 - 5e-13. The last unit goes to a, although b ranks first (larger entitlement).
    "hamilton-remainders-1e-12": (
        two_or_three(10**12, [{"id": "a", "score": 1}, {"id": "b", "score": 399999999998.92}]),
        {"a": 3, "b": 999999999997},
    ),
    # an exact tie only the rank breaks: 3.3 * 1 and 1.1 * 3 are both 3.3 as decimals (not
    # as floats: 1.1 * 3 = 3.3000000000000003); E = 10, B = 10**12 + 5: quotas
    # 330000000001.65, 330000000001.65, 340000000001.7; two spare units: c (.7), then a
    # (tied with b, a's id is smaller)
    "hamilton-exact-tie-by-id": (
        two_or_three(
            10**12 + 5,
            [
                {"id": "b", "score": 3, "weight": 1.1},
                {"id": "a", "score": 1, "weight": 3.3},
                {"id": "c", "score": 3.4},
            ],
        ),
        {"a": 330000000002, "b": 330000000001, "c": 340000000002},
    ),
    # jefferson: a's unit k = 10**11 - 1 has priority 1.000000000001 / 10**11, b's unit
    # k = 3 * 10**11 - 1 has 3 / (3 * 10**11): a's is larger by 1e-12 (relative) but b
    # ranks first. Units of larger priority: a 10**11 - 1, b 299999999999 -> B = 4e11 - 1
    "jefferson-priorities-1e-12": (
        two_or_three(
            4 * 10**11 - 1,
            [{"id": "a", "score": 1.000000000001}, {"id": "b", "score": 3}],
            "jefferson",
        ),
        {"a": 10**11, "b": 299999999999},
    ),
    # webster: a's unit k = 10**11 - 1 (d = 10**11 - 1/2) against b's unit k = 3e11 - 2
    # (d = 3e11 - 3/2, exactly 3 times): a's priority larger by 1e-12 (relative)
    "webster-priorities-1e-12": (
        two_or_three(
            4 * 10**11 - 2,
            [{"id": "a", "score": 1.000000000001}, {"id": "b", "score": 3}],
            "webster",
        ),
        {"a": 10**11, "b": 3 * 10**11 - 2},
    ),
    # adams: a's unit k = 10**11 (d = 10**11) against b's unit k = 3e11 (d = 3e11)
    "adams-priorities-1e-12": (
        two_or_three(
            4 * 10**11 + 1,
            [{"id": "a", "score": 1.000000000001}, {"id": "b", "score": 3}],
            "adams",
        ),
        {"a": 10**11 + 1, "b": 3 * 10**11},
    ),
    # huntington-hill, entitlements 1 and 3 (no perturbation needed): with K = 10**11, b's
    # unit 3K has d**2 = 9K**2 + 3K, a's unit K has 9 d**2 = 9K**2 + 9K, b's unit 3K + 1 has
    # d**2 = 9K**2 + 9K + 2: a's unit K comes before b's unit 3K + 1 by a relative 2e-23.
    # B = (K + 1) + (3K + 1)
    "huntington-hill-priorities-2e-23": (
        two_or_three(
            4 * 10**11 + 2, [{"id": "a", "score": 1}, {"id": "b", "score": 3}], "huntington-hill"
        ),
        {"a": 10**11 + 1, "b": 3 * 10**11 + 1},
    ),
    # weighted: a's entitlement is larger by 1e-12 (relative): a fills its cap first
    "weighted-entitlements-1e-12": (
        two_or_three(
            15 * 10**10,
            [
                {"id": "a", "score": 1.000000000001, "cap": 10**11},
                {"id": "b", "score": 1, "cap": 10**11},
            ],
            "weighted",
        ),
        {"a": 10**11, "b": 5 * 10**10},
    ),
    # exact ties at every method: equal entitlements as decimals, an odd budget: the extra
    # unit goes to a (smaller id); the float products make b look larger
    "every-method-exact-tie": (
        two_or_three(
            2 * 10**11 + 1,
            [{"id": "b", "score": 3, "weight": 1.1}, {"id": "a", "score": 1, "weight": 3.3}],
        ),
        {"a": 10**11 + 1, "b": 10**11},
    ),
    # maxmin against a large floor (the hand example [1, 3, 4], floor 8 of 10, at 10**12,
    # b perturbed by 1e-12): a and b share 2e11 units in proportion to their quotas
    # (1e12 / 8.000000000001 times 1 and 3.000000000001), where hamilton gives b them all
    "maxmin-floor-1e-12": (
        two_or_three(
            10**12,
            [
                {"id": "a", "score": 1},
                {"id": "b", "score": 3.000000000001},
                {"id": "c", "score": 4, "floor": 8 * 10**11},
            ],
            "maxmin",
        ),
        {},  # no hand value: see test_near_tie_cases_are_what_they_say
    ),
}


def with_objective(data: dict[str, Any], objective: str) -> dict[str, Any]:
    return {**data, "objective": OBJECTIVES[objective]}


@pytest.mark.parametrize("case", [k for k, (_, units) in NEAR_TIES.items() if units])
def test_oracle_near_ties_by_hand(case: str) -> None:
    data, expected = NEAR_TIES[case]
    assert oracle.allocate(data, by_threshold) == expected


def test_near_tie_cases_are_what_they_say() -> None:
    """The crafted margins really are that small (exactly)."""
    q = oracle.problem(NEAR_TIES["hamilton-remainders-1e-12"][0]).quota
    margin = (q[0] - math.floor(q[0])) - (q[1] - math.floor(q[1]))
    assert margin == Fraction(40, 39999999999992)
    assert Fraction(1, 10**12) < margin < Fraction(11, 10**13)
    # huntington-hill: a's unit K against b's unit 3K + 1, priorities squared
    k = 10**11
    a, b = Fraction(1, k * (k + 1)), Fraction(9, (3 * k + 1) * (3 * k + 2))
    assert 0 < (a - b) / a < Fraction(3, 10**23)
    # maxmin gives a different answer from hamilton there (in proportion, not equal deficits)
    data = NEAR_TIES["maxmin-floor-1e-12"][0]
    maxmin = oracle.allocate(data, by_threshold)
    hamilton = oracle.allocate(with_objective(data, "hamilton"), by_threshold)
    assert maxmin is not None and hamilton is not None
    assert maxmin["c"] == hamilton["c"] == 8 * 10**11
    assert hamilton == {"a": 0, "b": 2 * 10**11, "c": 8 * 10**11}
    assert maxmin["a"] > 0.49 * 10**11


@pytest.mark.parametrize("objective", list(OBJECTIVES))
@pytest.mark.parametrize("case", list(NEAR_TIES))
def test_engine_near_ties(case: str, objective: str) -> None:
    data = with_objective(NEAR_TIES[case][0], objective)
    check_engine(data, oracle.allocate(data, by_threshold))


# --------------------------------------------------------------------------------------
# 5. The 14 regions, in 1 KRW units
# --------------------------------------------------------------------------------------

KRW = 10**8  # the file's unit is 100M KRW


def regions(objective: str, scale: int) -> dict[str, Any]:
    """regions-2025.yaml without its rules, budget, floors, caps and previous times
    ``scale`` (1200 units of 100M KRW -> 120,000,000,000 units of 1 KRW)."""
    data = load_data(SCENARIOS / "regions-2025.yaml")
    assert data["budget"] == 1200
    data.pop("rules", None)
    data["budget"] *= scale
    data["unit"] = {"label": "KRW", "value": 1} if scale == KRW else data["unit"]
    for rec in data["recipients"]:
        for key in ("floor", "cap", "previous"):
            if rec.get(key) is not None:
                rec[key] = rec[key] * scale
    return with_objective(data, objective)


@pytest.mark.parametrize("objective", list(OBJECTIVES))
def test_oracle_regions_agree(objective: str) -> None:
    data = regions(objective, 1)
    assert oracle.allocate(data, unit_by_unit) == oracle.allocate(data, by_threshold)


@pytest.mark.parametrize("objective", list(OBJECTIVES))
def test_engine_regions_in_100m_units(objective: str) -> None:
    data = regions(objective, 1)
    check_engine(data, oracle.allocate(data, unit_by_unit))


@pytest.mark.parametrize("objective", list(OBJECTIVES))
def test_engine_regions_in_krw(objective: str) -> None:
    data = regions(objective, KRW)
    assert data["budget"] == 120_000_000_000
    expected = oracle.allocate(data, by_threshold)
    assert expected is not None and sum(expected.values()) == 120_000_000_000
    check_engine(data, expected)


@pytest.mark.parametrize("objective", list(OBJECTIVES))
def test_engine_regions_in_krw_with_their_rules(objective: str) -> None:
    """With grade_order and change_limit back in, at 1 KRW: optimal without a MILP, every
    rule kept exactly, and on the greedy path the optimum without grade_order."""
    rules = load_data(SCENARIOS / "regions-2025.yaml")["rules"]
    data = {**regions(objective, KRW), "rules": rules}
    result = solve(Scenario.from_data(data))
    assert result.status == Status.OPTIMAL
    assert result.solver.path in ("greedy", "search")
    assert sum(a.units for a in result.allocations) == 120_000_000_000
    _, _, program = build_program(Scenario.from_data(data))
    units = {a.id: a.units for a in result.allocations}
    ids = sorted(units)
    assert not program.violations(np.array([units[i] for i in ids], dtype=np.int64))
    if result.solver.path == "greedy":  # grade_order held at the optimum without it
        bounds_only = {**data, "rules": [r for r in rules if r["type"] != "grade_order"]}
        relaxed = solve(Scenario.from_data(bounds_only))
        assert {a.id: a.units for a in relaxed.allocations} == units


# --------------------------------------------------------------------------------------
# 6. Infeasible at a large budget
# --------------------------------------------------------------------------------------


def test_engine_infeasible_caps_at_10_12() -> None:
    budget = 10**12
    caps = [3 * 10**11, 3 * 10**11, 35 * 10**10]
    short = budget - sum(caps)
    assert short == 50_000_000_000
    data = {
        "name": "caps too small",
        "budget": budget,
        "recipients": [
            {"id": f"r{i}", "score": s, "cap": c}
            for i, (s, c) in enumerate(zip([84.5, 78.0, 91.4], caps, strict=True))
        ],
    }
    assert oracle.allocate(data, by_threshold) is None
    result = solve(Scenario.from_data(data))
    assert str(result.status) == "infeasible", result.message
    assert result.diagnosis is not None
    text = result.diagnosis.summary + " " + result.message
    assert f"{short:,}" in text or str(short) in text, text
    assert [r.amount for r in result.diagnosis.relax] == [short]


# --------------------------------------------------------------------------------------
# 7. Rule bounds at large budgets: change limits and group shares in exact decimals
# --------------------------------------------------------------------------------------

RATES = ["0.05", "0.1", "0.15", "0.2", "0.25", "0.3", "0.333", "0.35", "0.0001"]


@profile(200)
@given(
    previous=st.integers(1, 10**15),
    down=st.sampled_from(RATES),
    up=st.sampled_from(RATES),
    share=st.sampled_from(RATES),
)
def test_rule_bounds_are_exact_decimals_at_any_budget(
    previous: int, down: str, up: str, share: str
) -> None:
    """``change_limit`` bounds are ``ceil(previous * (1 - down))`` and ``floor(previous *
    (1 + up))``, a group's share bounds ``ceil``/``floor`` of ``share * budget``, all on the
    decimals as written (float products land on the wrong integer for ~3% of such draws)."""
    budget = 10**15
    data = {
        "name": "rule bounds",
        "budget": budget,
        "recipients": [
            {"id": "a", "score": 1, "previous": previous, "tags": {"g": "x"}},
            {"id": "b", "score": 1},
        ],
        "rules": [
            {"type": "change_limit", "max_decrease": float(down), "max_increase": float(up)},
            {"type": "group", "tag": "g", "value": "x", "min_share": float(share), "name": "lo"},
            {"type": "group", "tag": "g", "value": "x", "max_share": float(share), "name": "hi"},
        ],
    }
    _, _, program = build_program(Scenario.from_data(data))
    lo, hi = int(program.lo[0]), int(program.hi[0])
    assert lo == max(0, math.ceil(previous * (1 - Fraction(down))))
    assert hi == min(budget, math.floor(previous * (1 + Fraction(up))))
    lower = [s.lower for s in program.sums if s.lower is not None]
    upper = [s.upper for s in program.sums if s.upper is not None]
    assert lower == [math.ceil(Fraction(share) * budget)]
    assert upper == [math.floor(Fraction(share) * budget)]


def test_change_limit_where_floats_round_the_wrong_way() -> None:
    """A drawn case: 358,645,178,867,021 x 1.333 is 478,074,023,429,738.993 exactly, but
    the float product rounds up to ...739."""
    previous = 358_645_178_867_021
    assert math.floor(previous * (1.0 + 0.333)) == 478_074_023_429_739  # the float's answer
    data = {
        "name": "stability at 1 KRW",
        "budget": 10**15,
        "recipients": [
            {"id": "a", "score": 9, "previous": previous},
            {"id": "b", "score": 1},
        ],
        "rules": [{"type": "change_limit", "max_increase": 0.333}],
    }
    result = solve(Scenario.from_data(data))
    assert str(result.status) == "optimal", result.message
    units = {a.id: a.units for a in result.allocations}
    assert units["a"] == 478_074_023_429_738
    assert units["b"] == 10**15 - 478_074_023_429_738
