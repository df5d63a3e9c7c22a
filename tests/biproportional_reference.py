"""TEST-ONLY REFERENCE: biproportional apportionment as Allot computed it before the phased
rewrite (issue 14), kept to judge the engine. Not part of the engine; nothing imports it but
the tests.

Tie-and-transfer moving ONE unit per search (Balinski & Demange): after a float alternating
scaling and an exact fit of every column, each search scales the divisors of the rows over
their totals (and the lines reachable from them through tied cells) to the next tie, until a
row under its total is reached, and moves one unit along that path. Exact (every decision on
fractions), slow (a search per unit), which is what a reference should be. The problem's
types (:class:`Matrix`, :class:`Apportionment`...) and the method's signposts are the
engine's; the algorithm below is the old one, unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from optimizer.biproportional import (
    DIVISOR_METHODS,
    Apportionment,
    BoolArray,
    CellTie,
    FloatArray,
    IntArray,
    Matrix,
    Shortfall,
    effective_bounds,
    margin_shortfall,
    power_of,
    rounded,
    rounded_float,
    shortest_decimal,
    signpost,
    signposts,
)

_SCREEN = 1e-9
_SCALING_ROUNDS = 12


def reference_biproportional(m: Matrix, method: str, scale: int = 1) -> Apportionment:
    """The biproportional apportionment of ``m`` by ``method`` (exact), with its divisors,
    its ties, or the shortfall that makes it impossible. The weights are entitlements times
    ``scale``; the divisors are of the entitlements (their product is entitlement per
    unit), short decimals wherever an interval allows."""
    if method not in DIVISOR_METHODS:
        raise ValueError(f"not a divisor method: {method}")
    lo, hi = effective_bounds(m, method)
    bad = np.flatnonzero(lo > hi)
    if len(bad):
        c = int(bad[0])
        return Apportionment(
            method,
            None,
            (),
            (),
            (),
            Shortfall("cell", (int(m.row[c]),), (int(m.column[c]),), int(lo[c]), int(hi[c])),
            0,
            lo,
        )
    short = margin_shortfall(m, lo, hi)
    if short is not None:
        return Apportionment(method, None, (), (), (), short, 0, lo)
    state = _State(m, method, lo, hi)
    state.warm_start()
    state.fit_columns_exactly()
    short = state.transfer()
    if short is not None:
        return Apportionment(method, None, (), (), (), short, state.transfers, lo)
    state.readable(scale)
    unit = Fraction(scale) ** state.p
    return Apportionment(
        method,
        state.x.copy(),
        tuple(state.r),
        tuple(c / unit for c in state.c),
        state.ties(),
        None,
        state.transfers,
        lo,
    )


class _State:
    """Divisors (exact and float), the allocation, and the per-line cell lists."""

    def __init__(self, m: Matrix, method: str, lo: IntArray, hi: IntArray) -> None:
        self.m, self.method, self.lo, self.hi = m, method, lo, hi
        p = power_of(method)
        self.p = p
        self.e = [w**p for w in m.weight]
        self.ef = np.array([float(v) for v in self.e], dtype=np.float64)
        self.r = [Fraction(1)] * m.rows
        self.c = [Fraction(1)] * m.columns
        self.rf = np.ones(m.rows)
        self.cf = np.ones(m.columns)
        self.x = lo.copy()
        self.transfers = 0
        self.by_row = _lines(m.row, m.rows)
        self.by_col = _lines(m.column, m.columns)
        self.live = np.flatnonzero(hi > lo)  # cells that may move

    # -- exact cell arithmetic -------------------------------------------------------------

    def up_at(self, cell: int) -> Fraction:
        """The divisor product ``r c`` at which ``cell`` would take one more unit."""
        s = signpost(self.method, int(self.x[cell]))
        return self.e[cell] / s if s else _INFINITY

    def down_at(self, cell: int) -> Fraction:
        """The divisor product ``r c`` at which ``cell`` would give up one unit."""
        s = signpost(self.method, int(self.x[cell]) - 1)
        return self.e[cell] / s if s else _INFINITY

    def product(self, cell: int) -> Fraction:
        return self.r[int(self.m.row[cell])] * self.c[int(self.m.column[cell])]

    # -- float screens ---------------------------------------------------------------------

    def product_f(self, cells: IntArray) -> FloatArray:
        return self.rf[self.m.row[cells]] * self.cf[self.m.column[cells]]

    def up_f(self, cells: IntArray) -> FloatArray:
        s = signposts(self.method, self.x[cells].astype(np.float64))
        with np.errstate(divide="ignore"):
            return np.where(s > 0, self.ef[cells] / np.where(s > 0, s, 1.0), np.inf)

    def down_f(self, cells: IntArray) -> FloatArray:
        s = signposts(self.method, self.x[cells].astype(np.float64) - 1.0)
        with np.errstate(divide="ignore"):
            return np.where(s > 0, self.ef[cells] / np.where(s > 0, s, 1.0), np.inf)

    # -- the float warm start --------------------------------------------------------------

    def warm_start(self) -> None:
        """Alternating scaling in floats: fit the columns, then the rows, until the rows'
        excess is small; leaves the row divisors (read as exact fractions)."""
        m = self.m
        lo, hi = self.lo, self.hi
        ef = self.ef
        rt = np.array(m.row_totals, dtype=np.float64)
        ct = np.array(m.column_totals, dtype=np.float64)
        rf = np.ones(m.rows)
        cf: FloatArray | None = None
        best, best_r, stale = math.inf, rf.copy(), 0
        for _ in range(_SCALING_ROUNDS):
            cf = _fit_float(self.method, ef / rf[m.row], m.column, m.columns, ct, lo, hi, cf)
            x = np.clip(rounded(self.method, ef / (rf[m.row] * cf[m.column])), lo, hi)
            excess = int(np.abs(np.bincount(m.row, weights=x, minlength=m.rows) - rt).sum())
            if excess < best:
                best, best_r, stale = excess, rf.copy(), 0
            else:
                stale += 1
            if excess == 0 or stale >= 2:
                break
            rf = _fit_float(self.method, ef / cf[m.column], m.row, m.rows, rt, lo, hi, rf)
        scale = float(np.exp(np.mean(np.log(best_r))))
        self.r = [Fraction(float(v / scale)).limit_denominator(1 << 20) for v in best_r]
        self.rf = np.array([float(v) for v in self.r])

    # -- exact column fit ------------------------------------------------------------------

    def fit_columns_exactly(self) -> None:
        """Each column's units by the bounded divisor method with the row divisors fixed,
        and its divisor: the exact start of the transfers."""
        m = self.m
        ct = np.array(m.column_totals, dtype=np.float64)
        cf = _fit_float(
            self.method, self.ef / self.rf[m.row], m.column, m.columns, ct, self.lo, self.hi
        )
        self.x = np.clip(
            rounded(self.method, self.ef / (self.rf[m.row] * cf[m.column])), self.lo, self.hi
        )
        for j in range(m.columns):
            self.c[j] = self._fit_column(j, m.column_totals[j])
        self.cf = np.array([float(v) for v in self.c])

    def _fit_column(self, j: int, total: int) -> Fraction:
        """Correct column ``j``'s float start to its exact units; return its divisor."""
        cells = self.by_col[j]
        x = self.x
        while True:
            have = int(x[cells].sum())
            if have < total:
                cell = self._extreme(cells, up=True)
                x[cell] += 1
            elif have > total:
                cell = self._extreme(cells, up=False)
                x[cell] -= 1
            else:
                a = self._extreme(cells, up=True)
                b = self._extreme(cells, up=False)
                if a < 0 or b < 0:
                    break
                # valid when every cell's "up" divisor is at most every cell's "down" one
                if self._col_up(a) <= self._col_down(b):
                    break
                x[b] -= 1
                x[a] += 1
        a = self._extreme(cells, up=True)
        if a >= 0:
            return self._col_up(a)
        b = self._extreme(cells, up=False)
        return self._col_down(b) if b >= 0 else Fraction(1)

    def _col_up(self, cell: int) -> Fraction:
        return self.up_at(cell) / self.r[int(self.m.row[cell])]

    def _col_down(self, cell: int) -> Fraction:
        return self.down_at(cell) / self.r[int(self.m.row[cell])]

    def _extreme(self, cells: IntArray, *, up: bool) -> int:
        """The cell (within bounds to move) whose next unit comes first (``up``: the largest
        column divisor at which it gains) or whose last goes first (the smallest at which it
        loses); -1 when none can move."""
        x = self.x
        if up:
            can = cells[x[cells] < self.hi[cells]]
            if not len(can):
                return -1
            v = self.up_f(can) / self.rf[self.m.row[can]]
            best = v.max()
            near = can[v >= best * (1 - _SCREEN)] if math.isfinite(best) else can[v == best]
            return int(max(near.tolist(), key=lambda c: (self._col_up(c), -c)))
        can = cells[x[cells] > self.lo[cells]]
        if not len(can):
            return -1
        v = self.down_f(can) / self.rf[self.m.row[can]]
        best = v.min()
        near = can[v <= best * (1 + _SCREEN)] if math.isfinite(best) else can[v == best]
        return int(min(near.tolist(), key=lambda c: (self._col_down(c), c)))

    # -- tie-and-transfer ------------------------------------------------------------------

    def transfer(self) -> Shortfall | None:
        """Move units from rows over their totals to rows under, along tied cells, scaling
        divisors to create ties; a Shortfall when a set of rows cannot shed its excess."""
        m = self.m
        rt = np.array(m.row_totals, dtype=np.int64)
        while True:
            rowsum = np.bincount(m.row, weights=self.x, minlength=m.rows).astype(np.int64)
            over = rowsum > rt
            if not over.any():
                return None
            under = rowsum < rt
            path = self._search(over, under)
            if isinstance(path, Shortfall):
                return path
            for cell, delta in path:
                self.x[cell] += delta
            self.transfers += 1

    def _search(self, over: BoolArray, under: BoolArray) -> list[tuple[int, int]] | Shortfall:
        """A path of tied cells from a row over its total to one under, as (cell, +1/-1)
        steps; on the way the labelled rows' divisors are multiplied (the labelled columns'
        divided) by the smallest factor at which a further cell ties (Dijkstra on the
        logarithms of the divisors: each cell's factor is kept as a key, so a step costs
        one minimum over the cells, not a scan of them)."""
        m = self.m
        search = _Search(self, over)
        while True:
            cells = search.nearest()
            if cells is None:
                lab_r, lab_c = search.lab_r.copy(), search.lab_c.copy()
                search.settle()
                return self._cut(lab_r, lab_c)
            alpha = min(a for _, a in cells)
            if alpha != 1:
                search.scale(alpha)
            for cell, a in cells:
                if a != alpha:
                    continue
                search.key[cell] = np.inf
                i, j = int(m.row[cell]), int(m.column[cell])
                if search.lab_r[i] and not search.lab_c[j]:
                    search.label_column(j, cell)
                elif search.lab_c[j] and not search.lab_r[i]:
                    search.label_row(i, cell)
                    if under[i]:
                        search.settle()
                        return self._path(i, search.via_r, search.via_c)

    def _tied(self, cells: IntArray, *, down: bool) -> list[int]:
        """The cells (of those given) sitting exactly at the divisor product where they
        would lose (``down``) or gain a unit."""
        if not len(cells):
            return []
        edge = self.down_f(cells) if down else self.up_f(cells)
        prod = self.product_f(cells)
        near = cells[np.abs(edge - prod) <= _SCREEN * np.maximum(np.abs(prod), 1e-300)]
        out = []
        for cell in near.tolist():
            edge_exact = self.down_at(cell) if down else self.up_at(cell)
            if edge_exact == self.product(cell):
                out.append(cell)
        return out

    def _path(self, end: int, via_r: IntArray, via_c: IntArray) -> list[tuple[int, int]]:
        """The transfer path ending at row ``end``: +1 on the cells that labelled rows, -1 on
        those that labelled columns, back to a row over its total."""
        m = self.m
        steps = []
        i = end
        while via_r[i] >= 0:
            cell = int(via_r[i])
            steps.append((cell, 1))
            j = int(m.column[cell])
            back = int(via_c[j])
            steps.append((back, -1))
            i = int(m.row[back])
        return steps

    def _cut(self, lab_r: BoolArray, lab_c: BoolArray) -> Shortfall:
        """The rows that cannot shed their excess: the columns labelled need their totals,
        the other rows can hold only their caps in them, the labelled rows' cells elsewhere
        are at their floors."""
        m = self.m
        rows_in = lab_r[m.row]
        cols_in = lab_c[m.column]
        columns = sum(m.column_totals[j] for j in np.flatnonzero(lab_c).tolist())
        others = int(self.hi[~rows_in & cols_in].sum())
        floors = int(self.lo[rows_in & ~cols_in].sum())
        hold = sum(m.row_totals[i] for i in np.flatnonzero(lab_r).tolist())
        return Shortfall(
            "cut",
            tuple(np.flatnonzero(lab_r).tolist()),
            tuple(np.flatnonzero(lab_c).tolist()),
            columns - others + floors,
            hold,
            (columns, others, floors),
        )

    # -- readable divisors -----------------------------------------------------------------

    def readable(self, scale: int) -> None:
        """Move the divisors, one side at a time, to the shortest decimal strictly inside
        the interval the other side's divisors leave each line (the allocation stays): the
        median row's divisor near 1, the columns' in entitlement per unit (``scale``), and
        no quotient on a signpost unless a tie holds it there."""
        unit = Fraction(scale) ** self.p
        middle = sorted(self.r)[len(self.r) // 2]
        self.r = [v / middle for v in self.r]
        self.c = [v * middle for v in self.c]
        self.rf = np.array([float(v) for v in self.r])
        self.cf = np.array([float(v) for v in self.c])
        for _ in range(2):
            self._readable_side(column=True, unit=unit)
            self._readable_side(column=False, unit=Fraction(1))

    def _readable_side(self, *, column: bool, unit: Fraction) -> None:
        m, x = self.m, self.x
        lines, own, own_f = (
            (self.by_col, self.c, self.cf) if column else (self.by_row, self.r, self.rf)
        )
        other_index = m.row if column else m.column
        other, other_f = (self.r, self.rf) if column else (self.c, self.cf)
        for k, cells in enumerate(lines):
            ups = cells[x[cells] < self.hi[cells]]
            downs = cells[x[cells] > self.lo[cells]]
            low = self._bound(ups, other, other_f[other_index[ups]], other_index, up=True)
            high = self._bound(downs, other, other_f[other_index[downs]], other_index, up=False)
            assert low is not None  # an upper bound on gaining is 0 at worst
            if high is not None and low >= high:
                continue  # held at a point (a tie), or nothing to choose
            if not len(ups) and not len(downs):
                continue
            chosen = shortest_decimal(low / unit, None if high is None else high / unit) * unit
            own[k] = chosen
            own_f[k] = float(chosen)

    def _bound(
        self,
        cells: IntArray,
        other: list[Fraction],
        other_f: FloatArray,
        other_index: IntArray,
        *,
        up: bool,
    ) -> Fraction | None:
        """The largest divisor at which a cell of ``cells`` would gain (``up``), or the
        smallest at which one would lose, given the other side's divisors (exact; floats
        only pick the candidates). ``up`` with no cells: 0; not ``up``: None (no bound)."""
        if not len(cells):
            return Fraction(0) if up else None
        if up:
            values = self.up_f(cells) / other_f
            best = float(values.max())
            near = cells[values >= best * (1 - _SCREEN)]
            return max(self.up_at(c) / other[int(other_index[c])] for c in near.tolist())
        values = self.down_f(cells) / other_f
        best = float(values.min())
        if not math.isfinite(best):
            return None
        near = cells[values <= best * (1 + _SCREEN)]
        return min(self.down_at(c) / other[int(other_index[c])] for c in near.tolist())

    # -- ties ------------------------------------------------------------------------------

    def ties(self) -> tuple[CellTie, ...]:
        """The cycles of tied cells: each strongly connected set of rows and columns joined
        by cells that may lose (row -> column) or gain (column -> row) a unit at these
        divisors. Every optimal allocation fits the same divisors, so these are exactly the
        allocations as good as this one."""
        m = self.m
        edges: list[tuple[int, int, int, int]] = []  # (from node, to node, cell, delta)
        live = self.live
        downs = self._tied(live[self.x[live] > self.lo[live]], down=True)
        ups = self._tied(live[self.x[live] < self.hi[live]], down=False)
        n = m.rows
        for cell in downs:
            edges.append((int(m.row[cell]), n + int(m.column[cell]), cell, -1))
        for cell in ups:
            edges.append((n + int(m.column[cell]), int(m.row[cell]), cell, 1))
        if not edges:
            return ()
        comp = _components(n + m.columns, [(a, b) for a, b, _, _ in edges])
        groups: dict[int, tuple[list[int], list[int]]] = {}
        for a, b, cell, delta in edges:
            if comp[a] == comp[b]:
                up, down = groups.setdefault(comp[a], ([], []))
                (up if delta > 0 else down).append(cell)
        return tuple(
            CellTie(tuple(sorted(up)), tuple(sorted(down)))
            for up, down in groups.values()
            if up and down
        )


class _Search:
    """The labelled rows and columns of one transfer search and, per cell between a
    labelled and an unlabelled line, the logarithm of the factor at which it ties (offset
    by the scaling so far, so that scaling never touches the keys)."""

    def __init__(self, state: _State, over: BoolArray) -> None:
        m = state.m
        self.state = state
        self.lab_r = np.zeros(m.rows, dtype=bool)
        self.lab_c = np.zeros(m.columns, dtype=bool)
        self.via_r = np.full(m.rows, -1, dtype=np.int64)  # the cell that labelled the row
        self.via_c = np.full(m.columns, -1, dtype=np.int64)
        self.key = np.full(len(m.weight), np.inf)
        self.offset = 0.0  # log of the product of the factors applied so far
        self.total = Fraction(1)  # the product of the factors applied so far
        self.since: dict[tuple[int, int], Fraction] = {}  # (0 row / 1 column, k) -> total
        for i in np.flatnonzero(over).tolist():
            self.label_row(i, -1)

    def label_row(self, i: int, cell: int) -> None:
        """Row ``i`` joins: its cells to unlabelled columns may lose a unit as its divisor
        grows; its cells in labelled columns are no longer candidates."""
        s, m = self.state, self.state.m
        self.lab_r[i] = True
        self.via_r[i] = cell
        self.since[0, i] = self.total
        cells = s.by_row[i]
        inside = self.lab_c[m.column[cells]]
        self.key[cells[inside]] = np.inf
        out = cells[~inside & (s.x[cells] > s.lo[cells])]
        if len(out):
            ratio = s.down_f(out) / s.product_f(out)
            self.key[out] = np.log(ratio) + self.offset

    def label_column(self, j: int, cell: int) -> None:
        """Column ``j`` joins: its cells in unlabelled rows may gain a unit as its divisor
        shrinks."""
        s, m = self.state, self.state.m
        self.lab_c[j] = True
        self.via_c[j] = cell
        self.since[1, j] = self.total
        cells = s.by_col[j]
        inside = self.lab_r[m.row[cells]]
        self.key[cells[inside]] = np.inf
        into = cells[~inside & (s.x[cells] < s.hi[cells])]
        if len(into):
            ratio = s.product_f(into) / s.up_f(into)
            self.key[into] = np.log(ratio) + self.offset

    def nearest(self) -> list[tuple[int, Fraction]] | None:
        """The cells whose factor is within float error of the smallest, each with its exact
        factor; None when no cell can ever tie (the labelled rows are cut off)."""
        s, m = self.state, self.state.m
        best = float(self.key.min())
        if not math.isfinite(best):
            return None
        near = np.flatnonzero(self.key <= best + _SCREEN)
        out = []
        for cell in near.tolist():
            i, j = int(m.row[cell]), int(m.column[cell])
            product = self.row_divisor(i) * self.column_divisor(j)
            if self.lab_r[i]:
                out.append((cell, s.down_at(cell) / product))
            else:
                out.append((cell, product / s.up_at(cell)))
        return out

    def row_divisor(self, i: int) -> Fraction:
        """Row ``i``'s divisor now (a labelled row's grows with every factor since)."""
        r = self.state.r[i]
        return r * self.total / self.since[0, i] if self.lab_r[i] else r

    def column_divisor(self, j: int) -> Fraction:
        c = self.state.c[j]
        return c * self.since[1, j] / self.total if self.lab_c[j] else c

    def scale(self, alpha: Fraction) -> None:
        """Multiply the labelled rows' divisors by ``alpha``, divide the labelled columns'
        (kept as one running factor: a step costs nothing per line)."""
        self.total *= alpha
        self.offset += math.log(alpha.numerator) - math.log(alpha.denominator)

    def settle(self) -> None:
        """Write the divisors of the labelled lines back, exact and as floats."""
        s = self.state
        for i in np.flatnonzero(self.lab_r).tolist():
            s.r[i] = self.row_divisor(i)
            s.rf[i] = float(s.r[i])
        for j in np.flatnonzero(self.lab_c).tolist():
            s.c[j] = self.column_divisor(j)
            s.cf[j] = float(s.c[j])
        self.since.clear()
        self.lab_r[:] = False
        self.lab_c[:] = False


_INFINITY = Fraction(10**400)
"""Stands for an unreachable divisor (a signpost of 0): above every real one."""


def _lines(index: IntArray, size: int) -> list[IntArray]:
    """The cells of each row (or column), as index arrays."""
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(size + 1))
    return [order[bounds[k] : bounds[k + 1]] for k in range(size)]


def _fit_float(
    method: str,
    weight: FloatArray,
    line: IntArray,
    size: int,
    totals: FloatArray,
    lo: IntArray,
    hi: IntArray,
    start: FloatArray | None = None,
) -> FloatArray:
    """Per line, a divisor at which the line's rounded, clipped cells sum to its total (as
    near as floats and ties allow: a warm start, not a decision), by bisection on its
    logarithm, all lines at once, from the divisors of the previous fit when given."""
    if start is None:
        sums = np.bincount(line, weights=weight, minlength=size)
        guess = np.where(totals > 0, sums / np.maximum(totals, 1.0), 1.0)
        width = 0.7
    else:
        guess, width = start, 0.05
    guess = np.where(guess > 0, guess, 1.0)
    low = np.log(guess) - width
    high = np.log(guess) + width

    low_f, high_f = lo.astype(np.float64), hi.astype(np.float64)

    def count(log_d: FloatArray) -> FloatArray:
        x = rounded_float(method, weight * np.exp(-log_d)[line])
        np.maximum(x, low_f, out=x)
        np.minimum(x, high_f, out=x)
        return np.bincount(line, weights=x, minlength=size).astype(np.float64)

    for _ in range(8):  # widen until the bracket holds the total
        too_few = count(low) < totals
        too_many = count(high) > totals
        if not too_few.any() and not too_many.any():
            break
        low = np.where(too_few, low - 4.0, low)
        high = np.where(too_many, high + 4.0, high)
    # to about a tenth of a unit on the largest line (floats hold 1e-16: any budget allowed)
    precision = max(min(1e-7, 0.1 / max(float(totals.max(initial=1.0)), 1.0)), 1e-15)
    for _ in range(max(int(math.log2(2 * width / precision)) + 1, 1)):
        mid = (low + high) / 2
        many = count(mid) > totals  # divisor too small
        low = np.where(many, mid, low)
        high = np.where(many, high, mid)
    return np.exp(high)


def _components(size: int, edges: Sequence[tuple[int, int]]) -> list[int]:
    """Strongly connected components (iterative Tarjan) of a directed graph."""
    graph: list[list[int]] = [[] for _ in range(size)]
    for a, b in edges:
        graph[a].append(b)
    index = [-1] * size
    low = [0] * size
    comp = [-1] * size
    on_stack = [False] * size
    stack: list[int] = []
    counter = 0
    label = 0
    for start in range(size):
        if index[start] >= 0 or not graph[start]:
            continue
        work = [(start, 0)]
        while work:
            node, pos = work.pop()
            if pos == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack[node] = True
            if pos < len(graph[node]):
                work.append((node, pos + 1))
                nxt = graph[node][pos]
                if index[nxt] < 0:
                    work.append((nxt, 0))
                elif on_stack[nxt]:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                while True:
                    top = stack.pop()
                    on_stack[top] = False
                    comp[top] = label
                    if top == node:
                        break
                label += 1
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return comp
