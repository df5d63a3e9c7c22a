"""CBC (COIN-OR branch and cut) through PuLP, using the CBC binary bundled with PuLP.

The model is the sparse row matrix HiGHS uses (:class:`RowBuilder`), turned into PuLP
expressions row by row, except for grade orders: those become exact integer rows between
each pair of grades (:func:`~optimizer.solvers.cpsat.ratio_coefficients`), as in CP-SAT,
instead of rows through a continuous ratio variable that a tolerance can let slip. PuLP
hands the model to CBC as an MPS file and reads back a solution file; both live in a
private temporary directory that is always removed, and CBC's log goes to ``/dev/null``,
so nothing is printed on stdout and nothing is left in the working directory.

What PuLP and CBC report is not taken at face value:

- the status: PuLP reports a run *stopped on time with an incumbent* as ``Optimal``; the
  first line of CBC's solution file is read instead (:func:`status_of_line`);
- CBC itself: its preprocessing and cut generators are off, having produced wrong
  optima and false infeasibility with the large cost coefficients (:meth:`_solve_once`);
- the numbers: PuLP writes the MPS file with 13 significant digits and CBC prints values
  with 8, so every coefficient is checked to be an integer written exactly, stage values
  are recomputed exactly from the (rounded) units, a finished stage is bounded around its
  answer so that the bound's numbers stay small, and warm starts are set exactly;
- the answer: units must be integral and meet every constraint, or there is no answer.
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
from optimizer.solvers.base import Backend, RunResult, Session, linear_stage
from optimizer.solvers.cpsat import constant_stage, ratio_rows
from optimizer.solvers.rows import RowBuilder

_MARGIN = 0.5
# PuLP writes MPS numbers as "% .12e": 13 significant digits, so integers below 10**13 are
# written exactly.
_EXACT_INT = 10**13
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
        # RowBuilder's last columns and rows encode the ratio orders with continuous
        # variables, which a solver's feasibility tolerance can let slip (1/1.000001 passes
        # for 1/1); they are replaced by exact integer rows between grade pairs.
        num_cols = n * (len(cuts) + 1)
        continuous_ratio_rows = sum(
            len(order.levels[g]) + len(order.levels[g + 1])
            for order in program.orders
            for g in range(len(order.levels) - 1)
        )
        num_rows = len(rows.row_lower) - continuous_ratio_rows
        columns: list[Any] = []
        for j in range(num_cols):
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
        for r, (begin, end) in enumerate(zip(rows.starts.tolist()[:num_rows], ends, strict=False)):
            expr = pulp.LpAffineExpression(
                [(columns[index[k]], value[k]) for k in range(begin, end)]
            )
            low, high = float(rows.row_lower[r]), float(rows.row_upper[r])
            self._add_row(expr, low, high, f"r{r}")
        self.num_rows = num_rows
        hi = program.hi.tolist()
        for i, j, q, p in ratio_rows(program):
            self.exact = self.exact and max(p, q) * max(hi[i], hi[j]) < _EXACT_INT
            self.num_rows += 1
            expr = pulp.LpAffineExpression([(columns[i], q), (columns[j], -p)])
            self._add_row(expr, 0.0, np.inf, f"r{self.num_rows}")
        self.warm = False
        self.stage = -1
        self.last_x: IntArray | None = None
        self.shifts: list[tuple[int, list[Any], IntArray]] = []

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
        """``sum(t) <= value + 0.5``, written around the stage's answer ``x*``: new columns
        ``u_i = t_i - F_i(x*_i)`` and ``sum(u) <= 0.5``. The same constraint, but its numbers
        stay small: ``value`` itself can exceed what PuLP writes exactly (10**12) and, as a
        right-hand side next to cost slopes of 10**9, drowns the 0.5 margin in tolerances."""
        pulp = self._pulp
        x = self.last_x
        if stage >= len(self.cuts):  # a linear stage: small integer coefficients
            self.num_rows += 1
            self._add_row(self._expression(stage), -np.inf, value + _MARGIN, f"r{self.num_rows}")
            return
        if x is None:
            self.exact = False
            return
        cut = self.cuts[stage]
        level = cut.floor_value.astype(np.int64).copy()
        np.maximum.at(level, cut.owner, cut.intercept + cut.slope * x[cut.owner])
        if int(level.sum()) != value or not _exact_integers(level):
            self.exact = False
            return
        shifted = []
        for i, j in enumerate(self.rows.stage_cols[stage].tolist()):
            u = self.problem.add_variable(f"u{stage}_{i}", None, None, pulp.LpContinuous)
            shifted.append(u)
            self.num_rows += 1
            expr = pulp.LpAffineExpression([(self.columns[j], 1.0), (u, -1.0)])
            self._add_row(expr, float(level[i]), float(level[i]), f"r{self.num_rows}")
        self.num_rows += 1
        expr = pulp.LpAffineExpression([(u, 1.0) for u in shifted])
        self._add_row(expr, -np.inf, _MARGIN, f"r{self.num_rows}")
        self.shifts.append((stage, shifted, level))

    def run(self, time_limit_s: float) -> RunResult:
        if not self.exact:
            # a coefficient would be rounded on its way to CBC: no answer beats a wrong one
            return RunResult(Status.ERROR, None, None, None)
        if np.any(self.program.lo > self.program.hi):
            # CBC rejects crossed column bounds instead of reporting infeasibility
            return RunResult(Status.INFEASIBLE, None, None, None)
        if self.last_x is not None and constant_stage(self.cuts, self.stage):
            # every allocation costs the same here: the previous answer is optimal
            value = float(self._stage_value(self.last_x))
            return RunResult(Status.OPTIMAL, self.last_x.astype(np.float64), value, None)
        status = self._solve_once(time_limit_s)
        if status == Status.INFEASIBLE and self.warm:
            # the previous stage's answer satisfies every row, this bound included: a claim
            # of infeasibility here is numerical trouble, not a property of the scenario
            return RunResult(Status.ERROR, None, None, None)
        if status not in (Status.OPTIMAL, Status.FEASIBLE):
            return RunResult(status, None, None, None)
        raw = [v.varValue for v in self.columns[: self.program.size]]
        if any(v is None for v in raw):
            return RunResult(Status.ERROR, None, None, None)
        values = np.array(raw, dtype=np.float64)
        x: IntArray = np.rint(values).astype(np.int64)
        # CBC writes values with 8 significant digits (76.000002), so only a clear miss
        # counts; the rounded units are then checked against every constraint
        if np.max(np.abs(values - x), initial=0.0) > 1e-3 or self.program.violations(x):
            # not an allocation after all: CBC stopped without a usable incumbent
            return RunResult(
                Status.ERROR if status == Status.OPTIMAL else Status.TIME_LIMIT, None, None, None
            )
        self.last_x = x
        self._warm_start(x)
        return RunResult(status, values, float(self._stage_value(x)), None)

    def _solve_once(self, time_limit_s: float) -> Status:
        """One CBC run in a private temporary directory, its status from the solution file."""
        pulp = self._pulp
        # CBC 2.10's preprocessing (CglPreProcess) and cut generators are not safe with cost
        # slopes of 10**9: seen cutting off the optimum of a tie-break stage (3 recipients,
        # budget 1), declaring a feasible stage "integer infeasible", or, when the time
        # limit interrupts preprocessing, a feasible program infeasible or crashing. The
        # epigraph rows are already the convex hull of each cost, so little is lost.
        options = [f"integerTolerance {_INTEGER_TOLERANCE}", "preprocess off", "cuts off"]
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
                options=options,
            )
            solver.tmpDir = workdir
            self.problem.solve(solver)
        except (pulp.PulpSolverError, OSError):
            return Status.ERROR
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return status_of_line(solver.status_line)

    def _stage_value(self, x: IntArray) -> int:
        """The exact objective of the current stage at ``x`` (CBC prints 8 digits only)."""
        stage = self.stage
        if stage < 0:
            return 0
        if stage < len(self.cuts):
            return self.program.stage_values(x)[stage]
        return int((linear_stage(self.program, stage, len(self.cuts)) * x).sum())

    def _warm_start(self, x: IntArray) -> None:
        """Set every column to an exactly feasible point at ``x`` for the next stage's MIP
        start (CBC's solution file has 8 digits only): the units, the epigraph variables at
        their cost, and the shifted copies of bounded stages."""
        for j in range(self.program.size):
            self.columns[j].varValue = int(x[j])
        levels = []
        for cols, cut in zip(self.rows.stage_cols, self.cuts, strict=True):
            level = cut.floor_value.astype(np.int64).copy()
            np.maximum.at(level, cut.owner, cut.intercept + cut.slope * x[cut.owner])
            levels.append(level)
            for i, j in enumerate(cols.tolist()):
                self.columns[j].varValue = int(level[i])
        for stage, shifted, base in self.shifts:
            for i, u in enumerate(shifted):
                u.varValue = int(levels[stage][i] - base[i])
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
