"""The judge for medium scenarios (tens of recipients, thousands of units): exchanges.

For bounds, a budget and group rules over disjoint member sets, the allowed allocations
form an M-convex set (the integer points of a base polyhedron of a laminar family), and
every documented objective is a sum of convex functions of each ``x_i`` (its unit keys
never decrease; :func:`unit_key`). For such a function an allocation that no single
exchange "one unit from ``i`` to ``j``" improves is a global minimum (Murota, *Discrete
Convex Analysis*, 2003, Theorem 6.26), and when every exchange makes it strictly worse it
is the only one. Nothing here is the engine's greedy: it starts anywhere and exchanges.

``grade_order`` is not of that kind. It is handled by the relaxation argument the README
states: solve without it; when that unique optimum keeps ``grade_order`` anyway it is the
optimum with it too (it is the best of a larger set and is allowed). Otherwise
:class:`Undecided` is raised: this judge does not guess.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from fractions import Fraction
from typing import Any

from tests.independent.instance import Group, Instance, read
from tests.independent.objective import Key, unit_key


class Undecided(Exception):
    """The instance is outside what exchanges can judge (overlapping groups, or a
    ``grade_order`` that binds)."""


def allocate(data: Mapping[str, Any]) -> dict[str, int] | None:
    """Units per id of the documented optimum, or None when nothing is allowed."""
    inst = read(data)
    x = optimum(inst)
    return None if x is None else dict(zip(inst.ids, x, strict=True))


def optimum(inst: Instance) -> tuple[int, ...] | None:
    """The documented optimum of ``inst`` by exchanges (see the module docstring)."""
    members = [m for g in inst.groups for m in g.members]
    if len(members) != len(set(members)):
        raise Undecided("group rules over overlapping member sets")
    relaxed: Instance | None = replace(inst, grade_order=False)
    if inst.kind == "maxmin":
        relaxed = _maxmin_floors(replace(inst, grade_order=False))
    if relaxed is None:
        return None
    x = _exchange(relaxed)
    if x is not None and inst.grade_order and inst.grade_order_violations(x):
        raise Undecided("grade_order binds at the optimum without it")
    if x is not None:
        assert not inst.violations(x), inst.violations(x)
    return x


def start(inst: Instance) -> list[int] | None:
    """Some allowed allocation (bounds, budget, disjoint groups), or None if none is."""
    if any(lo > hi for lo, hi in zip(inst.lo, inst.hi, strict=True)):
        return None
    x = list(inst.lo)
    for group in inst.groups:  # each group up to its lower bound
        need = group.lower - sum(x[i] for i in group.members)
        for i in sorted(group.members):
            take = max(0, min(need, inst.hi[i] - x[i]))
            x[i] += take
            need -= take
        if need > 0:
            return None
    group_of = {i: g for g in inst.groups for i in g.members}
    need = inst.budget - sum(x)
    # the rest wherever bounds and group caps allow: first up to the quotas' whole parts
    # (only to start near the answer: the exchanges would get there from anywhere)
    for target in ([math.floor(q) for q in inst.quota], list(inst.hi)):
        for i in range(inst.size):
            g = group_of.get(i)
            room = min(inst.hi[i], target[i]) - x[i]
            if g is not None:
                room = min(room, g.upper - sum(x[j] for j in g.members))
            step = max(0, min(need, room))
            x[i] += step
            need -= step
    if need != 0 or inst.violations(x):
        return None
    return x


def _exchange(inst: Instance) -> tuple[int, ...] | None:
    """Apply the best improving single exchange until none is left."""
    x = start(inst)
    if x is None:
        return None
    group_of: dict[int, Group] = {i: g for g in inst.groups for i in g.members}
    totals = {g.name: sum(x[i] for i in g.members) for g in inst.groups}
    while True:
        # the most expensive unit each group (or free recipient) could give up, and the
        # cheapest unit it could take, given its own total's bounds
        give: dict[str | int, tuple[Key, int]] = {}
        take: dict[str | int, tuple[Key, int]] = {}
        for i in range(inst.size):
            g = group_of.get(i)
            where: str | int = g.name if g is not None else i
            if x[i] > inst.lo[i]:
                key = unit_key(inst, i, x[i] - 1)
                if where not in give or key > give[where][0]:
                    give[where] = (key, i)
            if x[i] < inst.hi[i]:
                key = unit_key(inst, i, x[i])
                if where not in take or key < take[where][0]:
                    take[where] = (key, i)
        best: tuple[Key, Key, int, int] | None = None
        for out_key, i in give.values():
            for in_key, j in take.values():
                if i == j or not _allowed(inst, group_of, totals, i, j):
                    continue
                if in_key < out_key and (best is None or _gain(in_key, out_key, best)):
                    best = (in_key, out_key, i, j)
        if best is None:
            return tuple(x)
        _, _, i, j = best
        x[i] -= 1
        x[j] += 1
        for k, step in ((i, -1), (j, 1)):
            if k in group_of:
                totals[group_of[k].name] += step


def _allowed(
    inst: Instance, group_of: dict[int, Group], totals: dict[str, int], i: int, j: int
) -> bool:
    """Whether one unit may move from ``i`` to ``j`` (the groups' totals stay in bounds)."""
    gi, gj = group_of.get(i), group_of.get(j)
    if gi is not None and gi is gj:
        return True
    if gi is not None and totals[gi.name] - 1 < gi.lower:
        return False
    return not (gj is not None and totals[gj.name] + 1 > gj.upper)


def _gain(in_key: Key, out_key: Key, best: tuple[Key, Key, int, int]) -> bool:
    """Whether the exchange (out_key -> in_key) improves more than ``best``: differences
    of key tuples compared lexicographically (an exchange's change of every summed term)."""
    mine = tuple(a - b for a, b in zip(in_key, out_key, strict=True))
    theirs = tuple(a - b for a, b in zip(best[0], best[1], strict=True))
    return mine < theirs


def _maxmin_floors(inst: Instance) -> Instance | None:
    """``maxmin``: floors raised to ``ceil(lam q_i)`` for the largest ``lam`` that still
    allows an allocation (the largest smallest ``x_i / q_i``), found among the
    breakpoints ``m / q_i`` by bisection (allowed sets only shrink as ``lam`` grows)."""
    q = inst.quota
    positive = [i for i in range(inst.size) if q[i] > 0]

    def raised(lam: Fraction) -> Instance:
        lo = list(inst.lo)
        for i in positive:
            lo[i] = max(lo[i], math.ceil(lam * q[i]))
        return replace(inst, lo=tuple(lo))

    if start(inst) is None:
        return None
    # the smallest ratio is at most 1 (the units add up to the quotas' sum): m <= q_i
    top = {i: min(inst.hi[i], math.floor(q[i])) for i in positive}
    points = sorted({Fraction(m) / q[i] for i in positive for m in range(top[i] + 1)})
    low, high = 0, len(points) - 1  # points[low] allows an allocation
    while low < high:
        mid = (low + high + 1) // 2
        if start(raised(points[mid])) is not None:
            low = mid
        else:
            high = mid - 1
    return raised(points[low])
