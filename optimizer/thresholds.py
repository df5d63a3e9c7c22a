"""``grade_order`` without a MILP: an exact search over the grade thresholds.

The rule asks, for every two adjacent grade levels, ``min x_i / w_i`` over the better one
to be at least ``max x_j / w_j`` over the worse one; equivalently, some threshold ``t``
lies between them. For a fixed interval of thresholds the rule is nothing but bounds
(``x_i >= t_low w_i`` for the better level, ``x_j <= t_high w_j`` for the worse), and a
program of bounds and disjoint group rules is solved exactly by the nested greedy
(:mod:`optimizer.partition`). So the search is a best-first branch and bound over threshold
intervals:

- a *node* is the program with the bounds its intervals imply (propagated along the chain
  of levels: a worse level's floors raise the better level's, a better level's caps lower
  the worse one's); its nested-greedy optimum is the best any allocation in the node can do;
- when that optimum breaks the rule between two levels (the better one's smallest ratio
  ``a`` below the worse one's largest ``c``), the node splits at ``m = (a + c) / 2``: either
  every better recipient has at least ``m`` per weight (floors rise) or every worse one has
  less (caps fall). Every allocation of the node that keeps the rule is in one of the two,
  and neither keeps the optimum that broke it, so the search ends;
- nodes leave a heap in the order of their optimum (primary, secondary, tertiary cost, then
  the larger units in rank order). The first one whose optimum keeps every rule is the
  optimum of the whole program: every other node's optimum is at least as costly, and a
  node's other allocations cost strictly more than its optimum (the nested greedy's optimum
  is unique), so no tie is missed either.

The search gives up (returns ``None``, and the MILP takes over) when an optimum keeps every
order but breaks a group rule that overlaps another (those are not bounds for any
threshold), or after :data:`MAX_NODES` nodes: the count, not a clock, so the same scenario
takes the same path on every machine.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np

from optimizer.entitlement import FloatArray, IntArray
from optimizer.exact import simplest_ratio
from optimizer.model import IntegerProgram
from optimizer.objectives import UnitTable
from optimizer.partition import Layout, SortedUnits, relaxation, solve_structured
from optimizer.solvers.base import tie_order

MAX_NODES = 4000
MAX_SORTED_UNITS = 5_000_000
"""Beyond this many units between the bounds the search does not sort them: it settles
the program at its root node (exact bounds, exact nested greedy) or gives up."""
"""Nodes the search may open before it leaves the program to the MILP."""
_TOL = 1e-9
"""The tolerance of :meth:`IntegerProgram.violations` on ratios, used the same way here."""


@dataclass(frozen=True)
class Searched:
    """What the search found: the optimum (None: no allocation keeps the rules) and how many
    nodes it opened."""

    x: IntArray | None
    nodes: int


_Pair = tuple[IntArray, FloatArray, IntArray, FloatArray]
"""Two adjacent levels of an order, better first, each with its members' weights."""


def search(program: IntegerProgram, *, first_feasible: bool = False) -> Searched | None:
    """The optimum of ``program`` (which has grade orders) by the threshold search, or None
    when the search cannot settle it (see the module docstring). ``first_feasible``: stop at
    the first allocation that keeps every rule, optimal or not (a feasibility test)."""
    return ThresholdSearch(program).run(first_feasible=first_feasible)


class ThresholdSearch:
    """The search over one program, prepared once (units sorted, levels paired) for any
    number of runs under raised floors: ``maxmin`` asks for one run per floor it tries."""

    def __init__(self, program: IntegerProgram) -> None:
        self.program = program.tightened()  # the same allocations, fewer units to sort
        self.relaxed, _ = relaxation(self.program)
        self.pairs: tuple[_Pair, ...] = tuple(
            (better, order.weight[better], worse, order.weight[worse])
            for order in self.program.orders
            for better, worse in zip(order.levels, order.levels[1:], strict=False)
        )
        self.root_only = self.program.window() > MAX_SORTED_UNITS
        if self.root_only:
            return
        table = self.program.units()
        self.units = SortedUnits(self.relaxed, Layout.of(self.relaxed), table)
        self.values = _Values(self.program, table)

    def _root(self, program: IntegerProgram) -> Searched | None:
        """A program too large to sort its units: the root node alone, with its bounds
        propagated exactly; settled when that node is empty or its optimum (the exact
        nested greedy) keeps every rule, else None (nodes could not be compared
        exactly at this size)."""
        bounds = _propagate_exact(program.lo.copy(), program.hi.copy(), self.pairs)
        if bounds is None:
            return Searched(None, 1)
        x = solve_structured(replace(self.relaxed, lo=bounds[0], hi=bounds[1]))
        if x is None:
            return Searched(None, 1)
        if program.violations(x):
            return None
        return Searched(x, 1)

    def run(
        self, floors: IntArray | None = None, *, first_feasible: bool = False
    ) -> Searched | None:
        """Search the program with its floors raised to ``floors`` (None: as they are)."""
        program = self.program
        if floors is not None:
            program = replace(program, lo=np.maximum(program.lo, floors))
        if self.root_only:
            return self._root(program)
        relaxed, units, values, pairs = self.relaxed, self.units, self.values, self.pairs
        heap: list[tuple[tuple[int, ...], int, IntArray, IntArray, IntArray]] = []
        opened = 0

        def push(lo: IntArray, hi: IntArray) -> None:
            nonlocal opened
            opened += 1
            bounds = _propagate(lo, hi, pairs)
            if bounds is None:
                return
            x = units.solve(replace(relaxed, lo=bounds[0], hi=bounds[1]))
            if x is None:
                return
            entry = (values.key(x), opened, bounds[0], bounds[1], x)
            if first_feasible:
                heap.append(entry)  # a stack: depth first, the newest node next
            else:
                heapq.heappush(heap, entry)

        push(program.lo.copy(), program.hi.copy())
        while heap:
            _, _, lo, hi, x = heap.pop() if first_feasible else heapq.heappop(heap)
            split = _worst_pair(x, pairs)
            if split is None:
                if program.violations(x):  # an overlapping group rule: no threshold's bound
                    return None
                return Searched(x, opened)
            if opened + 2 > MAX_NODES:
                return None
            (better, w_better, worse, w_worse), m = split
            up = lo.copy()
            up[better] = np.maximum(up[better], _at_least(m, w_better))
            push(up, hi.copy())
            down = hi.copy()
            down[worse] = np.minimum(down[worse], _at_most(m, w_worse))
            push(lo.copy(), down)
        return Searched(None, opened)


class _Values:
    """The (primary, secondary, tertiary) cost of an allocation relative to the program's
    floors, then its units in rank order negated (larger units first break exact ties),
    from prefix sums of the program's unit costs (``table``). Floors raised later shift
    every allocation's cost by the same amount: the order is the same."""

    def __init__(self, program: IntegerProgram, table: UnitTable) -> None:
        self.lo = program.lo
        self.start = table.start[:-1]
        self.primary = np.concatenate([[0], np.cumsum(table.primary)])
        self.secondary = np.concatenate([[0], np.cumsum(table.secondary)])
        self.rank = program.cost.tertiary(np.arange(program.size)).astype(np.int64)
        self.ranked = tie_order(program)

    def key(self, x: IntArray) -> tuple[int, ...]:
        end = self.start + (x - self.lo)
        return (
            int((self.primary[end] - self.primary[self.start]).sum()),
            int((self.secondary[end] - self.secondary[self.start]).sum()),
            int((self.rank * (x - self.lo)).sum()),
            *(-x[self.ranked]).tolist(),
        )


def _at_least(ratio: float, weight: FloatArray) -> IntArray:
    """The fewest units giving ``ratio`` per weight (within the tolerance)."""
    k = np.ceil((ratio - _TOL) * weight)
    k = np.where((k - 1) / weight >= ratio - _TOL, k - 1, k)
    return np.maximum(k, 0).astype(np.int64)


def _at_most(ratio: float, weight: FloatArray) -> IntArray:
    """The most units giving at most ``ratio`` per weight (within the tolerance)."""
    k = np.floor((ratio + _TOL) * weight)
    k = np.where((k + 1) / weight <= ratio + _TOL, k + 1, k)
    return k.astype(np.int64)


def _propagate(
    lo: IntArray, hi: IntArray, pairs: tuple[_Pair, ...]
) -> tuple[IntArray, IntArray] | None:
    """Bounds the orders imply, to a fixed point: a better level takes at least the worse
    level's largest floor per weight, a worse one at most the better level's smallest cap
    per weight. None when some bound crosses (the node holds no allocation)."""
    changed = True
    while changed:
        changed = False
        for better, w_better, worse, w_worse in pairs:
            floor = _at_least(float(np.max(lo[worse] / w_worse)), w_better)
            raise_ = floor > lo[better]
            if np.any(raise_):
                lo[better[raise_]] = floor[raise_]
                changed = True
            cap = _at_most(float(np.min(hi[better] / w_better)), w_worse)
            lower = cap < hi[worse]
            if np.any(lower):
                hi[worse[lower]] = cap[lower]
                changed = True
        if np.any(lo > hi):
            return None
    return lo, hi


def _worst_pair(x: IntArray, pairs: tuple[_Pair, ...]) -> tuple[_Pair, float] | None:
    """The adjacent levels whose order ``x`` breaks the most, with the ratio to split at,
    or None when ``x`` keeps every order."""
    worst: tuple[_Pair, float] | None = None
    gap = 2 * _TOL
    for pair in pairs:
        better, w_better, worse, w_worse = pair
        a = float(np.min(x[better] / w_better))
        c = float(np.max(x[worse] / w_worse))
        if c - a > gap:
            gap = c - a
            worst = (pair, (a + c) / 2.0)
    return worst


def _propagate_exact(
    lo: IntArray, hi: IntArray, pairs: tuple[_Pair, ...]
) -> tuple[IntArray, IntArray] | None:
    """:func:`_propagate` in exact arithmetic (weights read as the decimals they show),
    for budgets where floating-point ratios cannot tell adjacent units apart."""
    weights = [
        ([simplest_ratio(v) for v in wb.tolist()], [simplest_ratio(v) for v in ww.tolist()])
        for _, wb, _, ww in pairs
    ]
    changed = True
    while changed:
        changed = False
        for (better, _, worse, _), (w_better, w_worse) in zip(pairs, weights, strict=True):
            floor = max(
                Fraction(int(lo[j])) / w for j, w in zip(worse.tolist(), w_worse, strict=True)
            )
            for i, w in zip(better_ids, w_better, strict=True):
                need = math.ceil(floor * w)
                if need > lo[i]:
                    lo[i], changed = need, True
            cap = min(
                Fraction(int(hi[i])) / w for i, w in zip(better.tolist(), w_better, strict=True)
            )
            for j, w in zip(worse.tolist(), w_worse, strict=True):
                most = math.floor(cap * w)
                if most < hi[j]:
                    hi[j], changed = most, True
        if np.any(lo > hi):
            return None
    return lo, hi
