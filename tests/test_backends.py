"""Every backend returns the same allocation: the exact greedy (separable programs), HiGHS,
CBC and CP-SAT against each other, and all of them against exhaustive search."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from optimizer import solvers
from optimizer.apportion import greedy, maxmin_floors
from optimizer.compile import build_program
from optimizer.model import IntegerProgram, RatioOrder, SubsetSum
from optimizer.objectives import MarginalCost
from optimizer.result import Result, Status
from optimizer.scenario import Scenario
from optimizer.solve import solve
from optimizer.solvers.bruteforce import allocations, brute_force, optima
from optimizer.solvers.cbc import status_of_line
from optimizer.solvers.cpsat import ceiling_fraction, ratio_coefficients, status_of
from tests.hypothesis_profile import examples
from tests.independent import enumeration
from tests.independent.instance import read

MILP = ("highs", "cbc", "cp-sat")
METHODS = ("hamilton", "jefferson", "webster", "huntington-hill", "adams")
GRADES = [
    {"grade": "S", "min_score": 70, "multiplier": 1.3},
    {"grade": "A", "min_score": 40, "multiplier": 1.1},
    {"grade": "B", "min_score": 0, "multiplier": 1.0},
]
# random on every run, CI's too (the seed is printed; tests/hypothesis_profile.py)
EXAMPLES = settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


# ---------------------------------------------------------------- scenario generation


@st.composite
def scenarios(draw: st.DrawFn, *, maxmin: bool = True) -> dict[str, Any]:
    """A small random scenario as plain data (it may well be infeasible)."""
    n = draw(st.integers(2, 6))
    budget = draw(st.integers(1, 30))
    ids = draw(st.permutations(["ab", "cd", "ef", "gh", "ij", "kl"]))[:n]
    recipients = []
    for index, rid in enumerate(ids):
        floor = draw(st.integers(0, max(budget // n, 0)))
        rec: dict[str, Any] = {
            "id": rid,
            # coarse grids make ties (equal quotas, equal ratios) likely: the hard cases
            "score": draw(st.sampled_from([10, 35, 50, 50, 72.5, 80, 99])),
            "weight": draw(st.sampled_from([0.0, 0.5, 0.7, 1.0, 1.0, 1.1, 1.2, 3.0])),
            "floor": floor,
            "tags": {"kind": "a" if index == 0 else draw(st.sampled_from(["a", "b"]))},
        }
        if draw(st.booleans()):
            rec["cap"] = draw(st.integers(floor, budget))
        if draw(st.booleans()):
            rec["previous"] = draw(st.integers(0, budget))
        recipients.append(rec)
    if all(r["weight"] == 0 for r in recipients):
        recipients[0]["weight"] = 1.0
    data: dict[str, Any] = {"name": "random", "budget": budget, "recipients": recipients}
    graded = draw(st.booleans())
    if graded:
        data["grades"] = GRADES
    kinds = ["proportional", "weighted", *(["maxmin"] if maxmin else [])]
    kind = draw(st.sampled_from(kinds))
    data["objective"] = {"kind": kind}
    if kind == "proportional":
        data["objective"]["method"] = draw(st.sampled_from(METHODS))
    rules: list[dict[str, Any]] = []
    if draw(st.booleans()):
        rule: dict[str, Any] = {"type": "group", "tag": "kind", "value": "a"}
        bounds = draw(st.sampled_from(["share", "units", "both"]))
        if bounds in ("share", "both"):
            low = draw(st.sampled_from([None, 0.2, 0.34, 0.5]))
            high = draw(st.sampled_from([None, 0.5, 0.6, 0.8]))
            if low is None and high is None:
                high = 0.5
            rule |= {"min_share": low, "max_share": high}
        if bounds in ("units", "both"):
            rule["max_units"] = draw(st.integers(0, budget))
        rules.append(rule)
    if graded and draw(st.booleans()):
        rules.append({"type": "grade_order"})
    if any("previous" in r for r in recipients) and draw(st.booleans()):
        rules.append(
            {
                "type": "change_limit",
                "max_decrease": draw(st.sampled_from([None, 0.1, 0.5])),
                "max_increase": draw(st.sampled_from([0.3, 1.0])),
            }
        )
    data["rules"] = rules
    return data


def _scenario(data: dict[str, Any]) -> Scenario:
    return Scenario.from_data(data)


def _units(result: Result) -> dict[str, int]:
    return {a.id: a.units for a in result.allocations}


def _has_milp_rule(data: dict[str, Any]) -> bool:
    return any(r["type"] in ("group", "grade_order") for r in data["rules"])


# ---------------------------------------------------------------- independent rule checks


def _grade_level(data: dict[str, Any], score: float) -> int:
    for level, grade in enumerate(data.get("grades", [])):
        if score >= grade["min_score"]:
            return level
    raise AssertionError("every score has a grade")


def check_allocation(data: dict[str, Any], units: dict[str, int]) -> None:
    """The allocation meets the budget, every floor and cap and every rule, checked from the
    scenario data alone (none of the engine's code)."""
    budget = data["budget"]
    recipients = {r["id"]: r for r in data["recipients"]}
    assert set(units) == set(recipients)
    assert sum(units.values()) == budget
    for rid, rec in recipients.items():
        assert units[rid] >= rec["floor"], rid
        if rec.get("cap") is not None:
            assert units[rid] <= rec["cap"], rid
    for rule in data["rules"]:
        if rule["type"] == "group":
            total = sum(units[r] for r, rec in recipients.items() if rec["tags"]["kind"] == "a")
            if rule.get("min_share") is not None:
                assert total >= rule["min_share"] * budget - 1e-9
            if rule.get("max_share") is not None:
                assert total <= rule["max_share"] * budget + 1e-9
            if rule.get("max_units") is not None:
                assert total <= rule["max_units"]
        elif rule["type"] == "grade_order":
            rated = [
                (_grade_level(data, rec["score"]), units[r] / rec["weight"])
                for r, rec in recipients.items()
                if rec["weight"] > 0
            ]
            for level_a, ratio_a in rated:
                for level_b, ratio_b in rated:
                    if level_a < level_b:
                        assert ratio_a >= ratio_b - 1e-9, (level_a, ratio_a, level_b, ratio_b)
        elif rule["type"] == "change_limit":
            for rid, rec in recipients.items():
                previous = rec.get("previous")
                if previous is None:
                    continue
                if rule.get("max_decrease") is not None:
                    assert units[rid] >= previous * (1 - rule["max_decrease"]) - 1e-9
                if rule.get("max_increase") is not None:
                    assert units[rid] <= previous * (1 + rule["max_increase"]) + 1e-9


# ---------------------------------------------------------------- (a) all backends agree


@EXAMPLES
@given(scenarios())
def test_backends_agree_on_random_scenarios(data: dict[str, Any]) -> None:
    scenario = _scenario(data)
    names = [*(() if _has_milp_rule(data) else ("greedy",)), *MILP]
    results = {name: solve(scenario, backend=name, time_limit_s=30) for name in names}
    statuses = {name: r.status for name, r in results.items()}
    assert len(set(statuses.values())) == 1, statuses
    status = next(iter(statuses.values()))
    assert status in (Status.OPTIMAL, Status.INFEASIBLE), results[names[0]].message
    units = {name: _units(r) for name, r in results.items()}
    # even where the cost stages leave a tie, the rank stages make the answer one
    assert all(u == units[names[0]] for u in units.values()), units
    if status == Status.OPTIMAL:
        for allocation in units.values():
            check_allocation(data, allocation)
    judge(data, units[names[0]] if status == Status.OPTIMAL else None)


JUDGED = 30_000
"""The judge (tests/independent) enumerates scenarios of up to this many allocations."""


def judge(data: dict[str, Any], found: dict[str, int] | None) -> None:
    """The independent judge's optimum (None: infeasible) must be ``found``."""
    inst = read(data)
    if enumeration.count(inst) > JUDGED:
        note("too many allocations for the judge: backends and brute force only")
        return
    assert found == enumeration.allocate(data)


# ---------------------------------------------------------------- (b) exhaustive reference


def _program(data: dict[str, Any]) -> IntegerProgram:
    return build_program(_scenario(data))[2]


def optimal_allocations(data: dict[str, Any]) -> list[dict[str, int]]:
    """Every optimal allocation of a small scenario by exhaustive search, maxmin floors
    raised the way solve() raises them (with brute force as the feasibility oracle)."""
    ent, _, program = build_program(_scenario(data))

    def feasible(floors: np.ndarray) -> bool:
        trial = replace(program, lo=np.maximum(program.lo, floors))
        if np.any(trial.lo > trial.hi) or int(trial.lo.sum()) > trial.budget:
            return False
        return brute_force(trial) is not None

    if data["objective"]["kind"] == "maxmin" and feasible(program.lo):
        program = replace(program, lo=maxmin_floors(ent.quota, program.lo, program.hi, feasible))
    return [dict(zip(ent.ids, (int(v) for v in x), strict=True)) for x in optima(program)]


def assert_matches_brute_force(program: IntegerProgram, names: tuple[str, ...] = MILP) -> None:
    best = optima(program)
    reference = brute_force(program)  # of several tied optima, the rank stages' choice
    if program.is_separable:
        # the greedy's unit keys are all distinct, so a separable optimum is unique
        assert len(best) <= 1, [x.tolist() for x in best]
        found = greedy(program)
        assert (found is None) == (reference is None)
        if reference is not None and found is not None:
            assert found.tolist() == reference.tolist()
    if len(best) > 1:
        note(f"the objective leaves a tie: {[x.tolist() for x in best]}")
    for name in names:
        outcome = solvers.backend(name).solve(program, time_limit_s=30)
        if reference is None:
            assert outcome.status == Status.INFEASIBLE, (name, outcome)
            continue
        assert outcome.status == Status.OPTIMAL, (name, outcome)
        assert outcome.x is not None
        assert any(outcome.x.tolist() == x.tolist() for x in best), (name, outcome.x)
        assert outcome.x.tolist() == reference.tolist(), (name, len(best), outcome.x)


@EXAMPLES
@given(scenarios(maxmin=False))
def test_backends_match_brute_force(data: dict[str, Any]) -> None:
    ent, _, program = build_program(_scenario(data))
    assert_matches_brute_force(program)
    x = brute_force(program)  # the shared oracle: a cross-check, judged in turn
    judge(data, None if x is None else dict(zip(ent.ids, x.tolist(), strict=True)))


def test_brute_force_enumerates_every_allocation() -> None:
    program = IntegerProgram(
        budget=4,
        lo=np.array([0, 1, 0]),
        hi=np.array([2, 4, 4]),
        sums=(),
        orders=(),
        cost=MarginalCost("hamilton", np.array([1.0, 2.0, 1.0]), np.array([1, 0, 2])),
    )
    rows = {tuple(r) for r in allocations(program).tolist()}
    expected = {
        (a, b, c) for a in range(3) for b in range(1, 5) for c in range(5) if a + b + c == 4
    }
    assert rows == expected
    x = brute_force(program)
    assert x is not None and x.tolist() == [1, 2, 1]
    with pytest.raises(ValueError):
        allocations(IntegerProgram(31, program.lo, program.hi, (), (), program.cost))


def test_brute_force_infeasible_is_none() -> None:
    program = IntegerProgram(
        budget=5,
        lo=np.array([0, 0]),
        hi=np.array([2, 2]),
        sums=(),
        orders=(),
        cost=MarginalCost("hamilton", np.array([2.5, 2.5]), np.array([0, 1])),
    )
    assert brute_force(program) is None


# ---------------------------------------------------------------- (c) infeasible everywhere


def test_infeasible_combination_on_every_backend() -> None:
    # floors fit the budget, but the group's max_units cannot hold its members' floors
    data: dict[str, Any] = {
        "name": "infeasible",
        "budget": 20,
        "recipients": [
            {"id": "a", "score": 50, "floor": 4, "tags": {"kind": "a"}},
            {"id": "b", "score": 60, "floor": 4, "tags": {"kind": "a"}},
            {"id": "c", "score": 70, "tags": {"kind": "b"}},
        ],
        "rules": [{"type": "group", "tag": "kind", "value": "a", "max_units": 7}],
    }
    scenario = _scenario(data)
    for name in MILP:
        result = solve(scenario, backend=name)
        assert result.status == Status.INFEASIBLE, (name, result.message)
        assert result.allocations == ()
    program = _program(data)
    for name in MILP:
        assert solvers.backend(name).solve(program, time_limit_s=10).status == Status.INFEASIBLE
    assert brute_force(program) is None


def test_grade_order_against_group_is_infeasible() -> None:
    # the better-graded recipient must get at least as much as the worse one, yet the group
    # caps it below half the budget
    data: dict[str, Any] = {
        "name": "infeasible order",
        "budget": 10,
        "grades": GRADES,
        "recipients": [
            {"id": "a", "score": 90, "tags": {"kind": "a"}},
            {"id": "b", "score": 10, "tags": {"kind": "b"}},
        ],
        "rules": [
            {"type": "grade_order"},
            {"type": "group", "tag": "kind", "value": "a", "max_units": 4},
        ],
    }
    scenario = _scenario(data)
    for name in MILP:
        assert solve(scenario, backend=name).status == Status.INFEASIBLE, name


# ---------------------------------------------------------------- exact weights, big budgets


def test_ceiling_fraction_is_the_smallest_bounded_fraction_above() -> None:
    rng = np.random.default_rng(3)
    for _ in range(300):
        limit = int(rng.integers(1, 40))
        r = Fraction(int(rng.integers(0, 10**7)), int(rng.integers(1, 10**6)))
        best = min(Fraction(math.ceil(r * q), q) for q in range(1, limit + 1))
        assert ceiling_fraction(r, limit) == best


@pytest.mark.parametrize(
    ("better", "worse", "worse_max"),
    [(0.1, 0.3, 50), (1.1, 1.2, 200), (1.0000001, 1.0, 1), (1.0000001, 1.0, 30), (0.7, 3.0, 9)],
)
def test_ratio_coefficients_allow_exactly_the_decimal_points(
    better: float, worse: float, worse_max: int
) -> None:
    """``q x_i >= p x_j`` allows the same integer points as ``x_i / better >= x_j / worse``
    with the decimal weights (3 / 0.3 == 1 / 0.1; 1 / 1.0000001 < 1 / 1)."""
    q, p = ratio_coefficients(better, worse, worse_max)
    ratio = Fraction(str(better)) / Fraction(str(worse))
    for xj in range(worse_max + 1):
        for xi in range(math.floor(ratio * xj) - 2, math.floor(ratio * xj) + 3):
            assert (xi >= ratio * xj) == (q * xi >= p * xj), (xi, xj)


def test_equal_ratio_with_decimal_weights_is_feasible_everywhere() -> None:
    # grade_order forces x_a / 0.1 >= x_b / 0.3; the only way to give b 3 units is a tie
    # that binary floating point gets wrong (3 / 0.3 = 10.000000000000002)
    data: dict[str, Any] = {
        "name": "decimal tie",
        "budget": 4,
        "grades": GRADES,
        "recipients": [
            {"id": "a", "score": 90, "weight": 0.1, "cap": 1},
            {"id": "b", "score": 10, "weight": 0.3},
        ],
        "rules": [{"type": "grade_order"}],
    }
    results = {name: solve(_scenario(data), backend=name) for name in MILP}
    for name, result in results.items():
        assert result.status == Status.OPTIMAL, (name, result.message)
        assert _units(result) == {"a": 1, "b": 3}, name


# ---------------------------------------------------------------- known design issues

TIE: dict[str, Any] = {
    "name": "lexicographic tie",
    "budget": 14,
    "grades": [
        {"grade": "S", "min_score": 100, "multiplier": 1.0},
        {"grade": "B", "min_score": 0, "multiplier": 6.0},
    ],
    # all four entitlements are 180: equal quotas 3.5
    "recipients": [
        {"id": "r0", "score": 20, "weight": 1.5, "tags": {"kind": "b"}},
        {"id": "r1", "score": 60, "weight": 0.5, "tags": {"kind": "b"}},
        {"id": "r2", "score": 120, "weight": 1.5, "tags": {"kind": "a"}},
        {"id": "r3", "score": 360, "weight": 0.5, "tags": {"kind": "a"}},
    ],
    "objective": {"kind": "weighted"},
    "rules": [
        {"type": "group", "tag": "kind", "value": "a", "min_units": 3, "max_units": 11},
        {"type": "grade_order"},
    ],
}


def test_grade_order_can_leave_a_lexicographic_tie() -> None:
    """(3, 2, 6, 3) and (4, 1, 5, 4) have equal primary, secondary (sum of squares 58) and
    tertiary (rank . x = 23) values: only the rank stages decide between them."""
    tied = optimal_allocations(TIE)
    assert tied == [
        {"r0": 3, "r1": 2, "r2": 6, "r3": 3},
        {"r0": 4, "r1": 1, "r2": 5, "r3": 4},
    ]
    for name in MILP:
        result = solve(_scenario(TIE), backend=name)
        assert result.status == Status.OPTIMAL
        assert _units(result) in tied, name


def test_backends_return_the_same_optimum_despite_a_tie() -> None:
    """The rank stages settle the tie: r2 and r0 tie for the first rank (equal entitlements,
    then id), so r0 takes as many units as any optimum gives it: 4."""
    units = [_units(solve(_scenario(TIE), backend=name)) for name in MILP]
    assert all(u == {"r0": 4, "r1": 1, "r2": 5, "r3": 4} for u in units), units


@pytest.mark.parametrize("name", MILP)
def test_nearly_equal_weights_are_not_confused(name: str) -> None:
    """The better grade has weight 1.000001 and a cap of 1 unit; the worse one weight 1.
    Two units can only go 1 + 1, and 1 / 1.000001 < 1 / 1: infeasible. (CBC and CP-SAT
    use exact integer rows; HiGHS's continuous ratio rows rely on its tolerances, 1e-6 in
    a MIP, which a relative gap of 1e-6 is just above.)"""
    data: dict[str, Any] = {
        "name": "near tie",
        "budget": 2,
        "grades": GRADES,
        "recipients": [
            {"id": "a", "score": 90, "weight": 1.000001, "cap": 1},
            {"id": "b", "score": 10, "weight": 1.0},
        ],
        "rules": [{"type": "grade_order"}],
    }
    result = solve(_scenario(data), backend=name)
    assert result.status == Status.INFEASIBLE, result.message


@pytest.mark.parametrize("name", MILP)
def test_hamilton_with_raised_floors(name: str) -> None:
    """A maxmin program after its floors were raised (4 recipients, budget 26, separable).
    HiGHS ended the secondary stage with kSolveError at feasibility tolerances of 1e-10 (and
    does at 1e-7), and CP-SAT once cut off its optimum by a wrongly bounded shifted row."""
    quota = np.array(
        [11.491071428571427, 0.8290816326530611, 1.6581632653061222, 12.021683673469386]
    )
    program = IntegerProgram(
        budget=26,
        lo=np.array([5, 1, 1, 6]),
        hi=np.array([5, 26, 26, 26]),
        sums=(),
        orders=(),
        cost=MarginalCost("hamilton", quota, np.array([1, 3, 2, 0])),
    )
    assert_matches_brute_force(program, (name,))


@pytest.mark.parametrize("name", MILP)
def test_weighted_group_band_that_stopped_highs_without_presolve(name: str) -> None:
    """HiGHS without presolve ended the primary stage with kSolveError on this weighted
    program (found by test_explain's random scenarios); it now solves that run again with
    presolve, and every backend returns the nested greedy's optimum."""
    data: dict[str, Any] = {
        "name": "solve error",
        "budget": 93,
        "recipients": [
            {"id": "r0", "score": 80.24116699048007, "cap": 78, "tags": {"g": "in"}},
            {"id": "r1", "score": 4, "weight": 3, "tags": {"g": "out"}},
            {"id": "r2", "score": 20.05181942688808, "weight": 2, "floor": 8, "tags": {"g": "in"}},
            {"id": "r3", "score": 2, "weight": 3, "tags": {"g": "out"}},
            {"id": "r4", "score": 3, "weight": 2, "floor": 10, "tags": {"g": "out"}},
            {"id": "r5", "score": 13.020382571444442, "tags": {"g": "out"}},
        ],
        "grades": [
            {"grade": "A", "min_score": 50, "multiplier": 1.2},
            {"grade": "B", "min_score": 0, "multiplier": 1.0},
        ],
        "objective": {"kind": "weighted"},
        "rules": [{"type": "group", "tag": "g", "value": "in", "min_units": 78, "max_units": 88}],
    }
    result = solve(_scenario(data), backend=name)
    assert result.status == Status.OPTIMAL, result.message
    assert _units(result) == {"r0": 75, "r1": 0, "r2": 8, "r3": 0, "r4": 10, "r5": 0}
    exact = solve(_scenario(data))
    assert exact.solver.path == "partition" and _units(exact) == _units(result)


@pytest.mark.parametrize("name", MILP)
def test_one_unit_under_grade_order(name: str) -> None:
    """Budget 1 under grade_order, weighted: the unit goes to the best grade (any of them;
    the weight-0 recipient is exempt). HiGHS with presolve on called the first stage
    infeasible (cost slopes of 1e9, feasibility tolerances of 1e-9)."""
    data: dict[str, Any] = {
        "name": "one unit",
        "budget": 1,
        "grades": GRADES,
        "recipients": [
            {"id": "ab", "score": 50, "weight": 0.5},
            {"id": "cd", "score": 10, "weight": 0.7},
            {"id": "ef", "score": 10, "weight": 0.0},
            {"id": "gh", "score": 50, "weight": 0.5},
            {"id": "ij", "score": 50, "weight": 1.1},
        ],
        "objective": {"kind": "weighted"},
        "rules": [{"type": "grade_order"}],
    }
    program = _program(data)
    assert brute_force(program) is not None
    assert_matches_brute_force(program, (name,))


def test_first_unit_tie_goes_by_rank() -> None:
    """Webster, budget 1: two recipients tie on the first unit's priority, the rank decides.
    CBC's preprocessing once cut that optimum off in the last stage."""
    data: dict[str, Any] = {
        "name": "first unit",
        "budget": 1,
        "recipients": [
            {"id": "cd", "score": 10, "weight": 0.7},
            {"id": "ab", "score": 35},
            {"id": "ef", "score": 35},
        ],
        "objective": {"kind": "proportional", "method": "webster"},
    }
    program = _program(data)
    assert_matches_brute_force(program)
    x = brute_force(program)
    assert x is not None and x.tolist() == [1, 0, 0]


# ---------------------------------------------------------------- (d) time limits


def _large_data(n: int = 14, budget: int = 1200, cap: int = 200) -> dict[str, Any]:
    rng = np.random.default_rng(7)
    recipients = [
        {
            "id": f"r{i:02d}",
            "score": round(float(rng.uniform(60, 99)), 1),
            "weight": round(float(rng.uniform(0.5, 1.5)), 2),
            "floor": 20,
            "cap": cap,
            "tags": {"kind": "a" if i % 3 == 0 else "b"},
        }
        for i in range(n)
    ]
    return {
        "name": "large",
        "budget": budget,
        "recipients": recipients,
        "grades": [
            {"grade": "S", "min_score": 90, "multiplier": 1.3},
            {"grade": "A", "min_score": 80, "multiplier": 1.15},
            {"grade": "B", "min_score": 70, "multiplier": 1.0},
            {"grade": "C", "min_score": 0, "multiplier": 0.85},
        ],
        "objective": {"kind": "proportional", "method": "hamilton"},
        "rules": [
            {"type": "group", "tag": "kind", "value": "a", "min_share": 0.4},
            {"type": "grade_order"},
        ],
    }


@pytest.fixture(scope="module")
def large_results() -> dict[str, tuple[Result, float]]:
    """The 14-recipient scenario with a group rule and grade_order, solved by each MILP
    backend, with the seconds each took."""
    scenario = _scenario(_large_data())
    out = {}
    for name in MILP:
        started = time.perf_counter()
        result = solve(scenario, backend=name)
        out[name] = (result, time.perf_counter() - started)
    return out


def test_large_scenario_agrees_on_every_backend(
    large_results: dict[str, tuple[Result, float]],
) -> None:
    data = _large_data()
    units = {}
    for name, (result, _seconds) in large_results.items():
        assert result.status == Status.OPTIMAL, (name, result.message)
        units[name] = _units(result)
        check_allocation(data, units[name])
    assert units["cbc"] == units["highs"] == units["cp-sat"]


@pytest.mark.parametrize("name", MILP)
def test_tiny_time_limit_never_gives_a_wrong_answer(
    name: str, large_results: dict[str, tuple[Result, float]]
) -> None:
    data = _large_data()
    reference = _units(large_results["highs"][0])
    result = solve(_scenario(data), backend=name, time_limit_s=0.001)
    assert result.status in (Status.OPTIMAL, Status.TIME_LIMIT), (result.status, result.message)
    if result.status == Status.OPTIMAL:
        assert _units(result) == reference
    if result.allocations:
        check_allocation(data, _units(result))


@pytest.mark.parametrize(
    ("line", "status"),
    [
        ("Optimal - objective value 12.00000000", Status.OPTIMAL),
        ("Optimal (within gap tolerance) - objective value 24.00000000", Status.OPTIMAL),
        ("Infeasible - objective value 5.00000000", Status.INFEASIBLE),
        ("Integer infeasible - objective value 3.50000000", Status.INFEASIBLE),
        ("Stopped on time - objective value 17.00000000", Status.FEASIBLE),
        ("Stopped on iterations - objective value 17.00000000", Status.FEASIBLE),
        (
            "Stopped on time (no integer solution - continuous used) - objective value 55.05",
            Status.TIME_LIMIT,
        ),
        ("Unbounded - objective value 0", Status.ERROR),
        ("", Status.ERROR),
    ],
)
def test_cbc_status_lines(line: str, status: Status) -> None:
    assert status_of_line(line) == status


def test_cpsat_statuses() -> None:
    from ortools.sat.python import cp_model

    assert status_of(cp_model.OPTIMAL) == Status.OPTIMAL
    assert status_of(cp_model.FEASIBLE) == Status.FEASIBLE
    assert status_of(cp_model.INFEASIBLE) == Status.INFEASIBLE
    assert status_of(cp_model.UNKNOWN) == Status.TIME_LIMIT
    assert status_of(cp_model.MODEL_INVALID) == Status.ERROR


def test_stopped_runs_are_never_reported_optimal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The driver turns a stage that stopped with an incumbent into TIME_LIMIT (never
    OPTIMAL) and keeps the incumbent; a stage stopped without one gives no allocation."""
    from optimizer.solvers import base

    program = _program(_large_data())
    for name in MILP:
        backend = solvers.backend(name)
        session_class = type(backend.open(program, ()))
        original = session_class.run

        def stopped(self: Any, time_limit_s: float, _original: Any = original) -> Any:
            run = _original(self, time_limit_s)
            return base.RunResult(Status.FEASIBLE, run.values, run.objective, run.bound)

        monkeypatch.setattr(session_class, "run", stopped)
        outcome = backend.solve(program, time_limit_s=30)
        assert outcome.status == Status.TIME_LIMIT
        assert outcome.x is not None and not program.violations(outcome.x)

        def nothing(self: Any, time_limit_s: float) -> Any:
            return base.RunResult(Status.TIME_LIMIT, None, None, None)

        monkeypatch.setattr(session_class, "run", nothing)
        outcome = backend.solve(program, time_limit_s=30)
        assert outcome.status == Status.TIME_LIMIT and outcome.x is None
        monkeypatch.undo()


def test_a_first_stage_stopped_by_its_limit_reports_the_solvers_gap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stopped in the primary stage with objective 110 and bound 100, the outcome's gap is
    |110 - 100| / 110 (the README: a time limit reports its best allocation and gap)."""
    from optimizer.solvers import base

    program = _program(_large_data())
    backend = solvers.backend("highs")
    session_class = type(backend.open(program, ()))
    original = session_class.run

    def stopped(self: Any, time_limit_s: float) -> Any:
        run = original(self, time_limit_s)
        return base.RunResult(Status.FEASIBLE, run.values, 110.0, 100.0)

    monkeypatch.setattr(session_class, "run", stopped)
    outcome = backend.solve(program, time_limit_s=30)
    assert outcome.status == Status.TIME_LIMIT
    assert outcome.gap == pytest.approx(10 / 110)


def test_a_later_stage_stopped_without_answer_keeps_the_earlier_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stage 1 solved, stage 2 stopped by the time limit with nothing: the answer is stage
    1's allocation (valid, primary-optimal), reported as TIME_LIMIT with a zero gap, never
    dropped and never called optimal. A rank stage that fails (HiGHS once said "unbounded")
    leaves the allocation of the cost stages, optimal, with a note."""
    from optimizer.solvers import base

    data = _large_data()
    data["rules"] = [{"type": "grade_order"}]
    program = _program(data)
    reference = solvers.backend("highs").solve(program, time_limit_s=30)
    assert reference.status == Status.OPTIMAL and reference.x is not None
    for name in MILP:
        backend = solvers.backend(name)
        session_class = type(backend.open(program, ()))
        original = session_class.run

        def failing_from(
            stop: int, result: Status, _original: Any = original
        ) -> Any:  # the stop-th run onwards reports ``result`` without values
            calls = {"n": 0}

            def run(self: Any, time_limit_s: float) -> Any:
                calls["n"] += 1
                if calls["n"] >= stop:
                    return base.RunResult(result, None, None, None)
                return _original(self, time_limit_s)

            return run

        monkeypatch.setattr(session_class, "run", failing_from(2, Status.TIME_LIMIT))
        outcome = backend.solve(program, time_limit_s=30)
        assert outcome.status == Status.TIME_LIMIT, (name, outcome)
        assert outcome.x is not None and not program.violations(outcome.x)
        assert outcome.gap == 0.0 and "stage 2" in outcome.detail
        primary = program.stage_values(outcome.x)[0]
        assert primary == program.stage_values(reference.x)[0]

        monkeypatch.setattr(session_class, "run", failing_from(4, Status.ERROR))
        outcome = backend.solve(program, time_limit_s=30)
        assert outcome.status == Status.OPTIMAL, (name, outcome)
        assert outcome.x is not None
        assert program.stage_values(outcome.x) == program.stage_values(reference.x)
        assert "rank stage" in outcome.detail
        monkeypatch.undo()


def test_rank_stages_run_only_up_to_their_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each rank stage is a solve: 14 recipients under grade_order get them (but none for a
    recipient at its cap), a program over more than RANK_STAGE_LIMIT recipients ends after
    the three cost stages, and a partition program (unique optimum) never has them."""
    from optimizer.solvers import base

    session_class = type(solvers.backend("highs").open(_program(_large_data()), ()))
    original = session_class.run
    runs = {"n": 0}

    def counted(self: Any, time_limit_s: float) -> Any:
        runs["n"] += 1
        return original(self, time_limit_s)

    monkeypatch.setattr(session_class, "run", counted)

    def stages(data: dict[str, Any]) -> int:
        program = _program(data)
        runs["n"] = 0
        outcome = solvers.backend("highs").solve(program, time_limit_s=60)
        assert outcome.status == Status.OPTIMAL and outcome.x is not None
        return runs["n"]

    assert base.STAGES < stages(_large_data()) <= base.STAGES + 14 - 1
    large = _large_data(n=base.RANK_STAGE_LIMIT + 1, budget=40 * (base.RANK_STAGE_LIMIT + 1))
    for recipient in large["recipients"]:
        recipient["floor"] = 0
    assert stages(large) == base.STAGES
    partition = _large_data()
    partition["rules"] = partition["rules"][:1]
    assert stages(partition) == base.STAGES


# ---------------------------------------------------------------- hygiene


def test_cbc_leaves_no_files_and_prints_nothing(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    program = _program(_large_data(n=8, budget=300, cap=100))
    infeasible = replace(program, budget=10_000)
    for name in ("cbc", "cp-sat"):
        engine = solvers.backend(name)
        assert engine.solve(program, time_limit_s=30).status == Status.OPTIMAL
        assert engine.solve(infeasible, time_limit_s=30).status == Status.INFEASIBLE
        assert engine.solve(program, time_limit_s=0.001).status in (
            Status.OPTIMAL,
            Status.TIME_LIMIT,
        )
    captured = capfd.readouterr()
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []


def test_program_rows_from_rules_are_what_backends_see() -> None:
    """A hand-built program with a row and an order, solved by every backend and brute
    force (guards the shared program shape the other tests build through scenarios)."""
    quota = np.array([3.2, 2.9, 1.9, 2.0])
    program = IntegerProgram(
        budget=10,
        lo=np.zeros(4, dtype=np.int64),
        hi=np.full(4, 10, dtype=np.int64),
        sums=(SubsetSum("g", np.array([0, 1]), None, 5),),
        orders=(
            RatioOrder("o", (np.array([2]), np.array([0, 3])), np.array([1.0, 1.0, 0.7, 1.3])),
        ),
        cost=MarginalCost("webster", quota, np.array([0, 1, 3, 2])),
    )
    assert_matches_brute_force(program)
