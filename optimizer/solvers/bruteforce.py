"""Exhaustive search over every allocation of a tiny program: the reference the backends are
tested against. It shares no code with them beyond the program's own definition (its
costs, :meth:`~optimizer.model.IntegerProgram.violations` and
:meth:`~optimizer.model.IntegerProgram.stage_values`).
"""

from __future__ import annotations

import numpy as np

from optimizer.entitlement import IntArray
from optimizer.model import IntegerProgram
from optimizer.solvers.base import tie_order

MAX_RECIPIENTS = 6
MAX_BUDGET = 30


def allocations(program: IntegerProgram) -> IntArray:
    """Every integer vector within the bounds that sums to the budget, one per row (in
    lexicographic order). Raises ValueError for programs too big to enumerate."""
    n, budget = program.size, program.budget
    if n > MAX_RECIPIENTS or budget > MAX_BUDGET:
        raise ValueError(
            f"brute force is for at most {MAX_RECIPIENTS} recipients and a budget of "
            f"{MAX_BUDGET} (got {n} and {budget})"
        )
    lo = [int(v) for v in program.lo]
    hi = [min(int(v), budget) for v in program.hi]
    # the least and most the recipients from i on can take together
    rest_lo = [sum(lo[i:]) for i in range(n + 1)]
    rest_hi = [sum(hi[i:]) for i in range(n + 1)]
    rows: list[list[int]] = []
    prefix: list[int] = []

    def extend(i: int, left: int) -> None:
        if i == n:
            if left == 0:
                rows.append(list(prefix))
            return
        first = max(lo[i], left - rest_hi[i + 1])
        last = min(hi[i], left - rest_lo[i + 1])
        for value in range(first, last + 1):
            prefix.append(value)
            extend(i + 1, left - value)
            prefix.pop()

    extend(0, budget)
    out: IntArray = np.array(rows, dtype=np.int64).reshape(len(rows), n)
    return out


def optima(program: IntegerProgram) -> list[IntArray]:
    """All feasible allocations with the lexicographically smallest (primary, secondary,
    tertiary) stage values: more than one means the objective leaves a tie."""
    candidates = allocations(program)
    candidates = candidates[_maybe_feasible(program, candidates)]
    if not len(candidates):
        return []
    values = _stage_values(program, candidates)
    order = np.lexsort((values[:, 2], values[:, 1], values[:, 0]))
    best: list[IntArray] = []
    best_value: tuple[int, int, int] | None = None
    for row in order.tolist():
        value = (int(values[row, 0]), int(values[row, 1]), int(values[row, 2]))
        if best_value is not None and value != best_value:
            break
        x = candidates[row]
        if program.violations(x):
            continue
        if program.stage_values(x) != value:  # the vectorised values must agree
            raise AssertionError(f"stage values of {x.tolist()} disagree")
        best_value = value
        best.append(x.copy())
    return best


def brute_force(program: IntegerProgram) -> IntArray | None:
    """The feasible allocation with the lexicographically smallest stage values, or None if
    nothing is feasible. Only for tiny programs (ValueError otherwise).

    The stage values do not always single out one allocation (with a grade order, two
    allocations can tie on all three); the driver's rank stages then decide
    (:mod:`optimizer.solvers.base`): of the tied allocations, the one that gives the most
    units to the first recipient in rank order, then to the second, and so on."""
    found = optima(program)
    if not found:
        return None
    ranked = tie_order(program)
    return max(found, key=lambda x: tuple(x[ranked].tolist()))


def _maybe_feasible(program: IntegerProgram, candidates: IntArray) -> np.ndarray:
    """Rows that pass the rows and ratio orders, tested the same way as ``violations`` (which
    still confirms the winner); only a speed-up."""
    keep = np.ones(len(candidates), dtype=bool)
    for row in program.sums:
        total = candidates[:, row.index].sum(axis=1)
        if row.lower is not None:
            keep &= total >= row.lower
        if row.upper is not None:
            keep &= total <= row.upper
    for order in program.orders:
        for better, worse in zip(order.levels, order.levels[1:], strict=False):
            if len(better) and len(worse):
                low = (candidates[:, better] / order.weight[better]).min(axis=1)
                high = (candidates[:, worse] / order.weight[worse]).max(axis=1)
                keep &= ~(low < high - 1e-9)
    return keep


def _stage_values(program: IntegerProgram, candidates: IntArray) -> IntArray:
    """(primary, secondary, tertiary) of each candidate row, from each recipient's cost
    table F_i(x_i) = sum of the marginal costs of units lo_i .. x_i - 1."""
    table = program.units()
    out = np.zeros((len(candidates), 3), dtype=np.int64)
    for i in range(program.size):
        units = slice(int(table.start[i]), int(table.start[i + 1]))
        taken = candidates[:, i] - program.lo[i]
        for column, marginal in ((0, table.primary[units]), (1, table.secondary[units])):
            cumulative = np.concatenate([[0], np.cumsum(marginal)])
            out[:, column] += cumulative[taken]
    rank = program.cost.tertiary(np.arange(program.size))
    out[:, 2] = (candidates - program.lo) @ rank
    return out
