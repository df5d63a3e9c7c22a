"""Biproportional rows: Allot's region x kind matrix beside the MILP a user would write for
the same problem in PuLP + CBC, measured in the same run.

``python -m benchmarks.matrix [--quick] [--out FILE.json]``

The baseline reads the same scenario data: one binary per unit a cell may take beyond its
floor (``x_ij = floor + sum_k y_ijk``), each unit costing ``log(s(k-1)) - log(e_ij)`` (the
biproportional objective, Huntington-Hill squared), every row and column summing to its
total. The cell bound is ``min(cap, row total, column total)``; beyond
:data:`MAX_UNIT_VARIABLES` unit variables the baseline is not built (the row says how many
it would need). Both answers are checked: margins, bounds, and Allot's cells against its
divisors; where both ran, the cells must agree (the optimum is unique without ties).

The 1,000 x 1,000 row (10^6 recipients) is timed on the matrix algorithm alone: its matrix
is built from the same draws as the scenario would hold (:func:`matrix_of`), without the
scenario (a million recipient records would time the loading, not the apportionment).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.baseline import cbc
from optimizer.biproportional import (
    FloatArray,
    IntArray,
    Matrix,
    apportion_line,
    biproportional,
    effective_bounds,
    signpost,
)
from optimizer.scenario import Scenario
from optimizer.solve import solve

MAX_UNIT_VARIABLES = 200_000
"""Above this many unit variables the PuLP model is not built (memory and minutes)."""


@dataclass(frozen=True)
class MatrixSpec:
    """``rows`` x ``columns`` cells with every cell present, ``budget`` units, a seed."""

    rows: int
    columns: int
    budget: int
    method: str = "webster"
    seed: int = 0
    scenario: bool = True
    """False: the matrix algorithm alone, on :func:`matrix_of` (no scenario, no solve())."""

    @property
    def name(self) -> str:
        return f"bip-{self.rows}x{self.columns}-{self.method}-b{self.budget}"


QUICK = (MatrixSpec(14, 60, 2864),)
FULL = (
    MatrixSpec(14, 60, 2864),
    MatrixSpec(14, 60, 2864, "huntington-hill"),
    MatrixSpec(20, 100, 4000),
    MatrixSpec(100, 1000, 100_000),
    MatrixSpec(14, 60, 10**15),
    MatrixSpec(1000, 1000, 1_000_000, scenario=False),
)


def draws(spec: MatrixSpec) -> tuple[FloatArray, FloatArray, IntArray]:
    """The instance's scores and weights (rows x columns) and its column totals (a fixed
    share of the budget per industry, by its scores)."""
    rng = np.random.default_rng(spec.seed)
    score = np.round(rng.uniform(55, 98, (spec.rows, spec.columns)), 1)
    weight = np.round(rng.uniform(0.5, 1.5, (spec.rows, spec.columns)), 2)
    need = (score * weight).sum(axis=0) * rng.uniform(0.8, 1.2, spec.columns)
    share = need / need.sum() * spec.budget
    totals = np.floor(share).astype(np.int64)
    for j in np.argsort(-(share - totals))[: spec.budget - int(totals.sum())]:
        totals[j] += 1
    return score, weight, totals


def matrix_of(spec: MatrixSpec) -> Matrix:
    """The scenario's matrix without the scenario: entitlements as integers (score to one
    decimal times weight to two), every cell capped by the budget only, the column totals
    drawn and the row totals apportioned from the budget by the cells' method over the
    rows' entitlements, as a scenario without row totals has them."""
    score, weight, totals = draws(spec)
    cells = spec.rows * spec.columns
    exact = np.rint(score * 10).astype(np.int64) * np.rint(weight * 100).astype(np.int64)
    row = np.repeat(np.arange(spec.rows, dtype=np.int64), spec.columns)
    sums = exact.sum(axis=1).tolist()
    row_totals = apportion_line([int(v) for v in sums], spec.budget, spec.method)
    assert row_totals is not None
    return Matrix(
        row=row,
        column=np.tile(np.arange(spec.columns, dtype=np.int64), spec.rows),
        weight=tuple(exact.ravel().tolist()),
        lo=np.zeros(cells, dtype=np.int64),
        hi=np.full(cells, spec.budget, dtype=np.int64),
        row_totals=tuple(row_totals),
        column_totals=tuple(int(t) for t in totals),
    )


def scenario_data(spec: MatrixSpec) -> dict[str, Any]:
    """Regions x industries with illustrative scores and weights; row totals apportioned
    from the budget, column totals given (a fixed share per industry, by its scores)."""
    score, weight, totals = draws(spec)
    columns = [f"c{j:04d}" for j in range(spec.columns)]
    return {
        "name": spec.name,
        "budget": spec.budget,
        "objective": {"kind": "proportional", "method": spec.method},
        "rules": [
            {
                "type": "biproportional",
                "rows": "region",
                "columns": "industry",
                "column_totals": {c: int(t) for c, t in zip(columns, totals, strict=True)},
            }
        ],
        "recipients": [
            {
                "id": f"r{i:03d}-{columns[j]}",
                "score": float(score[i, j]),
                "weight": float(weight[i, j]),
                "tags": {"region": f"r{i:03d}", "industry": columns[j]},
            }
            for i in range(spec.rows)
            for j in range(spec.columns)
        ],
    }


@dataclass
class Row:
    """One instance: Allot's time (whole solve, and the matrix algorithm alone) and the
    baseline's (build, solve) or why it did not run."""

    name: str
    cells: int
    budget: int
    allot_s: float | None
    core_s: float
    transfers: int
    phases: int
    unit_variables: int
    baseline_build_s: float | None
    baseline_solve_s: float | None
    baseline_status: str
    agree: bool | None
    check: str

    @property
    def ratio(self) -> float | None:
        if self.baseline_build_s is None or self.baseline_solve_s is None:
            return None
        if self.allot_s is None:
            return None
        return self.allot_s / (self.baseline_build_s + self.baseline_solve_s)


def measure(spec: MatrixSpec, *, time_limit_s: float = 300.0) -> Row:
    if not spec.scenario:
        return measure_matrix(spec)
    data = scenario_data(spec)
    scenario = Scenario.from_data(data)
    started = time.perf_counter()
    result = solve(scenario)
    allot_s = time.perf_counter() - started
    cert = result.certificate
    assert cert is not None and result.allocations, result.message
    matrix = problem(data, cert)
    core_started = time.perf_counter()
    answer = biproportional(matrix, spec.method)
    core_s = time.perf_counter() - core_started
    units = [a.units for a in result.allocations]
    check = verify(matrix, spec.method, units, cert)
    lo, hi = effective_bounds(matrix, spec.method)
    unit_variables = int((hi - lo).sum())
    row = Row(
        name=spec.name,
        cells=len(units),
        budget=spec.budget,
        allot_s=allot_s,
        core_s=core_s,
        transfers=answer.transfers,
        phases=answer.phases,
        unit_variables=unit_variables,
        baseline_build_s=None,
        baseline_solve_s=None,
        baseline_status=f"not run: {unit_variables:,} unit variables",
        agree=None,
        check=check,
    )
    if unit_variables <= MAX_UNIT_VARIABLES:
        built, solved, status, cells = baseline(matrix, spec.method, time_limit_s)
        row.baseline_build_s, row.baseline_solve_s, row.baseline_status = built, solved, status
        row.agree = cells == units if cells is not None else None
    return row


def measure_matrix(spec: MatrixSpec) -> Row:
    """The matrix algorithm alone on :func:`matrix_of`, checked like a solve's answer (its
    divisors turned into entitlement per unit, as a result's certificate holds them)."""
    matrix = matrix_of(spec)
    started = time.perf_counter()
    answer = biproportional(matrix, spec.method)
    core_s = time.perf_counter() - started
    assert answer.x is not None, answer.shortfall
    unit = Fraction(1000) ** (2 if spec.method == "huntington-hill" else 1)
    cert = {
        "exact": {
            "rows": [str(v) for v in answer.row_divisors],
            "columns": [str(v / unit) for v in answer.column_divisors],
        }
    }
    lo, hi = effective_bounds(matrix, spec.method)
    unit_variables = int((hi - lo).sum())
    return Row(
        name=spec.name + "-matrix",
        cells=len(matrix.weight),
        budget=spec.budget,
        allot_s=None,
        core_s=core_s,
        transfers=answer.transfers,
        phases=answer.phases,
        unit_variables=unit_variables,
        baseline_build_s=None,
        baseline_solve_s=None,
        baseline_status=f"not run: {unit_variables:,} unit variables",
        agree=None,
        check=verify(matrix, spec.method, answer.x.tolist(), cert),
    )


def problem(data: dict[str, Any], cert: dict[str, Any]) -> Matrix:
    """The scenario's matrix with the totals the run used (entitlements to 4 decimals as
    integers: scores have one decimal, weights two)."""
    rows = {n: k for k, n in enumerate(cert["rows"]["names"])}
    columns = {n: k for k, n in enumerate(cert["columns"]["names"])}
    recs = data["recipients"]
    n = len(recs)
    return Matrix(
        row=np.array([rows[r["tags"]["region"]] for r in recs], dtype=np.int64),
        column=np.array([columns[r["tags"]["industry"]] for r in recs], dtype=np.int64),
        weight=tuple(round(r["score"] * 10) * round(r["weight"] * 100) for r in recs),
        lo=np.zeros(n, dtype=np.int64),
        hi=np.full(n, data["budget"], dtype=np.int64),
        row_totals=tuple(cert["rows"]["totals"]),
        column_totals=tuple(cert["columns"]["totals"]),
    )


def verify(matrix: Matrix, method: str, units: list[int], cert: dict[str, Any]) -> str:
    """'ok', or what is wrong: margins, and each cell against the certificate's exact
    divisors (entitlement / (r c) within the method's signposts)."""
    x = np.array(units, dtype=np.int64)
    if np.bincount(matrix.row, weights=x).tolist() != list(matrix.row_totals):
        return "row totals missed"
    if np.bincount(matrix.column, weights=x).tolist() != list(matrix.column_totals):
        return "column totals missed"
    power = 2 if method == "huntington-hill" else 1
    rows = [Fraction(v) for v in cert["exact"]["rows"]]
    columns = [Fraction(v) for v in cert["exact"]["columns"]]
    lo, hi = effective_bounds(matrix, method)
    for k, units_k in enumerate(units):
        e = Fraction(matrix.weight[k], 1000) ** power
        product = rows[matrix.row[k]] * columns[matrix.column[k]]
        if units_k > lo[k] and e < product * signpost(method, units_k - 1):
            return f"cell {k} above its rounding"
        if units_k < hi[k] and e > product * signpost(method, units_k):
            return f"cell {k} below its rounding"
    return "ok"


def baseline(
    matrix: Matrix, method: str, time_limit_s: float
) -> tuple[float, float, str, list[int] | None]:
    """The unit-binary MILP in PuLP, solved by CBC: (build s, solve s, status, cells)."""
    import pulp

    started = time.perf_counter()
    lo, hi = effective_bounds(matrix, method)
    power = 2 if method == "huntington-hill" else 1
    prob = pulp.LpProblem("biproportional", pulp.LpMinimize)
    cost = []
    cells: list[list[Any]] = []
    for k, w in enumerate(matrix.weight):
        units = []
        log_e = power * math.log(w) if w > 0 else 0.0
        for unit in range(int(lo[k]) + 1, int(hi[k]) + 1):
            y = prob.add_variable(f"y_{k}_{unit}", cat="Binary")
            cost.append((math.log(float(signpost(method, unit - 1))) - log_e) * y)
            units.append(y)
        cells.append(units)
    prob += pulp.lpSum(cost)
    for side, index, totals in (
        ("r", matrix.row, matrix.row_totals),
        ("c", matrix.column, matrix.column_totals),
    ):
        members: dict[int, list[Any]] = {}
        fixed: dict[int, int] = {}
        for k, line in enumerate(index.tolist()):
            members.setdefault(line, []).extend(cells[k])
            fixed[line] = fixed.get(line, 0) + int(lo[k])
        for line, total in enumerate(totals):
            prob += pulp.lpSum(members.get(line, [])) == total - fixed.get(line, 0), f"{side}{line}"
    built = time.perf_counter()
    prob.solve(cbc(pulp, time_limit_s))
    solved = time.perf_counter()
    status = pulp.LpStatus[prob.status]
    if status != "Optimal":
        return built - started, solved - built, status, None
    x = [int(lo[k]) + sum(round(y.value() or 0) for y in line) for k, line in enumerate(cells)]
    return built - started, solved - built, status, x


def markdown(rows: list[Row]) -> str:
    lines = [
        "| instance | cells | budget | Allot solve (s) | matrix alone (s) | transfers (phases) "
        "| PuLP + CBC build + solve (s) | Allot / baseline | same cells | check |",
        "|---|---:|---:|---:|---:|---:|---|---:|---|---|",
    ]
    for r in rows:
        if r.baseline_build_s is None or r.baseline_solve_s is None:
            base = r.baseline_status
        else:
            base = f"{r.baseline_build_s:.2f} + {r.baseline_solve_s:.2f} ({r.baseline_status})"
        ratio = "-" if r.ratio is None else f"{r.ratio:.3f}"
        agree = "-" if r.agree is None else ("yes" if r.agree else "NO")
        allot = "-" if r.allot_s is None else f"{r.allot_s:.3f}"
        lines.append(
            f"| {r.name} | {r.cells:,} | {r.budget:,} | {allot} | {r.core_s:.3f} "
            f"| {r.transfers} ({r.phases}) | {base} | {ratio} | {agree} | {r.check} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.matrix", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the 14 x 60 row only")
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    rows = []
    for spec in QUICK if args.quick else FULL:
        row = measure(spec)
        rows.append(row)
        allot = "-" if row.allot_s is None else f"{row.allot_s:.3f}"
        sys.stdout.write(
            f"{row.name}: allot {allot} s, matrix {row.core_s:.3f} s, {row.baseline_status}\n"
        )
    table = markdown(rows)
    sys.stdout.write("\n" + table)
    if args.out is not None:
        args.out.write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    bad = [r for r in rows if r.check != "ok" or r.agree is False]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
