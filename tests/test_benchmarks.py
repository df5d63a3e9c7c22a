"""The benchmark suite itself: seeded instances, and a correctness check that a wrong
answer cannot pass (no timings are asserted here: machines differ)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import benchmarks.__main__ as cli
from benchmarks.__main__ import main
from benchmarks.baseline import MAX_BASELINE_UNITS, run_baseline
from benchmarks.certificate import engine_certificate, optimality
from benchmarks.check import Problem, compare, priority_sum
from benchmarks.instances import (
    BUDGETS,
    OBJECTIVES,
    RULE_SETS,
    InstanceSpec,
    budget_for,
    budget_label,
    generate,
    parse_budget,
    structure_holds,
)
from benchmarks.registry import (
    BUDGET_ROW_SIZES,
    MAX_BUDGET_RATIO,
    QUICK_BUDGET_GATES,
    BenchSpec,
    budget_rows,
    full_suite,
    quick_suite,
)
from benchmarks.report import markdown, to_json, verdict
from benchmarks.runner import BASELINE, NOT_RUN, Measurement, Row, judge, run_suite
from benchmarks.scaling import (
    CONFIRM_RUNS,
    MEMORY_FLOOR_MB,
    TIME_FLOOR_S,
    ScaleCheck,
    budget_checks,
    check_scaling,
)
from optimizer.loading import load_scenario
from optimizer.result import Status
from optimizer.scenario import Scenario
from optimizer.solve import solve


def test_instances_are_seeded_and_deterministic() -> None:
    spec = InstanceSpec(840, "webster", "all", seed=3)
    assert generate(spec) == generate(spec)
    assert json.dumps(generate(spec), sort_keys=True) == json.dumps(generate(spec), sort_keys=True)
    assert generate(spec) != generate(replace(spec, seed=4))
    # the recipients do not depend on the objective or the rules, only on size and seed
    other = generate(InstanceSpec(840, "hamilton", "bounds", seed=3))
    assert other["recipients"] == generate(spec)["recipients"]


def test_instance_fingerprint_is_stable() -> None:
    """A change to the generator changes every published benchmark number: make it loud."""
    data = generate(InstanceSpec(14, "hamilton", "all"))
    first = data["recipients"][0]
    assert (first["id"], data["budget"], len(data["rules"])) == ("busan", 1200, 17)
    assert [r["type"] for r in data["rules"]].count("group") == 15


@pytest.mark.parametrize("size", [14, 840, 2_000])
@pytest.mark.parametrize("rules", RULE_SETS)
def test_instances_are_valid_scenarios_with_every_rule_type(size: int, rules: str) -> None:
    data = generate(InstanceSpec(size, "hamilton", rules))
    scenario = Scenario.from_data(data)
    assert len(scenario.recipients) == size
    assert len({r.id for r in scenario.recipients}) == size
    types = {r["type"] for r in data["rules"]}
    expected = {"bounds": {"change_limit"}, "groups": {"change_limit", "group"}}
    assert types == expected.get(rules, {"change_limit", "group", "grade_order"})
    recipients = data["recipients"]
    assert any("floor" in r for r in recipients) and any("cap" in r for r in recipients)
    assert any("previous" in r for r in recipients)
    assert {g["grade"] for g in data["grades"]} == {"S", "A", "B", "C"}


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_group_instances_are_feasible_and_checked_equal_by_both_sides(objective: str) -> None:
    data = generate(InstanceSpec(14, objective, "groups"))
    result = solve(Scenario.from_data(data))
    assert result.status == Status.OPTIMAL
    problem = Problem.of(data)
    units = _units(problem, {a.id: a.units for a in result.allocations})
    assert problem.violations(units) == []
    baseline = run_baseline(data, time_limit_s=30)
    assert baseline.units is not None and baseline.integral
    verdict = compare(problem, units, "optimal", np.array(baseline.units), "optimal")
    assert verdict.ok and verdict.relation == "equal", verdict


def test_large_instances_have_windows_no_sort_could_hold() -> None:
    data = generate(InstanceSpec(20_000, "adams", "groups"))
    problem = Problem.of(data)
    assert int((problem.hi - problem.lo).sum()) > 10**8
    result = solve(Scenario.from_data(data))
    assert result.status == Status.OPTIMAL and result.solver.path == "partition"
    units = _units(problem, {a.id: a.units for a in result.allocations})
    assert problem.violations(units) == []


def test_every_registered_instance_has_a_unique_name() -> None:
    for suite in (full_suite(), quick_suite()):
        names = [s.name for s in suite]
        assert len(names) == len(set(names))
    unscaled = [s for s in quick_suite() if s.instance.budget is None]
    assert unscaled and all(s.max_ratio is not None for s in unscaled)


# ------------------------------------------------------------------ budget rows


def _values(data: dict[str, Any], key: str) -> list[int | None]:
    return [r.get(key) for r in data["recipients"]]


def _bands(data: dict[str, Any]) -> list[tuple[str, int | None, int | None]]:
    return [
        (r["name"], r.get("min_units"), r.get("max_units"))
        for r in data["rules"]
        if r["type"] == "group"
    ]


def test_budget_names_labels_and_parsing() -> None:
    assert InstanceSpec(14, "webster", "all", budget=10**12).name == "n14-webster-all-b1e12"
    assert InstanceSpec(14, "webster", "all").name == "n14-webster-all"
    assert InstanceSpec(14).units == budget_for(14) == 1200
    assert InstanceSpec(14, budget=10**9).units == 10**9
    assert [budget_label(b) for b in (10**3, 10**12, 1200, 7)] == ["1e3", "1e12", "1200", "7"]
    for text in ("1e12", "10**12", "1_000_000_000_000", "1,000,000,000,000"):
        assert parse_budget(text) == 10**12
    assert parse_budget("5e3") == 5000
    assert parse_budget("1e15") == 10**15
    for bad in ("1e16", "0", "1.5e3", "many", "10**99999999", "-5"):
        with pytest.raises(ValueError):
            parse_budget(bad)
    with pytest.raises(ValueError, match="budget"):
        generate(InstanceSpec(14, budget=10**15 + 1))


@pytest.mark.parametrize("size", BUDGET_ROW_SIZES)
def test_budget_rows_scale_every_bound_and_keep_the_structure(size: int) -> None:
    """10^12 units are 10^6 units times a million, rounded: the draws, the ids, the tags,
    which recipients have a floor, a cap or last year's units, and the rules are the same."""
    small = generate(InstanceSpec(size, "hamilton", "all", budget=10**6))
    large = generate(InstanceSpec(size, "hamilton", "all", budget=10**12))
    assert (small["budget"], large["budget"]) == (10**6, 10**12)
    assert large["unit"] == {"label": "KRW", "value": 1}
    for key in ("id", "score", "weight", "tags"):
        assert [r[key] for r in small["recipients"]] == [r[key] for r in large["recipients"]]
    for key in ("floor", "cap", "previous"):
        a, b = _values(small, key), _values(large, key)
        assert [v is None for v in a] == [v is None for v in b]
        assert any(v is not None for v in a)
        for x, y in zip(a, b, strict=True):
            if x is not None and y is not None:
                assert abs(y / 10**6 - x) <= 2, (key, x, y)
    assert [r["type"] for r in small["rules"]] == [r["type"] for r in large["rules"]]
    bands_small, bands_large = _bands(small), _bands(large)
    assert [b[0] for b in bands_small] == [b[0] for b in bands_large]
    for (_, lo6, hi6), (_, lo12, hi12) in zip(bands_small, bands_large, strict=True):
        for x, y in ((lo6, lo12), (hi6, hi12)):
            assert (x is None) == (y is None)
            if x is not None and y is not None:
                assert abs(y / 10**6 - x) <= 2


def test_budget_rows_are_deterministic_and_leave_the_unscaled_instances_alone() -> None:
    spec = InstanceSpec(840, "webster", "groups", seed=2, budget=10**9)
    assert json.dumps(generate(spec)) == json.dumps(generate(spec))
    unscaled = generate(InstanceSpec(840, "webster", "groups", seed=2))
    explicit = generate(InstanceSpec(840, "webster", "groups", seed=2, budget=budget_for(840)))
    assert explicit["recipients"] == unscaled["recipients"]
    assert explicit["rules"] == unscaled["rules"]
    assert unscaled["unit"] == {"label": "100M KRW", "value": 100_000_000}
    assert "-b" not in unscaled["name"]


def test_every_budget_row_is_a_valid_feasible_scenario() -> None:
    """Bounds admit the budget, every band lies within its members' bounds and the bands
    admit the budget (recipients and bounds do not depend on the objective)."""
    cases = {(s.instance.size, s.instance.rules, s.instance.units) for s in budget_rows()}
    assert len(cases) == sum(
        len(RULE_SETS) for size in BUDGET_ROW_SIZES for b in BUDGETS if structure_holds(size, b)
    )
    for size, rules, budget in sorted(cases):
        data = generate(InstanceSpec(size, "hamilton", rules, budget=budget))
        Scenario.from_data(data)
        problem = Problem.of(data)
        assert int(problem.lo.sum()) <= budget <= int(problem.hi.sum()), (size, rules, budget)
        assert bool(np.all(problem.lo <= problem.hi))
        regions = [g for g in problem.groups if g[0].endswith(" band")]
        for name, members, least, most in problem.groups:
            assert least is None or most is None or least <= most, name
            if least is not None:
                assert least <= int(problem.hi[members].sum()), name
            if most is not None:
                assert most >= int(problem.lo[members].sum()), name
        if regions:
            assert sum(g[2] or 0 for g in regions) <= budget <= sum(g[3] or 0 for g in regions)


def test_too_few_units_are_not_a_budget_row() -> None:
    """840 programmes at 1,000 units: change_limit pins each to last year's units, which no
    longer add up to the budget; the suite leaves such a budget out."""
    assert structure_holds(14, 10**3) and not structure_holds(840, 10**3)
    problem = Problem.of(generate(InstanceSpec(840, "hamilton", "bounds", budget=10**3)))
    assert int(problem.lo.sum()) > problem.budget
    assert all(structure_holds(s.instance.size, s.instance.units) for s in budget_rows())


@pytest.mark.parametrize(("size", "rules"), [(14, "bounds"), (14, "groups"), (840, "groups")])
def test_budget_rows_solve_and_check_at_a_million_units(size: int, rules: str) -> None:
    data = generate(InstanceSpec(size, "hamilton", rules, budget=10**6))
    result = solve(Scenario.from_data(data))
    assert result.status == Status.OPTIMAL
    problem = Problem.of(data)
    units = _units(problem, {a.id: a.units for a in result.allocations})
    assert problem.violations(units) == [] and int(units.sum()) == 10**6
    if size == 14:
        baseline = run_baseline(data, time_limit_s=30)
        assert baseline.units is not None
        verdict = compare(problem, units, "optimal", np.array(baseline.units), "optimal")
        assert verdict.ok and verdict.relation == "equal", verdict


def test_the_baseline_is_not_built_for_billions_of_units() -> None:
    assert MAX_BASELINE_UNITS < 10**9
    for objective in ("hamilton", "webster"):
        data = generate(InstanceSpec(14, objective, "bounds", budget=10**9))
        run = run_baseline(data, time_limit_s=30)
        assert run.units is None and run.build_s == 0.0
        assert run.status == "not built (1,000,000,000 units)"


def test_priority_sums_of_many_units_are_summed_in_closed_form() -> None:
    rng = np.random.default_rng(5)
    quota = rng.uniform(1.0, 1000.0, 12)
    x = rng.integers(0, 40_000, 12).astype(np.int64)
    x[:3] = [0, 1, 101]
    for method in ("jefferson", "webster", "adams", "huntington-hill"):
        exact = priority_sum(method, quota, x)
        closed = priority_sum(method, quota, x, exact_units=0)
        assert closed == pytest.approx(exact, rel=1e-10)
    big = np.full(3, 10**11, dtype=np.int64)  # never one array element per unit
    assert priority_sum("webster", quota[:3], big) > 0


def test_the_full_suite_has_budget_rows_for_every_objective_and_rule_set() -> None:
    rows = [s for s in full_suite() if s.instance.budget is not None]
    assert rows == budget_rows()
    got = {
        (s.instance.size, s.instance.objective, s.instance.rules, s.instance.units) for s in rows
    }
    for size in BUDGET_ROW_SIZES:
        budgets = [b for b in BUDGETS if structure_holds(size, b)]
        assert budgets[-1] == 10**12 and (size != 14 or budgets[0] == 10**3)
        for objective in OBJECTIVES:
            for rules in RULE_SETS:
                assert all((size, objective, rules, b) in got for b in budgets)
    assert all(s.max_budget_ratio is None and s.max_ratio is None for s in rows)
    assert all(s.baseline == (s.instance.size <= 840) for s in rows)


def test_the_quick_suite_measures_each_budget_pair_in_one_run() -> None:
    specs = {s.name: s for s in quick_suite()}
    assert len(QUICK_BUDGET_GATES) >= 4
    for size, objective, rules, small in QUICK_BUDGET_GATES:
        assert structure_holds(size, small)
        low = specs[InstanceSpec(size, objective, rules, budget=small).name]
        high = specs[InstanceSpec(size, objective, rules, budget=10**12).name]
        assert low.max_budget_ratio is None and high.max_budget_ratio == MAX_BUDGET_RATIO == 1.5
        assert low.max_ratio is None and high.max_ratio is None  # no baseline at 10^12
        assert low.repeat == high.repeat >= 3
    covered = {(size, objective, rules) for size, objective, rules, _ in QUICK_BUDGET_GATES}
    assert {(14, "hamilton", "bounds"), (14, "webster", "bounds")} <= covered
    assert (14, "maxmin", "bounds") in covered
    assert any(size == 840 and rules == "groups" for size, _, rules in covered)
    assert (14, "maxmin", "all") in covered  # every rule, exact at 10^12 (partition path)


# ------------------------------------------------------------------ the budget gate


def _timed(
    name: str, budget: int, cpu_s: float | None, peak_mb: float | None, status: str = "optimal"
) -> Measurement:
    return Measurement(
        name,
        14,
        "hamilton",
        "bounds",
        "allot:auto",
        status,
        total_s=cpu_s,
        peak_mb=peak_mb,
        budget=budget,
        cpu_s=cpu_s,
    )


def _gate(low: tuple[float, float], high: tuple[float, float]) -> ScaleCheck:
    """The 10^12 run (CPU seconds, peak MB) against the 10^3 run, at the 1.5x gate."""
    return check_scaling(
        _timed("n14-hamilton-bounds-b1e12", 10**12, *high),
        _timed("n14-hamilton-bounds-b1e3", 10**3, *low),
        1.5,
    )


def test_the_budget_gate_passes_flat_cost_and_fails_growing_cost() -> None:
    ok = _gate((0.040, 50.0), (0.058, 70.0))
    assert ok.ok and ok.time_ratio == pytest.approx(1.45) and ok.memory_ratio == pytest.approx(1.4)
    slow = _gate((0.040, 50.0), (0.070, 50.0))
    assert not slow.ok and slow.time_ratio == pytest.approx(1.75)
    assert "CPU time" in slow.detail and "10^12 units" in slow.detail and "1.75x" in slow.detail
    fat = _gate((0.040, 50.0), (0.040, 80.0))
    assert not fat.ok and "peak memory" in fat.detail and "1.60x" in fat.detail
    at_the_gate = _gate((0.25, 40.0), (0.375, 60.0))  # exactly 1.5x: still within
    assert at_the_gate.ok


def test_the_budget_gate_floors_tiny_times_and_peaks() -> None:
    """A 1 ms run taking 3 ms, or a 2 MB peak becoming 6 MB, is noise, not a trend."""
    assert TIME_FLOOR_S == 0.005 and MEMORY_FLOOR_MB == 10.0
    tiny = _gate((0.001, 2.0), (0.003, 6.0))
    assert tiny.ok
    assert tiny.time_ratio == pytest.approx(0.6) and tiny.memory_ratio == pytest.approx(0.6)
    assert not _gate((0.001, 2.0), (0.008, 6.0)).ok  # 8 ms is over 1.5 x 5 ms
    assert not _gate((0.001, 2.0), (0.003, 16.0)).ok  # 16 MB is over 1.5 x 10 MB


def test_the_budget_gate_fails_a_run_without_an_answer() -> None:
    crashed = check_scaling(
        _timed("n14-hamilton-all-b1e12", 10**12, None, None, status="error"),
        _timed("n14-hamilton-all-b1e3", 10**3, 0.1, 13.0),
        1.5,
    )
    assert not crashed.ok and "no optimal answer at 10^12 units (error)" in crashed.detail
    reported = check_scaling(
        _timed("n14-hamilton-all-b1e12", 10**12, 9.0, 900.0),
        _timed("n14-hamilton-all-b1e3", 10**3, 0.1, 13.0),
        None,
    )
    assert reported.ok and reported.time_ratio == pytest.approx(90.0)  # reported, not gated


def _row(spec: BenchSpec, allot: Measurement) -> Row:
    base = Measurement(spec.name, 14, "hamilton", "bounds", BASELINE, "not built (x)")
    return Row(spec, allot, base, (), None, True, "allot:auto: no baseline", True)


def _pair(high_cpu: float) -> list[Row]:
    low = BenchSpec(InstanceSpec(14, "hamilton", "bounds", budget=10**3))
    high = BenchSpec(InstanceSpec(14, "hamilton", "bounds", budget=10**12), max_budget_ratio=1.5)
    return [
        _row(low, _timed(low.name, 10**3, 0.040, 20.0)),
        _row(high, _timed(high.name, 10**12, high_cpu, 20.0)),
    ]


def test_budget_checks_pair_each_row_with_its_smallest_budget() -> None:
    rows = _pair(0.050)
    unscaled = BenchSpec(InstanceSpec(14, "hamilton", "bounds"))
    rows.insert(0, _row(unscaled, _timed(unscaled.name, 1200, 0.001, 1.0)))
    checks = budget_checks(rows)
    assert [c.instance for c in checks] == [r.spec.name for r in rows[1:]]
    reference, gated = checks
    assert reference.detail == "the reference" and reference.time_ratio == 1.0
    assert gated.reference == "n14-hamilton-bounds-b1e3" and gated.reference_budget == 10**3
    assert gated.ok and gated.time_ratio == pytest.approx(1.25)
    alone = budget_checks(rows[2:])  # --only picked the 10^12 row alone: not judged
    assert alone[0].ok and alone[0].reference is None and "not judged" in alone[0].detail


def test_a_failed_budget_gate_is_measured_again_before_it_counts() -> None:
    calls: list[str] = []

    def faster(spec: BenchSpec) -> Measurement:
        calls.append(spec.name)
        return _timed(spec.name, spec.instance.units, 0.041, 20.0)

    rows = _pair(0.090)  # a noisy first run: 2.25x
    (_, check) = budget_checks(rows, measure=faster)
    assert check.ok and check.time_ratio == pytest.approx(0.041 / 0.040)
    assert calls == ["n14-hamilton-bounds-b1e3", "n14-hamilton-bounds-b1e12"]
    assert rows[1].allot.cpu_s == pytest.approx(0.041)  # the table shows the best run

    calls.clear()

    def still_slow(spec: BenchSpec) -> Measurement:
        calls.append(spec.name)
        cpu = 0.040 if spec.instance.units == 10**3 else 0.090
        return _timed(spec.name, spec.instance.units, cpu, 20.0)

    (_, check) = budget_checks(_pair(0.090), measure=still_slow)
    assert not check.ok and len(calls) == 2 * CONFIRM_RUNS


# ------------------------------------------------------------------ the correctness check


def _units(problem: Problem, by_id: dict[str, int]) -> np.ndarray:
    return np.array([by_id[i] for i in problem.ids], dtype=np.int64)


@pytest.fixture(scope="module")
def solved() -> tuple[dict[str, Any], Problem, np.ndarray]:
    data = generate(InstanceSpec(14, "hamilton", "groups"))
    result = solve(Scenario.from_data(data))
    problem = Problem.of(data)
    return data, problem, _units(problem, {a.id: a.units for a in result.allocations})


def _measurement(solver: str, units: np.ndarray | None, status: str = "optimal") -> Measurement:
    return Measurement(
        "n14-hamilton-groups",
        14,
        "hamilton",
        "groups",
        solver,
        status,
        total_s=1.0,
        units=None if units is None else units.tolist(),
    )


SPEC = BenchSpec(InstanceSpec(14, "hamilton", "groups"), max_ratio=2.0)


def _worse_but_feasible(problem: Problem, x: np.ndarray) -> np.ndarray:
    """Move one unit between two recipients of the same group without breaking a bound:
    still a valid allocation, but not the optimum."""
    for i in range(len(x)):
        for j in range(len(x)):
            if i == j:
                continue
            y = x.copy()
            y[i] -= 1
            y[j] += 1
            if not problem.violations(y) and problem.cost(y) > problem.cost(x) + 1e-6:
                return y
    raise AssertionError("no feasible move")


def test_the_check_accepts_the_optimum(solved: tuple[Any, Problem, np.ndarray]) -> None:
    _, problem, x = solved
    row = judge(SPEC, problem, _measurement("allot:auto", x), _measurement(BASELINE, x))
    assert row.check_ok and row.gate_ok and row.ratio == 1.0


def test_the_check_catches_a_worse_answer(solved: tuple[Any, Problem, np.ndarray]) -> None:
    _, problem, x = solved
    corrupted = _worse_but_feasible(problem, x)
    row = judge(SPEC, problem, _measurement("allot:auto", corrupted), _measurement(BASELINE, x))
    assert not row.check_ok
    assert "worse" in row.check


def test_the_check_catches_a_broken_constraint(solved: tuple[Any, Problem, np.ndarray]) -> None:
    _, problem, x = solved
    broken = x.copy()
    broken[int(np.argmax(problem.lo))] = 0  # below a floor (and the budget not spent)
    row = judge(SPEC, problem, _measurement("allot:auto", broken), _measurement(BASELINE, x))
    assert not row.check_ok and "invalid" in row.check
    no_answer = judge(
        SPEC, problem, _measurement("allot:auto", None, "error"), _measurement(BASELINE, x)
    )
    assert not no_answer.check_ok


def test_the_check_never_trusts_the_baseline(solved: tuple[Any, Problem, np.ndarray]) -> None:
    """A baseline that says optimal but breaks a constraint, or is worse, does not fail
    Allot; it is reported as it is."""
    _, problem, x = solved
    broken = x.copy()
    broken[0] += 5
    row = judge(SPEC, problem, _measurement("allot:auto", x), _measurement(BASELINE, broken))
    assert row.check_ok and "baseline invalid" in row.check
    worse = _worse_but_feasible(problem, x)
    row = judge(SPEC, problem, _measurement("allot:auto", x), _measurement(BASELINE, worse))
    assert row.check_ok and "better" in row.check and "the baseline said optimal" in row.check


def test_the_check_catches_a_backend_that_disagrees(
    solved: tuple[Any, Problem, np.ndarray],
) -> None:
    _, problem, x = solved
    other = _worse_but_feasible(problem, x)
    backends = (_measurement("allot:highs", x), _measurement("allot:cbc", other))
    row = judge(SPEC, problem, _measurement("allot:auto", x), _measurement(BASELINE, x), backends)
    assert not row.check_ok
    assert "allot:cbc" in row.check
    stopped = (_measurement("allot:cbc", None, "killed"),)
    row = judge(SPEC, problem, _measurement("allot:auto", x), _measurement(BASELINE, x), stopped)
    assert row.check_ok


def test_the_gate_fails_a_slow_allot(solved: tuple[Any, Problem, np.ndarray]) -> None:
    _, problem, x = solved
    slow = replace(_measurement("allot:auto", x), total_s=3.0)
    row = judge(SPEC, problem, slow, _measurement(BASELINE, x))
    assert row.check_ok and not row.gate_ok and row.ratio == 3.0
    killed = Measurement("n", 14, "hamilton", "groups", BASELINE, "killed", killed_after_s=10.0)
    row = judge(SPEC, problem, slow, killed)
    assert row.gate_ok and row.ratio == pytest.approx(0.3)


def test_a_run_refused_as_too_large_is_shown_refused_and_any_other_error_fails(
    solved: tuple[Any, Problem, np.ndarray],
) -> None:
    """The guard's refusal ("too large: ...", before building) has no answer to check: the
    row says "refused: too large" and does not fail; any other run without an answer does."""
    _, problem, x = solved
    too_large = replace(
        _measurement("allot:auto", None, "error"),
        detail="too large: the MILP would encode 389,119,356,369 units between floors and caps",
    )
    row = judge(SPEC, problem, too_large, _measurement(BASELINE, x))
    assert row.check_ok and verdict(row) == "refused: too large", row.check
    crashed = replace(too_large, detail="MemoryError")
    row = judge(SPEC, problem, crashed, _measurement(BASELINE, x))
    assert not row.check_ok and verdict(row).startswith("FAIL"), row.check
    answered = judge(SPEC, problem, _measurement("allot:auto", x), _measurement(BASELINE, x))
    assert verdict(answered) == "ok: equal"


def test_a_feasible_answer_is_checked_for_validity_and_compared_not_judged(
    solved: tuple[Any, Problem, np.ndarray],
) -> None:
    """A run Allot says is not proven optimal (``feasible`` or ``time_limit``: the search's
    best when it stopped) passes when it keeps every constraint, whatever the baseline's
    answer, and the row says how the two compare; one that breaks a constraint fails."""
    _, problem, x = solved
    worse = _worse_but_feasible(problem, x)
    row = judge(
        SPEC, problem, _measurement("allot:auto", worse, "feasible"), _measurement(BASELINE, x)
    )
    assert row.check_ok and "not proven" in row.check and "worse than the baseline" in row.check
    row = judge(SPEC, problem, _measurement("allot:auto", x, "feasible"), _measurement(BASELINE, x))
    assert row.check_ok and "as good as the baseline" in row.check
    stopped = _measurement("allot:auto", x, "time_limit")  # stopped by time, with its best
    row = judge(SPEC, problem, stopped, _measurement(BASELINE, x))
    assert row.check_ok and "Allot: time_limit, as good as the baseline" in row.check
    broken = x.copy()
    broken[int(np.argmax(problem.lo))] = 0
    row = judge(
        SPEC, problem, _measurement("allot:auto", broken, "feasible"), _measurement(BASELINE, x)
    )
    assert not row.check_ok and "invalid" in row.check


def test_the_14_region_weighted_row_with_every_rule_at_a_trillion_units_is_searched() -> None:
    """A row the budget table listed as refused ("too large": the search gave up past its
    exact nodes, issue 11): the search bounded by each node's relaxation settles it
    (tests/test_threshold_bound.py checks the answer and its certificate)."""
    result = solve(Scenario.from_data(generate(InstanceSpec(14, "weighted", "all", budget=10**12))))
    assert result.status == Status.OPTIMAL and result.solver.path == "search", result.message


# ------------------------------------------------------------------ the runner, end to end


def test_runner_measures_in_isolated_processes() -> None:
    spec = BenchSpec(InstanceSpec(14, "webster", "all"), backends=("highs",), time_limit_s=30)
    (row,) = run_suite([spec])
    assert row.check_ok, row.check
    for m in (row.allot, row.baseline, *row.backends):
        assert m.status == "optimal", m
        assert m.total_s is not None and m.total_s > 0
        assert m.peak_mb is not None and m.peak_mb >= 0
    assert row.allot.path in ("greedy", "partition", "milp")
    assert row.backends[0].units == row.allot.units


def _without_gates(suite: Any) -> Any:
    """The suite with its timing gates taken off: the exit code then says whether every
    answer passed its check, and nothing about this machine's speed."""
    return lambda: [replace(s, max_ratio=None, max_budget_ratio=None) for s in suite()]


def test_main_writes_json_markdown_and_plot_and_compares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "quick_suite", _without_gates(quick_suite))
    out, table, png = tmp_path / "r.json", tmp_path / "r.md", tmp_path / "r.png"
    argv = ["run", "--quick", "--only", "n14-hamilton-bounds"]
    assert main([*argv, "--out", str(out), "--markdown", str(table), "--plot", str(png)]) == 0
    results = json.loads(out.read_text())
    assert {m["solver"] for m in results["measurements"]} == {"allot:auto", BASELINE}
    assert results["meta"]["machine"]["cpus"]
    assert "| 14 | hamilton | bounds | greedy |" in table.read_text()
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert main([*argv, "--compare", str(out)]) == 0


def test_main_refuses_an_unknown_instance() -> None:
    with pytest.raises(SystemExit) as caught:
        main(["run", "--quick", "--only", "nothing-like-this"])
    assert caught.value.code == 2


def test_main_runs_a_budget_pair_and_reports_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """End to end at 10^3 and 10^6 units (the engine's own 10^12 runs are CI's job)."""

    def pair(gate: float) -> list[BenchSpec]:
        return [
            BenchSpec(InstanceSpec(14, "hamilton", "bounds", budget=b), max_budget_ratio=g)
            for b, g in ((10**3, None), (10**6, gate))
        ]

    monkeypatch.setattr(cli, "quick_suite", lambda: pair(math.inf))  # a gate nothing fails
    out, table = tmp_path / "r.json", tmp_path / "r.md"
    assert main(["run", "--quick", "--out", str(out), "--markdown", str(table)]) == 0
    results = json.loads(out.read_text())
    allot = [m for m in results["measurements"] if m["solver"] == "allot:auto"]
    assert [m["budget"] for m in allot] == [10**3, 10**6]
    assert all(m["cpu_s"] is not None and m["cpu_s"] > 0 for m in allot)
    checks = results["budget_rows"]
    assert [c["instance"] for c in checks] == [
        "n14-hamilton-bounds-b1e3",
        "n14-hamilton-bounds-b1e6",
    ]
    assert all(c["ok"] for c in checks) and checks[1]["reference_budget"] == 10**3
    text = table.read_text()
    assert "| 14 | hamilton | bounds | 10^6 | greedy |" in text and "✓" in text
    assert "1 budget gates passed" in capsys.readouterr().out

    monkeypatch.setattr(cli, "quick_suite", lambda: pair(0.0))  # any cost is over a 0x gate
    assert main(["run", "--quick"]) == 1
    printed = capsys.readouterr().out
    assert "BUDGET GATE n14-hamilton-bounds-b1e6: CPU time" in printed
    assert printed.count("measuring the pair again") == CONFIRM_RUNS


def test_budget_rows_skip_the_baseline_when_asked() -> None:
    spec = BenchSpec(InstanceSpec(14, "hamilton", "bounds", budget=10**6), baseline=False)
    (row,) = run_suite([spec])
    assert row.baseline.status == NOT_RUN and row.check_ok, row.check
    assert row.allot.budget == 10**6 and row.allot.cpu_s is not None
    meta = {"command": "x", "date": "d", "machine": {"cpus": 2, "platform": "p"}, "versions": {}}
    checks = budget_checks([row])
    assert "| 14 | hamilton | bounds | 10^6 |" in markdown([row], meta, checks)
    assert to_json([row], meta, checks)["budget_rows"][0]["detail"] == "the reference"


def test_instance_command_writes_a_scenario_that_solves_like_the_generator(
    tmp_path: Path,
) -> None:
    target = tmp_path / "n14.json"
    assert main(["instance", "14", "webster", "groups", "--out", str(target)]) == 0
    scenario = load_scenario(target)
    direct = Scenario.from_data(generate(InstanceSpec(14, "webster", "groups")))
    assert scenario.content_hash == direct.content_hash
    assert solve(scenario).status == Status.OPTIMAL


def test_instance_command_takes_a_budget(tmp_path: Path) -> None:
    target = tmp_path / "n14-b1e12.json"
    argv = ["instance", "14", "hamilton", "all", "--out", str(target)]
    assert main([*argv, "--budget", "1e12"]) == 0
    data = json.loads(target.read_text())
    assert data == generate(InstanceSpec(14, "hamilton", "all", budget=10**12))
    assert data["budget"] == 10**12
    Scenario.from_data(data)
    with pytest.raises(SystemExit) as caught:
        main([*argv, "--budget", "1e16"])
    assert caught.value.code == 2


# ---------------------------------------------------------------- issue 18: the checker


def _three_grades(x_s: int, x_b: int) -> tuple[dict[str, Any], np.ndarray]:
    """Grades S, A, B with nobody in A: the S-versus-B order must still be checked."""
    data: dict[str, Any] = {
        "name": "empty middle grade",
        "budget": x_s + x_b,
        "grades": [
            {"grade": "S", "min_score": 90, "multiplier": 1.0},
            {"grade": "A", "min_score": 80, "multiplier": 1.0},
            {"grade": "B", "min_score": 0, "multiplier": 1.0},
        ],
        "recipients": [{"id": "s", "score": 95, "cap": 1}, {"id": "b", "score": 50}],
        "rules": [{"type": "grade_order"}],
    }
    return data, np.array([x_s, x_b], dtype=np.int64)


def test_grade_order_is_checked_over_every_pair_of_non_empty_grades() -> None:
    data, x = _three_grades(1, 5)
    problem = Problem.of(data)
    assert any("grade_order" in v for v in problem.violations(x)), problem.violations(x)
    assert problem.violations(np.array([1, 0], dtype=np.int64)) == ["units sum to 1, budget is 6"]


def test_the_baseline_model_keeps_grade_order_across_an_empty_grade() -> None:
    """S is capped at 1 unit and B may not get more per weight: 6 units cannot be spent."""
    data, _ = _three_grades(1, 5)
    run = run_baseline(data, time_limit_s=30)
    assert run.status == "Infeasible", run


def _certified_case(objective: str, rules: str) -> tuple[Problem, np.ndarray, Any]:
    data = generate(InstanceSpec(840, objective, rules))
    result = solve(Scenario.from_data(data))
    assert result.status == Status.OPTIMAL
    problem = Problem.of(data)
    return problem, _units(problem, {a.id: a.units for a in result.allocations}), result


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("rules", ["bounds", "groups"])
def test_rows_without_a_baseline_are_certified(objective: str, rules: str) -> None:
    """No baseline: the exchange certificate (and Allot's own, where it has one) decides."""
    problem, x, result = _certified_case(objective, rules)
    verdict = compare(problem, x, "optimal", None, "not built", result.certificate)
    assert verdict.ok and verdict.relation == "certified", verdict
    moved = _worse_but_feasible(problem, x)
    verdict = compare(problem, moved, "optimal", None, "not built")
    assert not verdict.ok and verdict.relation == "not optimal", verdict


@pytest.mark.parametrize("objective", ["hamilton", "webster", "huntington-hill", "adams"])
def test_allots_certificate_is_checked_against_the_data(objective: str) -> None:
    problem, x, result = _certified_case(objective, "bounds")
    assert result.certificate is not None
    assert engine_certificate(problem, x, result.certificate) == []
    moved = _worse_but_feasible(problem, x)
    assert engine_certificate(problem, moved, result.certificate) != []
    wrong = json.loads(json.dumps(result.certificate))
    exact = wrong["exact"]
    exact["low"], exact["high"] = exact["high"], str(2 * Fraction(exact["high"]))
    assert engine_certificate(problem, x, wrong) != []
    verdict = compare(problem, x, "optimal", None, "not built", wrong)
    assert not verdict.ok and verdict.relation == "certificate wrong", verdict


def test_a_binding_grade_order_is_certified_or_left_undecided() -> None:
    """The 840-programme instance with every rule (the threshold search; its groups over
    two tags overlap): certified where the answer is the optimum without the rules that
    break the structure, never refuted (a better allocation there may break them)."""
    problem, x, _ = _certified_case("hamilton", "all")
    proof = optimality(problem, x)
    assert proof.ok is not False, proof
    assert ("held without" in proof.detail) if proof.ok else ("overlapping" in proof.detail)


def _hamilton_tie() -> tuple[Problem, np.ndarray, Any]:
    """Two equal entitlements, one unit: the remainders tie exactly, the rank (id) decides."""
    data: dict[str, Any] = {
        "name": "tie",
        "budget": 1,
        "recipients": [{"id": "a", "score": 1}, {"id": "b", "score": 1}],
    }
    result = solve(Scenario.from_data(data))
    problem = Problem.of(data)
    return problem, _units(problem, {a.id: a.units for a in result.allocations}), result


def test_a_hamilton_tie_is_checked_by_rank() -> None:
    problem, x, result = _hamilton_tie()
    assert x.tolist() == [1, 0]
    assert engine_certificate(problem, x, result.certificate) == []
    swapped = np.array([0, 1], dtype=np.int64)  # the tie given against the rank order
    assert engine_certificate(problem, swapped, result.certificate) != []


def test_a_hamilton_certificate_states_an_exact_tie() -> None:
    """With remainders tied exactly no T separates them: the interval is the single point
    T = low = high and the certificate names who got the tied unit (README 'Proof for
    readers')."""
    _, _, result = _hamilton_tie()
    assert result.certificate is not None
    exact = result.certificate["exact"]
    assert Fraction(exact["low"]) == Fraction(exact["high"]) == Fraction(-1, 2)
    assert result.certificate["tie"] == {"given": ["a"], "passed": ["b"]}
    assert "tie.given" in result.certificate["rule"]


def test_bands_over_one_recipient_are_bounds_for_the_certificate() -> None:
    """The 14 regions with every rule at 10^9 units: a band per region is a group rule over
    one recipient, which the checker folds into that region's floor and cap, so the
    metropolitan cap over five regions no longer overlaps anything and the exchange
    certificate applies outright; tamper with the answer and it is no longer certified
    (nor refuted: under grade_order the cheaper exchange may break the rule)."""
    data = generate(InstanceSpec(14, "hamilton", "all", budget=10**9))
    result = solve(Scenario.from_data(data))
    assert result.status == Status.OPTIMAL
    problem = Problem.of(data)
    assert sum(1 for g in problem.groups if len(g[1]) > 1) == 1  # the metropolitan cap
    x = _units(problem, {a.id: a.units for a in result.allocations})
    proof = optimality(problem, x)
    assert proof.ok and "grade_order holds at that optimum" in proof.detail, proof
    assert optimality(problem, _worse_but_feasible(problem, x)).ok is not True
