"""The interface every MILP backend implements, and the lexicographic driver they share.

A backend only needs to know how to build the program once (:class:`Session`), set a
stage's objective, bound a finished stage and run. The driver solves the stages in order
(primary cost, then the tie-breakers), so every backend returns the same allocation.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from optimizer.entitlement import IntArray
from optimizer.model import Cuts, IntegerProgram, epigraph_cuts
from optimizer.result import Status

STAGES = 3


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


class Session(ABC):
    """One built model inside a solver."""

    @abstractmethod
    def set_objective(self, stage: int) -> None:
        """Minimise stage ``stage``: sum of epigraph variables, or ``rank . x`` for the last,
        or nothing at all (feasibility) when ``stage < 0``."""

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
        """Solve the stages in order; ``stages=0`` only looks for a feasible point."""
        deadline = time.monotonic() + time_limit_s
        table = program.units()
        cuts = (
            epigraph_cuts(table, table.primary, program.size),
            epigraph_cuts(table, table.secondary, program.size),
        )
        session = self.open(program, cuts[: min(stages, 2)])
        if stages == 0:
            session.set_objective(-1)
        run = RunResult(Status.ERROR, None, None, None)
        gap: float | None = 0.0
        for stage in range(max(stages, 1)):
            if stages:
                session.set_objective(stage)
            run = session.run(max(deadline - time.monotonic(), 0.01))
            if run.status in (Status.INFEASIBLE, Status.ERROR) or run.values is None:
                status = Status.INFEASIBLE if run.status == Status.INFEASIBLE else run.status
                return Outcome(status, None, None, f"{self.name}: {run.status}")
            if run.status != Status.OPTIMAL:
                if stage == 0 and run.objective is not None and run.bound is not None:
                    gap = abs(run.objective - run.bound) / max(1.0, abs(run.objective))
                return Outcome(
                    Status.TIME_LIMIT,
                    _integral(run.values),
                    gap,
                    f"{self.name} stopped at stage {stage + 1} of {stages}",
                )
            if stage + 1 < stages and run.objective is not None:
                session.bound_objective(stage, round(run.objective))
        assert run.values is not None
        return Outcome(Status.OPTIMAL, _integral(run.values), 0.0)


def _integral(values: np.ndarray) -> IntArray:
    out: IntArray = np.rint(values).astype(np.int64)
    return out
