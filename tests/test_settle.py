"""The screened repair (:func:`optimizer.exact.settle`) gives exactly the one-by-one repair's
optimum (:func:`optimizer.exact.repair` over every recipient, the reference here), on
random programs over a partition with exact ties (equal entitlements), near-ties
(entitlements a relative 1e-12 apart) and budgets up to 10^15, where the floating-point
keys cannot tell the units apart and the exact keys must decide.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import optimizer.exact
from optimizer import partition
from optimizer.apportion import key_screen
from optimizer.entitlement import IntArray
from optimizer.exact import ExactQuota, Groups, repair, settle
from optimizer.model import IntegerProgram, SubsetSum
from optimizer.objectives import MarginalCost
from optimizer.partition import Layout, feasible, nested_greedy
from tests.hypothesis_profile import examples

RULES = ("hamilton", "jefferson", "webster", "huntington-hill", "adams", "dean")
EXAMPLES = settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
BUDGETS = (
    st.integers(1, 400)
    | st.integers(10**9, 10**12)
    | st.integers(10**12, 10**15)
    | st.sampled_from([10**15, 10**15 - 1, 10**12 + 1])
)


@st.composite
def programs(draw: st.DrawFn, *, max_n: int = 30) -> IntegerProgram:
    """A program over a partition with decimal entitlements: many equal, many a relative
    1e-12 apart, some far apart; floors, caps and group bounds near where they bind."""
    rule = draw(st.sampled_from(RULES))
    budget = draw(BUDGETS)
    n = draw(st.integers(2, max_n))
    base = 10**12
    ent = [
        draw(
            st.sampled_from([0, base, base, base + 1, base + 2, 3 * base, 3 * base + 1])
            | st.integers(1, 10**13)
        )
        for _ in range(n)
    ]
    if not any(ent):
        ent[0] = base
    total = sum(ent)
    exact = ExactQuota.of_entitlements(budget, ent)
    e = np.array(ent, dtype=np.float64)
    quota = budget * e / e.sum()
    order = sorted(range(n), key=lambda j: (-ent[j], j))  # larger entitlement, then id
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    share = [budget * v // total for v in ent]
    lo = np.array(
        [draw(st.sampled_from([0, 0, s // 2, max(s - 1, 0)])) for s in share], dtype=np.int64
    )
    hi = np.array(
        [draw(st.sampled_from([budget, budget, s + 1, s + 2, 2 * s + 1])) for s in share],
        dtype=np.int64,
    )
    hi = np.maximum(hi, lo)
    groups = draw(st.integers(0, 4))
    label = [draw(st.integers(0, groups)) for _ in range(n)]  # label == groups: ungrouped
    sums = []
    for g in range(groups):
        members = np.array([i for i in range(n) if label[i] == g], dtype=np.int64)
        if not len(members):
            continue
        fair = sum(share[i] for i in members.tolist())
        lower = draw(st.sampled_from([None, fair - 1, fair + 1, fair + fair // 10]))
        upper = draw(st.sampled_from([None, fair, fair - 1, fair - fair // 10]))
        if lower is None and upper is None:
            upper = fair
        sums.append(SubsetSum(f"g{g}", members, lower, upper))
    program = IntegerProgram(
        budget, lo, hi, tuple(sums), (), MarginalCost(rule, quota, rank, exact)
    )
    assume(feasible(program))
    return program


def _groups(program: IntegerProgram) -> Groups:
    layout = Layout.of(program)
    group_of = np.full(program.size, len(layout.starts), dtype=np.int64)
    ends = np.append(layout.starts, layout.grouped)[1:]
    for g, (a, b) in enumerate(zip(layout.starts.tolist(), ends.tolist(), strict=True)):
        group_of[layout.order[a:b]] = g
    return Groups(group_of, layout.lower.tolist(), layout.upper.tolist())


def _one_by_one(
    x: IntArray, lo: IntArray, hi: IntArray, budget: int, key: Any, groups: Groups, screen: Any
) -> IntArray:
    """The previous final step of the nested greedy: the repair over every recipient."""
    return repair(x, lo, hi, budget, key, groups)


@EXAMPLES
@given(programs())
def test_nested_greedy_equals_the_one_by_one_repair(program: IntegerProgram) -> None:
    found = nested_greedy(program)
    with mock.patch.object(partition, "settle", _one_by_one):
        reference = nested_greedy(program)
    assert found is not None and reference is not None
    assert found.tolist() == reference.tolist()
    assert int(found.sum()) == program.budget


def _moved(
    program: IntegerProgram, x: IntArray, groups: Groups, moves: list[tuple[int, int]]
) -> IntArray:
    """``x`` after the single-unit moves (from, to) that keep every bound and group bound."""
    y = x.copy()
    group_of = np.asarray(groups.group_of)
    count = len(groups.lower)
    lower, upper = [*groups.lower, -1], [*groups.upper, program.budget + 1]
    for a, b in moves:
        i, j = a % program.size, b % program.size
        g, h = int(group_of[i]), int(group_of[j])
        if i == j or y[i] <= program.lo[i] or y[j] >= program.hi[j]:
            continue
        if g != h:
            totals = np.bincount(group_of, weights=y, minlength=count + 1)
            if totals[g] - 1 < lower[g] or totals[h] + 1 > upper[h]:
                continue
        y[i] -= 1
        y[j] += 1
    return y


@EXAMPLES
@given(programs(), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)), max_size=8))
def test_settle_from_a_disturbed_optimum_is_the_optimum(
    program: IntegerProgram, moves: list[tuple[int, int]]
) -> None:
    """From the optimum with a few units moved (inside groups, between them, to and from
    free recipients): the screened repair and the one-by-one repair both give it back."""
    assert isinstance(program.cost, MarginalCost)
    groups = _groups(program)
    best = nested_greedy(program)
    assert best is not None
    start = _moved(program, best, groups, moves)
    screen = key_screen(program.cost)
    assert screen is not None
    args = (start, program.lo, program.hi, program.budget, program.cost.key, groups)
    assert repair(*args).tolist() == best.tolist()
    assert settle(*args, screen).tolist() == best.tolist()


def test_settle_repairs_only_the_recipients_near_the_threshold() -> None:
    """The marginal unit of 2,000 recipients at a budget of 10^12 swapped with the first
    one left out: the exact exchanges run over those two (and their exact ties), not over
    everyone."""
    rng = np.random.default_rng(7)
    n, budget = 2000, 10**12
    ent = rng.integers(10**6, 10**7, n).tolist()
    e = np.array(ent, dtype=np.float64)
    order = sorted(range(n), key=lambda j: (-ent[j], j))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    cost = MarginalCost(
        "hamilton", budget * e / e.sum(), rank, ExactQuota.of_entitlements(budget, ent)
    )
    halves = (np.arange(n) % 2).astype(np.int64)
    members = tuple(SubsetSum(f"g{g}", np.flatnonzero(halves == g), None, None) for g in (0, 1))
    program = IntegerProgram(
        budget, np.zeros(n, dtype=np.int64), np.full(n, budget, dtype=np.int64), members, (), cost
    )
    best = nested_greedy(program)
    assert best is not None
    groups = _groups(program)
    last = max(range(n), key=lambda i: cost.key(i, int(best[i]) - 1))
    first = min(range(n), key=lambda i: cost.key(i, int(best[i])))
    start = best.copy()
    start[last] -= 1
    start[first] += 1
    sizes: list[int] = []
    real = optimizer.exact.repair

    def recorded(x: IntArray, *rest: Any) -> IntArray:
        sizes.append(len(x))
        return real(x, *rest)

    screen = key_screen(cost)
    assert screen is not None
    with mock.patch.object(optimizer.exact, "repair", recorded):
        got = settle(start, program.lo, program.hi, budget, cost.key, groups, screen)
        again = settle(best, program.lo, program.hi, budget, cost.key, groups, screen)
    assert got.tolist() == best.tolist() == again.tolist()
    assert len(sizes) == 1 and 2 <= sizes[0] <= 5  # the optimum needs no exchange at all


def test_units_of_priority_zero_at_a_large_budget() -> None:
    """Under a divisor method, when the recipients with a quota are capped, 10^12 units go
    to those without one (priority 0, by rank): no floating-point threshold places them,
    and the nested greedy must not hand them to the exchanges one by one."""
    budget = 10**12
    ent = [3, 0, 0, 1]
    e = np.array(ent, dtype=np.float64)
    cost = MarginalCost(
        "jefferson",
        budget * e / e.sum(),
        np.array([0, 2, 3, 1], dtype=np.int64),
        ExactQuota.of_entitlements(budget, ent),
    )
    lo = np.zeros(4, dtype=np.int64)
    hi = np.array([5, budget, budget, 7], dtype=np.int64)
    sums = (SubsetSum("g", np.array([0, 1]), None, budget // 3),)
    program = IntegerProgram(budget, lo, hi, sums, (), cost)
    found = nested_greedy(program)
    assert found is not None
    # a and d fill their caps, b (rank 2) takes what the group leaves it, c the rest
    assert found.tolist() == [5, budget // 3 - 5, budget - budget // 3 - 7, 7]
