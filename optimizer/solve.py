"""The one entry point: allocate a scenario, by the exact greedy when only bounds apply and
by a lexicographic integer program otherwise, and explain the answer."""

from __future__ import annotations

import functools
import platform
import time
from dataclasses import replace
from importlib import metadata

import numpy as np

import optimizer
from optimizer import solvers
from optimizer.apportion import greedy, maxmin_floors
from optimizer.compile import build_program
from optimizer.diagnosis import diagnose
from optimizer.entitlement import Entitlements, IntArray
from optimizer.errors import InputError, Problem
from optimizer.explain import binding, metrics
from optimizer.model import IntegerProgram
from optimizer.result import Allocation, Result, SolverReport, Status
from optimizer.rules import CompiledRules
from optimizer.scenario import Scenario

AUTO_MILP = "highs"


def choose_backend(program: IntegerProgram, requested: str) -> str:
    """``auto``: the exact greedy when the program is separable, else HiGHS."""
    if requested == "auto":
        return "greedy" if program.is_separable else AUTO_MILP
    if requested == "greedy" and not program.is_separable:
        raise InputError(
            [
                Problem(
                    "solver.backend",
                    "greedy handles floors, caps and change_limit only; this "
                    "scenario has group or grade_order rules: use auto, highs, "
                    "cbc or cp-sat",
                )
            ]
        )
    return requested


def solve(
    scenario: Scenario, *, backend: str | None = None, time_limit_s: float | None = None
) -> Result:
    """Allocate ``scenario``; ``backend`` and ``time_limit_s`` override its solver block."""
    started = time.perf_counter()
    ent, rules, program = build_program(scenario)
    name = choose_backend(program, backend or scenario.solver.backend)
    limit = time_limit_s or scenario.solver.time_limit_s
    engine = None if name == "greedy" else solvers.backend(name)
    built = time.perf_counter() - started

    def feasible(floors: IntArray) -> bool:
        trial = replace(program, lo=np.maximum(program.lo, floors))
        if np.any(trial.lo > trial.hi) or int(trial.lo.sum()) > trial.budget:
            return False
        if engine is None:
            return True
        return engine.solve(trial, time_limit_s=limit, stages=0).status != Status.INFEASIBLE

    status, x, gap, detail = Status.INFEASIBLE, None, None, ""
    quick_infeasible = (
        np.any(program.lo > program.hi)
        or int(program.lo.sum()) > program.budget
        or int(program.hi.sum()) < program.budget
    )
    if not quick_infeasible:
        if scenario.objective.kind == "maxmin" and feasible(program.lo):
            program = replace(
                program, lo=maxmin_floors(ent.quota, program.lo, program.hi, feasible)
            )
        if engine is None:
            x = greedy(program)
            status, gap = (Status.OPTIMAL, 0.0) if x is not None else (Status.INFEASIBLE, None)
        else:
            outcome = engine.solve(program, time_limit_s=limit)
            status, x, gap, detail = outcome.status, outcome.x, outcome.gap, outcome.detail
    if x is not None:
        broken = program.violations(x)
        if broken:
            status, detail = (
                Status.ERROR,
                f"{name} returned an invalid allocation: " + "; ".join(broken),
            )
            x = None
    diagnosis = diagnose(scenario) if status == Status.INFEASIBLE else None
    seconds = time.perf_counter() - started
    report = SolverReport(
        backend=name,
        version=engine.version() if engine is not None else optimizer.__version__,
        path="greedy" if engine is None else "milp",
        seconds=round(seconds, 6),
        build_seconds=round(built, 6),
        gap=gap,
        versions=_versions(),
    )
    allocations: tuple[Allocation, ...] = ()
    if x is not None:
        allocations = _allocations(scenario, ent, rules, x)
    return Result(
        status=status,
        scenario=scenario.name,
        scenario_hash=scenario.content_hash,
        budget=scenario.budget,
        unit=scenario.unit.model_dump(),
        objective={"kind": scenario.objective.kind, "method": scenario.objective.resolved_method},
        allocations=allocations,
        metrics=metrics(program, x, scenario.objective.kind) if x is not None else None,
        solver=report,
        diagnosis=diagnosis,
        message=diagnosis.summary if diagnosis else detail,
    )


def _allocations(
    scenario: Scenario, ent: Entitlements, rules: CompiledRules, x: IntArray
) -> tuple[Allocation, ...]:
    held = binding(x, ent, rules)
    by_position = {int(p): i for i, p in enumerate(ent.position)}
    out = []
    for position, rec in enumerate(scenario.recipients):
        i = by_position[position]
        units = int(x[i])
        out.append(
            Allocation(
                id=rec.id,
                name=rec.label,
                units=units,
                amount=units * scenario.unit.value,
                quota=float(ent.quota[i]),
                share=units / scenario.budget,
                entitlement=float(ent.entitlement[i]),
                score=rec.score,
                grade=ent.grade[i],
                binding=held[i],
            )
        )
    return tuple(out)


@functools.cache
def _versions() -> dict[str, str]:
    """Versions of Python and of every package that can change an answer (read from package
    metadata, so recording them never imports a solver)."""
    out = {"allot": optimizer.__version__, "python": platform.python_version()}
    for package in ("numpy", "highspy", "pulp", "ortools", "pydantic"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return out
