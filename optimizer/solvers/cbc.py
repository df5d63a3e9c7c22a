"""CBC (COIN-OR branch and cut) through PuLP, using the CBC binary bundled with PuLP.

The model is the same sparse row matrix as HiGHS (:class:`RowBuilder`), turned into PuLP
expressions row by row. PuLP hands the model to CBC as an MPS file and reads back a solution
file; both live in a private temporary directory that is always removed, and CBC's log goes
to ``/dev/null``, so nothing is printed on stdout and nothing is left in the working
directory.

Two things PuLP does are not trusted:

- its status: PuLP reports a run *stopped on time with an incumbent* as ``Optimal``; the
  first line of CBC's solution file is read instead (:func:`status_of_line`);
- its numbers: PuLP writes the MPS file with 13 significant digits and CBC prints values
  with 8, so every coefficient is checked to be an integer written exactly, stage values
  are recomputed exactly from the (rounded) units, and warm starts are set exactly.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from typing import Any

import numpy as np

from optimizer.entitlement import IntArray
from optimizer.model import Cuts, IntegerProgram
from optimizer.result import Status
from optimizer.solvers.base import Backend, RunResult, Session
from optimizer.solvers.rows import RowBuilder

_MARGIN = 0.5
# PuLP writes MPS numbers as "% .12e": 13 significant digits. Integers below 10**13 are
# written exactly, and ``v + 0.5`` is exact below 10**12.
_EXACT_INT = 10**13
_EXACT_HALF = 10**12
# CBC's own integrality tolerance is 1e-7; with cut slopes of up to ~1e9 that could move a
# stage value by whole units, so integers are held tighter.
_INTEGER_TOLERANCE = 1e-9


def status_of_line(line: str) -> Status:
    """The status written on the first line of a CBC solution file.

    ``Optimal`` (also "within gap tolerance": the gap is below 0.5 on an integer objective)
    is OPTIMAL; ``Infeasible`` / ``Integer infeasible`` is INFEASIBLE; ``Stopped on ...`` is
    FEASIBLE when CBC holds an integer solution and TIME_LIMIT when it does not; anything
    else (``Unbounded``, an unreadable file) is ERROR.
    """
    text = line.strip()
    if text.startswith("Optimal"):
        return Status.OPTIMAL
    if text.startswith(("Infeasible", "Integer infeasible")):
        return Status.INFEASIBLE
    if text.startswith("Stopped"):
        if "no integer solution" in text or "objective value" not in text:
            return Status.TIME_LIMIT
        return Status.FEASIBLE
    return Status.ERROR


def _cbc_path() -> str | None:
    """The CBC executable bundled with PuLP, else ``cbc`` on the PATH."""
    try:
        import pulp
    except ImportError:
        return None
    bundled = getattr(pulp.PULP_CBC_CMD, "pulp_cbc_path", None)
    if isinstance(bundled, str) and os.path.isfile(bundled) and os.access(bundled, os.X_OK):
        return bundled
    return shutil.which("cbc")


class CbcBackend(Backend):
    """CBC branch-and-cut through PuLP (bundled binary)."""

    name = "cbc"

    @classmethod
    def available(cls) -> bool:
        return _cbc_path() is not None

    @classmethod
    def version(cls) -> str:
        return _cbc_version()

    def open(self, program: IntegerProgram, cuts: tuple[Cuts, ...]) -> Session:
        path = _cbc_path()
        if path is None:  # pragma: no cover - checked by available()
            raise RuntimeError("CBC is not available")
        return _CbcSession(program, cuts, path)


@functools.cache
def _cbc_version() -> str:
    path = _cbc_path()
    if path is None:
        return "unavailable"
    try:
        done = subprocess.run(
            [path, "-quit"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    found = re.search(r"Version:\s*(\S+)", done.stdout)
    return found.group(1) if found else "unknown"


def _exact_integers(values: Any) -> bool:
    """True when every value is an integer that PuLP's MPS writer reproduces exactly."""
    array = np.asarray(values, dtype=np.float64)
    finite = array[np.isfinite(array)]
    return bool(np.all(np.abs(finite) < _EXACT_INT) and np.all(finite == np.rint(finite)))


class _CbcSession(Session):
    def __init__(self, program: IntegerProgram, cuts: tuple[Cuts, ...], path: str) -> None:
        import pulp

        self._pulp = pulp
        self.path = path
        self.program = program
        self.cuts = cuts
        rows = RowBuilder(program, cuts)
        self.rows = rows
        n = program.size
        self.exact = _exact_integers(
            np.concatenate(
                [
                    [program.budget],
                    program.lo,
                    program.hi,
                    *[[s.lower or 0, s.upper or 0] for s in program.sums],
                    *[np.concatenate([c.slope, c.intercept, c.floor_value]) for c in cuts],
                ]
            )
        )
        problem = pulp.LpProblem("allot", pulp.LpMinimize)
        columns: list[Any] = []
        for j in range(rows.num_cols):
            lower = float(rows.col_lower[j]) if np.isfinite(rows.col_lower[j]) else None
            upper = float(rows.col_upper[j]) if np.isfinite(rows.col_upper[j]) else None
            if j < n:
                columns.append(problem.add_variable(f"x{j}", lower, upper, pulp.LpInteger))
            else:
                columns.append(problem.add_variable(f"c{j}", lower, upper, pulp.LpContinuous))
        self.columns = columns
        self.problem = problem
        ends = [*rows.starts[1:].tolist(), len(rows.index)]
        index = rows.index.tolist()
        value = rows.value.tolist()
        for r, (begin, end) in enumerate(zip(rows.starts.tolist(), ends, strict=True)):
            expr = pulp.LpAffineExpression(
                [(columns[index[k]], value[k]) for k in range(begin, end)]
            )
            low, high = float(rows.row_lower[r]), float(rows.row_upper[r])
            self._add_row(expr, low, high, f"r{r}")
        self.num_rows = len(rows.row_lower)
        self.warm = False
        self.stage = -1

    def _add_row(self, expr: Any, low: float, high: float, name: str) -> None:
        pulp = self._pulp
        if low == high:
            self.problem.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintEQ, name, low))
            return
        if np.isfinite(low):
            self.problem.addConstraint(
                pulp.LpConstraint(expr, pulp.LpConstraintGE, f"{name}l", low)
            )
        if np.isfinite(high):
            self.problem.addConstraint(
                pulp.LpConstraint(expr, pulp.LpConstraintLE, f"{name}u", high)
            )

    def _expression(self, stage: int) -> Any:
        cost = self.rows.objective(stage)
        nz = np.flatnonzero(cost)
        return self._pulp.LpAffineExpression(
            [(self.columns[j], float(cost[j])) for j in nz.tolist()]
        )

    def set_objective(self, stage: int) -> None:
        self.stage = stage
        self.problem.setObjective(self._expression(stage))

    def bound_objective(self, stage: int, value: int) -> None:
        if abs(value) + 1 < _EXACT_HALF:
            rhs = value + _MARGIN
        elif abs(value) < _EXACT_INT:
            rhs = float(value)  # exact; CBC's tolerance keeps the optimum feasible
        else:
            self.exact = False
            return
        self.num_rows += 1
        self._add_row(self._expression(stage), -np.inf, rhs, f"r{self.num_rows}")

    def run(self, time_limit_s: float) -> RunResult:
        if not self.exact:
            # a coefficient would be rounded on its way to CBC: no answer beats a wrong one
            return RunResult(Status.ERROR, None, None, None)
        pulp = self._pulp
        workdir = tempfile.mkdtemp(prefix="allot-cbc-")
        try:
            solver = _recording_cbc()(
                path=self.path,
                msg=False,
                timeLimit=max(float(time_limit_s), 0.01),
                gapRel=0,
                gapAbs=_MARGIN,
                threads=1,
                warmStart=self.warm,
                options=[f"integerTolerance {_INTEGER_TOLERANCE}"],
            )
            solver.tmpDir = workdir
            self.problem.solve(solver)
        except (pulp.PulpSolverError, OSError):
            return RunResult(Status.ERROR, None, None, None)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        status = status_of_line(solver.status_line)
        if status not in (Status.OPTIMAL, Status.FEASIBLE):
            return RunResult(status, None, None, None)
        raw = [v.varValue for v in self.columns[: self.program.size]]
        if any(v is None for v in raw):
            return RunResult(Status.ERROR, None, None, None)
        values = np.array(raw, dtype=np.float64)
        x: IntArray = np.rint(values).astype(np.int64)
        self._warm_start(x)
        return RunResult(status, values, float(self._stage_value(x)), None)

    def _stage_value(self, x: IntArray) -> int:
        """The exact objective of the current stage at ``x`` (CBC prints 8 digits only)."""
        stage = self.stage
        if stage < 0:
            return 0
        if stage < len(self.cuts):
            return self.program.stage_values(x)[stage]
        return int((self.program.cost.tertiary(np.arange(self.program.size)) * x).sum())

    def _warm_start(self, x: IntArray) -> None:
        """Set every column to an exactly feasible point at ``x`` for the next stage's MIP
        start: epigraph variables at their cost, ratio variables between the grades."""
        n = self.program.size
        for j in range(n):
            self.columns[j].varValue = int(x[j])
        for cols, cut in zip(self.rows.stage_cols, self.cuts, strict=True):
            level = cut.floor_value.astype(np.int64).copy()
            np.maximum.at(level, cut.owner, cut.intercept + cut.slope * x[cut.owner])
            for i, j in enumerate(cols.tolist()):
                self.columns[j].varValue = int(level[i])
        aux = n * (len(self.cuts) + 1)
        for order in self.program.orders:
            for better in order.levels[:-1]:
                self.columns[aux].varValue = float(np.min(x[better] / order.weight[better]))
                aux += 1
        self.warm = True


@functools.cache
def _recording_cbc() -> type[Any]:
    """PuLP's ``COIN_CMD`` (pointed at the bundled binary by the caller) that keeps the raw
    status line of the solution file: PuLP maps "Stopped on time" with an incumbent to
    ``Optimal``. ``COIN_CMD`` rather than ``PULP_CBC_CMD``, which warns it is deprecated."""
    import pulp

    class Recording(pulp.COIN_CMD):  # type: ignore[misc]
        status_line = ""

        def get_status(self, filename: str) -> Any:
            with open(filename) as handle:
                self.status_line = handle.readline()
            return super().get_status(filename)

    return Recording
