"""Biproportional apportionment: whole units in a matrix whose row and column sums are fixed.

Each cell gets ``x_ij = round(e_ij / (r_i * c_j))`` for a row divisor ``r_i`` and a column
divisor ``c_j``, rounded by a divisor method (Balinski & Demange 1989; Gaffke & Pukelsheim
2008), held within the cell's floor and cap. The divisors are the certificate: a reader
divides, rounds and finds the allocation. The allocation is the optimum of
``sum_ij sum_{k <= x_ij} log(s(k-1) / e_ij)`` under both margins, so every allocation that
fits some divisors is optimal, and all optimal ones fit the same divisors.

The algorithm is the hybrid of Maier, Zachariassen & Zachariasen (2010): a float
alternating scaling (fit every column, then every row) brings the rows near their totals;
every column is then apportioned exactly with those row divisors; and tie-and-transfer
(Balinski & Demange) on exact rationals moves the rest. Tie-and-transfer runs by phases:
one shortest-path search (Dijkstra over the rows and columns, on the logarithms of the
factors at which cells tie) from every row over its total at once, until the rows under
their totals it has reached lack as many units as the rows over hold too many; the divisors
are scaled so that every cell that labelled a line ties, and one unit moves along each path
of the search's tree that shares no cell with another (a tied cell carries one unit before
it leaves its tie). Column sums never change; each unit moved lowers the rows' excess by
one; a phase moves many. The divisors the phase left long (products of exact ties) are
moved to short decimals inside their intervals before the next, children of the search
tree first, so that exact arithmetic stays short. Floats only screen: every tie, every
comparison that decides a unit, is taken on exact integers and fractions, where the floats
are within a bound on their error of each other.

For Huntington-Hill (signposts ``sqrt(k (k+1))``) everything is squared: entitlements,
signposts and divisors, so that the divisors stay rational.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DIVISOR_METHODS = ("jefferson", "webster", "huntington-hill", "adams", "dean")
FIRST_UNIT_FREE = ("adams", "huntington-hill", "dean")
"""Methods whose signpost ``s(0)`` is 0: every cell with a positive entitlement gets a unit."""

_WHOLE = float(2**62)
"""Float quotients are held within this before they become int64 (a warm start's divisors
may run off to 0 or infinity on a matrix alternating scaling fits badly)."""

_SCREEN = 1e-9
"""Relative distance within which floats cannot decide and exact values are compared."""

_LONG = 1024
"""Divisors whose numerator or denominator grow past this many bits in a transfer phase are
moved to a short decimal before the next (exact arithmetic costs grow with the digits)."""

_MARGIN = 64 * 2.0**-52
"""A relative margin far above the error of a float bound of a cell (a few roundings)."""

_SECANT_STEPS = 6
"""Secant steps of a float line fit before bisection takes the lines still off."""

_SCALING_ROUNDS = 200
"""At most this many float alternating-scaling rounds (a fit of every column, then of every
row) before the exact transfers on a large matrix, while each takes a fifth off the rows'
excess (at a budget in won the rows may start 10^12 units off, and a slowly converging
matrix needs dozens of rounds); a small one may take up to :data:`_SCALING_WORK` cells
times rounds while they improve."""

_SCALING_WORK = 500_000
"""Cells times rounds of alternating scaling a small matrix may take: on a sparse one with
caps, alternating scaling may converge slowly and every unit it leaves is a phase of
tie-and-transfer, so rounds (a fraction of a millisecond each there) are the cheaper."""

_SMALL = 40_000
"""A matrix of at most this many cells is small: its rounds cost little, so alternating
scaling goes on while rounds improve at all, not only while they take a fifth off."""

_PROGRESS = 0.8
"""On a large matrix alternating scaling stops at the first round that leaves the rows'
excess above this share of the best so far (past that, a round costs more than the
transfers it saves); on a small one it goes on while rounds still improve on the best."""


def power_of(method: str) -> int:
    """The power the method works in: 2 for Huntington-Hill (squared signposts), else 1."""
    return 2 if method == "huntington-hill" else 1


def signpost(method: str, k: int) -> Fraction:
    """The signpost ``s(k)`` between ``k`` and ``k + 1`` units (squared for Huntington-Hill):
    a quotient above it rounds to ``k + 1`` or more, below it to ``k`` or less."""
    if method == "jefferson":
        return Fraction(k + 1)
    if method == "webster":
        return Fraction(2 * k + 1, 2)
    if method == "adams":
        return Fraction(k)
    if method == "huntington-hill":
        return Fraction(k * (k + 1))
    if method == "dean":
        return Fraction(2 * k * (k + 1), 2 * k + 1)
    raise ValueError(f"not a divisor method: {method}")


def signposts(method: str, k: FloatArray) -> FloatArray:
    """:func:`signpost` over an array of ``k`` (floats, for screening)."""
    if method == "jefferson":
        return k + 1.0
    if method == "webster":
        return k + 0.5
    if method == "adams":
        return k.astype(np.float64)
    if method == "huntington-hill":
        return k * (k + 1.0)
    if method == "dean":
        return 2.0 * k * (k + 1.0) / (2.0 * k + 1.0)
    raise ValueError(f"not a divisor method: {method}")


def rounded(method: str, quotient: FloatArray) -> IntArray:
    """Each quotient (in the method's power) rounded by the method, in floats (a quotient
    that is not a number counts 0; one past the integers the largest, for a caller that
    clips to the cells' bounds)."""
    whole = rounded_float(method, quotient)
    whole = np.clip(np.nan_to_num(whole, nan=0.0), -_WHOLE, _WHOLE)
    return whole.astype(np.int64)


def rounded_float(method: str, quotient: FloatArray) -> FloatArray:
    """:func:`rounded` as whole floats (what the float fits count with)."""
    if method == "jefferson":
        return np.floor(quotient)
    if method == "webster":
        return np.floor(quotient + 0.5)
    if method == "adams":
        return np.ceil(quotient)
    base = np.sqrt(quotient) if power_of(method) == 2 else quotient
    k0 = np.floor(base)
    return k0 + (quotient > signposts(method, k0))


@dataclass(frozen=True)
class Matrix:
    """The problem: cells (``row[c]``, ``column[c]``) with exact entitlements ``weight[c]``
    (integers on one common scale), cell bounds and both margins' totals."""

    row: IntArray
    column: IntArray
    weight: tuple[int, ...]
    lo: IntArray
    hi: IntArray
    row_totals: tuple[int, ...]
    column_totals: tuple[int, ...]

    @property
    def rows(self) -> int:
        return len(self.row_totals)

    @property
    def columns(self) -> int:
        return len(self.column_totals)


@dataclass(frozen=True)
class CellTie:
    """Cells whose units could move around a cycle (``up`` gain one, ``down`` lose one)
    with the same divisors: an equally good allocation the method cannot choose between."""

    up: tuple[int, ...]
    down: tuple[int, ...]


@dataclass(frozen=True)
class Shortfall:
    """Why no allocation exists: ``rows``/``columns`` (indices) whose totals cannot be
    met together, short by ``amount`` units; ``kind`` is ``totals``, ``row``, ``column``,
    ``cut``; ``need`` and ``hold`` are the two sides of the sentence."""

    kind: str
    rows: tuple[int, ...]
    columns: tuple[int, ...]
    need: int
    hold: int
    parts: tuple[int, ...] = ()
    """For a cut: the columns' totals, what the other rows can hold in those columns, and
    the floors of the cut rows' cells elsewhere (``need`` = first - second + third)."""

    @property
    def amount(self) -> int:
        return abs(self.need - self.hold)


@dataclass(frozen=True)
class Apportionment:
    """The answer: ``x`` per cell with its divisors (in the method's power), or why none."""

    method: str
    x: IntArray | None
    row_divisors: tuple[Fraction, ...]
    column_divisors: tuple[Fraction, ...]
    ties: tuple[CellTie, ...]
    shortfall: Shortfall | None
    transfers: int
    lo: IntArray
    phases: int = 0
    """The searches the transfers took (each moves units along paths sharing no cell)."""


def effective_bounds(m: Matrix, method: str) -> tuple[IntArray, IntArray]:
    """Cell bounds as the method sees them: a zero entitlement holds 0 units; under a method
    with ``s(0) = 0`` a positive one at least 1; no cell above its row's or column's total."""
    positive = np.array([w > 0 for w in m.weight], dtype=bool)
    lo = m.lo.copy()
    if method in FIRST_UNIT_FREE:
        lo = np.where(positive, np.maximum(lo, 1), lo)
    rt = np.array(m.row_totals, dtype=np.int64)
    ct = np.array(m.column_totals, dtype=np.int64)
    hi = np.minimum(m.hi, np.minimum(rt[m.row], ct[m.column]))
    hi = np.where(positive, hi, 0)
    return lo, hi


def margin_shortfall(m: Matrix, lo: IntArray, hi: IntArray) -> Shortfall | None:
    """The first margin no allocation can meet: totals that disagree, a row or column whose
    floors need more than its total or whose caps hold less."""
    need_r, need_c = sum(m.row_totals), sum(m.column_totals)
    if need_r != need_c:
        return Shortfall("totals", (), (), need_c, need_r)
    for kind, index, totals, size in (
        ("row", m.row, m.row_totals, m.rows),
        ("column", m.column, m.column_totals, m.columns),
    ):
        floors = np.bincount(index, weights=lo, minlength=size)
        caps = np.bincount(index, weights=hi, minlength=size)
        for i, total in enumerate(totals):
            if floors[i] > total:
                return Shortfall(
                    f"{kind}_floors",
                    _one(kind, i, "row"),
                    _one(kind, i, "column"),
                    int(floors[i]),
                    total,
                )
            if caps[i] < total:
                return Shortfall(
                    kind, _one(kind, i, "row"), _one(kind, i, "column"), total, int(caps[i])
                )
    return None


def _one(kind: str, i: int, want: str) -> tuple[int, ...]:
    return (i,) if kind == want else ()


def biproportional(m: Matrix, method: str, scale: int = 1) -> Apportionment:
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
        state.phases,
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
        self.phases = 0
        self.by_row = _lines(m.row, m.rows)
        self.by_col = _lines(m.column, m.columns)
        self.live = np.flatnonzero(hi > lo)  # cells that may move
        pairs = m.row * m.columns + m.column
        self.shared = len(np.unique(pairs)) < len(pairs)  # recipients sharing a cell

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

    def up_f_all(self) -> FloatArray:
        return self.up_f(np.arange(len(self.m.weight)))

    def down_f_all(self) -> FloatArray:
        return self.down_f(np.arange(len(self.m.weight)))

    def down_f(self, cells: IntArray) -> FloatArray:
        s = signposts(self.method, self.x[cells].astype(np.float64) - 1.0)
        with np.errstate(divide="ignore"):
            return np.where(s > 0, self.ef[cells] / np.where(s > 0, s, 1.0), np.inf)

    # -- the float warm start --------------------------------------------------------------

    def warm_start(self) -> None:
        """Alternating scaling in floats: fit the columns, then the rows, until the rows'
        excess is small; leaves the row divisors (read as exact fractions)."""
        cells = max(len(self.m.weight), 1)
        with np.errstate(all="ignore"):  # a warm start: what floats cannot hold is clipped
            rounds = max(_SCALING_ROUNDS, _SCALING_WORK // cells)
            best_r = self._scale(cells <= _SMALL, rounds)
        best_r = np.where(np.isfinite(best_r) & (best_r > 0), best_r, 1.0)
        scale = float(np.exp(np.mean(np.log(best_r))))
        self.r = [Fraction(float(v / scale)) for v in best_r]
        self.rf = np.array([float(v) for v in self.r])

    def _scale(self, patient: bool, rounds: int) -> FloatArray:
        """The rounds of :meth:`warm_start`; the row divisors of the round that left the
        rows nearest their totals."""
        m, lo, hi, ef = self.m, self.lo, self.hi, self.ef
        rt = np.array(m.row_totals, dtype=np.float64)
        ct = np.array(m.column_totals, dtype=np.float64)
        rf = np.ones(m.rows)
        cf: FloatArray | None = None
        best, best_r, stale = math.inf, rf.copy(), 0
        for _ in range(rounds):
            cf = _fit_float(self.method, ef / rf[m.row], m.column, m.columns, ct, lo, hi, cf)
            x = np.clip(rounded(self.method, ef / (rf[m.row] * cf[m.column])), lo, hi)
            excess = int(np.abs(np.bincount(m.row, weights=x, minlength=m.rows) - rt).sum())
            progress = excess < best * _PROGRESS
            stale = 0 if excess < best else stale + 1
            if excess < best:
                best, best_r = excess, rf.copy()
            if excess == 0 or stale >= 2 or not (patient or progress):
                break
            rf = _fit_float(self.method, ef / cf[m.column], m.row, m.rows, rt, lo, hi, rf)
        return best_r

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
        """Move units from rows over their totals to rows under, by phases: a shortest-path
        search over the lines from every row over its total (:class:`_Phase`) scales the
        divisors until every line it can reach is joined to one of those rows by tied
        cells, then units move along as many of those paths as share no cell (one unit a
        path: a tied cell carries one unit before it leaves its tie). A Shortfall when the
        rows over their totals reach no row under its total."""
        m = self.m
        rt = np.array(m.row_totals, dtype=np.int64)
        while True:
            rowsum = np.bincount(m.row, weights=self.x, minlength=m.rows).astype(np.int64)
            excess = rowsum - rt
            if not (excess > 0).any():
                return None
            phase = _Phase(self, excess)
            phase.grow()
            if not phase.lab_r[excess < 0].any():
                return self._cut(phase.lab_r, phase.lab_c)
            phase.settle()
            self.transfers += phase.augment(excess.tolist())
            self.phases += 1
            self.loosen(reversed(phase.order))

    def loosen(self, lines: Iterable[tuple[int, int]]) -> None:
        """Move each of ``lines`` (0 row / 1 column, index) whose divisor has grown long
        (numerator or denominator past :data:`_LONG` bits) to the shortest decimal strictly
        inside the interval the other side leaves it; the allocation stays, the ties the
        search made are let go, and exact arithmetic stays short. The interval is taken in
        floats with a margin far above their error (a few units in the last place), so
        that no exact comparison is needed; a line whose interval is too narrow for that
        (or held at a point by a tie) stays as it is. Given in reverse order of labelling,
        a line comes after the lines it labelled, so its ties to them are already gone."""
        m, x = self.m, self.x
        for side, k in lines:
            own, own_f = (self.r, self.rf) if side == 0 else (self.c, self.cf)
            v = own[k]
            if v.numerator.bit_length() <= _LONG and v.denominator.bit_length() <= _LONG:
                continue
            cells = self.by_row[k] if side == 0 else self.by_col[k]
            other = m.column[cells] if side == 0 else m.row[cells]
            other_f = (self.cf if side == 0 else self.rf)[other]
            ups = x[cells] < self.hi[cells]
            downs = x[cells] > self.lo[cells]
            with np.errstate(divide="ignore", invalid="ignore"):
                up = self.up_f(cells[ups]) / other_f[ups]
                down = self.down_f(cells[downs]) / other_f[downs]
            above = float(up.max(initial=0.0)) * (1 + _MARGIN)
            below = float(down.min(initial=np.inf)) * (1 - _MARGIN)
            if not (math.isfinite(above) and above < below):
                continue
            chosen = shortest_decimal(
                Fraction(above), Fraction(below) if math.isfinite(below) else None
            )
            own[k] = chosen
            own_f[k] = float(chosen)

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

    def _readable_side(
        self, *, column: bool, unit: Fraction, only: Sequence[int] | None = None
    ) -> None:
        m, x = self.m, self.x
        lines, own, own_f = (
            (self.by_col, self.c, self.cf) if column else (self.by_row, self.r, self.rf)
        )
        other_index = m.row if column else m.column
        other, other_f = (self.r, self.rf) if column else (self.c, self.cf)
        for k in range(len(lines)) if only is None else only:
            cells = lines[k]
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


class _Phase:
    """One search of tie-and-transfer, Dijkstra over the rows and columns: every row over
    its total starts at factor 1; a labelled row's divisor grows with the factor (a
    labelled column's shrinks), and a line joins at the smallest factor at which one of
    its cells ties with a labelled line (a cell of a labelled row that would lose a unit
    to an unlabelled column; a cell of a labelled column that would gain one from an
    unlabelled row). The search runs until no cell can tie any more: every line it
    reaches is labelled, at an exact factor, with the cell that reached it.

    Floats order the lines (the logarithm of each cell's slack is computed once a phase,
    for all cells at once); the lines whose factor floats cannot tell from the smallest
    (within a bound on the float error of the path) are compared exactly, on fractions."""

    def __init__(self, state: _State, excess: IntArray) -> None:
        s, m = state, state.m
        self.state = s
        # the logarithm of the factor by which r c may grow before the cell loses a unit
        # (row -> column) or shrink before it gains one (column -> row); inf: it cannot
        prod = s.product_f(np.arange(len(m.weight)))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            lose = np.log(s.down_f_all() / prod)
            gain = np.log(prod / s.up_f_all())
        lose[np.isnan(lose) | (s.x <= s.lo)] = np.inf
        gain[np.isnan(gain) | (s.x >= s.hi)] = np.inf
        self.lose = np.maximum(lose, 0.0)
        self.gain = np.maximum(gain, 0.0)
        self.wanted = 0  # units the rows over their totals hold too many
        self.offered = 0  # units the labelled rows under their totals lack
        self.excess = excess
        self.lab_r = np.zeros(m.rows, dtype=bool)
        self.lab_c = np.zeros(m.columns, dtype=bool)
        self.lt_r = np.full(m.rows, np.inf)  # log of the factor each line joined at
        self.lt_c = np.full(m.columns, np.inf)
        self.best_r = np.full(m.rows, np.inf)  # the smallest factor seen (log), unlabelled
        self.best_c = np.full(m.columns, np.inf)
        self.pred_r = np.full(m.rows, -1, dtype=np.int64)  # the cell that labelled the line
        self.pred_c = np.full(m.columns, -1, dtype=np.int64)
        self.tau_r: dict[int, Fraction] = {}
        self.tau_c: dict[int, Fraction] = {}
        self.labelled = 0
        self.order: list[tuple[int, int]] = []  # the lines in the order they joined
        for i in np.flatnonzero(excess > 0).tolist():
            self.wanted += int(excess[i])
            self._label(0, i, Fraction(1), 0.0, -1)

    def _eps(self) -> float:
        """A bound on the float error of a factor's logarithm: a few units in the last
        place per cell of the longest path (the path has at most one cell per line)."""
        return 4e-15 * (self.labelled + 8)

    def grow(self) -> None:
        """Label the lines the rows over their totals reach, in order of factor, until the
        rows under their totals labelled lack as many units as the rows over hold too many
        (or every line they reach is labelled)."""
        while self.offered < self.wanted:
            low = min(
                float(self.best_r.min(initial=np.inf)), float(self.best_c.min(initial=np.inf))
            )
            if not math.isfinite(low):
                return
            edge = low + self._eps() * max(1.0, abs(low))
            found: list[tuple[Fraction, int, int, int]] = []
            for i in np.flatnonzero(self.best_r <= edge).tolist():
                found.append((*self._exact(0, i, edge), 0, i))
            for j in np.flatnonzero(self.best_c <= edge).tolist():
                found.append((*self._exact(1, j, edge), 1, j))
            first = min(f[0] for f in found)
            for tau, cell, side, k in found:  # all lines at the smallest factor join
                if tau != first:
                    continue
                lt = self.lt_c if side == 0 else self.lt_r
                index = self.state.m.column if side == 0 else self.state.m.row
                key = self.gain if side == 0 else self.lose
                self._label(side, k, tau, float(lt[index[cell]] + key[cell]), cell)

    def _exact(self, side: int, k: int, edge: float) -> tuple[Fraction, int]:
        """The exact factor at which line ``k`` (0 row, 1 column) joins, from the cells
        that reach it within ``edge`` in floats, and the cell."""
        s, m = self.state, self.state.m
        if side == 0:  # a row: gained by a cell of a labelled column
            cells = s.by_row[k]
            other = m.column[cells]
            ok = self.lab_c[other]
            near = cells[ok][self.lt_c[other[ok]] + self.gain[cells[ok]] <= edge]
            return min(
                (
                    (
                        self.tau_c[int(m.column[c])] * s.product(c) / s.up_at(c),
                        c,
                    )
                    for c in near.tolist()
                ),
                key=lambda t: t[0],
            )
        cells = s.by_col[k]
        other = m.row[cells]
        ok = self.lab_r[other]
        near = cells[ok][self.lt_r[other[ok]] + self.lose[cells[ok]] <= edge]
        return min(
            ((self.tau_r[int(m.row[c])] * s.down_at(c) / s.product(c), c) for c in near.tolist()),
            key=lambda t: t[0],
        )

    def _label(self, side: int, k: int, tau: Fraction, lt: float, cell: int) -> None:
        """Line ``k`` joins at factor ``tau`` (log ``lt``) through ``cell``; the factors
        at which its cells reach unlabelled lines are offered to those lines."""
        s, m = self.state, self.state.m
        self.labelled += 1
        self.order.append((side, k))
        if side == 0:
            self.lab_r[k], self.lt_r[k], self.pred_r[k] = True, lt, cell
            self.best_r[k] = np.inf
            self.tau_r[k] = tau
            self.offered += max(-int(self.excess[k]), 0)
            cells = s.by_row[k]
            targets = m.column[cells]
            keys = lt + self.lose[cells]
            keep = ~self.lab_c[targets] & (keys < self.best_c[targets])
            _offer(self.best_c, self.pred_c, targets[keep], keys[keep], cells[keep], s.shared)
        else:
            self.lab_c[k], self.lt_c[k], self.pred_c[k] = True, lt, cell
            self.best_c[k] = np.inf
            self.tau_c[k] = tau
            cells = s.by_col[k]
            targets = m.row[cells]
            keys = lt + self.gain[cells]
            keep = ~self.lab_r[targets] & (keys < self.best_r[targets])
            _offer(self.best_r, self.pred_r, targets[keep], keys[keep], cells[keep], s.shared)

    def settle(self) -> None:
        """Write the divisors back: a labelled row's grows by the factors since it joined,
        a labelled column's shrinks by them; every cell that labelled a line now ties."""
        s = self.state
        top = max([*self.tau_r.values(), *self.tau_c.values()])
        for i, tau in self.tau_r.items():
            s.r[i] = s.r[i] * top / tau
            s.rf[i] = float(s.r[i])
        for j, tau in self.tau_c.items():
            s.c[j] = s.c[j] * tau / top
            s.cf[j] = float(s.c[j])

    def augment(self, excess: list[int]) -> int:
        """Move one unit along the path to each labelled row under its total (nearest
        first) whose cells no earlier path used, while its row over its total has units
        to give; the number of units moved."""
        s, m = self.state, self.state.m
        used: set[int] = set()
        moved = 0
        unders = [i for i in np.flatnonzero(self.lab_r).tolist() if excess[i] < 0]
        unders.sort(key=lambda i: self.tau_r[i])
        for end in unders:
            path: list[int] = []
            i = end
            while self.pred_r[i] >= 0:
                gains = int(self.pred_r[i])
                loses = int(self.pred_c[int(m.column[gains])])
                path += [gains, loses]
                i = int(m.row[loses])
            if excess[i] <= 0 or used.intersection(path):
                continue
            used.update(path)
            for step, cell in enumerate(path):
                s.x[cell] += 1 if step % 2 == 0 else -1
            excess[i] -= 1
            excess[end] += 1
            moved += 1
        return moved


def _offer(
    best: FloatArray,
    pred: IntArray,
    targets: IntArray,
    keys: FloatArray,
    cells: IntArray,
    shared: bool,
) -> None:
    """Lower ``best[t]`` to the smallest key offered to ``t`` (with its cell); ``shared``:
    several cells of one line may reach the same line (recipients sharing a cell)."""
    if shared:
        order = np.argsort(-keys, kind="stable")  # the smallest written last
        targets, keys, cells = targets[order], keys[order], cells[order]
    best[targets] = keys
    pred[targets] = cells


def shortest_decimal(low: Fraction, high: Fraction | None) -> Fraction:
    """The number with the fewest significant digits strictly between ``low`` and ``high``
    (``None``: no upper end), the smallest such: ``(9590, 9610)`` gives 9600."""
    if high is None:
        return Fraction(math.floor(low) + 1)
    digits = len(str(max(math.floor(high), 1))) + 1
    for place in range(digits, -400, -1):
        step = Fraction(10) ** place
        candidate = (math.floor(low / step) + 1) * step
        if candidate < high:
            return candidate
    raise ValueError("empty interval")  # pragma: no cover - low < high always has one


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
    near as floats and ties allow: a warm start, not a decision), all lines at once, from
    the divisors of the previous fit when given: a few secant steps on the unrounded sum of
    the cells within their bounds, then bisection on the logarithm for the lines still off,
    over their cells only."""
    low_f, high_f = lo.astype(np.float64), hi.astype(np.float64)
    power = power_of(method)  # units grow as the quotient's power-th root
    if start is None:
        root = weight if power == 1 else np.sqrt(weight)
        sums = np.bincount(line, weights=root, minlength=size)
        guess = np.where(totals > 0, sums / np.maximum(totals, 1.0), 1.0) ** power
    else:
        guess = start.copy()
    d = np.where(np.isfinite(guess) & (guess > 0), guess, 1.0)
    miss = np.zeros(size)
    for _ in range(_SECANT_STEPS):
        quotient = weight / d[line]
        x = rounded_float(method, quotient)
        np.clip(x, low_f, high_f, out=x)
        miss = np.bincount(line, weights=x, minlength=size) - totals
        if not miss.any():
            return d
        units = quotient if power == 1 else np.sqrt(quotient)  # unrounded units
        free = np.bincount(
            line, weights=np.where((x > low_f) & (x < high_f), units, 0.0), minlength=size
        )
        want = free - miss
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where((free > 0) & (want > 0), free / want, np.where(miss > 0, 2.0, 0.5))
        d = d * np.where(miss == 0, 1.0, np.clip(ratio, 1 / 16, 16.0) ** power)
    off = miss != 0
    cells = np.flatnonzero(off[line])
    sub_line, sub_weight = line[cells], weight[cells]
    sub_lo, sub_hi = low_f[cells], high_f[cells]

    def count(log_d: FloatArray) -> FloatArray:
        x = rounded_float(method, sub_weight * np.exp(-log_d)[sub_line])
        np.clip(x, sub_lo, sub_hi, out=x)
        return np.bincount(sub_line, weights=x, minlength=size).astype(np.float64)

    width = 0.05
    low = np.log(d) - width
    high = np.log(d) + width
    for _ in range(16):  # widen until the bracket holds the total
        too_few = off & (count(low) < totals)
        too_many = off & (count(high) > totals)
        if not too_few.any() and not too_many.any():
            break
        low = np.where(too_few, low - 4.0, low)
        high = np.where(too_many, high + 4.0, high)
    # to about a tenth of a unit on the largest line (floats hold 1e-16: any budget allowed)
    precision = max(min(1e-7, 0.1 / max(float(totals.max(initial=1.0)), 1.0)), 1e-15)
    for _ in range(max(int(math.log2(2 * width / precision)) + 1, 1)):
        mid = (low + high) / 2
        counted = count(mid)
        if not (off & (counted != totals)).any():
            high = mid
            break
        many = counted > totals  # divisor too small
        low = np.where(many, mid, low)
        high = np.where(many, high, mid)
    return np.where(off, np.exp(high), d)


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


def apportion_line(weights: Sequence[int], total: int, method: str) -> list[int] | None:
    """One margin: ``total`` units over exact ``weights`` by a divisor method (bounded to
    ``total`` each) or Hamilton; None when the method cannot place them (Adams, Dean or
    Huntington-Hill with fewer units than positive weights)."""
    k = len(weights)
    if method == "quota":
        from optimizer.quota_method import MAX_UNITS, quota_method

        if total > MAX_UNITS or not any(weights):
            return None
        return quota_method(list(weights), total).units
    if method == "hamilton":
        whole = sum(weights)
        if whole == 0:
            return None
        units = [total * w // whole for w in weights]
        order = sorted(range(k), key=lambda i: (-((total * weights[i]) % whole), i))
        for i in order[: total - sum(units)]:
            units[i] += 1
        return units
    m = Matrix(
        row=np.arange(k, dtype=np.int64),
        column=np.zeros(k, dtype=np.int64),
        weight=tuple(weights),
        lo=np.zeros(k, dtype=np.int64),
        hi=np.full(k, total, dtype=np.int64),
        row_totals=(total,) * k,
        column_totals=(total,),
    )
    lo, hi = effective_bounds(m, method)
    if int(lo.sum()) > total or int(hi.sum()) < total:
        return None
    state = _State(m, method, lo, hi)
    state.fit_columns_exactly()
    return [int(v) for v in state.x.tolist()]
