"""The judge for small scenarios: every allowed allocation, the documented key's minimum.

No greedy, no threshold, no structure: each integer vector within the bounds that spends
the budget is checked against every rule (:meth:`Instance.violations`) and the smallest
:func:`allocation_key` wins. Exponential: for a handful of recipients and small budgets.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from tests.independent.instance import Instance, read
from tests.independent.objective import Key, key_function

LIMIT = 200_000
"""Refuse instances with more candidate vectors than this (the tests stay fast)."""


def candidates(inst: Instance) -> Iterator[tuple[int, ...]]:
    """Every vector within the bounds whose total is the budget."""
    n, lo, hi = inst.size, inst.lo, inst.hi
    rest_lo = [sum(lo[i:]) for i in range(n + 1)]
    rest_hi = [sum(hi[i:]) for i in range(n + 1)]
    x = [0] * n

    def fill(i: int, left: int) -> Iterator[tuple[int, ...]]:
        if i == n:
            if left == 0:
                yield tuple(x)
            return
        for v in range(max(lo[i], left - rest_hi[i + 1]), min(hi[i], left - rest_lo[i + 1]) + 1):
            x[i] = v
            yield from fill(i + 1, left - v)

    yield from fill(0, inst.budget)


def count(inst: Instance) -> int:
    """How many vectors :func:`candidates` yields (by counting, not listing)."""
    ways = {0: 1}
    for lo, hi in zip(inst.lo, inst.hi, strict=True):
        nxt: dict[int, int] = {}
        for total, w in ways.items():
            for v in range(lo, hi + 1):
                if total + v <= inst.budget:
                    nxt[total + v] = nxt.get(total + v, 0) + w
        ways = nxt
    return ways.get(inst.budget, 0)


def optima(inst: Instance) -> tuple[Key | None, list[tuple[int, ...]]]:
    """The smallest key and every allowed allocation that has it (one, by the last
    tie-break, unless two allocations are equal)."""
    if count(inst) > LIMIT:
        raise ValueError(f"too many allocations to enumerate (over {LIMIT:,})")
    best: Key | None = None
    found: list[tuple[int, ...]] = []
    key_of = key_function(inst)
    for x in candidates(inst):
        if inst.violations(x):
            continue
        key = key_of(x)
        if best is None or key < best:
            best, found = key, [x]
        elif key == best:
            found.append(x)
    return best, found


def allocate(data: Mapping[str, Any]) -> dict[str, int] | None:
    """Units per id of the documented optimum, or None when no allocation is allowed."""
    inst = read(data)
    _, found = optima(inst)
    if not found:
        return None
    assert len(found) == 1, f"the documented keys leave a tie: {found}"
    return dict(zip(inst.ids, found[0], strict=True))


def primary_ties(inst: Instance) -> list[tuple[int, ...]]:
    """The allowed allocations that tie on every cost key (all but the last, rank-order
    tie-break): where the answer depends on the documented order of recipients alone."""
    best: Key | None = None
    found: list[tuple[int, ...]] = []
    key_of = key_function(inst)
    for x in candidates(inst):
        if inst.violations(x):
            continue
        key = key_of(x)[:-1]
        if best is None or key < best:
            best, found = key, [x]
        elif key == best:
            found.append(x)
    return found
