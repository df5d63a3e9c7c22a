"""The exact structured path for group rules over a partition: the nested greedy.

When the group rules' member sets are pairwise disjoint (all rules on one tag, say one band
per region; two rules on the same members just intersect their bounds), the program is a
*resource allocation problem over a partition*: a separable convex cost, box bounds per
recipient, a box on each group's total and the budget. It is solved exactly without a
solver, in two levels of the same greedy:

1. Each group's cost as a function of its total, ``F_g(y)``, is the cost of its ``y``
   cheapest units (the separable greedy inside the group), so its marginal costs are the
   members' unit keys merged in order: convex. The group totals are then a separable
   problem of their own with boxes ``[L_g, U_g]``: take every group's ``L_g`` cheapest
   units, then the cheapest of the rest, no group beyond ``U_g``. With one threshold ``T``
   on the unit key this is: group ``g`` takes ``clip(#{its units below T}, L_g, U_g)``, and
   ``T`` is found by the threshold search (:func:`~optimizer.apportion.select_units`) on
   that clipped count.
2. A group whose count was not clipped takes exactly its units below ``T``; a clipped group
   takes its ``L_g`` (or ``U_g``) cheapest units: the separable greedy again, inside it.

Why this is the *lexicographic* optimum, tie-breakers included: a unit's key
``(primary, secondary, rank, k)`` is a vector in an ordered group, costs add, and every
step above (merging, clipping, thresholds) only adds and compares keys, so the exchange
argument for separable convex resource allocation holds for the vector costs exactly as for
numbers. Keys are all distinct (rank is unique per recipient, k within one), so any
feasible allocation other than this one has, after exchanging units between groups, at
least one unit whose key is larger than the one it replaces: its (primary, secondary,
rank . x) sum is strictly worse. The optimum is therefore unique and every backend (the
MILP's three stages included) must return the same allocation; the tests check it
against HiGHS and exhaustive search.

Anything else (``grade_order``, overlapping groups) goes to the MILP, but first
:func:`relaxation` offers a cheaper proof: drop the rules that break the structure, solve
the rest exactly here, and if the answer satisfies the dropped rules too it is the optimum
(the relaxed optimum is unique and at least as good as anything the full rules allow).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from optimizer.apportion import (
    bisect_threshold,
    fill_by_rank,
    float_start,
    greedy,
    key_screen,
    select_units,
    threshold_counts,
)
from optimizer.entitlement import IntArray
from optimizer.exact import Groups, repair, settle
from optimizer.model import IntegerProgram, SubsetSum
from optimizer.objectives import MarginalCost, UnitTable

_NO_LIMIT = np.iinfo(np.int64).max // 4


@dataclass(frozen=True)
class Partition:
    """Disjoint groups of recipients, each with bounds on its total (rules over the same
    members merged)."""

    members: tuple[IntArray, ...]
    lower: IntArray  # per group; 0 when no rule sets one
    upper: IntArray  # per group; _NO_LIMIT when no rule sets one
    empty_ok: bool = True  # False when a rule over no recipients asks for units


def partition_of(sums: tuple[SubsetSum, ...], size: int) -> Partition | None:
    """The groups of ``sums`` when their member sets are pairwise disjoint or equal, else
    None."""
    owner = np.full(size, -1, dtype=np.int64)
    members: list[IntArray] = []
    lower: list[int] = []
    upper: list[int] = []
    empty_ok = True
    for row in sums:
        index = _distinct(row.index)
        if not len(index):
            empty_ok = empty_ok and (row.lower is None or row.lower <= 0)
            continue
        held = owner[index]
        if held[0] >= 0 and np.all(held == held[0]):
            g = int(held[0])
            if len(members[g]) != len(index):
                return None  # a strict subset of another group: nested, not a partition
        elif np.any(held >= 0):
            return None
        else:
            g = len(members)
            owner[index] = g
            members.append(index)
            lower.append(0)
            upper.append(_NO_LIMIT)
        if row.lower is not None:
            lower[g] = max(lower[g], row.lower)
        if row.upper is not None:
            upper[g] = min(upper[g], row.upper)
    return Partition(
        members=tuple(members),
        lower=np.array(lower, dtype=np.int64),
        upper=np.array(upper, dtype=np.int64),
        empty_ok=empty_ok,
    )


def _distinct(index: IntArray) -> IntArray:
    """The distinct members of a row (rules list each member once, in order, already)."""
    if len(index) < 2 or bool(np.all(index[1:] > index[:-1])):
        return index
    out: IntArray = np.unique(index)
    return out


def structure(program: IntegerProgram) -> str | None:
    """``"greedy"`` (bounds only), ``"partition"`` (group rules over disjoint sets) or None
    (the program needs the MILP)."""
    if program.orders:
        return None
    if not program.sums:
        return "greedy"
    return "partition" if partition_of(program.sums, program.size) is not None else None


def solve_structured(program: IntegerProgram, layout: Layout | None = None) -> IntArray | None:
    """The optimum of a program whose :func:`structure` is not None (None: infeasible)."""
    if not program.sums:
        return greedy(program)
    if program.orders:
        raise ValueError("grade orders need the MILP")
    return nested_greedy(program, layout)


def feasible(program: IntegerProgram, layout: Layout | None = None) -> bool:
    """Whether a program of a known :func:`structure` has any allocation (exact: over a
    partition the attainable totals of the groups are intervals that add up).
    ``layout`` (:meth:`Layout.of`) saves recomputing the groups for every call."""
    return (layout or Layout.of(program)).slack(program) is not None


@dataclass(frozen=True)
class Layout:
    """The recipients reordered group by group (ungrouped last): depends on the group rules
    only, so one layout serves any floors, caps and budget."""

    order: IntArray  # position -> recipient
    starts: IntArray  # first position of each group
    grouped: int  # positions [0, grouped) belong to groups
    lower: IntArray  # per group
    upper: IntArray
    empty_ok: bool

    @classmethod
    def of(cls, program: IntegerProgram) -> Layout:
        groups = partition_of(program.sums, program.size)
        if groups is None:
            raise ValueError("the group rules overlap: not a partition; use the MILP")
        group_of = np.full(program.size, len(groups.members), dtype=np.int64)
        for g, members in enumerate(groups.members):
            group_of[members] = g
        sizes = np.array([len(m) for m in groups.members], dtype=np.int64)
        starts = np.zeros(len(sizes), dtype=np.int64)
        starts[1:] = np.cumsum(sizes)[:-1]
        return cls(
            order=np.argsort(group_of, kind="stable"),
            starts=starts,
            grouped=int(sizes.sum()),
            lower=groups.lower,
            upper=groups.upper,
            empty_ok=groups.empty_ok,
        )

    def slack(self, program: IntegerProgram) -> _Slack | None:
        """How many units beyond its members' floors each group must and may take, or None
        when the program is infeasible."""
        lo, hi = program.lo[self.order], program.hi[self.order]
        if np.any(lo > hi) or not self.empty_ok:
            return None
        grouped, starts = self.grouped, self.starts
        if len(starts):
            floor_sum = np.add.reduceat(lo[:grouped], starts)
            cap_sum = np.add.reduceat(hi[:grouped], starts)
        else:
            floor_sum = cap_sum = np.zeros(0, dtype=np.int64)
        least = np.maximum(self.lower, floor_sum) - floor_sum
        most = np.minimum(self.upper, cap_sum) - floor_sum
        need = program.budget - int(lo.sum())
        free = int((hi[grouped:] - lo[grouped:]).sum())
        if np.any(least > most) or need < int(least.sum()) or need > int(most.sum()) + free:
            return None
        return _Slack(lo, hi, least, most, need)


@dataclass(frozen=True)
class _Slack:
    lo: IntArray  # in layout order
    hi: IntArray
    least: IntArray  # units each group must take beyond its members' floors
    most: IntArray  # units each group may take beyond its members' floors
    need: int  # units to place beyond all floors


def nested_greedy(program: IntegerProgram, layout: Layout | None = None) -> IntArray | None:
    """The optimum of a program whose group rules form a partition (see the module
    docstring), or None when it is infeasible."""
    layout = layout or Layout.of(program)
    slack = layout.slack(program)
    if slack is None:
        return None
    order, starts, grouped = layout.order, layout.starts, layout.grouped
    least, most, lo, hi = slack.least, slack.most, slack.lo, slack.hi
    cost = program.cost
    screen = key_screen(cost) if isinstance(cost, MarginalCost) else None
    if isinstance(cost, MarginalCost) and screen is not None:
        start = _float_start(cost, layout, slack)
        if start is not None:  # the exact keys decide from there (optimizer.exact)
            out = np.empty_like(start)
            out[order] = start
            return settle(
                out, program.lo, program.hi, program.budget, cost.key, _groups(layout), screen
            )

    def clipped_total(counts: IntArray) -> IntArray:
        inside = np.add.reduceat(counts[:grouped], starts) if len(starts) else counts[:0]
        total = int(np.clip(inside, least, most).sum()) + int(counts[grouped:].sum())
        return np.array([total], dtype=np.int64)

    x = select_units(
        program.cost,
        lo,
        hi,
        np.array([0]),
        np.array([slack.need]),
        aggregate=clipped_total,
        owner=order,
    )
    if len(starts):
        below = np.add.reduceat(x[:grouped] - lo[:grouped], starts)
        take = np.clip(below, least, most)
        redo = np.flatnonzero(below != take)
        if len(redo):
            ends = np.append(starts[1:], grouped)
            rows = np.concatenate([np.arange(starts[g], ends[g]) for g in redo.tolist()])
            lengths = ends[redo] - starts[redo]
            sub_starts = np.zeros(len(redo), dtype=np.int64)
            np.cumsum(lengths[:-1], out=sub_starts[1:])
            x[rows] = select_units(
                program.cost, lo[rows], hi[rows], sub_starts, take[redo], owner=order[rows]
            )
    out = np.empty_like(x)
    out[order] = x
    if isinstance(cost, MarginalCost):  # decide on exact keys (optimizer.exact)
        groups = _groups(layout)
        if screen is None:
            out = repair(out, program.lo, program.hi, program.budget, cost.key, groups)
        else:
            out = settle(out, program.lo, program.hi, program.budget, cost.key, groups, screen)
    return out


def _groups(layout: Layout) -> Groups:
    """The layout's groups as :func:`~optimizer.exact.repair` takes them."""
    size, count = len(layout.order), len(layout.starts)
    group_of = np.full(size, count, dtype=np.int64)
    group_of[layout.order[: layout.grouped]] = np.repeat(
        np.arange(count), np.diff(np.append(layout.starts, layout.grouped))
    )
    return Groups(group_of, layout.lower.tolist(), layout.upper.tolist())


def _float_start(cost: MarginalCost, layout: Layout, slack: _Slack) -> IntArray | None:
    """The nested greedy on floating-point keys (in layout order): one threshold on the
    cost, found by bisection on the groups' clipped totals, gives the free recipients and
    the unclipped groups their units; a clipped group takes its least (or most) units by
    a threshold of its own. Every bound and group bound holds and the total is at most
    the budget; each recipient is within a unit or so of the optimum. None where no
    threshold places the units (divisor methods whose units left over have priority 0)."""
    order, starts, grouped = layout.order, layout.starts, layout.grouped
    least, most, lo, hi = slack.least, slack.most, slack.lo, slack.hi
    ranked = MarginalCost(cost.rule, cost.quota[order], cost.rank[order])
    found = threshold_counts(ranked, lo, hi)
    if found is None:
        return None
    counts, low, high = found

    def clipped(x: IntArray) -> int:
        inside = np.add.reduceat(x[:grouped] - lo[:grouped], starts) if len(starts) else least
        free = x[grouped:] - lo[grouped:]
        return int(np.clip(inside, least, most).sum()) + int(free.sum())

    x, _ = bisect_threshold(counts, low, high, slack.need, clipped)
    if slack.need - clipped(x) > len(x):  # more than ties leave short: zero priorities
        return None
    if not len(starts):
        return x
    below = np.add.reduceat(x[:grouped] - lo[:grouped], starts)
    take = np.clip(below, least, most)
    ends = np.append(starts[1:], grouped)
    for g in np.flatnonzero(below != take).tolist():
        rows = slice(int(starts[g]), int(ends[g]))
        part = MarginalCost(cost.rule, ranked.quota[rows], ranked.rank[rows])
        units = int(lo[rows].sum()) + int(take[g])
        inside, _ = float_start(part, lo[rows], hi[rows], units)
        x[rows] = fill_by_rank(inside, hi[rows], part.rank, units)  # ties left short
    return x


class SortedUnits:
    """Every unit between a program's bounds, sorted once by key (primary, secondary, rank,
    k): the nested greedy of the same program under any tighter bounds is then one pass
    over it, without the threshold search (the threshold search of
    :mod:`optimizer.thresholds` solves hundreds of such programs)."""

    def __init__(
        self, program: IntegerProgram, layout: Layout, table: UnitTable | None = None
    ) -> None:
        if table is None:
            table = program.units()
        order = np.lexsort((table.k, table.tertiary, table.secondary, table.primary))
        self.owner = table.owner[order]
        self.k = table.k[order]
        self.size = program.size
        self.layout = layout
        groups = len(layout.starts)
        group_of = np.full(program.size, groups, dtype=np.int64)  # ungrouped: one more
        position = np.arange(layout.grouped)
        group_of[layout.order[: layout.grouped]] = (
            np.searchsorted(layout.starts, position, side="right") - 1
        )
        self.group = group_of[self.owner]
        self.groups = groups
        # the units group by group (key order kept inside each), and where each group starts
        self.by_group = np.argsort(self.group, kind="stable")
        self.group_sorted = self.group[self.by_group]
        self.group_start = np.searchsorted(self.group_sorted, np.arange(groups + 1))

    def solve(self, program: IntegerProgram) -> IntArray | None:
        """The nested greedy's optimum of ``program``: the sorted program with tighter
        bounds (None when it is infeasible)."""
        slack = self.layout.slack(program)
        if slack is None:
            return None
        lo, hi = program.lo, program.hi
        is_free = (self.k >= lo[self.owner]) & (self.k < hi[self.owner])
        # the running count of each free unit inside its group, in key order (1-based)
        running = np.cumsum(is_free[self.by_group])
        before = np.concatenate([[0], running])[self.group_start]
        count_all = np.empty(len(is_free), dtype=np.int64)
        count_all[self.by_group] = running - before[self.group_sorted]
        free = np.flatnonzero(is_free)
        group = self.group[free]
        count = count_all[free]
        least = np.append(slack.least, 0)
        most = np.append(slack.most, _NO_LIMIT)
        # a unit raises the clipped total when its group is past its least, not its most
        raises = np.cumsum((count > least[group]) & (count <= most[group]))
        short = slack.need - int(slack.least.sum())
        threshold = 0 if short == 0 else int(np.searchsorted(raises, short)) + 1
        below = np.bincount(group[:threshold], minlength=self.groups + 1)
        take = np.clip(below, least, most)
        taken = free[count <= take[group]]
        return lo + np.bincount(self.owner[taken], minlength=self.size).astype(np.int64)


def relaxation(program: IntegerProgram) -> tuple[IntegerProgram, tuple[str, ...]]:
    """The program without the rules that break the partition structure (grade orders and
    group rules overlapping an earlier kept one), and the labels of what was dropped."""
    owner = np.full(program.size, -1, dtype=np.int64)
    kept_sizes: list[int] = []
    kept: list[SubsetSum] = []
    dropped = [order.label for order in program.orders]
    for row in program.sums:
        index = _distinct(row.index)
        held = owner[index]
        same = (
            len(index) > 0
            and held[0] >= 0
            and np.all(held == held[0])
            and kept_sizes[int(held[0])] == len(index)
        )
        if same or not np.any(held >= 0):
            if not same:
                owner[index] = len(kept_sizes)
                kept_sizes.append(len(index))
            kept.append(row)
        else:
            dropped.append(row.label)
    return replace(program, sums=tuple(kept), orders=()), tuple(dict.fromkeys(dropped))
