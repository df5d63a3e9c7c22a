"""The program as one sparse row matrix (CSR arrays), shared by the LP-based backends.

Columns: ``x`` (n integers), then one epigraph variable per recipient per cut stage, then
one continuous variable per adjacent grade pair of each ratio order.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from optimizer.model import Cuts, IntegerProgram
from optimizer.solvers.base import linear_stage

FArray = npt.NDArray[np.float64]
IArray = npt.NDArray[np.int64]


class RowBuilder:
    """Build columns bounds, rows and stage objectives as flat arrays."""

    def __init__(self, program: IntegerProgram, cuts: tuple[Cuts, ...]) -> None:
        n = program.size
        self.n = n
        self.stage_cols = [n * (s + 1) + np.arange(n) for s in range(len(cuts))]
        pairs = [(o, g) for o in program.orders for g in range(len(o.levels) - 1)]
        first_aux = n * (len(cuts) + 1)
        self.num_cols = first_aux + len(pairs)
        self.col_lower: FArray = np.full(self.num_cols, -np.inf)
        self.col_upper: FArray = np.full(self.num_cols, np.inf)
        self.col_lower[:n] = program.lo
        self.col_upper[:n] = program.hi
        for cols, cut in zip(self.stage_cols, cuts, strict=True):
            self.col_lower[cols] = cut.floor_value
        self.col_lower[first_aux:] = 0.0
        self.program = program

        starts: list[IArray] = []
        index: list[IArray] = []
        value: list[FArray] = []
        lower: list[FArray] = []
        upper: list[FArray] = []
        count = 0

        def add(
            row_index: IArray, row_value: FArray, length: IArray, lo: FArray, hi: FArray
        ) -> None:
            nonlocal count
            begin = np.zeros(len(length), dtype=np.int64)
            np.cumsum(length[:-1], out=begin[1:])
            starts.append(begin + count)
            count += int(length.sum())
            index.append(row_index)
            value.append(row_value)
            lower.append(lo)
            upper.append(hi)

        one = np.ones
        # budget: sum x = B
        add(
            np.arange(n),
            one(n),
            np.array([n]),
            np.array([float(program.budget)]),
            np.array([float(program.budget)]),
        )
        for row in program.sums:
            add(
                row.index,
                one(len(row.index)),
                np.array([len(row.index)]),
                np.array([-np.inf if row.lower is None else float(row.lower)]),
                np.array([np.inf if row.upper is None else float(row.upper)]),
            )
        # cuts: t_i - slope * x_i >= intercept
        for cols, cut in zip(self.stage_cols, cuts, strict=True):
            m = len(cut.owner)
            idx = np.empty(2 * m, dtype=np.int64)
            val = np.empty(2 * m)
            idx[0::2] = cols[cut.owner]
            idx[1::2] = cut.owner
            val[0::2] = 1.0
            val[1::2] = -cut.slope.astype(np.float64)
            add(idx, val, np.full(m, 2), cut.intercept.astype(np.float64), np.full(m, np.inf))
        # ratio orders: x_i - w_i y >= 0 (better level), x_j - w_j y <= 0 (worse level)
        for k, (order, g) in enumerate(pairs):
            y = first_aux + k
            for members, is_better in ((order.levels[g], True), (order.levels[g + 1], False)):
                m = len(members)
                idx = np.empty(2 * m, dtype=np.int64)
                val = np.empty(2 * m)
                idx[0::2] = members
                idx[1::2] = y
                val[0::2] = 1.0
                val[1::2] = -order.weight[members]
                bound_lo = np.zeros(m) if is_better else np.full(m, -np.inf)
                bound_hi = np.full(m, np.inf) if is_better else np.zeros(m)
                add(idx, val, np.full(m, 2), bound_lo, bound_hi)
        self.starts = np.concatenate(starts)
        self.index = np.concatenate(index)
        self.value = np.concatenate(value)
        self.row_lower = np.concatenate(lower)
        self.row_upper = np.concatenate(upper)

    def objective(self, stage: int) -> FArray:
        """Cost vector of a stage over all columns (zero for feasibility, ``stage < 0``)."""
        cost = np.zeros(self.num_cols)
        if 0 <= stage < len(self.stage_cols):
            cost[self.stage_cols[stage]] = 1.0
        elif stage >= len(self.stage_cols):
            cost[: self.n] = linear_stage(self.program, stage, len(self.stage_cols))
        return cost
