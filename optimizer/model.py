"""The integer program of a scenario, as plain arrays: no solver is imported here.

Variables are the units ``x_i`` (integers in ``[lo_i, hi_i]``, summing to the budget).
Rules add :class:`SubsetSum` rows and :class:`RatioOrder` chains. The objective is the
lexicographic sequence of separable convex costs of :mod:`optimizer.objectives`; every
backend encodes each stage exactly at integer points through :func:`epigraph_cuts`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.entitlement import FloatArray, IntArray
from optimizer.exact import ratio_gap
from optimizer.objectives import UnitCost, UnitTable, unit_table


@dataclass(frozen=True)
class SubsetSum:
    """``lower <= sum(x[index]) <= upper`` (either side may be None), from the rule ``label``."""

    label: str
    index: IntArray
    lower: int | None
    upper: int | None


@dataclass(frozen=True)
class RatioOrder:
    """``x_i / w_i >= x_j / w_j`` for every i in ``levels[g]`` and j in ``levels[g + 1]``."""

    label: str
    levels: tuple[IntArray, ...]
    weight: FloatArray


@dataclass(frozen=True)
class IntegerProgram:
    """Allocate exactly ``budget`` units within bounds and rules, minimising ``cost``
    lexicographically (primary, secondary, tertiary)."""

    budget: int
    lo: IntArray
    hi: IntArray
    sums: tuple[SubsetSum, ...]
    orders: tuple[RatioOrder, ...]
    cost: UnitCost

    @property
    def size(self) -> int:
        return len(self.lo)

    @property
    def is_separable(self) -> bool:
        """True when only bounds constrain the units: the greedy is then exact."""
        return not self.sums and not self.orders

    def units(self) -> UnitTable:
        return unit_table(self.cost, self.lo, self.hi)

    def window(self) -> int:
        """How many units lie between the bounds (the size of :meth:`units`)."""
        return int(np.maximum(self.hi - self.lo, 0).sum())

    def tightened(self) -> IntegerProgram:
        """The same program with caps no allocation can reach lowered: no recipient can
        take more than the budget (or a group rule's maximum) leaves once everyone else
        (every other member) has its floor. Same feasible set, same optimum, fewer units
        for a MILP to encode."""
        hi = np.minimum(self.hi, self.budget - (int(self.lo.sum()) - self.lo))
        for row in self.sums:
            if row.upper is not None and len(row.index):
                others = int(self.lo[row.index].sum()) - self.lo[row.index]
                hi[row.index] = np.minimum(hi[row.index], row.upper - others)
        hi = np.maximum(hi, np.minimum(self.lo, self.hi))  # infeasible stays infeasible
        return IntegerProgram(self.budget, self.lo, hi, self.sums, self.orders, self.cost)

    def folded(self) -> IntegerProgram:
        """The same program with each group rule over one recipient turned into that
        recipient's bounds (a band per region when each region is one recipient): same
        feasible set, and the rules left may then form a partition the exact paths take."""
        single = [row for row in self.sums if len(np.unique(row.index)) == 1]
        if not single:
            return self
        lo, hi = self.lo.copy(), self.hi.copy()
        for row in single:
            i = int(row.index[0])
            if row.lower is not None:
                lo[i] = max(lo[i], row.lower)
            if row.upper is not None:
                hi[i] = min(hi[i], row.upper)
        sums = tuple(row for row in self.sums if len(np.unique(row.index)) != 1)
        return IntegerProgram(self.budget, lo, hi, sums, self.orders, self.cost)

    def violations(self, x: IntArray) -> list[str]:
        """Every constraint ``x`` breaks; used to check each backend's answer, never trusted."""
        out = []
        if int(x.sum()) != self.budget:
            out.append(f"units sum to {int(x.sum())}, budget is {self.budget}")
        if np.any(x < self.lo) or np.any(x > self.hi):
            out.append("a unit count is outside its bounds")
        for row in self.sums:
            total = int(x[row.index].sum())
            if (row.lower is not None and total < row.lower) or (
                row.upper is not None and total > row.upper
            ):
                out.append(f"{row.label}: group total {total} outside [{row.lower}, {row.upper}]")
        for order in self.orders:
            for better, worse in zip(order.levels, order.levels[1:], strict=False):
                if len(better) and len(worse):
                    low = float(np.min(x[better] / order.weight[better]))
                    high = float(np.max(x[worse] / order.weight[worse]))
                    if abs(high - low) <= 1e-9 * max(1.0, abs(high)):  # floats can't tell
                        broken = ratio_gap(x, better, worse, order.weight) > 0
                    else:
                        broken = low < high
                    if broken:
                        out.append(
                            f"{order.label}: a better grade gets {low:g} per weight, "
                            f"a worse one {high:g}"
                        )
        return out

    def stage_values(self, x: IntArray) -> tuple[int, int, int]:
        """The exact (primary, secondary, tertiary) objective of ``x``, relative to ``lo``."""
        table = self.units()
        taken = table.k < x[table.owner]
        return (
            int(table.primary[taken].sum()),
            int(table.secondary[taken].sum()),
            int((self.cost.tertiary(np.arange(self.size)) * (x - self.lo)).sum()),
        )


@dataclass(frozen=True)
class Cuts:
    """Lines ``t_i >= intercept + slope * x_i`` whose maximum equals a separable convex cost
    at every integer point; ``floor_value[i]`` is the cost's minimum (a valid lower bound)."""

    owner: IntArray
    slope: IntArray
    intercept: IntArray
    floor_value: IntArray


def epigraph_cuts(table: UnitTable, marginal: IntArray, size: int) -> Cuts:
    """One cut per run of equal marginal costs: exact at integers with few rows (3 for
    Hamilton, 1 for weighted), so the solver never branches on the cost itself."""
    owner = table.owner
    # F(k) = sum of marginals of units lo..k-1, so F(lo) = 0
    csum = np.cumsum(marginal) - marginal
    base = csum[table.start[owner]] if len(owner) else csum
    value_before = csum - base  # F(k_u) for each unit u
    first = np.ones(len(owner), dtype=bool)
    if len(owner):
        first[1:] = (owner[1:] != owner[:-1]) | (marginal[1:] != marginal[:-1])
    slope = marginal[first]
    intercept = value_before[first] - slope * table.k[first]
    # minimum of F over [lo, hi]: min of 0 and the running values after each unit
    after = value_before + marginal
    floor_value = np.zeros(size, dtype=np.int64)
    if len(owner):
        np.minimum.at(floor_value, owner, after)
    return Cuts(owner=owner[first], slope=slope, intercept=intercept, floor_value=floor_value)
