"""The tie search on whole arrays (:func:`optimizer.ties.find_ties`) lists exactly the ties
of its definition, checked pair by pair here: a unit of ``i`` whose cost (the exact key
without the rank) equals that of ``j``'s next unit, moved from ``i`` to ``j`` with every
floor, cap, group rule (several at their minimum or maximum at once) and grade order
kept. Each tie names every such giver and taker of one cost, listed by rank.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from optimizer.exact import ExactQuota
from optimizer.model import IntegerProgram, RatioOrder, SubsetSum
from optimizer.objectives import MarginalCost
from optimizer.partition import feasible, nested_greedy
from optimizer.solvers.bruteforce import optima
from optimizer.ties import MAX_LISTED, find_ties
from tests.hypothesis_profile import examples

RULES = ("hamilton", "jefferson", "webster", "huntington-hill", "adams", "weighted")
EXAMPLES = settings(
    max_examples=examples(200),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@st.composite
def programs(draw: st.DrawFn) -> IntegerProgram:
    """Equal entitlements (exact ties) in several groups whose bounds bind."""
    ordered = draw(st.integers(0, 3)) == 0  # a grade order: brute force finds the optimum
    n = draw(st.integers(2, 6 if ordered else 9))
    budget = draw(st.integers(1, 30 if ordered else 40))
    ent = [draw(st.sampled_from([0, 1, 2, 2, 3, 6])) for _ in range(n)]
    if not any(ent):
        ent[0] = 1
    e = np.array(ent, dtype=np.float64)
    quota = budget * e / e.sum()
    order = sorted(range(n), key=lambda j: (-ent[j], j))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    lo = np.array([draw(st.integers(0, 2)) for _ in range(n)], dtype=np.int64)
    hi = np.array([draw(st.sampled_from([budget, 3, 5])) for _ in range(n)], dtype=np.int64)
    hi = np.maximum(hi, lo)
    groups = draw(st.integers(0, 3))
    label = [draw(st.integers(0, groups)) for _ in range(n)]
    sums = []
    for g in range(groups):
        members = np.array([i for i in range(n) if label[i] == g], dtype=np.int64)
        if len(members):
            lower = draw(st.none() | st.integers(0, budget))
            upper = draw(st.none() | st.integers(0, budget))
            sums.append(SubsetSum(f"g{g}", members, lower, upper))
    orders: tuple[RatioOrder, ...] = ()
    if ordered:  # over two levels
        better = np.array([i for i in range(n) if i % 2 == 0], dtype=np.int64)
        worse = np.array([i for i in range(n) if i % 2 == 1], dtype=np.int64)
        orders = (RatioOrder("order", (better, worse), np.maximum(e, 1.0)),)
    rule = draw(st.sampled_from(RULES))
    exact = ExactQuota.of_entitlements(budget, ent)
    program = IntegerProgram(
        budget, lo, hi, tuple(sums), orders, MarginalCost(rule, quota, rank, exact)
    )
    assume(orders or feasible(program))
    return program


def _cost(program: IntegerProgram, i: int, k: int) -> Any:
    """The exact key of unit ``k`` of ``i`` without the rank, from its definition."""
    cost = program.cost
    assert isinstance(cost, MarginalCost)
    q = Fraction(cost.exact.numer[i], cost.exact.denom)
    if cost.rule == "hamilton":
        return k - q
    if cost.rule == "weighted":
        return (-q, k - q)
    d2 = {
        "jefferson": Fraction(k + 1) ** 2,
        "webster": Fraction(2 * k + 1, 2) ** 2,
        "adams": Fraction(k) ** 2,
        "huntington-hill": Fraction(k * (k + 1)),
    }[cost.rule]
    if d2 == 0:
        return (0, -q)
    return (1, d2 / (q * q) if q else None)


def _pairwise(program: IntegerProgram, x: np.ndarray) -> dict[Any, tuple[set[int], set[int]]]:
    """Per cost value, the givers and takers of the moves that keep every rule."""
    out: dict[Any, tuple[set[int], set[int]]] = {}
    n = program.size
    for i in range(n):
        for j in range(n):
            if i == j or x[i] <= program.lo[i] or x[j] >= program.hi[j]:
                continue
            value = _cost(program, i, int(x[i]) - 1)
            if value != _cost(program, j, int(x[j])):
                continue
            moved = x.copy()
            moved[i] -= 1
            moved[j] += 1
            if program.violations(moved):
                continue
            gave, took = out.setdefault(value, (set(), set()))
            gave.add(i)
            took.add(j)
    return out


@EXAMPLES
@given(programs())
def test_ties_are_the_moves_of_equal_cost_that_keep_every_rule(program: IntegerProgram) -> None:
    if program.orders:
        found = optima(program)
        assume(found)
        x = np.array(found[0], dtype=np.int64)
    else:
        solved = nested_greedy(program)
        assert solved is not None
        x = solved
    ids = [f"r{i:02d}" for i in range(program.size)]
    ties = find_ties(program, x, ids, "order")
    rank = program.cost.rank if isinstance(program.cost, MarginalCost) else None
    assert rank is not None
    expected = []
    for gave, took in _pairwise(program, x).values():
        by_rank_g = sorted(gave, key=lambda i: int(rank[i]))
        by_rank_t = sorted(took, key=lambda j: int(rank[j]))
        expected.append(
            (
                len(gave),
                tuple(ids[i] for i in by_rank_g[:MAX_LISTED]),
                tuple(ids[j] for j in by_rank_t[:MAX_LISTED]),
            )
        )
    expected.sort(key=lambda t: (t[1], t[2]))
    assert [(t.units, t.given, t.passed) for t in ties] == expected
