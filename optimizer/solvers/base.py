"""The interface every MILP backend implements, and the lexicographic driver they share.

A backend only needs to know how to build the program once (:class:`Session`), set a
stage's objective, bound a finished stage and run. The driver solves the stages in order
(primary cost, then the tie-breakers), so every backend returns the same allocation.

The three cost stages (primary, least squares, ``rank . x``) single out one allocation
whenever the rules form a partition (:mod:`optimizer.partition`), but under ``grade_order``
two allocations can tie on all three. The driver then ends with the *rank stages*: in rank
order (largest entitlement, then id, first), each recipient takes as many units as the
optimum still allows, and keeps them. That makes the answer a strict lexicographic optimum,
the same on every backend. The rank stages are skipped where they cannot change anything:
for programs of a partition structure (the optimum is unique there) and for a recipient
already at its cap; and beyond :data:`RANK_STAGE_LIMIT` recipients, where they would cost
more than the rest of the solve.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from optimizer.entitlement import IntArray
from optimizer.guard import seconds_left
from optimizer.model import Cuts, IntegerProgram, epigraph_cuts
from optimizer.partition import structure
from optimizer.result import Status

STAGES = 3
"""Cost stages: primary, secondary (least squares), tertiary (``rank . x``)."""
RANK_STAGE_LIMIT = 64
"""Rank stages run for programs of at most this many recipients (14 regions, one region's
60 programmes): each is a solve of its own. Larger MILPs end after the cost stages, and
an allocation tied with theirs on every cost stage would be reported as it is found."""


def tie_order(program: IntegerProgram) -> IntArray:
    """Recipients in rank order: the order of the rank stages."""
    out: IntArray = np.argsort(program.cost.tertiary(np.arange(program.size)), kind="stable")
    return out


def linear_stage(program: IntegerProgram, stage: int, cut_stages: int) -> IntArray:
    """The coefficients over ``x`` of a linear stage (``stage >= cut_stages``): ``rank`` for
    the tertiary stage, then ``-x_r`` (take as many units as possible) for the recipient
    ``r`` of each rank stage."""
    if stage == cut_stages:
        out: IntArray = program.cost.tertiary(np.arange(program.size)).astype(np.int64)
        return out
    coefficients = np.zeros(program.size, dtype=np.int64)
    coefficients[tie_order(program)[stage - cut_stages - 1]] = -1
    return coefficients


@dataclass(frozen=True)
class RunResult:
    """What one solver run reports."""

    status: Status  # OPTIMAL, FEASIBLE (stopped with an incumbent), INFEASIBLE, TIME_LIMIT, ERROR
    values: np.ndarray | None  # x values as floats, as the solver returned them
    objective: float | None
    bound: float | None


@dataclass(frozen=True)
class Outcome:
    """The answer of a backend for a whole program."""

    status: Status
    x: IntArray | None
    gap: float | None
    detail: str = ""
    proof: tuple[tuple[int, float | None, float | None], ...] = ()
    """Per solved stage: (stage, objective, best bound) as the solver reported them; equal
    values are its proof of optimality for that stage."""


class Session(ABC):
    """One built model inside a solver."""

    @abstractmethod
    def set_objective(self, stage: int) -> None:
        """Minimise stage ``stage``: sum of epigraph variables, or a :func:`linear_stage`
        after those, or nothing at all (feasibility) when ``stage < 0``."""

    @abstractmethod
    def bound_objective(self, stage: int, value: int) -> None:
        """Add ``objective(stage) <= value`` (values are integers; a 0.5 margin is used)."""

    @abstractmethod
    def run(self, time_limit_s: float) -> RunResult:
        """Solve with the current objective."""


class Backend(ABC):
    """A MILP solver behind one interface."""

    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def available(cls) -> bool:
        """Whether the solver's package is importable here."""

    @classmethod
    @abstractmethod
    def version(cls) -> str:
        """The solver's version string."""

    @abstractmethod
    def open(self, program: IntegerProgram, cuts: tuple[Cuts, ...]) -> Session:
        """Build ``program`` with one epigraph variable per recipient per cut stage."""

    def solve(
        self, program: IntegerProgram, *, time_limit_s: float, stages: int = STAGES
    ) -> Outcome:
        """Solve the stages in order, then the rank stages; ``stages=0`` only looks for a
        feasible point. A stage stopped by the time limit reports the best allocation so
        far (``time_limit``); the stages before it were solved to optimality."""
        deadline = time.monotonic() + time_limit_s
        table = program.units()
        cuts = (
            epigraph_cuts(table, table.primary, program.size),
            epigraph_cuts(table, table.secondary, program.size),
        )
        session = self.open(program, cuts[: min(stages, 2)])
        if stages == 0:
            session.set_objective(-1)
        unique = structure(program) is not None  # the cost stages single out the optimum
        ranked: list[int] = []
        if stages == STAGES and not unique and program.size <= RANK_STAGE_LIMIT:
            ranked = tie_order(program).tolist()
        best: np.ndarray | None = None
        proof: list[tuple[int, float | None, float | None]] = []
        gap: float | None = 0.0
        total = max(stages, 1) + max(len(ranked) - 1, 0)
        for stage in range(total):
            if stage >= STAGES and best is not None:
                r = ranked[stage - STAGES]
                x = _integral(best)
                if x[r] >= program.hi[r]:  # already all it could have: keep it, no run
                    session.bound_objective(stage, -int(x[r]))
                    continue
            if stages:
                session.set_objective(stage)
            run = session.run(seconds_left(deadline))
            if run.status in (Status.INFEASIBLE, Status.ERROR) or run.values is None:
                if stage >= STAGES and best is not None and run.status != Status.TIME_LIMIT:
                    # numerical trouble in a rank stage (HiGHS has reported "unbounded"):
                    # the answer is proven optimal for every cost stage; say so
                    return Outcome(
                        Status.OPTIMAL,
                        _integral(best),
                        0.0,
                        f"{self.name} failed rank stage {stage - STAGES + 1} "
                        f"({run.status}): an equally good allocation may exist",
                    )
                if best is not None and run.status == Status.TIME_LIMIT:
                    return Outcome(
                        Status.TIME_LIMIT,
                        _integral(best),
                        gap,
                        f"{self.name} stopped at stage {stage + 1} of {total}; the "
                        "allocation is optimal for the stages before it",
                    )
                status = Status.INFEASIBLE if run.status == Status.INFEASIBLE else run.status
                return Outcome(status, None, None, f"{self.name}: {run.status}")
            if run.status != Status.OPTIMAL:
                if stage == 0 and run.objective is not None and run.bound is not None:
                    gap = abs(run.objective - run.bound) / max(1.0, abs(run.objective))
                return Outcome(
                    Status.TIME_LIMIT,
                    _integral(run.values),
                    gap,
                    f"{self.name} stopped at stage {stage + 1} of {total}",
                )
            best = run.values
            proof.append((stage, run.objective, run.bound))
            if stage + 1 < total and run.objective is not None:
                session.bound_objective(stage, round(run.objective))
        assert best is not None
        return Outcome(Status.OPTIMAL, _integral(best), 0.0, proof=tuple(proof))


def _integral(values: np.ndarray) -> IntArray:
    out: IntArray = np.rint(values).astype(np.int64)
    return out
