"""The threshold search's certificate (:func:`optimizer.certificate.search_certificate`)
checked by the benchmark's independent checker (:func:`benchmarks.certificate.search_tree`,
which imports nothing from the engine): accepted on random programs the search settles,
rejected when the allocation, the tree or a bound is tampered with."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from dataclasses import replace
from fractions import Fraction
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from benchmarks.certificate import engine_certificate, search_tree
from benchmarks.check import Problem, compare
from benchmarks.instances import InstanceSpec, generate
from optimizer import thresholds
from optimizer.cli import certificate_line
from optimizer.result import Result, Status
from optimizer.scenario import Scenario
from optimizer.solve import solve
from tests.hypothesis_profile import examples

EXAMPLES = settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
GRADES: list[dict[str, Any]] = [
    {"grade": "S", "min_score": 90, "multiplier": 1.3},
    {"grade": "A", "min_score": 80, "multiplier": 1.1},
    {"grade": "B", "min_score": 60, "multiplier": 1.0},
    {"grade": "C", "min_score": 0, "multiplier": 0.8},
]


def _multiplier(score: float) -> float:
    return next(float(g["multiplier"]) for g in GRADES if score >= g["min_score"])


def search_scenario(seed: int, objective: str) -> dict[str, Any]:
    """4 to 12 recipients in four grades with decimal weights, last year's units around
    their quota and a change limit (which pulls against ``grade_order``), maybe bands on
    two regions and a group rule on a second tag overlapping them."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 13))
    budget = int(rng.integers(4 * n, 15 * n))
    score = rng.choice([55.0, 62.5, 70.0, 81.0, 88.0, 92.5, 97.0], n)
    weight = rng.choice([0.5, 0.8, 1.0, 1.25, 2.0, 3.0], n)
    quota = np.array([w * s * _multiplier(s) for w, s in zip(weight, score, strict=True)])
    quota = budget * quota / quota.sum()
    recipients = [
        {
            "id": f"p{i:02d}",
            "score": float(score[i]),
            "weight": float(weight[i]),
            "previous": round(quota[i] * rng.uniform(0.5, 1.5) * (1.2 - score[i] / 400)),
            "tags": {
                "region": str(rng.choice(["r1", "r2", "r3"])),
                "kind": str(rng.choice(["a", "b"])),
            },
        }
        for i in range(n)
    ]
    rules: list[dict[str, Any]] = [
        {"type": "change_limit", "max_decrease": 0.3, "max_increase": 0.5},
        {"type": "grade_order"},
    ]
    for region in ("r1", "r2"):
        members = [i for i, r in enumerate(recipients) if r["tags"]["region"] == region]
        if members and rng.random() < 0.6:
            share = float(quota[members].sum() / budget)
            rules.append(
                {
                    "type": "group",
                    "tag": "region",
                    "value": region,
                    "name": f"{region} band",
                    "min_share": round(share * 0.9, 2),
                    "max_share": round(min(1.0, share * 1.05), 2),
                }
            )
    if rng.random() < 0.3 and any(r["tags"]["kind"] == "a" for r in recipients):
        rules.append(
            {"type": "group", "tag": "kind", "value": "a", "name": "kind a", "max_share": 0.9}
        )
    kind: dict[str, Any] = {"kind": objective}
    if objective == "hamilton":
        kind = {"kind": "proportional", "method": "hamilton"}
    return {
        "name": f"search {seed}",
        "budget": budget,
        "grades": GRADES,
        "recipients": recipients,
        "objective": kind,
        "rules": rules,
    }


def _solved(data: dict[str, Any]) -> tuple[Problem, np.ndarray, Result]:
    result = solve(Scenario.from_data(data))
    problem = Problem.of(data)
    units = {a.id: a.units for a in result.allocations}
    x = np.array([units.get(r["id"], 0) for r in data["recipients"]], dtype=np.int64)
    return problem, x, result


def _searched(seed: int, objective: str) -> tuple[Problem, np.ndarray, dict[str, Any]]:
    """A random scenario the search settled, with its certificate (else the example is
    discarded)."""
    data = search_scenario(seed, objective)
    problem, x, result = _solved(data)
    assume(result.status == Status.OPTIMAL and result.solver.path == "search")
    assert result.certificate is not None and result.certificate["kind"] == "threshold_search"
    note(f"nodes: {result.certificate['nodes']}")
    return problem, x, result.certificate


@contextlib.contextmanager
def unbounded() -> Iterator[None]:
    """The search without the relaxation bound, every node a nested greedy: its trees have
    open leaves with their prices ("bound"), as Hamilton's and large sorted programs' do.
    ``weighted`` trees of the bounded search close such nodes as pruned leaves instead
    (tested in tests/test_threshold_bound.py), so "bound" leaves would be rare."""
    with mock.patch.object(thresholds.ThresholdSearch, "_pruning", lambda self: None):
        yield


SEEDS = st.integers(0, 10**6)
OBJECTIVES = st.sampled_from(["hamilton", "weighted"])
EVERY_OBJECTIVE = st.sampled_from(["hamilton", "weighted", "maxmin"])
"""``maxmin``'s tree is the search with every floor one step above the answer's smallest
units per quota: all its leaves are empty (no accepted or bound leaf to tamper with)."""


@EXAMPLES
@given(SEEDS, EVERY_OBJECTIVE)
def test_the_checker_accepts_the_searchs_certificate(seed: int, objective: str) -> None:
    problem, x, certificate = _searched(seed, objective)
    assert search_tree(problem, x, certificate) == []
    verdict = compare(problem, x, "optimal", None, "not run", certificate)
    assert verdict.ok and verdict.relation == "certified", verdict


@EXAMPLES
@given(SEEDS, EVERY_OBJECTIVE)
def test_a_worse_allocation_is_rejected_under_the_same_certificate(
    seed: int, objective: str
) -> None:
    """Every single-unit move away from the optimum that keeps every rule costs more (or
    the same: a tie) and must then be refused; a move that breaks a rule is refused too."""
    problem, x, certificate = _searched(seed, objective)
    best = problem.cost(x)
    for i in range(len(x)):
        for j in range(len(x)):
            if i == j or x[i] == 0:
                continue
            y = x.copy()
            y[i] -= 1
            y[j] += 1
            if problem.violations(y):
                assert search_tree(problem, y, certificate) != []
            elif problem.cost(y) > best + 1e-9:
                assert search_tree(problem, y, certificate) != [], (i, j)


def _nodes(certificate: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {int(row["node"]): row for row in certificate["nodes"]}


@EXAMPLES
@given(SEEDS, OBJECTIVES, st.data())
def test_a_tampered_tree_is_rejected(seed: int, objective: str, data: st.DataObject) -> None:
    problem, x, certificate = _searched(seed, objective)
    nodes = _nodes(certificate)

    dropped = copy.deepcopy(certificate)  # a node missing: the leaves no longer cover
    del dropped["nodes"][data.draw(st.integers(0, len(nodes) - 1))]
    assert search_tree(problem, x, dropped) != []

    accepted = next(n for n, row in nodes.items() if row.get("leaf") == "accepted")
    hidden = copy.deepcopy(certificate)  # the optimum's own leaf said to hold nothing
    for row in hidden["nodes"]:
        if int(row["node"]) == accepted:
            row["leaf"] = "empty"
    others = [n for n, row in nodes.items() if row.get("leaf") in ("bound", "empty")]
    if others:  # and another leaf said to be the accepted one
        moved = data.draw(st.sampled_from(others))
        for row in hidden["nodes"]:
            if int(row["node"]) == moved:
                row["leaf"] = "accepted"
    assert search_tree(problem, x, hidden) != []

    splits = [n for n, row in nodes.items() if "better" in row.get("split", {})]
    if splits:  # a split the wrong way round: grade_order does not make it a cover
        swapped = copy.deepcopy(certificate)
        row = next(r for r in swapped["nodes"] if int(r["node"]) == splits[0])
        row["split"]["better"], row["split"]["worse"] = (
            row["split"]["worse"],
            row["split"]["better"],
        )
        assert search_tree(problem, x, swapped) != []


@EXAMPLES
@given(SEEDS, OBJECTIVES)
def test_a_bound_leafs_prices_are_checked(seed: int, objective: str) -> None:
    """A budget price pushed far either way makes a leaf's Lagrangian bound fall below the
    optimum's cost (unless the leaf's bounds leave no slack against the budget); a price
    of the wrong sign on a group rule is refused outright."""
    with unbounded():
        problem, x, certificate = _searched(seed, objective)
    bound = [n for n, row in _nodes(certificate).items() if row.get("leaf") == "bound"]
    assume(bound)
    rejected = []
    for shift in (10**6, -(10**6)):
        pushed = copy.deepcopy(certificate)
        for row in pushed["nodes"]:
            if int(row["node"]) == bound[0]:
                row["prices"]["budget"] = str(Fraction(row["prices"]["budget"]) + shift)
        rejected.append(search_tree(problem, x, pushed) != [])
    assert any(rejected)
    groups = [
        (n, k)
        for n, row in _nodes(certificate).items()
        if row.get("leaf") == "bound"
        for k in range(len(row["prices"]["groups"]))
    ]
    if groups:
        node, k = groups[0]
        wrong = copy.deepcopy(certificate)
        for row in wrong["nodes"]:
            if int(row["node"]) == node:
                price = row["prices"]["groups"][k]
                price["price"] = str(-Fraction(price["price"]))
        assert any("price" in line for line in search_tree(problem, x, wrong))


def test_the_certificate_is_checked_for_its_objective_and_rules() -> None:
    """A search certificate only proves a grade_order program's Hamilton or weighted
    optimum, and only for an allocation that keeps every rule."""
    problem, x, certificate = _first_searched("hamilton")
    assert search_tree(replace(problem, kind="weighted"), x, certificate) != []
    assert search_tree(replace(problem, grade_order=False), x, certificate) != []
    broken = x.copy()
    broken[0] += 1
    assert any("breaks" in line for line in search_tree(problem, broken, certificate))


def _first_searched(objective: str) -> tuple[Problem, np.ndarray, dict[str, Any]]:
    for seed in range(200):
        problem, x, result = _solved(search_scenario(seed, objective))
        if result.solver.path == "search" and result.status == Status.OPTIMAL:
            assert result.certificate is not None
            return problem, x, result.certificate
    raise AssertionError("no seed below 200 takes the search path")  # pragma: no cover


@pytest.mark.parametrize("objective", ["hamilton", "weighted", "maxmin"])
def test_the_840_programme_rows_with_every_rule_carry_a_checked_tree(objective: str) -> None:
    """The benchmark's 840 programmes with every rule take the search, and each carries a
    tree the checker accepts (maxmin: the floors one step higher hold nothing)."""
    data = generate(InstanceSpec(840, objective, "all"))
    problem, x, result = _solved(data)
    assert result.solver.path == "search"
    assert result.certificate is not None
    if objective == "maxmin":
        assert {row.get("leaf") for row in result.certificate["nodes"]} <= {None, "empty"}
        assert search_tree(problem, x, result.certificate) == []
        return
    splits = sum(1 for row in result.certificate["nodes"] if "split" in row)
    assert splits >= 1  # grade_order binds: the root was split
    assert search_tree(problem, x, result.certificate) == []
    line = certificate_line(result.certificate)  # what `allot solve` prints
    assert line is not None and f"{len(result.certificate['nodes'])} nodes: " in line
    assert f"{splits} split" in line and "1 accepted" in line


def test_a_divisor_method_settled_at_the_root_carries_a_tree_without_bounds() -> None:
    """10,000 firms with every rule at 10^9 units under Webster: the search settles it at
    its first node (bounds the grade order implies, no split), so the tree is one accepted
    leaf, which needs no Lagrangian bound (none is checked for a divisor method); the
    checker accepts it, and refuses a bound leaf put in its place."""
    data = generate(InstanceSpec(10_000, "webster", "all", budget=10**9))
    problem, x, result = _solved(data)
    assert result.solver.path == "search"
    assert result.certificate is not None
    assert result.certificate["nodes"] == [{"node": 1, "leaf": "accepted"}]
    assert search_tree(problem, x, result.certificate) == []
    assert compare(problem, x, "optimal", None, "not run", result.certificate).relation == (
        "certified"
    )
    bounded = copy.deepcopy(result.certificate)
    bounded["nodes"] = [
        {"node": 1, "split": {"better": "S", "worse": "A", "ratio": "0", "up": 2, "down": 3}},
        {"node": 2, "leaf": "bound", "prices": {"budget": "0", "groups": []}},
        {"node": 3, "leaf": "accepted"},
    ]
    assert any("no Lagrangian bound" in line for line in search_tree(problem, x, bounded))


def _scaled(data: dict[str, Any], factor: int) -> dict[str, Any]:
    """The same scenario counted in a unit ``factor`` times smaller: budget and last year's
    units times ``factor`` (the rules are shares and ratios)."""
    out = copy.deepcopy(data)
    out["budget"] *= factor
    for r in out["recipients"]:
        r["previous"] *= factor
    return out


@settings(EXAMPLES, max_examples=examples(15))
@given(SEEDS, EVERY_OBJECTIVE)
def test_many_units_a_recipient_are_searched_exactly_to_the_sorted_searchs_answer(
    seed: int, objective: str
) -> None:
    """Past :data:`thresholds.EXACT_FROM` units a recipient the search runs in exact
    arithmetic although the units would fit a sorted table; the answer is the sorted
    search's, and the independent checker certifies it."""
    data = _scaled(search_scenario(seed, objective), 10_000)
    problem, x, result = _solved(data)
    assume(result.status == Status.OPTIMAL and result.solver.path == "search")
    with mock.patch.object(thresholds, "EXACT_FROM", 10**12):
        _, sorted_x, sorted_result = _solved(data)
    assert sorted_result.solver.path == "search"
    assert x.tolist() == sorted_x.tolist()
    verdict = compare(problem, x, "optimal", None, "not run", result.certificate)
    assert verdict.ok and verdict.relation == "certified", verdict


@settings(EXAMPLES, max_examples=examples(15))
@given(SEEDS, EVERY_OBJECTIVE)
def test_at_10_9_units_a_recipient_the_search_is_certified_or_gives_up(
    seed: int, objective: str
) -> None:
    """Counted to the won (10^8 times finer), the run settles the scenario (what it settles
    keeps every rule and the independent checker certifies it), proves it infeasible with a
    diagnosis, or hands it to the MILP, which refuses "too large"."""
    data = _scaled(search_scenario(seed, objective), 10**8)
    problem, x, result = _solved(data)
    if result.status == Status.ERROR:
        assert result.message.startswith("too large: the MILP"), result.message
        return
    if result.status == Status.INFEASIBLE:
        assert result.diagnosis is not None
        return
    assert result.status == Status.OPTIMAL, result.message
    assert int(x.sum()) == data["budget"]
    verdict = compare(problem, x, "optimal", None, "not run", result.certificate)
    assert verdict.ok and verdict.relation == "certified", (result.solver.path, verdict)


def test_the_checker_folds_a_group_rule_over_one_recipient_into_its_bounds() -> None:
    """Seed 7271: the r2 band (4% exactly) holds one recipient, which Allot folds into its
    floor and cap; the greedy's certificate clips it there, and the checker must too."""
    data = _scaled(search_scenario(7271, "hamilton"), 10_000)
    band = [r for r in data["rules"] if r.get("name") == "r2 band"]
    assert band and band[0]["min_share"] == band[0]["max_share"]
    assert sum(r["tags"]["region"] == "r2" for r in data["recipients"]) == 1
    problem, x, result = _solved(data)
    assert result.status == Status.OPTIMAL and result.certificate is not None
    assert result.certificate["kind"] == "largest_remainder"
    assert engine_certificate(problem, x, result.certificate) == []
    verdict = compare(problem, x, "optimal", None, "not run", result.certificate)
    assert verdict.ok and verdict.relation == "certified", verdict
