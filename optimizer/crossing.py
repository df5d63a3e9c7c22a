"""Group rules over two crossing families, exactly and at any budget: a convex-cost flow
over the cells.

A band per region and a share for one kind of industry are two families of group rules,
each a partition of (some of) the recipients, that cross: no nested greedy settles them.
Recipients in the same region and the same kind form a *cell*; given each cell's total,
the cell's best split is the separable greedy (exact, :func:`optimizer.apportion.greedy`),
so the program is a flow ``source -> region -> cell -> kind -> sink`` of ``budget`` units
whose region and kind arcs carry the group bounds and whose cell arcs cost the cell's
optimal split, a convex function of its total. Such a flow is optimal exactly when its
residual graph has no negative cycle (the convex-cost flow optimality condition), and so
is the whole allocation.

The flow is found by scaling (Ahuja, Magnanti & Orlin, *Network Flows*, ch. 14): a
feasible flow first (max-flow with lower bounds), then negative cycles cancelled in moves
of ``delta`` units, ``delta`` halved down to 1. Moves of more than one unit are priced
exactly for Hamilton and ``weighted`` (closed forms) and, for divisor methods, at their
middle unit in integers of 2^-128 (they only steer); the last phase moves single units and
decides on exact costs (integers and fractions of the scenario's decimal inputs), so the
answer is exact, and the work is O(log budget) phases over a graph of a few dozen nodes,
never a loop per unit. Huntington-Hill's costs are square roots (no exact sum of several), so that
method stays with the MILP.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from optimizer.apportion import exact_greedy
from optimizer.entitlement import IntArray
from optimizer.exact import ExactQuota, divisor_of
from optimizer.model import IntegerProgram, SubsetSum
from optimizer.objectives import MarginalCost
from optimizer.partition import partition_of

RULES = ("hamilton", "weighted", "jefferson", "webster", "adams", "dean")
"""The costs this path can sum exactly (Huntington-Hill's are irrational)."""
MAX_UNIT_MOVES = 2_000
"""Single-unit moves the exact phase may make before it leaves the program to the MILP
(the scaled phases leave a handful; a count, not a clock, so every machine agrees)."""
_INF = 1 << 62
_SHIFT = 128
"""Bits below the unit of the scaled phases' divisor-method costs."""

Cost = tuple[Fraction | int | float, Fraction | int | float, int | float]
"""(primary, secondary, rank) of a move: compared lexicographically, added by component."""


@dataclass
class _Arc:
    tail: int
    head: int
    lower: int
    upper: int
    flow: int = 0
    cell: int = -1  # the cell it carries (-1: a group arc, cost 0)


Edge = tuple[int, int, Cost, _Arc, int]
"""A residual move: from node, to node, its cost, the arc it moves and in which direction."""


@dataclass(frozen=True)
class Cells:
    """The recipients of a program grouped by (group of the first family, group of the
    second); ``row``/``col`` index each cell's groups, the last of each being "no group"."""

    members: tuple[IntArray, ...]
    row: tuple[int, ...]
    col: tuple[int, ...]
    row_bounds: tuple[tuple[int, int], ...]
    col_bounds: tuple[tuple[int, int], ...]
    row_names: tuple[str, ...] = ()
    col_names: tuple[str, ...] = ()


def cells_of(program: IntegerProgram) -> Cells | None:
    """The cells of a program whose group rules split into two families of disjoint groups
    (None otherwise, or when one family would do: the nested greedy's case)."""
    if program.orders or not program.sums:
        return None
    families: tuple[list[SubsetSum], list[SubsetSum]] = ([], [])
    for row in program.sums:
        for family in families:
            if partition_of((*family, row), program.size) is not None:
                family.append(row)
                break
        else:
            return None
    if not families[1]:
        return None
    parts = [partition_of(tuple(f), program.size) for f in families]
    owners, bounds, names = [], [], []
    for side, family, part in zip(("first", "second"), families, parts, strict=True):
        if part is None or not part.empty_ok:
            return None
        owner = np.full(program.size, len(part.members), dtype=np.int64)
        for g, members in enumerate(part.members):
            owner[members] = g
        owners.append(owner)
        labels: list[list[str]] = [[] for _ in range(len(part.members) + 1)]
        for row in family:
            if len(row.index):
                labels[int(owner[row.index[0]])].append(row.label)
        labels[-1].append(f"in no group of the {side} family")
        names.append(tuple(" + ".join(found) for found in labels))
        groups = [
            (int(lo), int(min(hi, _INF))) for lo, hi in zip(part.lower, part.upper, strict=True)
        ]
        bounds.append((*groups, (0, _INF)))
    width = len(bounds[1])
    code = owners[0] * width + owners[1]
    keys, inverse = np.unique(code, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    split = tuple(np.split(order, np.cumsum(np.bincount(inverse))[:-1]))
    return Cells(
        members=split,
        row=tuple(int(k) // width for k in keys),
        col=tuple(int(k) % width for k in keys),
        row_bounds=bounds[0],
        col_bounds=bounds[1],
        row_names=names[0],
        col_names=names[1],
    )


def solve_crossing(program: IntegerProgram, cells: Cells | None = None) -> IntArray | None:
    """The exact optimum of a program of two crossing group families (None: no allocation
    exists). Raises :class:`Unsettled` when the exact phase needs more than
    :data:`MAX_UNIT_MOVES` moves."""
    cells = cells or cells_of(program)
    if cells is None:
        raise ValueError("not a program of two crossing group families")
    return _Flow(program, cells).solve()


def solve_with_certificate(
    program: IntegerProgram, cells: Cells
) -> tuple[IntArray | None, dict[str, Any] | None]:
    """:func:`solve_crossing` and the optimum's certificate (prices on the groups)."""
    flow = _Flow(program, cells)
    x = flow.solve()
    return x, (flow.certificate() if x is not None else None)


def crossing_feasible(program: IntegerProgram, cells: Cells | None = None) -> bool:
    """Whether any allocation keeps the bounds and both families' rules (a max-flow)."""
    cells = cells or cells_of(program)
    if cells is None:
        raise ValueError("not a program of two crossing group families")
    return _Flow(program, cells).feasible()


class Unsettled(Exception):
    """The exact phase ran out of moves (the MILP takes over)."""


class _Flow:
    """The flow network of one program and its cells, with the cells' splits cached."""

    def __init__(self, program: IntegerProgram, cells: Cells) -> None:
        if not isinstance(program.cost, MarginalCost) or program.cost.rule not in RULES:
            raise ValueError("the crossing path needs an exact separable cost")
        self.program, self.cells, self.cost = program, cells, program.cost
        rows, cols = len(cells.row_bounds), len(cells.col_bounds)
        self.source, self.sink = 0, 1
        self.nodes = 2 + rows + cols
        arcs = [_Arc(0, 2 + r, lo, hi) for r, (lo, hi) in enumerate(cells.row_bounds)]
        arcs += [_Arc(2 + rows + c, 1, lo, hi) for c, (lo, hi) in enumerate(cells.col_bounds)]
        lo, hi = program.lo, program.hi
        for c, members in enumerate(cells.members):
            low, high = int(lo[members].sum()), int(hi[members].sum())
            arcs.append(_Arc(2 + cells.row[c], 2 + rows + cells.col[c], low, high, cell=c))
        self.arcs = arcs
        self.cell_arc = {a.cell: a for a in arcs if a.cell >= 0}
        exact = self.cost.exact
        self.numer, self.denom = exact.numer, exact.denom
        self.top = max(self.numer) if self.numer else 0
        self.rank = self.cost.rank.tolist()
        self._sub: dict[int, MarginalCost] = {}
        self._split: dict[tuple[int, int], IntArray] = {}

    # ------------------------------------------------------------------ feasibility

    def feasible(self) -> bool:
        return self._initial() is not None

    def _initial(self) -> list[int] | None:
        """A flow of ``budget`` within every arc's bounds (max-flow with lower bounds:
        Edmonds-Karp on the few nodes, independent of the amounts), or None."""
        budget = self.program.budget
        n = self.nodes + 2
        s, t = self.nodes, self.nodes + 1
        cap: dict[tuple[int, int], int] = {}
        excess = [0] * self.nodes

        def add(u: int, v: int, c: int) -> None:
            cap[(u, v)] = cap.get((u, v), 0) + c
            cap.setdefault((v, u), 0)

        for a in [*self.arcs, _Arc(self.sink, self.source, budget, budget)]:
            if a.lower > a.upper:
                return None
            add(a.tail, a.head, a.upper - a.lower)
            excess[a.head] += a.lower
            excess[a.tail] -= a.lower
        need = 0
        for v, e in enumerate(excess):
            if e > 0:
                add(s, v, e)
                need += e
            elif e < 0:
                add(v, t, -e)
        adjacent: list[list[int]] = [[] for _ in range(n)]
        for u, v in cap:
            adjacent[u].append(v)
        pushed = 0
        while True:
            parent = {s: s}
            queue = deque([s])
            while queue and t not in parent:
                u = queue.popleft()
                for v in adjacent[u]:
                    if v not in parent and cap[(u, v)] > 0:
                        parent[v] = u
                        queue.append(v)
            if t not in parent:
                break
            path, v = [], t
            while v != s:
                path.append((parent[v], v))
                v = parent[v]
            amount = min(cap[e] for e in path)
            for u, v in path:
                cap[(u, v)] -= amount
                cap[(v, u)] += amount
            pushed += amount
        if pushed < need:
            return None
        return [a.lower + cap[(a.head, a.tail)] for a in self.arcs]

    # ------------------------------------------------------------------ cells

    def _sub_cost(self, c: int) -> MarginalCost:
        """The cost restricted to cell ``c`` (ranks renumbered within it): its greedy."""
        if c not in self._sub:
            members = self.cells.members[c]
            rank = self.cost.rank[members]
            renumbered = np.empty(len(members), dtype=np.int64)
            renumbered[np.argsort(rank, kind="stable")] = np.arange(len(members))
            exact = ExactQuota(tuple(self.numer[i] for i in members.tolist()), self.denom)
            self._sub[c] = MarginalCost(self.cost.rule, self.cost.quota[members], renumbered, exact)
        return self._sub[c]

    def split(self, c: int, total: int) -> IntArray:
        """Cell ``c``'s optimal split of ``total`` units (exact greedy, cached)."""
        key = (c, total)
        if key not in self._split:
            members = self.cells.members[c]
            lo, hi = self.program.lo[members], self.program.hi[members]
            self._split[key] = exact_greedy(self._sub_cost(c), lo, hi, total)
        return self._split[key]

    def block(self, c: int, start: int, end: int) -> Cost:
        """The cost of moving cell ``c``'s total from ``start`` to ``end``: exact for
        Hamilton and weighted (closed forms), for divisor methods each recipient's units
        priced at their middle unit (exact arithmetic, off by the curvature only: it steers
        the scaled phases, whose last one moves single units at exact costs)."""
        members = self.cells.members[c]
        before, after = self.split(c, start), self.split(c, end)
        changed = np.flatnonzero(before != after)
        p = s = r = 0
        for j in changed.tolist():
            i, a, b = int(members[j]), int(before[j]), int(after[j])
            bp, bs = self._block(i, a, b)
            p, s, r = p + bp, s + bs, r + self.rank[i] * (b - a)
        return (p, s, r)

    def _block(self, i: int, a: int, b: int) -> tuple[int, int]:
        """Recipient ``i``'s (primary, secondary) cost of going from ``a`` to ``b`` units,
        on the scale of :meth:`_exact` (integers: divisor methods' priorities in units of
        2^-:data:`_SHIFT`, rounded down, as they only steer)."""
        n, d, rule = self.numer[i], self.denom, self.cost.rule
        secondary = (b * d - n) ** 2 - (a * d - n) ** 2  # sum of d^2 (2 (k - q) + 1)
        if rule == "hamilton":
            return abs(b * d - n) - abs(a * d - n), secondary
        if rule == "weighted":
            return -n * (b - a), secondary
        low, high = min(a, b), max(a, b)
        total = 0
        if divisor_of(rule, low)[0] == 0:  # d(0) = 0: the first unit apart
            total, low = self._priority(i, low), low + 1
        if high - low <= 2:
            total += sum(self._priority(i, k) for k in range(low, high))
        elif high > low:
            total += (high - low) * self._priority(i, (low + high - 1) // 2)
        return (total if b > a else -total), 0

    def _priority(self, i: int, k: int) -> int:
        """Unit ``k``'s divisor-method cost in units of 2^-:data:`_SHIFT`, rounded down."""
        cost = self._exact(i, k)[0]
        return (cost.numerator << _SHIFT) // cost.denominator

    def unit(self, c: int, total: int, up: bool) -> Cost | None:
        """The exact cost of cell ``c``'s next unit (``up``) or of its last one, from its
        split of ``total``; None: the cell has no such unit."""
        members = self.cells.members[c]
        x = self.split(c, total)
        lo, hi = self.program.lo[members], self.program.hi[members]
        key = self.cost.key
        best: tuple[object, int, int] | None = None
        for j, i in enumerate(members.tolist()):
            k = int(x[j]) if up else int(x[j]) - 1
            if (up and k >= hi[j]) or (not up and k < lo[j]):
                continue
            candidate = (key(i, k), i, k)
            if best is None or (candidate[0] < best[0] if up else best[0] < candidate[0]):
                best = candidate
        if best is None:
            return None
        p, s, r = self._exact(best[1], best[2])
        return (p.numerator if p.denominator == 1 else p, s, r)  # integers add faster

    def _exact(self, i: int, k: int) -> tuple[Fraction, int, int]:
        """The exact (primary, secondary, rank) cost of unit ``k`` (the (k+1)-th) of ``i``:
        Hamilton's primary times the common denominator d, weighted's times the largest
        numerator, the secondary 2 (k - q) + 1 times d^2 (integers on one scale each)."""
        n, d, rule = self.numer[i], self.denom, self.cost.rule
        secondary = d * (2 * (k * d - n) + d)
        if rule == "hamilton":
            return Fraction(max(-d, min(d, 2 * (k * d - n) + d))), secondary, self.rank[i]
        if rule == "weighted":
            return Fraction(-n), secondary, self.rank[i]
        num, den = divisor_of(rule, k)
        if num == 0:
            return Fraction(-(2 * self.top + n), d), 0, self.rank[i]
        return Fraction(-n * den, d * num), 0, self.rank[i]

    # ------------------------------------------------------------------ the flow

    def solve(self) -> IntArray | None:
        flows = self._initial()
        if flows is None:
            return None
        for arc, f in zip(self.arcs, flows, strict=True):
            arc.flow = f
        largest = max((a.upper - a.lower for a in self.arcs if a.upper < _INF), default=1)
        delta = 1 << max(0, min(largest, self.program.budget).bit_length() - 1)
        while delta > 1:
            for _ in range(64 * len(self.arcs)):  # cycles cancelled per phase, at most
                if not self._cancel(delta, exact=False):
                    break
            delta //= 2
        moves = 0
        while self._cancel(1, exact=True):
            moves += 1
            if moves > MAX_UNIT_MOVES:
                raise Unsettled
        x = self.program.lo.copy()
        for c, members in enumerate(self.cells.members):
            x[members] = self.split(c, self.cell_arc[c].flow)
        return x

    def certificate(self) -> dict[str, Any]:
        """Prices on the groups that prove the flow optimal (shortest distances in the
        residual graph, which has no negative cycle), with each cell's last and next unit."""
        dist, _, _ = _shortest(self.nodes, self._edges(1, exact=True))
        cells, rows = self.cells, len(self.cells.row_bounds)
        out_cells = []
        for c in range(len(cells.members)):
            total = self.cell_arc[c].flow
            last, following = self.unit(c, total, up=False), self.unit(c, total, up=True)
            out_cells.append(
                {
                    "first": cells.row_names[cells.row[c]],
                    "second": cells.col_names[cells.col[c]],
                    "units": total,
                    "last_unit_cost": _shown(last),
                    "next_unit_cost": _shown(following),
                }
            )
        prices: list[dict[str, Any]] = [{"group": "budget in", "price": _shown(dist[self.source])}]
        prices.append({"group": "budget out", "price": _shown(dist[self.sink])})
        for a in self.arcs:
            if a.cell >= 0:
                continue
            node = a.head if a.tail == self.source else a.tail
            side = node - 2 if node < 2 + rows else node - 2 - rows
            names = cells.row_names if node < 2 + rows else cells.col_names
            prices.append(
                {
                    "group": names[side],
                    "total": a.flow,
                    "lower": a.lower,
                    "upper": a.upper if a.upper < _INF else None,
                    "price": _shown(dist[node]),
                }
            )
        primary = 1 if self.cost.rule in ("hamilton", "weighted") else 0
        return {
            "kind": "flow",
            "objective": self.cost.rule,
            # costs and prices are the exact ones times these (integers on one scale each)
            "scale": {"primary": str(self.denom**primary), "least_squares": str(self.denom**2)},
            "rule": "the budget flows through the groups of the first family, the cells "
            "(recipients sharing a group of each family) and the groups of the second; "
            "each cell's units are split by the method's own order, and with the prices "
            "below every cell's last unit costs at most price(second) - price(first) and "
            "its next unit at least that, a group strictly inside its bounds is priced as "
            "the budget's side it hangs on: so no exchange among the cells lowers the cost "
            "(reduced-cost optimality of a convex-cost flow). Costs are (primary, least "
            "squares, rank) per unit, compared in that order, each times its scale",
            "cells": out_cells,
            "prices": prices,
        }

    def _edges(self, delta: int, *, exact: bool) -> list[Edge]:
        """The residual moves of ``delta`` units with their costs."""
        edges: list[Edge] = []
        for a in self.arcs:
            for sign in (1, -1):
                target = a.flow + sign * delta
                if not a.lower <= target <= a.upper:
                    continue
                if a.cell < 0:
                    cost: Cost | None = (0, 0, 0)
                elif exact:  # giving a unit back saves its cost
                    cost = self.unit(a.cell, a.flow, up=sign > 0)
                    cost = cost if sign > 0 else _negated(cost)
                else:
                    cost = self.block(a.cell, a.flow, target)
                if cost is None:
                    continue
                u, v = (a.tail, a.head) if sign > 0 else (a.head, a.tail)
                edges.append((u, v, cost, a, sign))
        return edges

    def _cancel(self, delta: int, *, exact: bool) -> bool:
        """Find a negative cycle of moves of ``delta`` units in the residual graph and
        apply it; False when there is none (the flow is optimal at this scale)."""
        edges = self._edges(delta, exact=exact)
        cycle = _negative_cycle(self.nodes, edges)
        if cycle is None:
            return False
        if not _sum(e[2] for e in cycle) < (0, 0, 0):  # exact Bellman-Ford: never
            raise Unsettled
        for _, _, _, arc, sign in cycle:
            arc.flow += sign * delta
        return True


def _negated(cost: Cost | None) -> Cost | None:
    return None if cost is None else (-cost[0], -cost[1], -cost[2])


def _shown(cost: Cost | None) -> str | None:
    """A cost as text: ``primary; least squares; rank``, fractions in lowest terms."""
    if cost is None:
        return None
    return "; ".join(str(Fraction(part)) for part in cost)


def _sum(costs: object) -> Cost:
    p: Fraction | int | float = 0
    s: Fraction | int | float = 0
    r: int | float = 0
    for cost in costs:  # type: ignore[attr-defined]
        p, s, r = p + cost[0], s + cost[1], r + cost[2]
    return (p, s, r)


def _shortest(nodes: int, edges: list[Edge]) -> tuple[list[Cost], list[int], int]:
    """Bellman-Ford from a virtual root (lexicographic costs): the distances, the edge that
    last lowered each node's, and a node lowered in the last of ``nodes + 1`` rounds (-1:
    none, the distances are final and no cycle is negative)."""
    dist: list[Cost] = [(0, 0, 0)] * nodes
    via: list[int] = [-1] * nodes
    last = -1
    for _ in range(nodes + 1):
        last = -1
        for index, (u, v, cost, _, _) in enumerate(edges):
            candidate = (dist[u][0] + cost[0], dist[u][1] + cost[1], dist[u][2] + cost[2])
            if candidate < dist[v]:
                dist[v], via[v], last = candidate, index, v
        if last < 0:
            break
    return dist, via, last


def _negative_cycle(nodes: int, edges: list[Edge]) -> list[Edge] | None:
    """A negative cycle (lexicographic costs), or None. Its nodes are distinct, so no arc
    is moved twice (an arc both ways is a cycle of two nodes, which convexity makes
    non-negative)."""
    _, via, last = _shortest(nodes, edges)
    if last < 0:
        return None
    v = last
    for _ in range(nodes):  # step back into the cycle
        v = edges[via[v]][0]
    cycle, u = [], v
    while True:
        edge = edges[via[u]]
        cycle.append(edge)
        u = edge[0]
        if u == v:
            break
    cycle.reverse()
    return cycle
