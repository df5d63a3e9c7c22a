"""A lower bound on every allocation of a threshold-search node: its continuous relaxation.

A node of :mod:`optimizer.thresholds` is the program within bounds ``lo``, ``hi``; the
allocations it must account for keep ``grade_order``, so for each pair of adjacent levels
some threshold ``t`` has ``x_i >= t w_i`` over the better level and ``x_j <= t w_j`` over
the worse, and ``t`` lies in ``[max_j lo_j / w_j, min_i hi_i / w_i]``. With ``t`` a
variable the node's relaxation is a linear program (a linear primary cost: ``weighted``),
much tighter than the nested greedy's optimum with the order dropped.

HiGHS solves that program in floating point, for its prices only: the bound is the
Lagrangian under those prices (one per row: the budget, each group of the partition, each
member's order row), ``lambda B + sum_g mu_g bound_g + sum_i min_{lo_i <= k <= hi_i}
(c_i - p_i) k + sum_t min_t s t``, evaluated in exact fractions. Weak duality makes it a
lower bound on the cost of every allocation of the node whatever prices are given, so no
floating-point error can prune the optimum; the prices only decide how tight it is. A
reader checks it the same way from the certificate
(:func:`optimizer.certificate_check.search_problems`).

Given the exact quotas instead of a linear cost, the relaxation bounds Hamilton's primary
``sum |x - q|``: each ``|x_i - q_i|`` is written as the convex hull of its whole values (a
column ``s_i`` above three lines) and the Lagrangian's term is ``min_k |k - q_i| - p_i k``,
least at a bound or at a whole number next to ``q_i``. The search does not use it yet
(issue 11): on the 840 programmes with every rule that primary is flat over half of each
threshold's range, so only the secondary ``sum (x - q)^2`` could close nodes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from optimizer.entitlement import IntArray
from optimizer.exact import ExactQuota, whole_numbers
from optimizer.model import IntegerProgram
from optimizer.partition import partition_of

Pairs = tuple[tuple[IntArray, IntArray], ...]
"""Adjacent levels of an order, better first (members of positive weight)."""


_BITS = 64
"""HiGHS's prices are kept as whole numbers over ``2^64`` (any prices give a valid bound;
rounding them only moves it by a negligible amount)."""


@dataclass(frozen=True)
class Prices:
    """Lagrange multipliers for a node, each a whole number times ``unit``: the budget's,
    each group's (positive on its lower bound, negative on its upper) and, per pair of
    levels, each better member's (``up``) and each worse member's (``down``) price on its
    order row, none negative, as (member, price)."""

    budget: int
    groups: tuple[int, ...]
    up: tuple[tuple[tuple[int, int], ...], ...]
    down: tuple[tuple[tuple[int, int], ...], ...]
    unit: Fraction

    def scaled(self, factor: Fraction) -> Prices:
        """The same multipliers for the cost ``factor`` times larger."""
        return Prices(self.budget, self.groups, self.up, self.down, self.unit * factor)


@dataclass(frozen=True)
class Relaxed:
    """HiGHS's optimum of a node's relaxation: its prices (per unit of ``cost / max
    |cost|``) and its units (floats: where to split, never a proof)."""

    prices: Prices
    x: list[float]


class NodeRelaxation:
    """The relaxation of one program's nodes (its groups a partition, its order ``pairs``)
    under a linear ``cost`` per unit, one HiGHS model re-solved with each node's bounds.

    HiGHS's tolerances are absolute, so the model is written around a reference point (the
    root's optimum, rounded): ``x = ref + z``, ``t = tref + u``; near the optimum ``z`` and
    ``u`` are a few units, wherever the budget is."""

    def __init__(
        self,
        program: IntegerProgram,
        pairs: Pairs,
        weight: dict[int, Fraction],
        cost: list[int] | ExactQuota,
    ) -> None:
        groups = partition_of(program.sums, program.size)
        if groups is None:
            raise ValueError("the group rules overlap: not a partition")
        self.size, self.budget, self.pairs, self.weight = (
            program.size,
            program.budget,
            pairs,
            weight,
        )
        self.quota = cost if isinstance(cost, ExactQuota) else None
        self.cost = [] if isinstance(cost, ExactQuota) else cost
        if isinstance(cost, ExactQuota):  # Hamilton: cost units are denom |x - q|
            self.top = cost.denom
        else:
            self.top = max((abs(c) for c in cost), default=0) or 1
        self.members = groups.members
        self.lower: list[int | None] = []
        self.upper: list[int | None] = []
        for low, high in zip(groups.lower.tolist(), groups.upper.tolist(), strict=True):
            self.lower.append(low if low > 0 else None)
            self.upper.append(high if high < np.iinfo(np.int64).max // 4 else None)
        n = program.size
        self._wscale, self._big = whole_numbers(weight)
        self.unit = Fraction(1, 2**_BITS)
        self._levels = [
            (
                better,
                worse,
                np.array([float(weight[i]) for i in better.tolist()]),
                np.array([float(weight[j]) for j in worse.tolist()]),
            )
            for better, worse in pairs
        ]
        self._build([0] * n, [Fraction(0)] * len(pairs), float(max(program.budget, 1)))
        at = self.optimum(program.lo, program.hi)
        if at is not None:  # around the root's optimum from now on
            x, t = at
            self._build([round(v) for v in x], t, 1.0)

    def _build(self, ref: list[int], tref: list[Fraction], scale: float) -> None:
        """The HiGHS model in ``z = (x - ref) / scale``, ``u = (t - tref) / scale``: the budget
        row, one row per group, one per member and pair (better ``z_i - w_i u >= (w_i tref -
        ref_i) / scale``, worse ``<=``), and a last row, the cost, free until a window asks."""
        import highspy

        from optimizer.solvers.highs import _quiet_stdout

        n, p = self.size, len(self.pairs)
        self.ref, self.tref, self.scale = ref, tref, scale
        self._ref = np.array(ref, dtype=np.float64)
        self._tref = np.array([float(t) for t in tref])
        quota = self.quota
        deviation = [] if quota is None else [_deviation(quota, i, ref[i]) for i in range(n)]
        if quota is None:
            self._ref_cost = Fraction(sum(c * r for c, r in zip(self.cost, ref, strict=True)))
        else:
            self._ref_cost = quota.denom * sum(deviation, Fraction(0))
        columns = n + p + (0 if quota is None else n)
        with _quiet_stdout():
            h = highspy.Highs()  # type: ignore[no-untyped-call]
        for option, setting in (
            ("output_flag", False),
            ("threads", 1),
            ("random_seed", 0),
            ("presolve", "off"),
            ("primal_feasibility_tolerance", 1e-9),
            ("dual_feasibility_tolerance", 1e-9),
        ):
            h.setOptionValue(option, setting)
        inf = highspy.kHighsInf
        h.addVars(columns, np.full(columns, -inf), np.full(columns, inf))
        rest = (self.budget - sum(ref)) / scale
        rows: list[tuple[list[int], list[float], float, float]] = [
            (list(range(n)), [1.0] * n, rest, rest)
        ]
        for members, low, high in zip(self.members, self.lower, self.upper, strict=True):
            base = sum(ref[i] for i in members.tolist())
            rows.append(
                (
                    members.tolist(),
                    [1.0] * len(members),
                    -inf if low is None else (low - base) / scale,
                    inf if high is None else (high - base) / scale,
                )
            )
        for k, (better, worse) in enumerate(self.pairs):
            w = self.weight
            for i in better.tolist():
                side = float((w[i] * tref[k] - ref[i]) / Fraction(scale))
                rows.append(([i, n + k], [1.0, -float(w[i])], side, inf))
            for j in worse.tolist():
                side = float((w[j] * tref[k] - ref[j]) / Fraction(scale))
                rows.append(([j, n + k], [1.0, -float(w[j])], -inf, side))
        if quota is None:
            rows.append((list(range(n)), [c / self.top for c in self.cost], -inf, inf))
        else:  # s_i at least each line of |x_i - q_i|'s integer hull; the cost is sum s
            for i in range(n):
                for a, b in _hull_lines(quota, i):
                    side = float((a + b * ref[i] - deviation[i]) / Fraction(scale))
                    rows.append(([n + p + i, i], [1.0, -float(b)], side, inf))
            rows.append((list(range(n + p, n + p + n)), [1.0] * n, -inf, inf))
        starts = np.cumsum([0] + [len(r[0]) for r in rows[:-1]]).astype(np.int32)
        index = np.array([c for r in rows for c in r[0]], dtype=np.int32)
        value = np.array([v for r in rows for v in r[1]], dtype=np.float64)
        h.addRows(
            len(rows),
            np.array([r[2] for r in rows]),
            np.array([r[3] for r in rows]),
            len(index),
            starts,
            index,
            value,
        )
        self.h = h
        self._inf = inf
        self._ok = highspy.HighsModelStatus.kOptimal
        self._objective: int | None = None  # -1: the cost; 2 k: least t_k; 2 k + 1: most
        self._cut = len(rows) - 1

    def relax(self, lo: IntArray, hi: IntArray) -> Relaxed | None:
        """HiGHS's prices and optimum for the node within ``lo``, ``hi`` (None when HiGHS
        finds no optimum: the node is then left to the search)."""
        if not self._solve(lo, hi, -1, None):
            return None
        solution = self.h.getSolution()
        dual = solution.row_dual
        one = float(2**_BITS)

        def whole(y: float) -> int:
            return int(y * one)

        groups = []
        for g, (low, high) in enumerate(zip(self.lower, self.upper, strict=True)):
            y = dual[1 + g]
            on_bound = (y > 0 and low is not None) or (y < 0 and high is not None)
            groups.append(whole(y) if on_bound else 0)
        r = 1 + len(self.members)
        up: list[tuple[tuple[int, int], ...]] = []
        down: list[tuple[tuple[int, int], ...]] = []
        for better, worse in self.pairs:
            up.append(
                tuple((i, whole(max(dual[r + a], 0.0))) for a, i in enumerate(better.tolist()))
            )
            r += len(better)
            down.append(
                tuple((j, whole(max(-dual[r + a], 0.0))) for a, j in enumerate(worse.tolist()))
            )
            r += len(worse)
        prices = Prices(whole(dual[0]), tuple(groups), tuple(up), tuple(down), self.unit)
        value = solution.col_value
        x = [self.ref[i] + value[i] * self.scale for i in range(self.size)]
        return Relaxed(prices, x)

    def value(self, lo: IntArray, hi: IntArray) -> float:
        """The relaxation's optimum cost within ``lo``, ``hi`` per ``max |cost|``, less the
        reference point's (floats: a guess, never a proof; infinite when HiGHS finds no
        optimum)."""
        if not self._solve(lo, hi, -1, None):
            return math.inf
        return float(self.h.getInfo().objective_function_value)

    def optimum(self, lo: IntArray, hi: IntArray) -> tuple[list[float], list[Fraction]] | None:
        """The relaxation's optimum within ``lo``, ``hi``: units and each pair's threshold
        (None: HiGHS found none)."""
        if not self._solve(lo, hi, -1, None):
            return None
        value = self.h.getSolution().col_value
        n, s = self.size, self.scale
        x = [self.ref[i] + value[i] * s for i in range(n)]
        return x, [self.tref[k] + Fraction(value[n + k] * s) for k in range(len(self.pairs))]

    def window(
        self, lo: IntArray, hi: IntArray, pair: int, best: int
    ) -> tuple[Fraction, Fraction] | None:
        """The least and the most threshold of ``pair`` in the relaxation within ``lo``,
        ``hi`` at a cost of at most ``best`` (floats: a guess where to split, never a proof;
        None: HiGHS found none)."""
        ends = []
        for most in (False, True):
            if not self._solve(lo, hi, 2 * pair + most, best):
                return None
            u = self.h.getSolution().col_value[self.size + pair]
            ends.append(self.tref[pair] + Fraction(u * self.scale))
        return ends[0], ends[1]

    def _solve(self, lo: IntArray, hi: IntArray, objective: int, best: int | None) -> bool:
        """Run HiGHS on the node: minimise the cost (``objective`` -1) or a threshold, the
        cost at most ``best`` (None: free); whether it found an optimum."""
        n, h, s = self.size, self.h, self.scale
        p = len(self.pairs)
        m = n + p + (0 if self.quota is None else n)
        t_lo = [max(lo[worse] / w) for _, worse, _, w in self._levels]
        t_hi = [min(hi[better] / w) for better, _, w, _ in self._levels]
        lower = np.concatenate([(lo - self._ref) / s, (np.array(t_lo) - self._tref) / s])
        upper = np.concatenate([(hi - self._ref) / s, (np.array(t_hi) - self._tref) / s])
        if np.any(lower > upper + 1e-9):
            return False
        upper = np.maximum(upper, lower)
        columns = np.arange(n + p, dtype=np.int32)
        h.changeColsBounds(n + p, columns, lower, upper)
        if objective != self._objective:
            cost = np.zeros(m)
            if objective < 0 and self.quota is not None:
                cost[n + p :] = 1.0
            elif objective < 0:
                cost[:n] = np.array(self.cost, dtype=np.float64) / self.top
            else:
                cost[n + objective // 2] = -1.0 if objective % 2 else 1.0
            h.changeColsCost(m, np.arange(m, dtype=np.int32), cost)
            self._objective = objective
        if best is None:
            h.changeRowBounds(self._cut, -self._inf, self._inf)
        else:
            rest = best - self._ref_cost
            h.changeRowBounds(self._cut, -self._inf, float(rest / self.top / Fraction(s)))
        h.run()
        return bool(h.getModelStatus() == self._ok)

    def threshold_range(self, lo: IntArray, hi: IntArray) -> tuple[list[Fraction], list[Fraction]]:
        """Per pair, where a threshold of an allocation within ``lo``, ``hi`` can lie: from
        the worse level's largest floor per weight to the better level's smallest cap."""
        big = self._big
        low, high = [], []
        for better, worse in self.pairs:
            j = max(worse.tolist(), key=lambda m: Fraction(int(lo[m]), big[m]))
            i = min(better.tolist(), key=lambda m: Fraction(int(hi[m]), big[m]))
            low.append(Fraction(int(lo[j]) * self._wscale, big[j]))
            high.append(Fraction(int(hi[i]) * self._wscale, big[i]))
        return low, high

    def bound(
        self, prices: Prices, cost: list[int] | ExactQuota, lo: IntArray, hi: IntArray
    ) -> Fraction:
        """The Lagrangian under ``prices`` (for the cost ``cost``: per unit, or Hamilton's
        ``denom |x - q|`` for quotas) within ``lo``, ``hi``, exactly: at most the cost of
        every allocation there that keeps the budget, the groups' bounds and the order
        (weak duality)."""
        num, den = prices.unit.numerator, prices.unit.denominator
        total = prices.budget * self.budget
        price = [prices.budget] * self.size
        for g, mu in enumerate(prices.groups):
            if mu:
                side = self.lower[g] if mu > 0 else self.upper[g]
                assert side is not None
                total += mu * side
                for i in self.members[g].tolist():
                    price[i] += mu
        big = self._big
        value = Fraction(0)
        t_lo, t_hi = self.threshold_range(lo, hi)
        for k in range(len(self.pairs)):
            slope = 0  # times wscale
            for i, a in prices.up[k]:
                price[i] += a
                slope += a * big[i]
            for j, b in prices.down[k]:
                price[j] -= b
                slope -= b * big[j]
            if slope:
                end = t_lo[k] if slope > 0 else t_hi[k]
                value += Fraction(slope * num, self._wscale * den) * end
        acc = 0
        if isinstance(cost, ExactQuota):  # min_k den |k d - q| - num p k: an end or next to q
            d = cost.denom
            for q, p, low, high in zip(cost.numer, price, lo.tolist(), hi.tolist(), strict=True):
                near = (min(max(k, low), high) for k in (q // d, q // d + 1))
                acc += min(den * abs(k * d - q) - num * p * k for k in (low, high, *near))
            return value + Fraction(acc + num * total, den)
        for c, p, low, high in zip(cost, price, lo.tolist(), hi.tolist(), strict=True):
            reduced = c * den - num * p
            acc += reduced * (low if reduced >= 0 else high)
        return value + Fraction(acc + num * total, den)


def _deviation(quota: ExactQuota, i: int, units: int) -> Fraction:
    """``|units - q_i|``, exactly."""
    return abs(units - quota.fraction(i))


def _hull_lines(quota: ExactQuota, i: int) -> list[tuple[Fraction, Fraction]]:
    """Lines ``a + b x`` whose maximum is the convex hull of ``|k - q_i|`` over whole ``k``:
    ``q - x``, ``x - q`` and, for a fractional quota, the chord between the whole numbers
    next to it (tighter than ``|x - q|`` there)."""
    q = quota.fraction(i)
    lines = [(q, Fraction(-1)), (-q, Fraction(1))]
    below = math.floor(q)
    r = q - below
    if r:
        lines.append((r - (1 - 2 * r) * below, 1 - 2 * r))
    return lines
