"""The threshold search with each node's relaxation as its bound (``weighted``,
:mod:`optimizer.order_bound`): the same optimum as exhaustive search and as the search
without the bound, a Lagrangian bound that is a true lower bound, certificates with pruned
leaves and splits on a member's units that both checkers accept and refuse once tampered
with, and the 14-region ``weighted`` instance with every rule settled at 10^9 and 10^12
units (issue 11)."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, note, settings

from benchmarks.certificate import _leaves, _Space, search_tree
from benchmarks.check import Problem
from benchmarks.instances import InstanceSpec, generate
from optimizer import thresholds
from optimizer.compile import build_program
from optimizer.model import IntegerProgram
from optimizer.objectives import MarginalCost
from optimizer.scenario import Scenario
from optimizer.solve import solve
from optimizer.solvers.bruteforce import brute_force
from optimizer.verify import verify
from tests.hypothesis_profile import examples
from tests.test_search_certificate import SEEDS, search_scenario
from tests.test_thresholds import ordered_programs

EXAMPLES = settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def with_rule(program: IntegerProgram, rule: str = "weighted") -> IntegerProgram:
    """``program`` with its quotas and ranks under the cost ``rule``."""
    cost = program.cost
    assert isinstance(cost, MarginalCost)
    return replace(program, cost=MarginalCost(rule, cost.quota, cost.rank))


def _unbounded(program: IntegerProgram, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The search as it was before the bound: every node a nested greedy, in key order."""
    with monkeypatch.context() as patch:
        patch.setattr(thresholds, "MAX_BOUNDED_SIZE", -1)
        return thresholds.ThresholdSearch(program).run()


def _search(program: IntegerProgram, *, exact: bool, bounded: bool) -> Any:
    """The search on the sorted table or in exact arithmetic, with the bound or without."""
    sorted_units, size = thresholds.MAX_SORTED_UNITS, thresholds.MAX_BOUNDED_SIZE
    thresholds.MAX_SORTED_UNITS = -1 if exact else sorted_units
    thresholds.MAX_BOUNDED_SIZE = size if bounded else -1
    try:
        searcher = thresholds.ThresholdSearch(program)
        assume(not bounded or searcher._pruning() is not None)  # two levels or more
        return searcher.run()
    finally:
        thresholds.MAX_SORTED_UNITS, thresholds.MAX_BOUNDED_SIZE = sorted_units, size


@EXAMPLES
@given(ordered_programs().map(with_rule))
def test_the_bounded_search_is_the_exhaustive_optimum(program: IntegerProgram) -> None:
    """On the sorted table (the costs brute force sees): the allocation brute force finds,
    ties included, or a give-up where an overlapping rule binds. In exact arithmetic: the
    allocation of the search without the bound (exact costs can tie where the table's
    rounded ones do not, so brute force is no judge there)."""
    expected = brute_force(program)
    found = _search(program, exact=False, bounded=True)
    if found is None:
        assert any(row.label == "cross" for row in program.sums)
    else:
        note(f"{found.nodes} nodes")
        assert (found.x is None) == (expected is None)
        if expected is not None and found.x is not None:
            assert found.x.tolist() == expected.tolist()
    exact = _search(program, exact=True, bounded=True)
    before = _search(program, exact=True, bounded=False)
    if exact is None or before is None:
        assert any(row.label == "cross" for row in program.sums)
        return
    assert (exact.x is None) == (before.x is None)
    if exact.x is not None and before.x is not None:
        assert exact.x.tolist() == before.x.tolist()


@EXAMPLES
@given(ordered_programs().map(with_rule))
def test_the_bound_is_below_every_allocation_of_a_node(program: IntegerProgram) -> None:
    """For random bounds inside the program's, the exact Lagrangian under HiGHS's prices is
    at most the cost of every allocation within them that keeps the budget, the groups of
    the partition and the order (enumerated)."""
    searcher = thresholds.ThresholdSearch(program)
    pruning = searcher._pruning()
    assume(pruning is not None)
    assert pruning is not None
    lo, hi = searcher.program.lo, searcher.program.hi
    assume(int((hi - lo).prod()) <= 20_000)
    relaxation = pruning.relaxation
    for low, high in sub_boxes(lo, hi):
        bound = pruning.evaluate(low, high)
        if bound is None:
            continue
        for x in kept_within(program, searcher.relaxed, relaxation.weight, low, high):
            assert bound.value <= sum(c * u for c, u in zip(pruning.cost, x.tolist(), strict=True))


def sub_boxes(lo: np.ndarray, hi: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Three boxes within ``[lo, hi]``, each bound moved in by a third or not (seeded)."""
    for trial in range(3):
        rng = np.random.default_rng(trial)
        low = lo + rng.integers(0, 2, len(lo)) * (hi - lo) // 3
        yield low, hi - rng.integers(0, 2, len(hi)) * (hi - low) // 3


def kept_within(
    program: IntegerProgram,
    relaxed: IntegerProgram,
    weight: Mapping[int, Fraction],
    low: np.ndarray,
    high: np.ndarray,
) -> Iterator[np.ndarray]:
    """Every allocation within ``[low, high]`` that keeps the budget, ``relaxed``'s rules and
    ``program``'s first order (units per weight exactly), enumerated."""
    levels = program.orders[0].levels
    for units in itertools.product(*(range(a, b + 1) for a, b in zip(low, high, strict=True))):
        x = np.array(units, dtype=np.int64)
        if int(x.sum()) != program.budget or relaxed.violations(x):
            continue
        if not any(
            min(Fraction(int(x[i])) / weight[i] for i in better.tolist())
            < max(Fraction(int(x[j])) / weight[j] for j in worse.tolist())
            for better, worse in itertools.pairwise(levels)
        ):
            yield x


@pytest.fixture(scope="module")
def regions() -> dict[int, tuple[dict[str, Any], Any]]:
    """The benchmark's 14 regions, ``weighted``, every rule, at four budgets: scenario and
    result."""
    out = {}
    for exponent in (3, 6, 9, 12):
        data = generate(InstanceSpec(14, "weighted", "all", budget=10**exponent))
        out[exponent] = (data, solve(Scenario.from_data(data)))
    return out


def _units(data: dict[str, Any], result: Any) -> np.ndarray:
    units = {a.id: a.units for a in result.allocations}
    return np.array([units[r["id"]] for r in data["recipients"]], dtype=np.int64)


def _exact_order(problem: Problem, x: np.ndarray) -> list[str]:
    """``grade_order`` in exact fractions (the benchmark's check compares float ratios, and
    at 10^12 units cannot tell an exact tie between grades from a break)."""
    bands = []
    for g in range(int(problem.level.max()) + 1):
        members = [i for i in np.flatnonzero(problem.level == g).tolist() if problem.weight[i] > 0]
        ratios = [Fraction(int(x[i])) / problem.weight_exact[i] for i in members]
        if ratios:
            bands.append((g, min(ratios), max(ratios)))
    return [
        f"grade {g} below grade {h}"
        for a, (g, low, _) in enumerate(bands)
        for h, _, high in bands[a + 1 :]
        if low < high
    ]


@pytest.mark.parametrize("exponent", [9, 12])
def test_the_14_regions_settle_at_large_budgets(
    regions: dict[int, tuple[dict[str, Any], Any]],
    exponent: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 11: refused "too large" before; now the search settles them, keeping every
    rule, with a tree both checkers accept (the engine's verify and the benchmark's, its
    grade_order check made exact)."""
    data, result = regions[exponent]
    assert result.status == "optimal" and result.solver.path == "search"
    problem = Problem.of(data)
    x = _units(data, result)
    assert replace(problem, grade_order=False).violations(x) == []
    assert _exact_order(problem, x) == []
    monkeypatch.setattr(Problem, "grade_order_violations", _exact_order)
    assert search_tree(problem, x, result.certificate) == []
    checks = verify(result.to_dict(), Scenario.from_data(data))
    (check,) = [c for c in checks if c.name == "certificate"]
    assert check.ok is True, check.detail
    leaves = {row.get("leaf") for row in result.certificate["nodes"]}
    assert "pruned" in leaves
    splits = [row["split"] for row in result.certificate["nodes"] if "split" in row]
    named = {split["member"] for split in splits if "member" in split}
    assert named <= {r["id"] for r in data["recipients"]}  # ids, as a reader looks them up
    assert "bounded by its linear relaxation" in result.message


@pytest.mark.parametrize("exponent", [3, 6])
def test_the_14_regions_keep_the_answer_of_the_search_without_the_bound(
    regions: dict[int, tuple[dict[str, Any], Any]],
    exponent: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data, result = regions[exponent]
    ent, _, program = build_program(Scenario.from_data(data))
    before = _unbounded(program.folded(), monkeypatch)
    assert before is not None and before.x is not None
    units = dict(zip(ent.ids, before.x.tolist(), strict=True))
    assert [a.units for a in result.allocations] == [units[a.id] for a in result.allocations]
    assert result.solver.path == "search"


def _bounded_certificate(seed: int) -> tuple[dict[str, Any], Scenario, Problem, np.ndarray]:
    data = search_scenario(seed, "weighted")
    scenario = Scenario.from_data(data)
    result = solve(scenario)
    assume(result.status == "optimal" and result.solver.path == "search")
    payload = result.to_dict()
    kinds = {row.get("leaf") for row in payload["certificate"]["nodes"]}
    assume("pruned" in kinds)
    problem = Problem.of(data)
    units = {a["id"]: a["units"] for a in payload["allocations"]}
    x = np.array([units[r["id"]] for r in data["recipients"]], dtype=np.int64)
    return payload, scenario, problem, x


def _checks(
    payload: dict[str, Any], scenario: Scenario, problem: Problem, x: np.ndarray
) -> tuple[bool, bool]:
    """Whether the engine's verify and the benchmark's checker accept the certificate."""
    (check,) = [c for c in verify(payload, scenario) if c.name == "certificate"]
    return bool(check.ok), search_tree(problem, x, payload["certificate"]) == []


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(SEEDS)
def test_a_tampered_pruned_leaf_is_caught(seed: int) -> None:
    """Both checkers accept the bounded search's tree; a pruned leaf's price pushed far
    (its Lagrangian then falls below the answer's cost), a negative order price, a pruned
    leaf said of the accepted node, or a member split moved past the answer: refused."""
    payload, scenario, problem, x = _bounded_certificate(seed)
    assert _checks(payload, scenario, problem, x) == (True, True)
    nodes = payload["certificate"]["nodes"]
    pruned = [row for row in nodes if row.get("leaf") == "pruned"]

    leaf = pruned[0]["node"]
    box = next(
        _Space.of(problem).box(path) for node, _, path in _leaves(problem, nodes) if node == leaf
    )
    if box is not None and int(box[0].sum()) < problem.budget < int(box[1].sum()):
        for shift in (10**9, -(10**9)):  # the Lagrangian then falls far below the cost
            pushed = copy.deepcopy(payload)
            for row in pushed["certificate"]["nodes"]:
                if row["node"] == leaf:
                    row["prices"]["budget"] = str(Fraction(row["prices"]["budget"]) + shift)
            if _checks(pushed, scenario, problem, x) == (False, False):
                break
        else:
            raise AssertionError("a budget price pushed far either way passed")

    priced = [row for row in pruned if row["prices"]["orders"]]
    if priced:
        negative = copy.deepcopy(payload)
        for row in negative["certificate"]["nodes"]:
            if row["node"] == priced[0]["node"]:
                entry = row["prices"]["orders"][0]
                side = "up" if entry["up"] else "down"
                name = next(iter(entry[side]))
                entry[side][name] = str(-Fraction(entry[side][name]))
        assert _checks(negative, scenario, problem, x) == (False, False)

    accepted = next(row for row in nodes if row.get("leaf") == "accepted")
    hidden = copy.deepcopy(payload)  # the optimum's own leaf said to be pruned
    for row in hidden["certificate"]["nodes"]:
        if row["node"] == accepted["node"]:
            row.update(leaf="pruned", prices=copy.deepcopy(pruned[0]["prices"]))
    assert _checks(hidden, scenario, problem, x) == (False, False)

    parent = next(
        (
            row
            for row in nodes
            if accepted["node"]
            in (row.get("split", {}).get("up"), row.get("split", {}).get("down"))
        ),
        None,
    )
    if parent is not None and "member" in parent["split"]:  # moved to exclude the answer
        split = parent["split"]
        ids = [r.id for r in scenario.recipients]
        name = split["member"]
        i = ids.index(name) if name in ids else ids.index(sorted(ids)[int(name[1:])])
        moved = copy.deepcopy(payload)
        for row in moved["certificate"]["nodes"]:
            if row["node"] == parent["node"]:
                up = row["split"]["up"] == accepted["node"]
                row["split"]["units"] = int(x[i]) + 1 if up else int(x[i])
        assert _checks(moved, scenario, problem, x) == (False, False)


def test_840_programmes_too_many_units_to_sort_are_searched_with_the_bound() -> None:
    """Issue 11: at 10^12 units the 840 programmes' ``weighted`` with every rule cannot be
    sorted; the search without the bound may open 24 nodes there and gave up (the MILP then
    refused, "too large"). With the bound it settles, its tree accepted by both checkers,
    every rule kept."""
    data = generate(InstanceSpec(840, "weighted", "all", budget=10**12))
    result = solve(Scenario.from_data(data))
    assert result.status == "optimal" and result.solver.path == "search", result.message
    assert "bounded by its linear relaxation" in result.message
    problem = Problem.of(data)
    x = _units(data, result)
    assert problem.violations(x) == [] and result.certificate is not None
    assert search_tree(problem, x, result.certificate) == []
    checks = verify(result.to_dict(), Scenario.from_data(data))
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    searcher = thresholds.ThresholdSearch(build_program(Scenario.from_data(data))[2].folded())
    assert searcher.exact is not None and searcher.bounded  # no table: the bound decides


def test_a_pruned_leaf_must_be_strictly_above_the_answer(
    regions: dict[int, tuple[dict[str, Any], Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pruned leaf whose bound only equals the answer's cost may hold an allocation as
    cheap, which the secondary cost could prefer: both checkers refuse it (the search
    prunes only on a bound strictly above the best allocation found)."""
    from benchmarks.certificate import _Space
    from optimizer import certificate_check

    data, result = regions[9]
    problem, x = Problem.of(data), _units(data, result)
    assert result.certificate is not None
    assert any(row.get("leaf") == "pruned" for row in result.certificate["nodes"])
    scenario = Scenario.from_data(data)
    (check,) = [c for c in verify(result.to_dict(), scenario) if c.name == "certificate"]
    assert check.ok is True and search_tree(problem, x, result.certificate) == []
    with monkeypatch.context() as patch:  # every pruned leaf's bound exactly the answer's cost
        patch.setattr(
            certificate_check,
            "_order_lagrangian",
            lambda data, *_: certificate_check._cost("weighted", data),
        )
        (check,) = [c for c in verify(result.to_dict(), scenario) if c.name == "certificate"]
        assert check.ok is False and "not above the answer's cost" in check.detail
    with monkeypatch.context() as patch:
        patch.setattr(_Space, "order_lagrangian", lambda space, *_: space.cost(x))
        assert any("<= cost" in line for line in search_tree(problem, x, result.certificate))
