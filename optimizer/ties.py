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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt

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
    if not len(candidates):
        return ()
    givers = candidates[x[candidates] > program.lo[candidates]]
    takers = candidates[x[candidates] < program.hi[candidates]]
    # one class per exact cost value (the key without the rank): who may give, who take
    values = _class_values(cost, program.size)
    given_values, taken_values = values(givers, x[givers] - 1), values(takers, x[takers])
    if isinstance(given_values, np.ndarray) and isinstance(taken_values, np.ndarray):
        both = np.concatenate([given_values, taken_values])
        coded = np.unique(both, return_inverse=True)[1].reshape(-1).astype(np.int64)
        give_class, take_class = coded[: len(givers)], coded[len(givers) :]
    else:
        codes: dict[Key, int] = {}
        give_class = np.array(
            [codes.setdefault(v, len(codes)) for v in given_values], dtype=np.int64
        )
        take_class = np.array(
            [codes.setdefault(v, len(codes)) for v in taken_values], dtype=np.int64
        )
    classes = int(max(give_class.max(initial=-1), take_class.max(initial=-1))) + 1
    shared = (np.bincount(give_class, minlength=classes) > 0) & (
        np.bincount(take_class, minlength=classes) > 0
    )
    if not shared.any():
        return ()
    keep_g, keep_t = shared[give_class], shared[take_class]
    givers, give_class = givers[keep_g], give_class[keep_g]
    takers, take_class = takers[keep_t], take_class[keep_t]
    involved = np.zeros(program.size, dtype=bool)
    involved[givers] = True
    involved[takers] = True
    tight = _tight_memberships(program, x, np.flatnonzero(involved))
    given, passed = _movable(program, x, (givers, give_class), (takers, take_class), tight)
    rank = cost.rank
    out = []
    for c in np.unique(give_class[given]).tolist():
        gave = givers[given & (give_class == c)]
        took = takers[passed & (take_class == c)]
        gave = gave[np.argsort(rank[gave], kind="stable")]
        took = took[np.argsort(rank[took], kind="stable")]
        out.append(
            Tie(
                units=len(gave),
                given=tuple(ids[i] for i in gave[:MAX_LISTED].tolist()),
                passed=tuple(ids[j] for j in took[:MAX_LISTED].tolist()),
                reason=_reason(cost, len(gave), len(took)),
                decided_by=decided_by,
            )
        )
    out.sort(key=lambda t: (t.given, t.passed))
    return tuple(out)


def _class_values(
    cost: MarginalCost, size: int
) -> Callable[[IntArray, IntArray], list[Key] | IntArray]:
    """The exact cost of unit ``k[j]`` of recipient ``who[j]`` without the rank, as values
    equal exactly when the costs are: ``k * denom - numer_i`` for Hamilton (int64 where
    it fits, else Python integers; weighted with the quota first), the keys themselves
    for divisor methods."""
    exact = cost.exact
    if cost.rule in ("hamilton", "weighted"):
        numer = np.array(exact.numer, dtype=object)
        denom = exact.denom
        small = max(exact.numer, default=0) < 2**62 and min(exact.numer, default=0) > -(2**62)

        def plain(who: IntArray, k: IntArray) -> list[Key] | IntArray:
            mine = numer[who]
            top = int(np.abs(k).max(initial=0))
            if cost.rule == "hamilton" and small and top * denom < 2**62:
                fits: IntArray = k * np.int64(denom) - mine.astype(np.int64)
                return fits
            value = (k.astype(object) * denom - mine).tolist()
            if cost.rule == "hamilton":
                return list(value)
            return list(zip((-mine).tolist(), value, strict=True))

        return plain
    key = key_function(cost.rule, exact, [0] * size)  # without the rank
    return lambda who, k: [
        _plain(key(i, kk)) for i, kk in zip(who.tolist(), k.tolist(), strict=True)
    ]


def _candidates(cost: MarginalCost, program: IntegerProgram, x: IntArray) -> IntArray:
    """Recipients whose last or next unit's cost is within rounding of another
    recipient's next or last unit's: a float screen, so exact keys are computed only for
    them (O(n log n)). In increasing order."""
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
    if not len(v):
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(v, kind="stable")
    v, tol, who, side = v[order], tol[order], who[order], side[order]
    near = np.abs(np.diff(v)) <= np.maximum(tol[1:], tol[:-1])
    # a run of near-equal values with both sides and two recipients is a candidate class
    starts = np.flatnonzero(np.concatenate([[True], ~near]))
    length = np.diff(np.append(starts, len(v)))
    later = np.add.reduceat(side.astype(np.int64), starts)  # next units in the run
    mixed = (later > 0) & (later < length)
    several = np.minimum.reduceat(who, starts) < np.maximum.reduceat(who, starts)
    chosen = np.zeros(n, dtype=bool)
    chosen[who[np.repeat(mixed & several, length)]] = True
    found: IntArray = np.flatnonzero(chosen)
    return found


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


@dataclass(frozen=True)
class _Tight:
    """The group rules tight at ``x`` around the recipients ``who`` (increasing): each
    recipient's giver code (the rules at their minimum that contain it, and every tight
    rule that does) and taker code (those at their maximum, and every tight one), and
    whether a giver of code ``a`` may pass a unit to a taker of code ``b``
    (``allowed[a, b]``): unless the move leaves a rule at its minimum or enters one at
    its maximum."""

    who: IntArray
    giver: IntArray
    taker: IntArray
    allowed: npt.NDArray[np.bool_]


def _tight_memberships(program: IntegerProgram, x: IntArray, who: IntArray) -> _Tight:
    """:class:`_Tight` for the recipients ``who`` (one pass over the group rules; the
    rules as bits of Python integers, then a code per distinct set)."""
    low = np.zeros(len(who), dtype=object)
    up = np.zeros(len(who), dtype=object)
    member = np.zeros(len(who), dtype=object)
    for r, row in enumerate(program.sums):
        total = int(x[row.index].sum())
        at_low = row.lower is not None and total <= row.lower
        at_up = row.upper is not None and total >= row.upper
        if not (at_low or at_up):
            continue
        inside = np.isin(who, row.index)
        bit = 1 << r
        member[inside] |= bit
        if at_low:
            low[inside] |= bit
        if at_up:
            up[inside] |= bit
    giver_sets, giver = _codes(low, member, len(program.sums))
    taker_sets, taker = _codes(up, member, len(program.sums))
    allowed = np.array(
        [
            [not (g_low & ~t_member or t_up & ~g_member) for t_up, t_member in taker_sets]
            for g_low, g_member in giver_sets
        ],
        dtype=bool,
    ).reshape(len(giver_sets), len(taker_sets))
    return _Tight(who, giver, taker, allowed)


def _codes(
    bound: npt.NDArray[np.object_], member: npt.NDArray[np.object_], rules: int
) -> tuple[list[tuple[int, int]], IntArray]:
    """The distinct (bound, member) pairs of rule sets, and each recipient's code: by
    numpy on int64 bit sets while the rules fit in them, else set by set."""
    if rules <= 31:  # both sets in one int64: (bound << 31) | member
        pairs = (bound.astype(np.int64) << 31) | member.astype(np.int64)
        distinct, code = np.unique(pairs, return_inverse=True)
        table = [(v >> 31, v & (2**31 - 1)) for v in distinct.tolist()]
        return table, code.reshape(-1).astype(np.int64)
    seen: dict[tuple[int, int], int] = {}
    codes = [
        seen.setdefault(p, len(seen)) for p in zip(bound.tolist(), member.tolist(), strict=True)
    ]
    return list(seen), np.array(codes, dtype=np.int64)


MAX_DENSE = 4_000_000
"""Classes times codes up to which the allowed partners are counted in one table."""


def _movable(
    program: IntegerProgram,
    x: IntArray,
    givers: tuple[IntArray, IntArray],
    takers: tuple[IntArray, IntArray],
    tight: _Tight,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Which givers (recipients with their classes) can pass a unit to some other taker of
    their class, and which takers can receive one from some other giver, with every bound
    and rule kept. Group rules are decided on the codes of :class:`_Tight` (a move is
    blocked only by a rule at its minimum that it leaves or at its maximum that it
    enters): each giver's allowed partners are counted per class in one table; grade
    orders per move, exactly."""
    (gw, gc), (tw, tc) = givers, takers
    g_code = tight.giver[np.searchsorted(tight.who, gw)]
    t_code = tight.taker[np.searchsorted(tight.who, tw)]
    classes = int(max(gc.max(initial=-1), tc.max(initial=-1))) + 1
    width = max(tight.allowed.shape)
    if program.orders or classes * width > MAX_DENSE:
        return _movable_by_class(program, x, (gw, gc, g_code), (tw, tc, t_code), tight)
    allowed = tight.allowed.astype(np.int64)
    takers_of = np.zeros((classes, allowed.shape[1]), dtype=np.int64)
    np.add.at(takers_of, (tc, t_code), 1)
    givers_of = np.zeros((classes, allowed.shape[0]), dtype=np.int64)
    np.add.at(givers_of, (gc, g_code), 1)
    reach_g = (takers_of @ allowed.T)[gc, g_code]  # allowed takers in the giver's class
    reach_t = (givers_of @ allowed)[tc, t_code]
    # less the recipient itself where its last and next units cost the same (a zero
    # quota under a divisor method): it is then a giver and a taker of one class
    both_g = np.isin(gw * classes + gc, tw * classes + tc)
    both_t = np.isin(tw * classes + tc, gw * classes + gc)
    if both_g.any():
        own = tight.taker[np.searchsorted(tight.who, gw[both_g])]
        reach_g[both_g] -= tight.allowed[g_code[both_g], own]
    if both_t.any():
        own = tight.giver[np.searchsorted(tight.who, tw[both_t])]
        reach_t[both_t] -= tight.allowed[own, t_code[both_t]]
    return reach_g > 0, reach_t > 0


def _movable_by_class(
    program: IntegerProgram,
    x: IntArray,
    givers: tuple[IntArray, IntArray, IntArray],
    takers: tuple[IntArray, IntArray, IntArray],
    tight: _Tight,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """:func:`_movable` one class at a time: under grade orders (each move checked, at
    most :data:`MAX_ORDER_CHECKS` a class) or with too many classes and codes for one
    table."""
    (gw, gc, g_code), (tw, tc, t_code) = givers, takers
    given = np.zeros(len(gw), dtype=bool)
    passed = np.zeros(len(tw), dtype=bool)
    for c in np.intersect1d(gc, tc).tolist():
        # the class's givers and takers by code, codes in order of first appearance
        by_giver: dict[int, list[int]] = {}
        for a in np.flatnonzero(gc == c).tolist():
            by_giver.setdefault(int(g_code[a]), []).append(a)
        by_taker: dict[int, list[int]] = {}
        for b in np.flatnonzero(tc == c).tolist():
            by_taker.setdefault(int(t_code[b]), []).append(b)
        checks = 0
        for code_g, rows_g in by_giver.items():
            for code_t, rows_t in by_taker.items():
                if not tight.allowed[code_g, code_t]:
                    continue
                for a in rows_g:
                    for b in rows_t:
                        i, j = int(gw[a]), int(tw[b])
                        if i == j or (given[a] and passed[b]):
                            continue
                        if program.orders:
                            if checks >= MAX_ORDER_CHECKS:
                                continue
                            checks += 1
                            if not _orders_kept(program, x, i, j):
                                continue
                        given[a] = passed[b] = True
    return given, passed


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


def _reason(cost: MarginalCost, given: int, passed: int) -> str:
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
