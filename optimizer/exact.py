"""Exact decisions at any budget: quotas as integer ratios, unit keys compared exactly.

Floating point cannot tell two quotas of 10^12 units apart when they differ in the fifth
decimal, nor two divisor-method priorities ``q / d(k)`` near ``k = 10^11``. Every decision
of the greedy paths (who gets the next unit) is therefore taken here, on exact values:

- :class:`ExactQuota` holds the quotas as ``numer[i] / denom`` with Python integers. From a
  scenario, the numerators are the budget times the entitlements written as decimals
  (each score, weight and multiplier is the decimal its input shows), so the quotas are
  exactly ``B * e_i / sum(e)``; from bare float quotas (the textbook :func:`apportion`
  interface, tests) they are the floats' exact binary values.
- :func:`unit_key` is the exact key of a unit: the order in which the greedy takes units.
- :func:`repair` turns a nearly right allocation (from a floating-point threshold, which
  costs ``O(n)`` per step whatever the budget) into the exact optimum by exchanging single
  units while some taken unit has a larger key than an untaken one. The floating-point
  start is within a unit or so of the optimum per recipient, so the exchanges are few; the
  answer is exact whatever the start.

Costs follow the recipients, not the units: nothing here allocates or loops per unit.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MAX_BUDGET = 10**15
"""The largest budget (in units) Allot accepts. Up to it every decision is exact: quotas
and priorities are compared as integer ratios, and the floating-point estimates that
guide the search (53-bit, exact for integers below 2^53 ~ 9.007e15) place each recipient
within a unit or two of its answer."""

MAX_DIGITS = 15
"""Significant decimal digits of a score, weight or multiplier that are taken exactly (a
float's shortest representation has at most 17; beyond 15 the decimal is not unique)."""


@dataclass(frozen=True)
class ExactQuota:
    """Quotas as exact ratios ``numer[i] / denom`` (Python integers, ``denom > 0``)."""

    numer: tuple[int, ...]
    denom: int
    per_quota: Fraction | None = None
    """Entitlement per unit of quota (``sum(e) / budget``), when the quotas came from
    entitlements: certificates state divisors in entitlement per unit with it."""

    @classmethod
    def of_floats(cls, quota: FloatArray) -> ExactQuota:
        """Float quotas read as the simplest ratios they round from (``14/3`` for
        ``4.666666666666667``), over one common denominator: quotas computed in floating
        point keep the exact ties of the ratios they stand for."""
        fracs = [simplest_ratio(v) for v in quota.tolist()]
        denom = 1
        for f in fracs:
            denom = denom * f.denominator // math.gcd(denom, f.denominator)
        return cls(tuple(f.numerator * (denom // f.denominator) for f in fracs), denom)

    @classmethod
    def of_entitlements(
        cls, budget: int, entitlement: Sequence[int], exponent: int = 0
    ) -> ExactQuota:
        """``q_i = budget * e_i / sum(e)`` for entitlements given as integers over
        ``10**exponent``."""
        total = sum(entitlement)
        if total <= 0:
            return cls(tuple(0 for _ in entitlement), 1)
        per_quota = Fraction(total, budget * 10**exponent)
        return cls(tuple([budget * e for e in entitlement]), total, per_quota)

    def fraction(self, i: int) -> Fraction:
        """Recipient ``i``'s quota as a fraction."""
        return Fraction(self.numer[i], self.denom)


def simplest_ratio(value: float) -> Fraction:
    """The ratio with the smallest denominator (a power of ten at most 10^15) that rounds
    to ``value``; the float's exact binary value when none does."""
    text = repr(value)
    if len(text.lstrip("-").replace(".", "").lstrip("0")) <= 12 and "e" not in text:
        return Fraction(text)  # a short decimal: the simplest ratio is the decimal itself
    exact = Fraction(value)
    for digits in range(16):
        near = exact.limit_denominator(10**digits)
        if float(near) == value:
            return near
    return exact


def whole_numbers(values: Mapping[int, Fraction]) -> tuple[int, dict[int, int]]:
    """Fractions as whole numbers over their least common denominator ``scale``:
    ``values[i] == out[i] / scale``, so comparing and rounding ratios of them takes integer
    products only (the grade orders' weights, in the search and in its bound)."""
    scale = math.lcm(*(v.denominator for v in values.values()))
    return scale, {i: int(v * scale) for i, v in values.items()}


def decimal(value: float) -> Fraction:
    """A float as the decimal it is written as (its shortest representation): 0.1 is 1/10."""
    return Fraction(repr(float(value)))


def scaled_bound(values: FloatArray, factor: Fraction, *, upward: bool) -> IntArray:
    """``ceil`` (``upward``) or ``floor`` of ``values[i] * factor``, each value the decimal
    it is written as, exactly: a float product decides where it is clear of an integer by
    more than its rounding error, fractions decide the rest (a change limit of 10% on
    358,645,178,867,021 units, say, where the float product lands on the wrong side)."""
    approx = values * float(factor)
    out = np.ceil(approx) if upward else np.floor(approx)
    error = np.abs(approx) * 2.0**-50 + 2.0**-40  # far above the two roundings' error
    unsure = np.flatnonzero(np.abs(approx - np.rint(approx)) <= error)
    result: IntArray = out.astype(np.int64)
    if not len(unsure):
        return result
    # whole values (a previous allocation, usually) are their own decimals: integer
    # arithmetic decides them, in int64 while the products fit
    doubt = values[unsure]
    whole = (doubt == np.floor(doubt)) & (np.abs(doubt) < 2.0**53)
    num, den = factor.numerator, factor.denominator
    ints = doubt[whole].astype(np.int64)
    top = int(np.abs(ints).max(initial=0))
    if top * abs(num) < 2**63 and den < 2**63:
        product = ints * np.int64(num)
        result[unsure[whole]] = -(-product // den) if upward else product // den
    else:
        exact = [v * num for v in ints.tolist()]
        result[unsure[whole]] = [-(-p // den) if upward else p // den for p in exact]
    for i in unsure[~whole].tolist():
        product = decimal(values[i]) * factor
        result[i] = math.ceil(product) if upward else math.floor(product)
    return result


def decimal_integers(values: FloatArray) -> tuple[list[int], int]:
    """Each value as the decimal its input shows (its shortest representation), written as
    integers over one power of ten: ``values[i] == out[i] / 10**exponent`` exactly in
    decimal. Vectorised for the common case (up to 15 significant digits)."""
    found = _decimal_int64(values)
    if found is not None:
        return found[0].tolist(), found[1]
    if not len(values):
        return [], 0
    places, scaled = _decimal_places(values, MAX_DIGITS)
    if np.all(places >= 0):  # more than 3 decimals somewhere: past int64 once scaled
        exponent = int(places.max())
        ints = scaled.astype(np.int64).tolist()
        return [v * 10 ** (exponent - p) for v, p in zip(ints, places.tolist(), strict=True)], (
            exponent
        )
    # some value needs its full representation: exact decimals via its repr
    fracs = [decimal(v) for v in values.tolist()]
    exponent = 0
    for f in fracs:
        while (10**exponent) % f.denominator:  # a decimal's denominator divides 10^e
            exponent += 1
    scale = 10**exponent
    return [f.numerator * (scale // f.denominator) for f in fracs], exponent


def _decimal_places(values: FloatArray, digits: int) -> tuple[IntArray, FloatArray]:
    """Per value the fewest decimals ``d <= digits`` it is written with (-1 where more),
    and the value times ``10**d`` (a whole number below 2^53)."""
    places = np.full(len(values), -1, dtype=np.int64)
    scaled = np.zeros(len(values), dtype=np.float64)
    for d in range(digits + 1):
        open_ = places < 0
        if not open_.any():
            break
        power = 10.0**d
        r = np.rint(values * power)
        ok = open_ & (np.abs(r) < 2.0**53) & (r / power == values)
        places[ok] = d
        scaled[ok] = r[ok]
    return places, scaled


def _decimal_int64(values: FloatArray) -> tuple[IntArray, int] | None:
    """:func:`decimal_integers` as an int64 array where every value is written with at most
    3 decimals (then ``|r| < 2^53`` times ``10^3`` fits); else None."""
    if not len(values):
        return None
    places, scaled = _decimal_places(values, 3)
    if np.any(places < 0):
        return None
    exponent = int(places.max())
    big: IntArray = scaled.astype(np.int64) * (10 ** (exponent - places))
    return big, exponent


def exact_entitlements(
    weight: FloatArray, score: FloatArray, multiplier: FloatArray
) -> tuple[list[int], int]:
    """``weight * score * multiplier`` per recipient, each factor the decimal its input
    shows, as integers over ``10**exponent`` (returned with the exponent)."""
    arrays = [f for f in (_decimal_int64(v) for v in (weight, score, multiplier)) if f]
    if len(arrays) == 3:  # no lists of Python integers on the way
        top = math.prod(int(np.abs(f).max(initial=0)) for f, _ in arrays)
        if top < 2**63:
            whole: list[int] = (arrays[0][0] * arrays[1][0] * arrays[2][0]).tolist()
            return whole, sum(e for _, e in arrays)
    w, a = decimal_integers(weight)
    s, b = decimal_integers(score)
    m, c = decimal_integers(multiplier)
    try:
        factors = [np.array(v, dtype=np.int64) for v in (w, s, m)]
    except OverflowError:
        factors = [np.array(v, dtype=object) for v in (w, s, m)]
    else:  # whole arrays in int64 while the products provably fit, else Python integers
        top = math.prod(int(np.abs(f).max(initial=0)) for f in factors)
        if top >= 2**63 or any(int(f.min(initial=0)) == -(2**63) for f in factors):
            factors = [f.astype(object) for f in factors]
    product: list[int] = (factors[0] * factors[1] * factors[2]).tolist()
    return product, a + b + c


def exact_rank(approx: FloatArray, exact: Sequence[int]) -> IntArray:
    """The tie-break rank (larger entitlement first, then position, i.e. id) on exact
    entitlements: floats order them the same except where two are within rounding, which
    is checked, and then the exact values decide."""
    n = len(exact)
    order = np.argsort(-approx, kind="stable")  # larger first, then position
    sorted_e = approx[order]
    close = np.abs(np.diff(sorted_e)) <= 1e-12 * np.maximum(np.abs(sorted_e[1:]), 1e-300)
    if close.any():
        try:  # entitlements of a few digits each fit int64: numpy sorts them exactly
            whole = np.array(exact, dtype=np.int64)
        except OverflowError:
            whole = None
        if whole is not None and (not n or int(whole.min()) > -(2**63)):
            order = np.argsort(-whole, kind="stable")
        else:
            order = np.array(sorted(range(n), key=lambda j: -exact[j]), dtype=np.int64)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return rank


class Ratio:
    """A non-negative rational ``num / den`` (``den > 0``) compared by cross-multiplying:
    no gcd, as keys are compared far more often than they are made."""

    __slots__ = ("den", "num")

    def __init__(self, num: int, den: int) -> None:
        self.num, self.den = num, den

    def __lt__(self, other: Ratio) -> bool:
        return self.num * other.den < other.num * self.den

    def __le__(self, other: Ratio) -> bool:
        return self.num * other.den <= other.num * self.den

    def __gt__(self, other: Ratio) -> bool:
        return self.num * other.den > other.num * self.den

    def __ge__(self, other: Ratio) -> bool:
        return self.num * other.den >= other.num * self.den

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Ratio):
            return NotImplemented
        return self.num * other.den == other.num * self.den

    def __hash__(self) -> int:
        return hash(Fraction(self.num, self.den))

    def __repr__(self) -> str:
        return f"Ratio({self.num}, {self.den})"


Key = Any
"""An exact unit key: a Python int or a tuple of ints and :class:`Ratio` (compared as is)."""


def divisor_of(method: str, k: int) -> tuple[int, int]:
    """``d(k)`` of a divisor method as ``(num, den)``; for Huntington-Hill the *square*
    ``k (k + 1)`` (priorities are then compared squared)."""
    if method == "jefferson":
        return k + 1, 1
    if method == "webster":
        return 2 * k + 1, 2
    if method == "adams":
        return k, 1
    if method == "huntington-hill":
        return k * (k + 1), 1
    if method == "dean":  # the harmonic mean of k and k + 1
        return 2 * k * (k + 1), 2 * k + 1
    raise ValueError(f"not a divisor method: {method}")


def key_function(rule: str, exact: ExactQuota, rank: Sequence[int]) -> Callable[[int, int], Key]:
    """The exact key of unit ``k`` (the (k+1)-th) of recipient ``i``: the greedy takes units
    in increasing key. Matches :class:`optimizer.objectives.MarginalCost`:

    - ``hamilton`` (and ``maxmin`` once its floors are raised): ``k - q_i``, then rank
      (the least-squares order, which is the largest-remainder order);
    - ``weighted``: the larger quota first, then ``k - q_i``, then rank;
    - divisor methods: the larger priority ``q_i / d(k)`` first, then rank; units with
      ``d(k) = 0`` (the first unit under Adams, Huntington-Hill, Dean) before every other,
      larger quota first.
    """
    numer, denom, n = exact.numer, exact.denom, len(exact.numer)
    if rule == "hamilton":

        def hamilton(i: int, k: int) -> Key:
            return (k * denom - numer[i]) * n + rank[i]

        return hamilton
    if rule == "weighted":

        def weighted(i: int, k: int) -> Key:
            return (-numer[i], (k * denom - numer[i]) * n + rank[i])

        return weighted
    squared = rule == "huntington-hill"

    def divisor_method(i: int, k: int) -> Key:
        num, den = divisor_of(rule, k)
        if num == 0:
            return (0, -numer[i], rank[i])
        top = numer[i] * numer[i] if squared else numer[i]
        return (1, Ratio(num, top * den) if top else _ZERO_PRIORITY, rank[i])

    return divisor_method


_ZERO_PRIORITY = Ratio(1, 0)
"""The key part of a unit with priority 0: after every positive priority (``d / 0``)."""


class _Desc:
    """A key in reverse order (Python's heap is a min-heap; the largest taken key is
    wanted)."""

    __slots__ = ("key",)

    def __init__(self, key: Key) -> None:
        self.key = key

    def __lt__(self, other: _Desc) -> bool:
        return bool(other.key < self.key)


@dataclass
class Groups:
    """Disjoint groups with bounds on their totals; ``group_of[i] == len(lower)`` for a
    recipient in no group (free: only its own bounds)."""

    group_of: Sequence[int] | IntArray
    lower: list[int]
    upper: list[int]


@dataclass(frozen=True)
class Screen:
    """Floating-point estimates of every recipient's boundary keys, on a scale that orders
    units as the exact keys do: ``taken[i]`` for its last taken unit, ``untaken[i]`` for
    its next one, each within ``taken_error[i]`` (``untaken_error[i]``) of a value whose
    order is the exact keys' order up to their tie-break (so a unit whose estimate is
    below another's by more than both errors has the smaller exact key). Entries without
    such a unit (at a bound) are ignored."""

    taken: FloatArray
    taken_error: FloatArray
    untaken: FloatArray
    untaken_error: FloatArray


def repair(
    x: IntArray,
    lo: IntArray,
    hi: IntArray,
    budget: int,
    key: Callable[[int, int], Key],
    groups: Groups | None = None,
) -> IntArray:
    """The exact optimum, from a start ``x`` within the bounds and group bounds whose total
    is at most ``budget``: first the missing units go to the smallest next keys (in groups
    that may grow), then single units move from the largest taken key to the smallest
    untaken one while that lowers the cost (within a group, or between a group that may
    shrink and one that may grow).

    For a separable convex cost over bounds and disjoint group bounds (an M-convex set)
    an allocation no such exchange improves is the optimum, and keys are distinct, so the
    answer is the unique lexicographic optimum whatever the start; the work is the
    recipients once plus ``O(log n)`` per unit moved.
    """
    n = len(x)
    xs = x.tolist()
    los, his = lo.tolist(), hi.tolist()
    if groups is None:
        groups = Groups([0] * n, [], [])
    count = len(groups.lower)
    lower = [*groups.lower, -1]
    upper = [*groups.upper, budget + 1]
    group_of: list[int] = np.asarray(groups.group_of, dtype=np.int64).tolist()
    total = [0] * (count + 1)
    for i in range(n):
        total[group_of[i]] += xs[i]
    version = [0] * n
    taken: list[list[tuple[_Desc, int, int]]] = [[] for _ in range(count + 1)]
    untaken: list[list[tuple[Key, int, int]]] = [[] for _ in range(count + 1)]

    def push(i: int) -> None:
        g, v = group_of[i], version[i]
        if xs[i] > los[i]:
            taken[g].append((_Desc(key(i, xs[i] - 1)), v, i))
        if xs[i] < his[i]:
            untaken[g].append((key(i, xs[i]), v, i))

    for i in range(n):
        push(i)
    for g in range(count + 1):
        heapq.heapify(taken[g])
        heapq.heapify(untaken[g])

    def top_taken(g: int) -> tuple[Key, int] | None:
        heap = taken[g]
        while heap and heap[0][1] != version[heap[0][2]]:
            heapq.heappop(heap)
        return (heap[0][0].key, heap[0][2]) if heap else None

    def top_untaken(g: int) -> tuple[Key, int] | None:
        heap = untaken[g]
        while heap and heap[0][1] != version[heap[0][2]]:
            heapq.heappop(heap)
        return (heap[0][0], heap[0][2]) if heap else None

    def update(i: int, delta: int) -> None:
        xs[i] += delta
        total[group_of[i]] += delta
        version[i] += 1
        g, v = group_of[i], version[i]
        if xs[i] > los[i]:
            heapq.heappush(taken[g], (_Desc(key(i, xs[i] - 1)), v, i))
        if xs[i] < his[i]:
            heapq.heappush(untaken[g], (key(i, xs[i]), v, i))

    placed = sum(total)
    while placed < budget:  # fill: the smallest next key among groups that may grow
        best: tuple[Key, int] | None = None
        for g in range(count + 1):
            if total[g] < upper[g]:
                top = top_untaken(g)
                if top is not None and (best is None or top[0] < best[0]):
                    best = top
        if best is None:  # pragma: no cover - the caller checked feasibility
            raise ValueError("no unit can be added: the program is infeasible")
        update(best[1], 1)
        placed += 1
    while True:
        move = _improving_move(count, total, lower, upper, top_taken, top_untaken)
        if move is None:
            break
        update(move[0], -1)
        update(move[1], 1)
    return np.array(xs, dtype=np.int64)


def settle(
    x: IntArray,
    lo: IntArray,
    hi: IntArray,
    budget: int,
    key: Callable[[int, int], Key],
    groups: Groups,
    screen_of: Callable[[IntArray], Screen],
) -> IntArray:
    """:func:`repair` with the exact work where it can matter. From a start within every
    bound whose total is at most the budget, the missing units and the exchanges go among
    the recipients the screen of the start (``screen_of(x)``) cannot clear: those whose
    last unit may be above the smallest untaken key it could be exchanged with, or whose
    next unit below the largest taken one (or the cheapest next units, while some are
    missing); the others stay. The answer is then checked exactly (each group's largest
    taken and smallest untaken key, found among the few recipients the screen leaves in
    doubt), and repaired over everyone if the check fails. The answer is
    :func:`repair`'s: the unique optimum."""
    short = budget - int(x.sum())
    if short < 0:  # pragma: no cover - the callers' starts never exceed the budget
        return repair(x, lo, hi, budget, key, groups)
    group_of = np.asarray(groups.group_of, dtype=np.int64)
    count = len(groups.lower)
    lower = np.array([*groups.lower, -1], dtype=np.int64)
    upper = np.array([*groups.upper, budget + 1], dtype=np.int64)
    placed = _Placed(x, lo, hi, group_of, count)
    screen = screen_of(x)
    if not short and _optimal(placed, key, lower, upper, screen):
        return x
    total = placed.total()
    shrink = total > lower
    grow = total < upper
    has_t, has_u = placed.has_taken, placed.has_untaken
    least = _group_extreme(np.minimum, group_of[has_u], _low(screen, has_u), count, np.inf)
    most = _group_extreme(np.maximum, group_of[has_t], _high(screen, has_t), count, -np.inf)
    # a taken unit may move to an untaken one of its group, or of any group that may grow
    # (if its own may shrink): it is in doubt above the smallest of those
    cut_taken = np.where(shrink, np.minimum(least, least[grow].min(initial=np.inf)), least)
    cut_untaken = np.where(grow, np.maximum(most, most[shrink].max(initial=-np.inf)), most)
    if short:  # units still to place: the next units up to the short-th cheapest are in doubt
        open_ = has_u & grow[group_of]
        nearest = screen.untaken[open_] + screen.untaken_error[open_]
        if len(nearest):
            reach = float(np.partition(nearest, min(short, len(nearest)) - 1)[:short].max())
            cut_untaken = np.where(grow, np.maximum(cut_untaken, reach), cut_untaken)
    doubt = np.zeros(len(x), dtype=bool)
    doubt[has_t] = _high(screen, has_t) >= cut_taken[group_of[has_t]]
    doubt[has_u] |= _low(screen, has_u) <= cut_untaken[group_of[has_u]]
    ids = np.flatnonzero(doubt)
    if len(ids):
        kept = np.ones(len(x), dtype=bool)
        kept[ids] = False
        fixed = np.zeros(count + 1, dtype=np.int64)
        np.add.at(fixed, group_of[kept], x[kept])
        fixed_list = fixed.tolist()
        sub = Groups(
            group_of[ids],
            [b - f for b, f in zip(groups.lower, fixed_list, strict=False)],
            [b - f for b, f in zip(groups.upper, fixed_list, strict=False)],
        )
        who = ids.tolist()
        try:
            part = repair(
                x[ids],
                lo[ids],
                hi[ids],
                budget - int(fixed.sum()),
                lambda j, k: key(who[j], k),
                sub,
            )
        except ValueError:  # the units still to place do not fit among them
            return repair(x, lo, hi, budget, key, groups)
        settled = x.copy()
        settled[ids] = part
        at = _Placed(settled, lo, hi, group_of, count)
        if _optimal(at, key, lower, upper, screen_of(settled)):
            return settled
    return repair(x, lo, hi, budget, key, groups)


def _low(screen: Screen, where: np.ndarray) -> FloatArray:
    """The least exact value the next units of ``where`` may stand for."""
    out: FloatArray = screen.untaken[where] - screen.untaken_error[where]
    return out


def _high(screen: Screen, where: np.ndarray) -> FloatArray:
    """The greatest exact value the last taken units of ``where`` may stand for."""
    out: FloatArray = screen.taken[where] + screen.taken_error[where]
    return out


def _group_extreme(
    ufunc: np.ufunc, group: IntArray, values: FloatArray, count: int, empty: float
) -> FloatArray:
    """``ufunc`` (minimum, maximum) of ``values`` per group (``empty`` where none)."""
    out = np.full(count + 1, empty)
    ufunc.at(out, group, values)
    return out


@dataclass(frozen=True)
class _Placed:
    """An allocation with its bounds and its recipients' groups."""

    x: IntArray
    lo: IntArray
    hi: IntArray
    group_of: IntArray
    count: int

    @property
    def has_taken(self) -> npt.NDArray[np.bool_]:
        return self.x > self.lo

    @property
    def has_untaken(self) -> npt.NDArray[np.bool_]:
        return self.x < self.hi

    def total(self) -> IntArray:
        """Each group's total (the free recipients' last)."""
        out = np.zeros(self.count + 1, dtype=np.int64)
        np.add.at(out, self.group_of, self.x)
        return out


def _optimal(
    at: _Placed,
    key: Callable[[int, int], Key],
    lower: IntArray,
    upper: IntArray,
    screen: Screen,
) -> bool:
    """Whether no single exchange lowers the cost of ``at.x``, decided on exact keys: each
    group's largest taken and smallest untaken key is found among the recipients whose
    estimates are within error of the group's extreme (the others provably are not it)."""
    x, group_of, count = at.x, at.group_of, at.count
    has_t, has_u = at.has_taken, at.has_untaken
    # a unit can be its group's largest taken one only if its greatest possible value
    # reaches the largest of the others' least possible values (likewise the smallest)
    sure_t = screen.taken[has_t] - screen.taken_error[has_t]
    sure_u = screen.untaken[has_u] + screen.untaken_error[has_u]
    floor_t = _group_extreme(np.maximum, group_of[has_t], sure_t, count, -np.inf)
    ceil_u = _group_extreme(np.minimum, group_of[has_u], sure_u, count, np.inf)
    top: list[tuple[Key, int] | None] = [None] * (count + 1)
    for i in np.flatnonzero(has_t & (screen.taken + screen.taken_error >= floor_t[group_of])):
        g, k = int(group_of[i]), key(int(i), int(x[i]) - 1)
        best = top[g]
        if best is None or best[0] < k:
            top[g] = (k, int(i))
    bottom: list[tuple[Key, int] | None] = [None] * (count + 1)
    for i in np.flatnonzero(has_u & (screen.untaken - screen.untaken_error <= ceil_u[group_of])):
        g, k = int(group_of[i]), key(int(i), int(x[i]))
        best = bottom[g]
        if best is None or k < best[0]:
            bottom[g] = (k, int(i))
    move = _improving_move(
        count,
        at.total().tolist(),
        lower.tolist(),
        upper.tolist(),
        top.__getitem__,
        bottom.__getitem__,
    )
    return move is None


def _improving_move(
    count: int,
    total: list[int],
    lower: list[int],
    upper: list[int],
    top_taken: Callable[[int], tuple[Key, int] | None],
    top_untaken: Callable[[int], tuple[Key, int] | None],
) -> tuple[int, int] | None:
    """A unit to move (from, to) that lowers the cost, or None at the optimum."""
    gives: list[tuple[Key, int, int]] = []  # (largest taken key, group, recipient)
    takes: list[tuple[Key, int, int]] = []
    for g in range(count + 1):
        a, b = top_taken(g), top_untaken(g)
        if a is not None and b is not None and b[0] < a[0]:
            return a[1], b[1]  # inside one group
        if a is not None and total[g] > lower[g]:
            gives.append((a[0], g, a[1]))
        if b is not None and total[g] < upper[g]:
            takes.append((b[0], g, b[1]))
    if not gives or not takes:
        return None
    gives.sort(key=lambda t: _Desc(t[0]))
    takes.sort(key=lambda t: _Sortable(t[0]))
    for give in gives[:2]:
        for take in takes[:2]:
            if give[1] != take[1] and take[0] < give[0]:
                return give[2], take[2]
    return None


class _Sortable:
    """A key as a sort key (keys define ``<`` only)."""

    __slots__ = ("key",)

    def __init__(self, key: Key) -> None:
        self.key = key

    def __lt__(self, other: _Sortable) -> bool:
        return bool(self.key < other.key)


def ratio_gap(x: IntArray, better: IntArray, worse: IntArray, weight: FloatArray) -> Fraction:
    """``max x_j / w_j`` over ``worse`` minus ``min x_i / w_i`` over ``better``, exactly
    (weights read as the decimals they show): positive when a better grade gets less per
    weight than a worse one. Only members whose float ratio is within rounding of the
    extreme are computed exactly."""
    ratio_b = x[better] / weight[better]
    ratio_w = x[worse] / weight[worse]
    tol = 1e-9
    near_b = better[ratio_b <= ratio_b.min() * (1 + tol) + tol]
    near_w = worse[ratio_w >= ratio_w.max() * (1 - tol) - tol]
    low = min(Fraction(int(x[i])) / simplest_ratio(float(weight[i])) for i in near_b.tolist())
    high = max(Fraction(int(x[j])) / simplest_ratio(float(weight[j])) for j in near_w.tolist())
    return high - low
