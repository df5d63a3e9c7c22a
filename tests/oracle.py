"""TEST ORACLE: exact reference allocations for the tests. Not part of the engine.

Slow, simple and exact. Everything here is computed with :class:`fractions.Fraction` and
Python integers only: no NumPy, no floating point once the inputs are read, and nothing
imported from ``optimizer`` (the engine never imports this module either), so that the
tests judge the engine independently of its own code. Scope: scenarios whose only
constraints are per-recipient floors and caps (no ``rules``, no ``criteria``).

The contract (what the engine must compute)
-------------------------------------------

- Exact inputs: every number (score, weight, grade multiplier, min_score) is the decimal its
  Python float ``repr`` shows, ``Fraction(repr(v))``: ``0.1`` is exactly one tenth.
- Entitlement ``e_i = weight_i * score_i * multiplier(grade_i)`` (multiplier 1 without
  grades; the grade is the first band, best first, whose ``min_score <= score``); quota
  ``q_i = B * e_i / sum(e)``.
- Rank: larger entitlement first, then id in Python string order; rank 0 is first.
- Allocation: each recipient starts at its floor; then ``B - sum(floors)`` more units are
  handed out one at a time, each to the recipient whose *next* unit (unit ``k`` = its
  (k+1)-th unit, available while ``k < cap_i``) has the smallest key:

  * ``hamilton``: ``(k - q_i, rank_i)`` (the bounded largest-remainder method);
  * divisor methods, priority ``p = q_i / d(k)`` with ``d(k) = k + 1`` (jefferson),
    ``k + 1/2`` (webster), ``k`` (adams), ``sqrt(k (k + 1))`` (huntington-hill):
    ``(0, -q_i, rank_i)`` when ``d(k) = 0`` (the first units of adams and
    huntington-hill, before every other unit), else ``(1, -p, rank_i)``; huntington-hill
    priorities are compared exactly through ``p**2 = q_i**2 / (k (k + 1))``;
  * ``weighted``: ``(-e_i, k - q_i, rank_i)``;
  * ``maxmin``: the floors are first raised to ``max(floor_i, ceil(lam * q_i))`` for the
    recipients with ``q_i > 0``, for the largest ``lam`` with every raised floor at most
    its cap and their sum at most ``B``; then the ``hamilton`` keys.

- Infeasible (a floor above its cap, floors above the budget, caps below it): ``None``.

Two independent implementations
-------------------------------

- :func:`unit_by_unit`: the literal greedy above, one unit at a time (small budgets only);
  ``maxmin``'s ``lam`` by trying every candidate ``m / q_i``, largest first.
- :func:`by_threshold`: exact at any budget (10**15 and beyond): bisection over a rational
  threshold on the units' keys (for hamilton ``T`` on ``k - q_i``; for the divisor methods
  the divisor ``D``, or ``D**2`` for huntington-hill, counted with integer arithmetic and
  :func:`math.isqrt`), then the few units tied near the threshold in key order; weighted by
  filling recipients in ``(-e, rank)`` order; maxmin's ``lam`` by bisection over the
  breakpoints ``m / q_i``.

The tests check the two against each other and against hand-computed textbook examples.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

METHOD_ALIASES: Mapping[str, str] = {
    "hamilton": "hamilton",
    "largest-remainder": "hamilton",
    "jefferson": "jefferson",
    "dhondt": "jefferson",
    "d'hondt": "jefferson",
    "webster": "webster",
    "sainte-lague": "webster",
    "sainte-laguë": "webster",
    "adams": "adams",
    "huntington-hill": "huntington-hill",
}
DIVISOR_METHODS = ("jefferson", "webster", "adams", "huntington-hill")
RULES = ("hamilton", *DIVISOR_METHODS, "weighted", "maxmin")
UNIT_BY_UNIT_LIMIT = 5000
"""unit_by_unit refuses larger budgets (it takes every unit one at a time)."""

Allocation = tuple[int, ...]
Solver = Callable[["Problem"], Allocation | None]


def exact(value: int | float | str | Fraction) -> Fraction:
    """A number exactly as written: a float is the decimal its ``repr`` shows."""
    if isinstance(value, bool):
        raise TypeError("a number was expected, got a bool")
    if isinstance(value, float):
        return Fraction(repr(value))
    return Fraction(value)


def canonical_method(name: str) -> str:
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    return METHOD_ALIASES[key]


@dataclass(frozen=True)
class Problem:
    """One allocation problem, exactly: index ``i`` is the i-th recipient as listed."""

    budget: int
    ids: tuple[str, ...]
    entitlement: tuple[Fraction, ...]
    floor: tuple[int, ...]
    cap: tuple[int, ...]
    rule: str  # "hamilton", a divisor method, "weighted" or "maxmin"

    def __post_init__(self) -> None:
        n = len(self.ids)
        if not (len(self.entitlement) == len(self.floor) == len(self.cap) == n) or n == 0:
            raise ValueError("one entitlement, floor and cap per id, at least one id")
        if len(set(self.ids)) != n:
            raise ValueError("ids must be unique")
        if self.rule not in RULES:
            raise ValueError(f"unknown rule {self.rule!r}")
        if any(e < 0 for e in self.entitlement) or sum(self.entitlement) <= 0:
            raise ValueError("entitlements must be >= 0 with a positive sum")
        if self.budget < 0 or any(f < 0 for f in self.floor):
            raise ValueError("budget and floors must be >= 0")

    @property
    def size(self) -> int:
        return len(self.ids)

    @property
    def quota(self) -> tuple[Fraction, ...]:
        total = sum(self.entitlement, Fraction(0))
        return tuple(self.budget * e / total for e in self.entitlement)

    @property
    def rank(self) -> tuple[int, ...]:
        """0 = first: larger entitlement first, then id in Python string order."""
        order = sorted(range(self.size), key=lambda i: (-self.entitlement[i], self.ids[i]))
        rank = [0] * self.size
        for r, i in enumerate(order):
            rank[i] = r
        return tuple(rank)

    @property
    def feasible(self) -> bool:
        return all(f <= c for f, c in zip(self.floor, self.cap, strict=True)) and sum(
            self.floor
        ) <= self.budget <= sum(self.cap)


def problem(data: Mapping[str, Any]) -> Problem:
    """The :class:`Problem` of a scenario given as data (the dict ``Scenario.from_data``
    takes); only floors and caps, no rules."""
    if data.get("rules"):
        raise ValueError("the oracle covers floors and caps only, not rules")
    budget = data["budget"]
    if not isinstance(budget, int) or isinstance(budget, bool):
        raise TypeError("budget must be an int")
    bands = [
        (exact(g["min_score"]), exact(g.get("multiplier", 1.0))) for g in data.get("grades") or ()
    ]
    objective = data.get("objective") or {}
    kind = objective.get("kind", "proportional")
    if kind == "proportional":
        rule = canonical_method(objective.get("method") or "hamilton")
    elif kind in ("weighted", "maxmin"):
        rule = kind
    else:
        raise ValueError(f"unknown objective kind {kind!r}")
    ids, ent, floors, caps = [], [], [], []
    for rec in data["recipients"]:
        if rec.get("criteria") is not None:
            raise ValueError("the oracle does not compute criteria scores")
        score = exact(rec["score"])
        weight = exact(rec.get("weight", 1.0))
        multiplier = next((m for low, m in bands if score >= low), Fraction(1))
        ids.append(rec["id"])
        ent.append(weight * score * multiplier)
        floors.append(int(rec.get("floor", 0)))
        cap = rec.get("cap")
        caps.append(budget if cap is None else int(cap))
    return Problem(budget, tuple(ids), tuple(ent), tuple(floors), tuple(caps), rule)


def allocate(data: Mapping[str, Any], how: Solver | None = None) -> dict[str, int] | None:
    """Units per id for a scenario given as data, or None when it is infeasible; ``how``
    defaults to :func:`unit_by_unit` for small budgets, else :func:`by_threshold`."""
    p = problem(data)
    if how is None:
        how = unit_by_unit if p.budget <= UNIT_BY_UNIT_LIMIT else by_threshold
    x = how(p)
    return None if x is None else dict(zip(p.ids, x, strict=True))


def apportion(
    entitlements: Sequence[int | float | str | Fraction],
    house: int,
    method: str = "hamilton",
    *,
    floors: Sequence[int] | None = None,
    caps: Sequence[int] | None = None,
    ids: Sequence[str] | None = None,
    how: Solver | None = None,
) -> list[int] | None:
    """Textbook interface: entitlements in, seats out (ties to the larger entitlement, then
    the smaller id; by default the earlier position). ``method`` may also be ``weighted``
    or ``maxmin``."""
    n = len(entitlements)
    rule = method if method in ("weighted", "maxmin") else canonical_method(method)
    p = Problem(
        budget=house,
        ids=tuple(ids) if ids is not None else tuple(f"{i:06d}" for i in range(n)),
        entitlement=tuple(exact(e) for e in entitlements),
        floor=tuple(floors) if floors is not None else (0,) * n,
        cap=tuple(caps) if caps is not None else (house,) * n,
        rule=rule,
    )
    x = (how or by_threshold)(p)
    return None if x is None else list(x)


# --------------------------------------------------------------------------------------
# 1. The literal greedy, one unit at a time
# --------------------------------------------------------------------------------------


def unit_key(p: Problem, rule: str) -> Callable[[int, int], tuple[Any, ...]]:
    """The key of unit ``k`` (the (k+1)-th unit) of recipient ``i``: smallest goes first."""
    q, e, rank = p.quota, p.entitlement, p.rank
    if rule == "hamilton":
        return lambda i, k: (k - q[i], rank[i])
    if rule == "weighted":
        return lambda i, k: (-e[i], k - q[i], rank[i])
    if rule == "huntington-hill":

        def hill(i: int, k: int) -> tuple[Any, ...]:
            if k == 0:
                return (0, -q[i], rank[i])
            return (1, -(q[i] * q[i] / (k * (k + 1))), rank[i])  # -p**2 orders as -p

        return hill
    offset = {"jefferson": Fraction(1), "webster": Fraction(1, 2), "adams": Fraction(0)}[rule]

    def divisor(i: int, k: int) -> tuple[Any, ...]:
        d = k + offset
        if d == 0:
            return (0, -q[i], rank[i])
        return (1, -(q[i] / d), rank[i])

    return divisor


def unit_by_unit(p: Problem) -> Allocation | None:
    """The contract taken literally: floors first, then one unit at a time, the smallest
    key among every recipient's next unit."""
    if p.budget > UNIT_BY_UNIT_LIMIT:
        raise ValueError(f"unit_by_unit is for budgets up to {UNIT_BY_UNIT_LIMIT}")
    if not p.feasible:
        return None
    rule, x = p.rule, list(p.floor)
    if rule == "maxmin":
        x, rule = maxmin_floors_by_enumeration(p), "hamilton"
    key = unit_key(p, rule)
    for _ in range(p.budget - sum(x)):
        _, i = min((key(i, x[i]), i) for i in range(p.size) if x[i] < p.cap[i])
        x[i] += 1
    return tuple(x)


def _raised(p: Problem, lam: Fraction) -> list[int]:
    """maxmin's floors at ``lam``: ``max(floor_i, ceil(lam q_i))`` where ``q_i > 0``."""
    return [
        max(f, math.ceil(lam * q)) if q > 0 else f for f, q in zip(p.floor, p.quota, strict=True)
    ]


def _fits(p: Problem, floors: Sequence[int]) -> bool:
    return all(f <= c for f, c in zip(floors, p.cap, strict=True)) and sum(floors) <= p.budget


def maxmin_floors_by_enumeration(p: Problem) -> list[int]:
    """maxmin's raised floors, trying every candidate ``lam = m / q_i`` (largest first).

    The best ``lam`` is one of them: the raised floors only change just after such a
    breakpoint. And ``lam <= 1`` whenever the floors fit (their sum is at least
    ``lam * sum(q) = lam * B``), so ``m <= q_i``."""
    candidates = {Fraction(m) / q for q in p.quota if q > 0 for m in range(0, math.floor(q) + 1)}
    for lam in sorted(candidates, reverse=True):
        floors = _raised(p, lam)
        if _fits(p, floors):
            return floors
    raise AssertionError("lam = 0 fits whenever the problem is feasible")


# --------------------------------------------------------------------------------------
# 2. By threshold: exact at any budget
# --------------------------------------------------------------------------------------


def by_threshold(p: Problem) -> Allocation | None:
    """The same allocation as :func:`unit_by_unit`, found by bisection over a threshold on
    the units' keys: the work grows with the number of digits of the budget, not with it."""
    if not p.feasible:
        return None
    q, rank = p.quota, p.rank
    if p.rule == "hamilton":
        x = _hamilton(p.budget, q, p.floor, p.cap, rank)
    elif p.rule in DIVISOR_METHODS:
        x = _divisor(p, p.rule)
    elif p.rule == "weighted":
        x = _weighted(p)
    else:  # maxmin
        x = _hamilton(p.budget, q, maxmin_floors_by_bisection(p), p.cap, rank)
    assert sum(x) == p.budget
    return tuple(x)


def _select(
    budget: int,
    floors: Sequence[int],
    caps: Sequence[int],
    rank: Sequence[int],
    count: Callable[[int, Fraction], int],
    value: Callable[[int, int], Fraction],
    lo: Fraction,
    hi: Fraction,
) -> list[int]:
    """The units of the ``budget - sum(floors)`` smallest keys ``(value(i, k), rank_i)``.

    ``value(i, k)`` increases with ``k``; ``count(i, t)`` is how many units ``k >= 0`` of
    recipient ``i`` have ``value <= t``; ``x(t)`` clips those counts to the floors and caps.
    Needs ``sum(x(lo)) < budget <= sum(x(hi))``. Bisection narrows ``(lo, hi]`` around the
    threshold (the value of the last unit taken) until only a few units have a value in it
    (at the threshold itself at most one per recipient), which are then sorted by key."""
    n = len(floors)

    def x(t: Fraction) -> list[int]:
        return [min(max(count(i, t), floors[i]), caps[i]) for i in range(n)]

    low, high = x(lo), x(hi)
    assert sum(low) < budget <= sum(high), (sum(low), budget, sum(high))
    limit = 4 * n + 16
    while sum(high) - sum(low) > limit:
        mid = (lo + hi) / 2
        at = x(mid)
        if sum(at) >= budget:
            hi, high = mid, at
        else:
            lo, low = mid, at
    units = sorted((value(i, k), rank[i], i) for i in range(n) for k in range(low[i], high[i]))
    out = list(low)
    for _, _, i in units[: budget - sum(low)]:
        out[i] += 1
    return out


def _hamilton(
    budget: int,
    q: Sequence[Fraction],
    floors: Sequence[int],
    caps: Sequence[int],
    rank: Sequence[int],
) -> list[int]:
    """Bounded largest remainders: keys ``(k - q_i, rank_i)``, threshold ``T`` on
    ``k - q_i``; ``#{k >= 0: k - q_i <= T} = floor(T + q_i) + 1``."""
    if sum(floors) == budget:
        return list(floors)
    n = len(q)

    def count(i: int, t: Fraction) -> int:
        return max(0, math.floor(t + q[i]) + 1)

    def value(i: int, k: int) -> Fraction:
        return k - q[i]

    lo = min(floors[i] - q[i] for i in range(n)) - 1  # x(lo) = floors
    hi = max(caps[i] - q[i] for i in range(n))  # x(hi) = caps
    return _select(budget, floors, caps, rank, count, value, lo, hi)


def _divisor(p: Problem, method: str) -> list[int]:
    """A divisor method: unit ``k`` of ``i`` is in at divisor ``D`` when
    ``d(k) <= q_i D`` (priority ``q_i / d(k) >= 1 / D``); for huntington-hill the
    parameter is ``S = D**2`` and the test ``k (k + 1) <= q_i**2 S``, all exact.

    The first units of adams and huntington-hill (``d(0) = 0``) have value 0, before every
    other unit, in rank order (which is the order of ``-q``, then rank). Units of priority 0
    (recipients with ``q_i = 0`` and ``d(k) > 0``) are never counted: they come last, in
    rank order, each recipient up to its cap, as their keys ``(1, 0, rank_i)`` say."""
    budget, floors, caps, rank = p.budget, p.floor, p.cap, p.rank
    q = p.quota
    if sum(floors) == budget:
        return list(floors)
    count: Callable[[int, Fraction], int]
    value: Callable[[int, int], Fraction]
    if method == "huntington-hill":

        def count_hill(i: int, s: Fraction) -> int:
            if s < 0:
                return 0
            m = math.floor(q[i] * q[i] * s)  # k (k + 1) <= m  <=>  (2k + 1)**2 <= 4m + 1
            return (math.isqrt(4 * m + 1) - 1) // 2 + 1

        def value_hill(i: int, k: int) -> Fraction:
            if k == 0:
                return Fraction(0)
            assert q[i] > 0
            return k * (k + 1) / (q[i] * q[i])

        count, value = count_hill, value_hill
    else:
        offset = {"jefferson": Fraction(1), "webster": Fraction(1, 2), "adams": Fraction(0)}[method]

        def count_plain(i: int, t: Fraction) -> int:
            if t < 0:
                return 0
            return max(0, math.floor(q[i] * t - offset) + 1)  # #{k >= 0: k + offset <= q t}

        def value_plain(i: int, k: int) -> Fraction:
            if k + offset == 0:
                return Fraction(0)
            assert q[i] > 0
            return (k + offset) / q[i]

        count, value = count_plain, value_plain
    positive = [i for i in range(p.size) if q[i] > 0]
    lo = Fraction(-1)  # x(lo) = floors
    hi = max(value(i, caps[i]) for i in positive)  # x(hi) = caps where q_i > 0
    top = [min(max(count(i, hi), floors[i]), caps[i]) for i in range(p.size)]
    if sum(top) < budget:  # the rest has priority 0: rank order, each up to its cap
        need = budget - sum(top)
        for i in sorted(range(p.size), key=lambda j: rank[j]):
            take = min(need, caps[i] - top[i])
            top[i] += take
            need -= take
        return top
    return _select(budget, floors, caps, rank, count, value, lo, hi)


def _weighted(p: Problem) -> list[int]:
    """Keys ``(-e_i, k - q_i, rank_i)``: recipients in order of ``-e`` filled to their caps;
    the group of equal ``e`` where the budget runs out shares by the hamilton keys."""
    e, q, rank, caps = p.entitlement, p.quota, p.rank, p.cap
    x = list(p.floor)
    need = p.budget - sum(x)
    order = sorted(range(p.size), key=lambda i: (-e[i], rank[i]))
    for _, members in itertools.groupby(order, key=lambda i: e[i]):
        group = list(members)
        room = sum(caps[i] - x[i] for i in group)
        if room <= need:
            for i in group:
                x[i] = caps[i]
            need -= room
            continue
        shared = _hamilton(
            sum(x[i] for i in group) + need,
            [q[i] for i in group],
            [x[i] for i in group],
            [caps[i] for i in group],
            [rank[i] for i in group],
        )
        for i, v in zip(group, shared, strict=True):
            x[i] = v
        break
    return x


def maxmin_floors_by_bisection(p: Problem) -> list[int]:
    """maxmin's raised floors: bisection on ``lam`` (the floors fit at ``lo``, not at
    ``hi``) until few breakpoints ``m / q_i`` lie in ``(lo, hi]``; the best ``lam`` is the
    largest of those that fits, or ``lo``."""
    q = p.quota
    positive = [i for i in range(p.size) if q[i] > 0]
    lo = Fraction(0)
    hi = min([Fraction(1)] + [Fraction(p.cap[i]) / q[i] for i in positive])
    if _fits(p, _raised(p, hi)):
        return _raised(p, hi)

    def between(a: Fraction, b: Fraction) -> int:
        return sum(math.floor(b * q[i]) - math.floor(a * q[i]) for i in positive)

    limit = 4 * p.size + 16
    while between(lo, hi) > limit:
        mid = (lo + hi) / 2
        if _fits(p, _raised(p, mid)):
            lo = mid
        else:
            hi = mid
    candidates = {
        Fraction(m) / q[i]
        for i in positive
        for m in range(math.floor(lo * q[i]) + 1, math.floor(hi * q[i]) + 1)
    }
    for lam in sorted(candidates, reverse=True):
        floors = _raised(p, lam)
        if _fits(p, floors):
            return floors
    return _raised(p, lo)
