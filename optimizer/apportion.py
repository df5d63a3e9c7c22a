"""The exact fast path: separable convex allocation by greedy unit selection.

When only bounds constrain the units, taking the ``budget - sum(lo)`` cheapest units
(ordered by primary cost, then the tie-breakers, then k) is optimal, because each
recipient's unit costs never decrease. With the divisor-method costs this *is* the bounded
divisor method (highest priorities first); with the Hamilton cost it is the bounded
largest-remainder method. No solver is called.

Two implementations give the same answer:

- :func:`greedy_by_sort` tabulates every unit between the bounds and sorts them (one
  ``lexsort``): simple, and the reference the tests hold the other to, but its memory and
  time grow with ``sum(hi - lo)``, which is the budget times the number of uncapped
  recipients;
- :func:`select_units` finds the *threshold*: the key ``(primary, secondary, rank, k)`` of
  the last unit taken, one component at a time, by bisection over each component's values.
  How many units of recipient ``i`` lie below a threshold is one inversion of its cost
  (:meth:`~optimizer.objectives.MarginalCost.first_guess`, checked against the exact
  integer costs), so the work is ``O(n)`` per bisection step whatever the budget.

:func:`greedy` decides the scenario costs (:class:`~optimizer.objectives.MarginalCost`) on
exact keys instead (:func:`exact_greedy`: a floating-point threshold, then exchanges on
exact keys); the two above serve other unit costs (the diagnosis's elastic costs).
:func:`apportion` is the textbook interface: entitlements in, seats out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np

from optimizer.entitlement import FloatArray, IntArray
from optimizer.exact import ExactQuota, Screen, decimal_integers, divisor_of, repair
from optimizer.model import IntegerProgram
from optimizer.objectives import (
    FIRST_UNIT_FIRST,
    MarginalCost,
    UnitCost,
    divisor,
    divisor_inverse,
    unit_table,
)
from optimizer.scenario import METHOD_ALIASES

SORT_LIMIT = 65_536
"""Below this many units between the bounds, :func:`greedy` sorts them all."""

KEY_STAGES = 4
"""The components of a unit's key: primary cost, secondary cost, rank, k."""

Aggregate = Callable[[IntArray], IntArray]


def greedy(program: IntegerProgram) -> IntArray | None:
    """The optimal allocation of a separable program, or None when bounds cannot meet the
    budget. Only valid when ``program.is_separable``."""
    lo, hi = program.lo, program.hi
    need = program.budget - int(lo.sum())
    if need < 0 or int(hi.sum()) < program.budget or np.any(lo > hi):
        return None
    if isinstance(program.cost, MarginalCost):
        return exact_greedy(program.cost, lo, hi, program.budget)
    if int((hi - lo).sum()) <= SORT_LIMIT:
        return greedy_by_sort(program)
    return select_units(program.cost, lo, hi, np.array([0]), np.array([need]))


def exact_greedy(cost: MarginalCost, lo: IntArray, hi: IntArray, budget: int) -> IntArray:
    """The separable optimum decided on exact keys (:mod:`optimizer.exact`): a
    floating-point threshold places every recipient within a unit or so, then single-unit
    exchanges on the exact keys finish. Costs ``O(n log(budget))``, exact at any budget.

    Only the recipients whose boundary units lie within floating-point error of the
    threshold ``tau`` are handed to the exchanges: the others' last taken unit is provably
    below ``tau``'s lower margin and their next unit above its upper one. The answer is
    accepted when, after the exchanges, those recipients' last units are exactly below the
    upper margin and their next units above the lower one (then no exchange with the
    others can help either), else the exchanges run over everyone."""
    x, tau = float_start(cost, lo, hi, budget)
    if tau is not None:
        near = np.flatnonzero(~_clear_of(cost, x, lo, hi, tau))
        rest = int(x.sum()) - int(x[near].sum())
        if len(near) and int(lo[near].sum()) <= budget - rest <= int(hi[near].sum()):
            key = cost.key
            ids = near.tolist()
            x_near = repair(x[near], lo[near], hi[near], budget - rest, lambda j, k: key(ids[j], k))
            below, above = _margins(cost, x, tau)
            under_high, over_low = _exact_side(cost, above), _exact_side(cost, below)
            if all(
                (u <= lo[i] or under_high(i, u - 1) < 0) and (u >= hi[i] or over_low(i, u) > 0)
                for i, u in zip(ids, x_near.tolist(), strict=True)
            ):
                x = x.copy()
                x[near] = x_near
                return x
        elif not len(near) and int(x.sum()) == budget:
            return x
    return repair(x, lo, hi, budget, cost.key)


_ERROR = 128 * np.finfo(np.float64).eps
"""A bound on the relative error of the float quotas and keys (about 30 roundings)."""


def key_screen(cost: MarginalCost) -> Callable[[IntArray], Screen] | None:
    """The floating-point screen of an allocation's boundary keys that
    :func:`~optimizer.exact.settle` needs: ``k - q_i`` for Hamilton, ``d(k) / q_i`` for
    divisor methods (``-q_i`` where ``d(k) = 0``: those units come first, larger quota
    first), each within :data:`_ERROR` of the exact value; None for ``weighted``, whose
    keys put the quota before ``k - q_i`` (no one number orders them)."""
    if cost.rule == "weighted":
        return None
    q, rule = cost.quota, cost.rule

    def estimate(k: IntArray) -> tuple[FloatArray, FloatArray]:
        kf = k.astype(np.float64)
        if rule == "hamilton":
            return kf - q, _ERROR * (np.abs(q) + np.abs(kf) + 1.0)
        d = divisor(rule, kf)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(d > 0, d / q, -q)  # a zero quota's priority is 0: d / 0 = inf
        return value, np.where(np.isinf(value), 0.0, _ERROR * np.abs(value))

    def screen(x: IntArray) -> Screen:
        taken, taken_error = estimate(x - 1)
        untaken, untaken_error = estimate(x)
        return Screen(taken, taken_error, untaken, untaken_error)

    return screen


def _margins(cost: MarginalCost, x: IntArray, tau: float) -> tuple[float, float]:
    """Thresholds just below and above ``tau`` that bound the floating-point error of
    every key: a unit whose float key is below ``tau``'s lower margin (by as much again)
    is below the lower one exactly, and likewise above."""
    if cost.rule == "hamilton":
        eps = _ERROR * (float(np.max(np.abs(cost.quota))) + float(np.max(x)) + abs(tau) + 1.0)
        return tau - eps, tau + eps
    return tau * (1 - _ERROR), tau * (1 + _ERROR)


def _clear_of(
    cost: MarginalCost, x: IntArray, lo: IntArray, hi: IntArray, tau: float
) -> np.ndarray:
    """Recipients whose last taken unit is below ``tau``'s lower margin and next unit above
    its upper margin beyond any floating-point error (at a bound, that side needs
    nothing)."""
    q = cost.quota
    at_lo, at_hi = x <= lo, x >= hi
    below, above = _margins(cost, x, tau)
    if cost.rule == "hamilton":
        return (at_lo | (x - 1 - q < 2 * below - tau)) & (at_hi | (x - q > 2 * above - tau))
    before = divisor(cost.rule, (x - 1).astype(np.float64))
    after = divisor(cost.rule, x.astype(np.float64))
    return (at_lo | (before < q * (2 * below - tau))) & (at_hi | (after > q * (2 * above - tau)))


def _exact_side(cost: MarginalCost, tau: float) -> Callable[[int, int], int]:
    """The exact side of the threshold ``tau`` unit ``k`` of recipient ``i`` is on: -1 taken
    (below), 1 not taken, 0 exactly on it."""
    exact = cost.exact
    numer, denom = exact.numer, exact.denom
    a, b = Fraction(tau).as_integer_ratio()
    rule = cost.rule

    def sign(v: int) -> int:
        return (v > 0) - (v < 0)

    if rule == "hamilton":  # k - q_i against tau
        return lambda i, k: sign((k * denom - numer[i]) * b - a * denom)
    if rule == "huntington-hill":  # d(k)^2 = k (k + 1) against (q_i tau)^2
        return lambda i, k: sign(k * (k + 1) * denom * denom * b * b - numer[i] ** 2 * a * a)

    def divisor_side(i: int, k: int) -> int:  # d(k) against q_i tau
        num, den = divisor_of(rule, k)
        return sign(num * denom * b - den * numer[i] * a)

    return divisor_side


def float_start(
    cost: MarginalCost, lo: IntArray, hi: IntArray, budget: int
) -> tuple[IntArray, float | None]:
    """An allocation within the bounds, of at most ``budget`` units, near the optimum: the
    units below a floating-point threshold on the cost (bisection; ``O(n)`` a step), with
    that threshold (``k - q`` for Hamilton, the divisor for divisor methods; None when the
    start was built otherwise)."""
    if cost.rule == "weighted":
        return _weighted_start(cost, lo, hi, budget), None
    found = threshold_counts(cost, lo, hi)
    if found is None:
        return fill_by_rank(lo.copy(), hi, cost.rank, budget), None
    counts, low, high = found
    x, tau = bisect_threshold(counts, low, high, budget)
    if cost.rule == "hamilton":
        return x, tau
    filled = fill_by_rank(x, hi, cost.rank, budget)
    return filled, (tau if filled is x else None)


def threshold_counts(
    cost: MarginalCost, lo: IntArray, hi: IntArray
) -> tuple[Callable[[float], IntArray], float, float] | None:
    """Each recipient's units (within its bounds) whose cost is below a floating-point
    threshold ``t`` (``k - q_i < t`` for Hamilton; ``d(k) < q_i t`` for divisor
    methods, ``t`` a divisor), as a function of ``t``, with thresholds below and above
    every count's change. None for ``weighted`` and for divisor methods without a
    positive quota."""
    q, rule = cost.quota, cost.rule
    if rule == "weighted":
        return None
    if rule == "hamilton":
        return (
            lambda t: np.clip(np.ceil(t + q), lo, hi).astype(np.int64),
            float(np.min(lo - q)) - 1.0,
            float(np.max(hi - q)) + 1.0,
        )
    positive = q > 0
    if not positive.any():
        return None

    def counts(divisor: float) -> IntArray:
        """Units whose priority q / d(k) exceeds 1 / divisor: d(k) < q * divisor."""
        y = q * divisor
        c = np.ceil(divisor_inverse(rule, y))
        if rule in FIRST_UNIT_FIRST:  # d(0) = 0: the first unit comes first
            c = np.where(y > 0, np.maximum(c, 1.0), 0.0)
        return np.clip(c, lo, hi).astype(np.int64)

    return counts, 0.0, float(np.max((hi[positive] + 2.0) / q[positive]))


def bisect_threshold(
    counts: Callable[[float], IntArray],
    low: float,
    high: float,
    budget: int,
    total_of: Callable[[IntArray], int] | None = None,
) -> tuple[IntArray, float]:
    """``counts`` at the largest threshold in ``[low, high]`` (found by bisection) whose
    total (``total_of``, default the sum) is at most ``budget``, and that threshold;
    ``counts`` and its total never decrease in it."""
    best = counts(low)
    for _ in range(200):
        mid = low + (high - low) / 2.0
        if not low < mid < high:
            break
        at = counts(mid)
        total = int(at.sum()) if total_of is None else total_of(at)
        if total == budget:
            return at, mid
        if total < budget:
            low, best = mid, at
        else:
            high = mid
    return best, low


def fill_by_rank(x: IntArray, hi: IntArray, rank: IntArray, budget: int) -> IntArray:
    """Units still missing go to recipients in rank order, each up to its cap (where only
    zero priorities are left)."""
    short = budget - int(x.sum())
    if short <= 0:
        return x
    order = np.argsort(rank, kind="stable")
    room = (hi - x)[order]
    take = np.zeros_like(x)
    take[order] = np.clip(short - (np.cumsum(room) - room), 0, room)
    return x + take


def _weighted_start(cost: MarginalCost, lo: IntArray, hi: IntArray, budget: int) -> IntArray:
    """``weighted``: recipients with larger quotas fill to their caps first; those tied
    with the last one share its units by the Hamilton start (equal quotas: evenly). Quotas
    within rounding of the last one are ordered exactly, so that only exact ties share."""
    q, rank = cost.quota, cost.rank
    x = lo.copy()
    need = budget - int(lo.sum())
    order = np.lexsort((rank, -q))
    room = np.cumsum((hi - lo)[order])
    cut = int(np.searchsorted(room, need, side="left"))
    if cut >= len(order):
        return hi.copy()
    level = q[order[cut]]
    near = np.abs(q - level) <= 1e-12 * abs(level)
    above = (q > level) & ~near
    x[above] = hi[above]
    rest = need - int((hi - lo)[above].sum())
    numer = cost.exact.numer
    for value in sorted({numer[i] for i in np.flatnonzero(near).tolist()}, reverse=True):
        tied = np.array([i for i in np.flatnonzero(near).tolist() if numer[i] == value])
        space = int((hi - lo)[tied].sum())
        if rest >= space:  # this exact level fills up
            x[tied], rest = hi[tied], rest - space
            continue
        sub = MarginalCost("hamilton", q[tied], rank[tied])
        x[tied] = float_start(sub, lo[tied], hi[tied], rest + int(lo[tied].sum()))[0]
        break
    return x


def greedy_by_sort(program: IntegerProgram) -> IntArray | None:
    """:func:`greedy` by tabulating and sorting every unit between the bounds."""
    lo, hi = program.lo, program.hi
    need = program.budget - int(lo.sum())
    if need < 0 or int(hi.sum()) < program.budget or np.any(lo > hi):
        return None
    table = unit_table(program.cost, lo, hi)
    order = np.lexsort((table.k, table.tertiary, table.secondary, table.primary))[:need]
    return lo + np.bincount(table.owner[order], minlength=program.size).astype(np.int64)


def first_at_least(
    cost: UnitCost, stage: int, i: IntArray, value: IntArray, start: IntArray, stop: IntArray
) -> IntArray:
    """For each recipient ``i[j]``, the first k in ``[start[j], stop[j])`` whose key
    component ``stage`` is at least ``value[j]`` (``stop[j]`` if none), given that the
    component never decreases on that range.

    Stages 0 and 1 (the primary and secondary costs) start from the cost's closed-form
    guess when it has one, then check it against the exact integer costs; the few guesses
    that are off are repaired by a step or by bisection, so the answer is exact whatever
    the guess. Stage 2 (rank) is constant per recipient, stage 3 is k itself.
    """
    if stage == 2:
        return np.where(cost.tertiary(i) >= value, start, stop)
    if stage == 3:
        return np.clip(value, start, stop)
    f = cost.primary if stage == 0 else cost.secondary
    guess = getattr(cost, "first_guess", None)
    if guess is None:
        k = start.copy()
    else:
        raw = guess(stage, i, value)
        raw = np.where(np.isnan(raw), -np.inf, raw)
        k = np.ceil(np.clip(raw, start, stop)).astype(np.int64)

    def wrong(k: IntArray, sel: IntArray) -> IntArray:
        """Which of the entries ``sel`` are not yet the answer: too late (the unit before
        already reaches the value) or too early (unit k does not)."""
        a, b, v, kk = start[sel], stop[sel], value[sel], k[sel]
        late = kk > a
        late[late] = f(i[sel][late], kk[late] - 1) >= v[late]
        early = kk < b
        early[early] = f(i[sel][early], kk[early]) < v[early]
        return np.where(late, -1, np.where(early, 1, 0))

    sel = np.arange(len(i))
    for _ in range(2):  # a rounding error moves the guess by a unit: step once or twice
        if not len(sel):
            return k
        move = wrong(k, sel)
        sel = sel[move != 0]
        k[sel] += move[move != 0]
    if len(sel):
        move = wrong(k, sel)
        sel = sel[move != 0]
    if len(sel):  # far off (or no guess): bisection on [start, stop]
        low, high = start[sel].copy(), stop[sel].copy()
        while True:
            open_ = low < high
            if not open_.any():
                break
            mid = low + (high - low) // 2
            at = np.flatnonzero(open_)
            reached = f(i[sel][at], mid[at]) >= value[sel][at]
            high[at] = np.where(reached, mid[at], high[at])
            low[at] = np.where(reached, low[at], mid[at] + 1)
        k[sel] = low
    return k


def select_units(
    cost: UnitCost,
    lo: IntArray,
    hi: IntArray,
    starts: IntArray,
    need: IntArray,
    *,
    aggregate: Aggregate | None = None,
    owner: IntArray | None = None,
) -> IntArray:
    """Choose, in each segment of recipients, ``need`` units beyond ``lo`` with the
    smallest keys, and return the resulting allocation.

    Segment ``s`` holds recipients ``starts[s]:starts[s+1]`` (the arrays are in segment
    order, segments are not empty) and the caller guarantees
    ``0 <= need[s] <= sum(hi - lo)`` over it. With ``aggregate`` (one segment only), the
    count to reach is not the number of units taken but ``aggregate(x - lo)``, a
    non-decreasing function that grows by at most one per unit (the nested greedy counts
    group totals clipped to the group's bounds this way). ``owner[j]`` is the index the
    cost knows row ``j`` by (default: ``j``).

    The search keeps, per recipient, the range ``[a, b)`` of units whose keys tie with the
    threshold found so far (units before ``a`` are taken, units from ``b`` are not), and
    resolves the key one component at a time: for component ``c``, the value ``v`` of the
    unit that completes the count is the largest ``v`` for which the units with
    ``c < v`` are still too few (bisection between the smallest and largest ``c`` in the
    ranges); the new range is the units with ``c == v``. The bisection counts with the
    cost's closed-form guesses, then the value is checked with exact counts (and searched
    again, exactly, in the rare case a guess misled it).
    """
    if len(lo) == 0:
        return lo.copy()
    search = _ThresholdSearch(cost, lo, hi, starts, need, aggregate, owner)
    for stage in range(KEY_STAGES):
        if search.done.all():
            break
        search.resolve(stage)
    if not search.done.all():  # pragma: no cover - the four components identify every unit
        raise AssertionError("threshold search did not converge")
    return search.a


class _ThresholdSearch:
    """The state of :func:`select_units`: per recipient the tie range ``[a, b)``, per
    segment whether its count is reached."""

    def __init__(
        self,
        cost: UnitCost,
        lo: IntArray,
        hi: IntArray,
        starts: IntArray,
        need: IntArray,
        aggregate: Aggregate | None,
        owner: IntArray | None,
    ) -> None:
        n = len(lo)
        self.cost, self.lo, self.starts, self.need = cost, lo, starts, need
        self.aggregate = aggregate
        self.who = np.arange(n, dtype=np.int64) if owner is None else owner
        self.seg_of = np.zeros(n, dtype=np.int64)
        if len(starts) > 1:
            self.seg_of[starts[1:]] = 1
            np.cumsum(self.seg_of, out=self.seg_of)
        self.a, self.b = lo.copy(), hi.copy()
        self.done = self.total(self.a - lo) >= need
        self._finish_where(self.total(self.b - lo) == need)

    def total(self, counts: IntArray) -> IntArray:
        """The count each segment has reached when recipient j takes ``counts[j]``."""
        if self.aggregate is not None:
            return self.aggregate(counts)
        out: IntArray = np.add.reduceat(counts, self.starts)
        return out

    def _finish_where(self, finished: np.ndarray) -> None:
        """Segments whose whole tie range completes the count take all of it."""
        finished = finished & ~self.done
        self.a = np.where(finished[self.seg_of], self.b, self.a)
        self.done |= finished

    def resolve(self, stage: int) -> None:
        """Narrow every open segment's tie range to the units whose component ``stage``
        equals that of the unit completing the count."""
        a, b, who = self.a, self.b, self.who
        big = np.iinfo(np.int64).max
        rows = np.flatnonzero(~self.done[self.seg_of] & (a < b))
        # bracket: the smallest component in each range, and one past the largest
        first = np.full(len(a), big, dtype=np.int64)
        last = np.full(len(a), -big, dtype=np.int64)
        first[rows] = _component(self.cost, stage, who[rows], a[rows])
        last[rows] = _component(self.cost, stage, who[rows], b[rows] - 1)
        low0 = np.minimum.reduceat(first, self.starts)  # count below low0 < need
        high0 = np.maximum.reduceat(last, self.starts) + 1  # count below high0 >= need
        v = self._bisect(stage, rows, low0, high0, ~self.done, exact=False)
        while True:  # check v with exact counts; where the guesses misled, bisect exactly
            at = v[self.seg_of][rows]
            a_rows = first_at_least(self.cost, stage, who[rows], at, a[rows], b[rows])
            b_rows = first_at_least(self.cost, stage, who[rows], at + 1, a[rows], b[rows])
            below = a - self.lo
            below[rows] = a_rows - self.lo[rows]
            upto = below.copy()
            upto[rows] = b_rows - self.lo[rows]
            too_high = self.total(below) >= self.need
            wrong = ~self.done & (too_high | (self.total(upto) < self.need))
            if not wrong.any():
                break
            low = np.where(too_high, low0, v + 1)
            high = np.where(too_high, v, high0)
            v = np.where(wrong, self._bisect(stage, rows, low, high, wrong, exact=True), v)
        self.a[rows], self.b[rows] = a_rows, b_rows
        self._finish_where(self.total(self.b - self.lo) == self.need)

    def _bisect(
        self,
        stage: int,
        rows: IntArray,
        low: IntArray,
        high: IntArray,
        active: np.ndarray,
        *,
        exact: bool,
    ) -> IntArray:
        """Per active segment, the largest v in ``[low, high)`` whose count is short of
        the need, given that ``low``'s is and ``high``'s is not."""
        guess = None if exact or stage >= 2 else getattr(self.cost, "first_guess", None)
        single = len(self.starts) == 1
        who, start, stop = self.who[rows], self.a[rows], self.b[rows]
        seg = self.seg_of[rows]
        counts = self.a - self.lo
        base = self.lo[rows]
        # the counts at low and high (those of the tie range's ends, to start with: only
        # the interpolation uses them)
        g_low = self.total(counts)
        ends = counts.copy()
        ends[rows] = stop - base
        g_high = self.total(ends)
        # secondary costs grow about linearly in k, so their counts about linearly in the
        # threshold: interpolate there (the primary counts jump, and bisection is better)
        linear = stage == 1
        interpolate = np.full(len(low), linear)
        while True:
            span = high - low
            work = active & (span > 1)
            if not work.any():
                return low
            # regula falsi while it pays off (the range at least halves), else bisection
            with np.errstate(invalid="ignore", divide="ignore"):
                frac = (self.need - g_low) / (g_high - g_low).astype(np.float64)
            step = np.floor(np.nan_to_num(frac, nan=0.5) * span.astype(np.float64))
            guessed = low + np.clip(step, 1, np.maximum(span - 1, 1)).astype(np.int64)
            mid = np.where(interpolate, guessed, low + span // 2)
            value = np.full(len(rows), mid[0]) if single else mid[seg]
            if guess is None:
                k = first_at_least(self.cost, stage, who, value, start, stop)
            else:  # the closed-form guess alone: monotone, and rarely off by a unit
                raw = guess(stage, who, value)
                raw[np.isnan(raw)] = -np.inf
                k = np.ceil(np.clip(raw, start, stop)).astype(np.int64)
            counts[rows] = k - base
            g_mid = self.total(counts)
            short = g_mid < self.need
            low = np.where(work & short, mid, low)
            g_low = np.where(work & short, g_mid, g_low)
            high = np.where(work & ~short, mid, high)
            g_high = np.where(work & ~short, g_mid, g_high)
            interpolate = linear & ((high - low) * 2 <= span)


def _component(cost: UnitCost, stage: int, i: IntArray, k: IntArray) -> IntArray:
    """Component ``stage`` of the key of unit ``k`` of recipient ``i``."""
    if stage == 0:
        return cost.primary(i, k)
    if stage == 1:
        return cost.secondary(i, k)
    if stage == 2:
        return cost.tertiary(i)
    return k


def maxmin_floors(
    quota: FloatArray,
    lo: IntArray,
    hi: IntArray,
    feasible: Callable[[IntArray], bool],
    exact: ExactQuota | None = None,
) -> IntArray:
    """Raise floors to ``ceil(lam * q_i)`` for the largest ``lam`` that stays feasible.

    ``feasible(floors)`` answers for raised floors; the largest minimum of ``x_i / q_i`` is
    then guaranteed by the floors, and the remaining units go by the Hamilton cost.
    Recipients with a zero quota are not counted in the minimum. Exact at any budget: the
    floors are computed from the exact quotas (``exact``, default: the floats read as
    ratios), a floating-point bisection narrows ``lam`` to adjacent floats, and the
    breakpoints ``m / q_i`` left between them are searched exactly.
    """
    exact = exact or ExactQuota.of_floats(quota)
    numer = np.array(exact.numer, dtype=object)
    positive = numer > 0
    if not np.any(positive):
        return lo.copy()
    denom = exact.denom

    def floors(lam: Fraction) -> IntArray:
        scaled = lam.denominator * denom
        raised = (-((-lam.numerator * numer) // scaled)).astype(np.int64)
        return np.where(positive, np.maximum(lo, raised), lo)

    answers: dict[bytes, bool] = {}

    def ask(lam: Fraction) -> bool:
        """The oracle, asked once per distinct floors (near the end of the bisection most
        midpoints raise the floors exactly as one of the ends does)."""
        at = floors(lam)
        key = at.tobytes()
        if key not in answers:
            answers[key] = feasible(at)
        return answers[key]

    where = np.flatnonzero(positive).tolist()
    top = min(Fraction(int(hi[i]) * denom, exact.numer[i]) for i in where)
    if ask(top):
        return floors(top)
    low, high = Fraction(0), top
    while True:  # bisection on floats while they can still halve the interval
        mid = Fraction((float(low) + float(high)) / 2.0)
        if not low < mid < high:
            break
        if ask(mid):
            low = mid
        else:
            high = mid
    # the floors change only just after a breakpoint m / q_i: search those in [low, high)
    points: set[Fraction] = set()
    for i in where:
        q = Fraction(exact.numer[i], denom)
        first, last = math.ceil(low * q), math.ceil(high * q) - 1
        points.update(Fraction(m) / q for m in range(first, last + 1))
    candidates = sorted(p for p in points if low <= p < high)
    best, left, right = low, 0, len(candidates) - 1
    while left <= right:
        middle = (left + right) // 2
        if ask(candidates[middle]):
            best, left = candidates[middle], middle + 1
        else:
            right = middle - 1
    return floors(best)


def apportion(
    entitlements: Sequence[float],
    house: int,
    method: str = "hamilton",
    *,
    floors: Sequence[int] | None = None,
    caps: Sequence[int] | None = None,
    ids: Sequence[str] | None = None,
) -> list[int]:
    """Apportion ``house`` seats to ``entitlements`` by a textbook method (bounded by
    ``floors``/``caps`` if given). Ties go to the larger entitlement, then the smaller id
    (by default the earlier position).

    >>> apportion([5, 3, 2], 7, "hamilton")
    [4, 2, 1]
    >>> apportion([5, 3, 2], 7, "jefferson")
    [4, 2, 1]
    """
    ent = np.asarray(entitlements, dtype=np.float64)
    n = len(ent)
    names = list(ids) if ids is not None else [f"{i:012d}" for i in range(n)]
    quota = house * ent / ent.sum()
    order = sorted(range(n), key=lambda j: (-ent[j], names[j]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    canonical = METHOD_ALIASES[method.lower()]
    program = IntegerProgram(
        budget=house,
        lo=np.zeros(n, dtype=np.int64) if floors is None else np.asarray(floors, np.int64),
        hi=np.full(n, house, dtype=np.int64) if caps is None else np.asarray(caps, np.int64),
        sums=(),
        orders=(),
        cost=MarginalCost.for_objective(
            "proportional",
            canonical,  # type: ignore[arg-type]
            quota,
            rank,
            ExactQuota.of_entitlements(house, *decimal_integers(ent)),
        ),
    )
    x = greedy(program)
    if x is None:
        raise ValueError("floors and caps cannot sum to the house size")
    return [int(v) for v in x]
