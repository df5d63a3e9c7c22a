"""The exact fast path: separable convex allocation by greedy unit selection.

When only bounds constrain the units, taking the ``budget - sum(lo)`` cheapest units
(ordered by primary cost, then the tie-breakers, then k) is optimal, because each
recipient's unit costs never decrease. With the divisor-method costs this *is* the bounded
divisor method (highest priorities first); with the Hamilton cost it is the bounded
largest-remainder method. No solver is called; the work is one sort.

:func:`apportion` is the textbook interface: entitlements in, seats out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from optimizer.entitlement import FloatArray, IntArray
from optimizer.model import IntegerProgram
from optimizer.objectives import MarginalCost, unit_table
from optimizer.scenario import METHOD_ALIASES


def greedy(program: IntegerProgram) -> IntArray | None:
    """The optimal allocation of a separable program, or None when bounds cannot meet the
    budget. Only valid when ``program.is_separable``."""
    lo, hi = program.lo, program.hi
    need = program.budget - int(lo.sum())
    if need < 0 or int(hi.sum()) < program.budget or np.any(lo > hi):
        return None
    table = unit_table(program.cost, lo, hi)
    order = np.lexsort((table.k, table.tertiary, table.secondary, table.primary))[:need]
    return lo + np.bincount(table.owner[order], minlength=program.size).astype(np.int64)


def maxmin_floors(
    quota: FloatArray, lo: IntArray, hi: IntArray, feasible: Callable[[IntArray], bool]
) -> IntArray:
    """Raise floors to ``ceil(lam * q_i)`` for the largest ``lam`` that stays feasible.

    ``feasible(floors)`` answers for raised floors; the largest minimum of ``x_i / q_i`` is
    then guaranteed by the floors, and the remaining units go by the Hamilton cost.
    Recipients with a zero quota are not counted in the minimum.
    """
    positive = quota > 0

    def floors(lam: float) -> IntArray:
        raised = np.ceil(lam * quota - 1e-9).astype(np.int64)
        return np.where(positive, np.maximum(lo, raised), lo)

    if not np.any(positive):
        return lo.copy()
    low, high = 0.0, float(np.min(hi[positive] / quota[positive]))
    if feasible(floors(high)):
        return floors(high)
    for _ in range(60):
        mid = (low + high) / 2.0
        if feasible(floors(mid)):
            low = mid
        else:
            high = mid
        if high - low <= 1e-12 * max(1.0, high):
            break
    return floors(low)


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
    from optimizer.model import IntegerProgram

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
        ),
    )
    x = greedy(program)
    if x is None:
        raise ValueError("floors and caps cannot sum to the house size")
    return [int(v) for v in x]
