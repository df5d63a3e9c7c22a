"""The benchmark suite itself: seeded instances, and a correctness check that a wrong
answer cannot pass (no timings are asserted here: machines differ)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.__main__ import main
from benchmarks.baseline import run_baseline
from benchmarks.check import Problem, compare
from benchmarks.instances import OBJECTIVES, RULE_SETS, InstanceSpec, generate
from benchmarks.registry import BenchSpec, full_suite, quick_suite
from benchmarks.runner import BASELINE, Measurement, judge, run_suite
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
    assert all(s.max_ratio is not None for s in quick_suite())


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


def test_main_writes_json_markdown_and_plot_and_compares(tmp_path: Path) -> None:
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


def test_instance_command_writes_a_scenario_that_solves_like_the_generator(
    tmp_path: Path,
) -> None:
    target = tmp_path / "n14.json"
    assert main(["instance", "14", "webster", "groups", "--out", str(target)]) == 0
    scenario = load_scenario(target)
    direct = Scenario.from_data(generate(InstanceSpec(14, "webster", "groups")))
    assert scenario.content_hash == direct.content_hash
    assert solve(scenario).status == Status.OPTIMAL
