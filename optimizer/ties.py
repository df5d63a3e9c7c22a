"""Ties: units that the method alone cannot give, and the policy that decides them.

A tie is an allocation as good as the answer on every cost the objective states (the
primary cost and the least-squares tie-breaker, compared exactly), reached by moving one
unit from one recipient to another while every floor, cap and rule still holds. Only the
tie-break order then decided who has the unit. Over bounds and group rules on disjoint sets
every optimum is reached from any other by such moves (the optimal allocations of a
separable convex cost over these sets are connected by single exchanges), so the list is
complete on the ``greedy`` and ``partition`` paths; under ``grade_order`` and overlapping
rules it lists the ties one move reveals.

The policy (``tie_break`` in the scenario) is the order behind the last comparison, the
``rank``: ``order`` (the default: larger entitlement first, then id; or by id; or a list
the committee gives), ``lot`` (a seeded, recorded draw: recipients ordered by
``sha256("<seed>:<id>")``, the same on every machine and backend), or ``refuse`` (no
allocation; status ``tie``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from optimizer.entitlement import IntArray
from optimizer.exact import Key, key_function, ratio_gap
from optimizer.model import IntegerProgram
from optimizer.objectives import MarginalCost, divisor
from optimizer.result import Tie

MAX_LISTED = 50
"""Recipients named per side of a tie; larger ties give counts and the first names."""


def lot_rank(ids: Sequence[str], seed: int) -> IntArray:
    """The drawn order of a lot: position of each recipient when sorted by
    ``sha256(f"{seed}:{id}")`` (then by id), so anyone can redo the draw."""
    digest = [hashlib.sha256(f"{seed}:{i}".encode()).hexdigest() for i in ids]
    order = sorted(range(len(ids)), key=lambda j: (digest[j], ids[j]))
    rank = np.empty(len(ids), dtype=np.int64)
    rank[np.array(order, dtype=np.int64)] = np.arange(len(ids))
    return rank


def listed_rank(ids: Sequence[str], first: Sequence[str], rank: IntArray) -> IntArray:
    """The committee's order: the ids in ``first`` in that order, then the others by
    ``rank``."""
    place = {rid: p for p, rid in enumerate(first)}
    n = len(ids)
    key = [(place.get(rid, len(place)), int(rank[i])) for i, rid in enumerate(ids)]
    out = np.empty(n, dtype=np.int64)
    out[np.array(sorted(range(n), key=key.__getitem__), dtype=np.int64)] = np.arange(n)
    return out


def find_ties(
    program: IntegerProgram, x: IntArray, ids: Sequence[str], decided_by: str
) -> tuple[Tie, ...]:
    """Every tie of the optimum ``x`` (see the module docstring), one per tied cost value."""
    cost = program.cost
    if not isinstance(cost, MarginalCost) or program.size < 2:
        return ()
    candidates = _candidates(cost, program, x)
    if not candidates:
        return ()
    key = key_function(cost.rule, cost.exact, [0] * program.size)  # without the rank
    rank = cost.rank
    classes: dict[Key, tuple[list[int], list[int]]] = {}
    for i in candidates:
        xi = int(x[i])
        if xi > program.lo[i]:
            classes.setdefault(_plain(key(i, xi - 1)), ([], []))[0].append(i)
        if xi < program.hi[i]:
            classes.setdefault(_plain(key(i, xi)), ([], []))[1].append(i)
    tight = _tight_memberships(program, x, candidates)
    out = []
    for value, (givers, takers) in classes.items():
        if not givers or not takers:
            continue
        given, passed = _movable(program, x, givers, takers, tight)
        if not given:
            continue
        given.sort(key=lambda i: int(rank[i]))
        passed.sort(key=lambda j: int(rank[j]))
        out.append(
            Tie(
                units=len(given),
                given=tuple(ids[i] for i in given[:MAX_LISTED]),
                passed=tuple(ids[j] for j in passed[:MAX_LISTED]),
                reason=_reason(cost, value, len(given), len(passed)),
                decided_by=decided_by,
            )
        )
    out.sort(key=lambda t: (t.given, t.passed))
    return tuple(out)


def _candidates(cost: MarginalCost, program: IntegerProgram, x: IntArray) -> list[int]:
    """Recipients whose last or next unit's cost is within rounding of another
    recipient's next or last unit's: a float screen, so exact keys are computed only for
    them (O(n log n))."""
    n = program.size
    idx = np.arange(n, dtype=np.int64)
    has_last = x > program.lo
    has_next = x < program.hi
    last_k = np.maximum(x - 1, 0)
    # one float per unit that equal keys share up to rounding: k - q for Hamilton and
    # weighted (it orders their units), the priority q / d(k) for divisor methods (units
    # with d(k) = 0 above every priority, by quota)
    q = cost.quota
    top = float(q.max()) if n else 0.0
    sides, errors = [], []
    for k, present in ((last_k, has_last), (x, has_next)):
        kf = k.astype(np.float64)
        if cost.rule in ("hamilton", "weighted"):
            value = kf - q
            scale = np.maximum(np.abs(kf), np.abs(q))  # k - q loses the digits of k and q
        else:
            d = divisor(cost.rule, kf)
            with np.errstate(divide="ignore", invalid="ignore"):
                value = np.where(d > 0, q / np.where(d > 0, d, 1.0), 2.0 * top + q)
            scale = np.abs(value)
        sides.append(np.where(present, value, np.nan))
        errors.append(1e-13 * np.maximum(scale, 1.0))  # far above the floats' error
    v = np.concatenate(sides)
    tol = np.concatenate(errors)
    who = np.concatenate([idx, idx])
    side = np.concatenate([np.zeros(n, dtype=bool), np.ones(n, dtype=bool)])
    keep = ~np.isnan(v)
    v, tol, who, side = v[keep], tol[keep], who[keep], side[keep]
    order = np.argsort(v, kind="stable")
    v, tol, who, side = v[order], tol[order], who[order], side[order]
    near = np.abs(np.diff(v)) <= np.maximum(tol[1:], tol[:-1])
    # a run of near-equal values with both sides and two recipients is a candidate class
    starts = np.flatnonzero(np.concatenate([[True], ~near]))
    ends = np.append(starts[1:], len(v))
    found: set[int] = set()
    for a, b in zip(
        starts[ends - starts > 1].tolist(), ends[ends - starts > 1].tolist(), strict=True
    ):
        sides = side[a:b]
        members = who[a:b].tolist()
        if sides.all() or not sides.any() or len(set(members)) < 2:
            continue
        found.update(members)
    return sorted(found)


def _plain(value: Key) -> Key:
    """A key as a hashable value whose equality is exact (ratios as fractions)."""
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if hasattr(value, "num") and hasattr(value, "den"):
        return ("ratio", Fraction(value.num, value.den) if value.den else None)
    return value


MAX_ORDER_CHECKS = 200
"""Moves checked against ``grade_order`` per tie, at most (each is O(n)); moves past it are
not reported (the docstring of :func:`find_ties` says ties under grade_order are those one
move reveals)."""


_Tight = tuple[dict[int, int], dict[int, int], dict[int, int]]
"""Per recipient, as bit sets over the group rules tight at ``x``: the rules at their
minimum that contain it, those at their maximum, and every tight rule that contains it."""


def _movable(
    program: IntegerProgram, x: IntArray, givers: list[int], takers: list[int], tight: _Tight
) -> tuple[list[int], list[int]]:
    """The givers that can pass a unit to some taker, and the takers that can receive one
    from some giver, with every bound and rule kept. Group rules are decided per class of
    recipients sharing the rules that are tight at ``x`` (a move is blocked only by a rule
    at its minimum that it leaves or at its maximum that it enters); grade orders per move,
    exactly."""
    low, up, member = tight
    giver_classes: dict[tuple[int, int], list[int]] = {}
    for i in givers:
        giver_classes.setdefault((low[i], member[i]), []).append(i)
    taker_classes: dict[tuple[int, int], list[int]] = {}
    for j in takers:
        taker_classes.setdefault((up[j], member[j]), []).append(j)
    given: set[int] = set()
    passed: set[int] = set()
    checks = 0
    for (g_low, g_member), g_list in giver_classes.items():
        for (t_up, t_member), t_list in taker_classes.items():
            if (
                g_low & ~t_member or t_up & ~g_member
            ):  # leaves a rule at its min, or enters one at its max
                continue
            if not program.orders:  # every i gives to any j != i of the classes
                given.update(i for i in g_list if len(t_list) > 1 or t_list[0] != i)
                passed.update(j for j in t_list if len(g_list) > 1 or g_list[0] != j)
                continue
            for i in g_list:
                for j in t_list:
                    if i == j or (i in given and j in passed) or checks >= MAX_ORDER_CHECKS:
                        continue
                    checks += 1
                    if _orders_kept(program, x, i, j):
                        given.add(i)
                        passed.add(j)
    return sorted(given), sorted(passed)


def _tight_memberships(program: IntegerProgram, x: IntArray, who: list[int]) -> _Tight:
    """:data:`_Tight` for the recipients ``who`` (one pass over the group rules)."""
    people = np.array(who, dtype=np.int64)
    low = np.zeros(len(who), dtype=object)
    up = np.zeros(len(who), dtype=object)
    member = np.zeros(len(who), dtype=object)
    for r, row in enumerate(program.sums):
        total = int(x[row.index].sum())
        at_low = row.lower is not None and total <= row.lower
        at_up = row.upper is not None and total >= row.upper
        if not (at_low or at_up):
            continue
        inside = np.isin(people, row.index)
        bit = 1 << r
        member[inside] |= bit
        if at_low:
            low[inside] |= bit
        if at_up:
            up[inside] |= bit
    return (
        dict(zip(who, low.tolist(), strict=True)),
        dict(zip(who, up.tolist(), strict=True)),
        dict(zip(who, member.tolist(), strict=True)),
    )


def _orders_kept(program: IntegerProgram, x: IntArray, i: int, j: int) -> bool:
    """Whether moving a unit from ``i`` to ``j`` keeps every grade order (exactly)."""
    moved = x.copy()
    moved[i] -= 1
    moved[j] += 1
    for order in program.orders:
        for better, worse in zip(order.levels, order.levels[1:], strict=False):
            touched = i in better or j in worse  # the only moves that can break this pair
            if touched and ratio_gap(moved, better, worse, order.weight) > 0:
                return False
    return True


def _reason(cost: MarginalCost, value: Key, given: int, passed: int) -> str:
    """Why the units tie, in words."""
    seats = f"{given} unit{'s' if given != 1 else ''} for {given + passed} recipients"
    if cost.rule == "hamilton":
        return f"equal remainders: {seats} with the same distance to their quotas"
    if cost.rule == "weighted":
        return f"equal entitlements: {seats} whose units are worth the same"
    return f"equal priorities (quota / d(k)) under {cost.rule}: {seats}"


def refused(ties: tuple[Tie, ...]) -> str:
    """The message of a run whose ``tie_break`` refuses to decide: every tie, named."""
    parts = [
        f"{', '.join(t.given)} or {', '.join(t.passed)} "
        f"({t.units} unit{'s' if t.units != 1 else ''}: {t.reason})"
        for t in ties
    ]
    return (
        "tie: the method cannot decide between "
        + "; ".join(parts)
        + ". Decide with tie_break {kind: lot, seed: N} (a recorded draw) or "
        "{kind: order, by: [ids]} (the committee's order)"
    )
