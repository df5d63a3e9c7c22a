"""The one entry point: allocate a scenario and explain the answer.

Three paths compute the same allocation (the lexicographic optimum of
:mod:`optimizer.objectives`); ``auto`` takes the cheapest one the rules allow and the
result says which ran (``solver.path``):

- ``greedy``: only bounds (floors, caps, ``change_limit``): the separable greedy;
- ``partition``: group rules over disjoint member sets as well: the nested greedy of
  :mod:`optimizer.partition`;
- ``search``: ``grade_order`` as well: the exact search over grade thresholds of
  :mod:`optimizer.thresholds` (a branch and bound whose every node is a nested greedy);
- ``milp``: anything else (overlapping groups that bind), by a MILP backend.

Before searching, ``auto`` solves the structured relaxation (the same program without the
rules that break the structure); when that answer satisfies every rule it is the optimum
(the path is then the relaxation's). When the search cannot settle the program (an
overlapping group rule binds, or the search grows past its node limit), the MILP does.
"""

from __future__ import annotations

import functools
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from importlib import metadata
from typing import TYPE_CHECKING, Any

import numpy as np

import optimizer
from optimizer import solvers
from optimizer.apportion import maxmin_floors
from optimizer.certificate import certificate, milp_proof, search_certificate, total_cost
from optimizer.collector import cyclic_gc_paused
from optimizer.compile import build_program
from optimizer.entitlement import Entitlements, IntArray
from optimizer.errors import InputError, Problem
from optimizer.exact import ExactQuota
from optimizer.explain import binding, metrics
from optimizer.grading import has_grading, solve_graded
from optimizer.guard import (
    DEFAULT_RUN_MEMORY_MB,
    MILP_BYTES_PER_UNIT,
    SORT_BYTES_PER_UNIT,
    TimeLimitReached,
    run_memory_mb,
    seconds_left,
    too_large,
    units_allowed,
)
from optimizer.model import IntegerProgram
from optimizer.objectives import MarginalCost
from optimizer.partition import Layout, feasible, relaxation, solve_structured, structure
from optimizer.plan_rules import biproportional_rule, components_rule, two_stage_rule
from optimizer.recipients import RecipientTable
from optimizer.result import Allocations, OverrideNote, Result, SolverReport, Status, Tie
from optimizer.rules import CompiledRules
from optimizer.scenario import Scenario, TieBreak
from optimizer.solvers import Backend, Outcome
from optimizer.ties import find_ties, refused

if TYPE_CHECKING:  # the paths a scenario may not take load where taken: `solve` starts faster
    from optimizer.thresholds import Searched

AUTO_MILP = "highs"
MAX_MILP_UNITS = units_allowed(DEFAULT_RUN_MEMORY_MB, MILP_BYTES_PER_UNIT)
"""The units a MILP backend may tabulate under the default memory budget (about 358,000);
beyond the run's budget solve() says so instead of running out of memory."""


def choose_backend(program: IntegerProgram, requested: str) -> str:
    """``auto``: the exact greedy when the program's structure allows (bounds only, or
    group rules over disjoint sets), else HiGHS."""
    if requested == "auto":
        return "greedy" if structure(program) is not None else AUTO_MILP
    if requested == "greedy" and structure(program) is None:
        raise InputError(
            [
                Problem(
                    "solver.backend",
                    "greedy handles floors, caps, change_limit and group rules over "
                    "disjoint sets (one tag) only; this scenario has grade_order or "
                    "overlapping group rules: use auto, highs, cbc or cp-sat",
                )
            ]
        )
    return requested


def solve(
    scenario: Scenario,
    *,
    backend: str | None = None,
    time_limit_s: float | None = None,
    memory_mb: float | None = None,
    ties: bool = True,
) -> Result:
    """Allocate ``scenario``; ``backend`` and ``time_limit_s`` override its solver block,
    ``memory_mb`` the run's memory budget (:mod:`optimizer.guard`). ``ties=False`` is for
    internal variants whose ties nobody reads (paradox checks, sensitivity): the tie search
    is skipped unless the scenario refuses ties, where it decides the status."""
    memory = run_memory_mb(memory_mb)
    with cyclic_gc_paused():
        try:
            result = _solve(
                scenario,
                backend=backend,
                time_limit_s=time_limit_s,
                memory_mb=memory,
                ties=ties,
            )
            if scenario.overrides:
                alone = _solve(
                    scenario.model_copy(update={"overrides": None}),
                    backend=backend,
                    time_limit_s=time_limit_s,
                    memory_mb=memory,
                    ties=False,
                )
                result = replace(result, overrides=_override_notes(scenario, result, alone))
            return result
        except MemoryError:  # the estimates let it through: a sentence, never a traceback
            return _too_large(scenario)


def _override_notes(scenario: Scenario, result: Result, alone: Result) -> tuple[OverrideNote, ...]:
    """Each override with the units it gave and those the method alone gives."""
    units = _units_by_id(result)
    method = _units_by_id(alone)
    return tuple(
        OverrideNote(
            id=o.id,
            units=units.get(o.id, 0),
            method_units=method.get(o.id),
            reason=o.reason,
            author=o.author,
        )
        for o in scenario.overrides or ()
    )


def _units_by_id(result: Result) -> dict[str, int]:
    """Each recipient's units, by id (from the columns: no allocation made)."""
    allocations = Allocations.of(result.allocations)
    return dict(zip(allocations.column("id"), allocations.column("units"), strict=True))


def _too_large(scenario: Scenario) -> Result:
    """The answer of a run that ran out of memory."""
    return Result(
        status=Status.ERROR,
        scenario=scenario.name,
        scenario_hash=scenario.content_hash,
        budget=scenario.budget,
        unit=scenario.unit.model_dump(),
        objective={"kind": scenario.objective.kind, "method": scenario.objective.resolved_method},
        allocations=(),
        metrics=None,
        solver=SolverReport(
            backend=scenario.solver.backend,
            version=optimizer.__version__,
            path="none",
            seconds=0.0,
            build_seconds=0.0,
            gap=None,
            versions=_versions(),
        ),
        message="too large: the run needed more memory than this machine allows; give the "
        "recipients caps or drop the rules that need the MILP",
    )


def _solve(
    scenario: Scenario,
    *,
    backend: str | None = None,
    time_limit_s: float | None = None,
    memory_mb: float = DEFAULT_RUN_MEMORY_MB,
    ties: bool = True,
) -> Result:
    started = time.perf_counter()
    again = functools.partial(  # a plan's parts, solved the same way
        _solve, backend=backend, time_limit_s=time_limit_s, memory_mb=memory_mb, ties=ties
    )
    if has_grading(scenario):  # eligibility, grades by rank, grade increments
        return solve_graded(scenario, again)
    if (stages := two_stage_rule(scenario)) is not None:  # regions, then their programmes
        from optimizer.stages import solve_two_stage

        return solve_two_stage(scenario, stages, again)
    if (parts := components_rule(scenario)) is not None:  # base + incentive, rounded jointly
        from optimizer.components import solve_components

        return solve_components(scenario, parts, again)
    if (matrix := biproportional_rule(scenario)) is not None:  # the region x kind matrix
        from optimizer.twoway import solve_biproportional

        return solve_biproportional(scenario, matrix[1])
    if scenario.objective.method == "quota":  # Balinski-Young: its own sequential method
        from optimizer.quota_method import solve_quota

        return solve_quota(scenario)
    ent, rules, program = build_program(scenario)
    program = program.folded()
    requested = backend or scenario.solver.backend
    name = choose_backend(program, requested)
    engine = None if name == "greedy" else solvers.backend(name)
    limit = time_limit_s or scenario.solver.time_limit_s
    built = time.perf_counter() - started
    deadline = time.monotonic() + limit - built  # the whole run's, search and MILP alike
    maxmin = scenario.objective.kind == "maxmin"
    status, x, gap, detail = Status.INFEASIBLE, None, None, ""
    milp_stages: tuple[tuple[int, float | None, float | None], ...] = ()
    proofs: list[dict[str, Any]] = []  # the search's certificate, when it settled the program
    path = structure(program) if name == "greedy" else "milp"
    if not _bounds_infeasible(program):
        solved = None
        searched: list[GaveUp] = []  # a threshold search that could not settle it
        if requested == "auto" and name != "greedy":
            solved = _by_relaxation(program, ent.quota, maxmin=maxmin)
            if solved is None and not program.orders:
                solved = _by_crossing(program, ent.quota, maxmin=maxmin, proof=proofs.append)
            if solved is None and program.orders:
                try:
                    solved = _by_search(
                        program,
                        ent,
                        maxmin=maxmin,
                        memory_mb=memory_mb,
                        deadline=deadline,
                        proof=proofs.append,
                        gave_up=searched,
                    )
                except TimeLimitReached as stopped:
                    path, status = "search", Status.TIME_LIMIT
                    detail = _out_of_time(stopped, limit)
                    if searched and searched[0].x is not None:  # its best so far
                        x, why = searched[0].x, detail.removesuffix("; no allocation")
                        gap, detail = _best_found(program, searched[0], why, maxmin=maxmin)
        if status == Status.TIME_LIMIT:
            name, engine = "greedy", None
        elif solved is not None:
            name, engine, (path, program, x, detail) = "greedy", None, solved
            status, gap = (Status.OPTIMAL, 0.0) if x is not None else (Status.INFEASIBLE, None)
        elif name == "greedy":
            program, x = _structured(program, ent.quota, maxmin=maxmin)
            status, gap = (Status.OPTIMAL, 0.0) if x is not None else (Status.INFEASIBLE, None)
        else:
            assert engine is not None
            left = seconds_left(deadline)  # what a search that gave up left
            try:
                program, outcome = _milp(
                    program, ent.quota, engine, left, maxmin=maxmin, memory_mb=memory_mb
                )
                status, x, gap, detail = outcome.status, outcome.x, outcome.gap, outcome.detail
                milp_stages = outcome.proof
                if searched and x is None and searched[0].x is not None:
                    path, x, status = "search", searched[0].x, Status.FEASIBLE
                    name, engine = "greedy", None
                    why = (
                        f"not proven optimal: the exact search over grade thresholds opened "
                        f"{searched[0].nodes:,} nodes without settling it, and the MILP could "
                        f"not take over ({detail})"
                    )
                    gap, detail = _best_found(program, searched[0], why, maxmin=maxmin)
                elif searched and x is None:
                    detail += (
                        f" (the exact search over grade thresholds opened "
                        f"{searched[0].nodes:,} nodes without settling it)"
                    )
            except TimeLimitReached as stopped:
                status, detail = Status.TIME_LIMIT, _out_of_time(stopped, limit)
    if x is not None:
        broken = program.violations(x)
        if broken:
            status, detail = (
                Status.ERROR,
                f"{name} returned an invalid allocation: " + "; ".join(broken),
            )
            x = None
    found: tuple[Tie, ...] = ()
    policy = scenario.tie_break or TieBreak()
    if x is not None and status == Status.OPTIMAL and (ties or policy.kind == "refuse"):
        found = find_ties(program, x, ent.ids, policy.text)
        if found and policy.kind == "refuse":
            status, x, detail = Status.TIE, None, refused(found)
    diagnosis = None
    if status == Status.INFEASIBLE:
        from optimizer.diagnosis import diagnose

        diagnosis = diagnose(scenario, milp_units=units_allowed(memory_mb, MILP_BYTES_PER_UNIT))
    seconds = time.perf_counter() - started
    report = SolverReport(
        backend=name,
        version=engine.version() if engine is not None else optimizer.__version__,
        path=path or "greedy",
        seconds=round(seconds, 6),
        build_seconds=round(built, 6),
        gap=gap,
        versions=_versions(),
    )
    allocations: Allocations | tuple[()] = ()
    proof = None
    if x is not None:
        allocations = _allocations(scenario, ent, rules, x)
        if path == "greedy" and scenario.objective.kind == "proportional":
            assert isinstance(program.cost, MarginalCost)
            proof = certificate(
                program.cost.rule, program.cost.exact, x, program.lo, program.hi, ent.ids
            )
        elif path == "milp" and status == Status.OPTIMAL and milp_stages:
            proof = milp_proof(name, milp_stages)
        elif path in ("search", "crossing") and proofs:
            proof = proofs[-1]
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
        certificate=proof,
        ties=found,
    )


def _out_of_time(stopped: TimeLimitReached, limit: float) -> str:
    """The sentence of a run stopped by its time limit before any allocation."""
    return (
        f"time limit: {stopped} within the {limit:g} s the run may take "
        "(solver.time_limit_s or --time-limit); no allocation"
    )


def _bounds_infeasible(program: IntegerProgram) -> bool:
    return bool(
        np.any(program.lo > program.hi)
        or int(program.lo.sum()) > program.budget
        or int(program.hi.sum()) < program.budget
    )


def _raise_floors(
    program: IntegerProgram, quota: np.ndarray, feasible: Callable[[IntegerProgram], bool]
) -> IntegerProgram:
    """``maxmin``: the floors that guarantee the largest smallest units per quota (the
    remaining units then go by the Hamilton cost); ``feasible`` is the exact oracle."""

    def with_floors(floors: IntArray) -> bool:
        trial = replace(program, lo=np.maximum(program.lo, floors))
        return not _bounds_infeasible(trial) and feasible(trial)

    if not feasible(program):
        return program
    exact = program.cost.exact if isinstance(program.cost, MarginalCost) else None
    floors = maxmin_floors(quota, program.lo, program.hi, with_floors, exact)
    return replace(program, lo=floors)


def _structured(
    program: IntegerProgram, quota: np.ndarray, *, maxmin: bool
) -> tuple[IntegerProgram, IntArray | None]:
    """The greedy or nested greedy (program of a known structure)."""
    layout = Layout.of(program)
    if maxmin:
        program = _raise_floors(program, quota, functools.partial(feasible, layout=layout))
    return program, solve_structured(program, layout)


def _by_relaxation(
    program: IntegerProgram, quota: np.ndarray, *, maxmin: bool
) -> tuple[str, IntegerProgram, IntArray | None, str] | None:
    """Solve the structured relaxation; return (path, program, x, note) when its answer
    is the optimum of the full program (or proves it infeasible), None when the MILP is
    needed.

    The relaxed optimum is unique, so when it satisfies the dropped rules no allocation
    they allow can be better, or as good. For ``maxmin`` the floors are raised with the
    relaxation as feasibility oracle; its answers agree with the full program's at every
    point the bisection asks about when the full program is feasible at the final floors,
    which the answer satisfying every rule proves (feasibility only shrinks as the floors
    rise), so the floors are the same as the MILP oracle would give.
    """
    relaxed, dropped = relaxation(program)
    kind = structure(relaxed)
    if kind is None:  # pragma: no cover - relaxation() always leaves a structure
        return None
    relaxed, x = _structured(relaxed, quota, maxmin=maxmin)
    if x is None:  # the relaxation has no allocation, so neither has the program
        return kind, program, None, ""
    full = replace(program, lo=relaxed.lo)
    if full.violations(x):
        return None
    note = (
        f"{', '.join(dropped)} held at the {kind} optimum without "
        f"{'them' if len(dropped) > 1 else 'it'}: no MILP was needed"
    )
    return kind, full, x, note


def _by_crossing(
    program: IntegerProgram,
    quota: np.ndarray,
    *,
    maxmin: bool,
    proof: Callable[[dict[str, Any]], None],
) -> tuple[str, IntegerProgram, IntArray | None, str] | None:
    """Solve group rules of two crossing families (a band per region and a share per kind)
    as a convex-cost flow over the cells (:mod:`optimizer.crossing`); None when the rules
    are not two such families, the cost is not one it sums exactly, or it runs out of
    moves. ``proof`` receives the flow's certificate."""
    from optimizer.crossing import RULES as CROSSING_RULES
    from optimizer.crossing import Unsettled as CrossingUnsettled
    from optimizer.crossing import cells_of, crossing_feasible, solve_with_certificate

    cells = cells_of(program)
    if cells is None or not isinstance(program.cost, MarginalCost):
        return None
    if program.cost.rule not in CROSSING_RULES:
        return None
    try:
        if maxmin:
            program = _raise_floors(program, quota, lambda trial: crossing_feasible(trial, cells))
        x, flow_proof = solve_with_certificate(program, cells)
    except CrossingUnsettled:
        return None
    if flow_proof is not None:
        proof(flow_proof)
    note = (
        f"group rules of two crossing families as a flow over {len(cells.members):,} "
        "cells, exact at any budget: no MILP was needed"
    )
    return "crossing", program, x, note


@dataclass(frozen=True)
class GaveUp:
    """A threshold search that could not settle the program: the nodes it opened, and the
    best allocation it found that keeps every rule with the bound on its primary cost
    (:class:`optimizer.thresholds.BestFound`; None: none)."""

    nodes: int
    x: IntArray | None
    gap: Fraction | None
    ties: Fraction | None = None


def _best_found(
    program: IntegerProgram, gave_up: GaveUp, why: str, *, maxmin: bool
) -> tuple[float | None, str]:
    """The relative gap and the sentence of a run that gives the search's best allocation
    (``feasible``, or ``time_limit`` with an allocation): ``why`` the search did not settle
    it, then what is proven about the allocation."""
    assert gave_up.x is not None
    cost = program.cost
    hamilton = not isinstance(cost, MarginalCost) or cost.rule != "weighted"
    what = "sum |x - q|" if hamilton else "sum q x"
    first = f"{why}; the allocation is the best the search found that keeps every rule"
    if maxmin:
        first += " (its smallest units per quota is the largest possible: proven)"
    gap = gave_up.gap
    if gap is None or not isinstance(cost, MarginalCost):
        return None, f"{first}; how far it is from the optimum is not known"
    exact = cost.exact
    if gap == 0:
        better = "smaller" if hamilton else "larger"
        tail = ""
        if gave_up.ties is not None:
            squares = sum(
                (
                    Fraction(u * exact.denom - q, exact.denom) ** 2
                    for u, q in zip(gave_up.x.tolist(), exact.numer, strict=True)
                ),
                Fraction(0),
            )
            share = f" ({float(gave_up.ties / squares):.3g} of it)" if squares else ""
            tail = (
                f": its sum (x - q)^2 is at most {float(gave_up.ties):,.6g}{share} above the "
                "least of those"
            )
        return 0.0, (
            f"{first}: no allocation keeping them has a {better} {what} (proven), but which "
            f"of those it is (least squares, then rank) is not{tail}"
        )
    value = abs(Fraction(total_cost(cost.rule, exact, gave_up.x), exact.denom))
    relative = float(gap / value) if value else None
    side = "above the least" if hamilton else "below the largest"
    share = "" if relative is None else f" ({relative:.3g} of it)"
    return relative, f"{first}: its {what} is at most {float(gap):,.6g}{share} {side} possible"


class _Unsettled(Exception):
    """The threshold search gave up on a program (the MILP takes over)."""


def _by_search(
    program: IntegerProgram,
    ent: Entitlements,
    *,
    maxmin: bool,
    memory_mb: float = DEFAULT_RUN_MEMORY_MB,
    deadline: float | None = None,
    proof: Callable[[dict[str, Any]], None] | None = None,
    gave_up: list[GaveUp] | None = None,
) -> tuple[str, IntegerProgram, IntArray | None, str] | None:
    """Solve by the threshold search; None when it cannot settle the program. For
    ``maxmin`` the floors are raised with the search (stopping at the first allocation)
    as the feasibility oracle. Its sorted unit table must fit the run's memory, else the
    search runs in exact arithmetic without one. ``proof`` receives the search's
    certificate (Hamilton and ``weighted``: :func:`optimizer.certificate.search_certificate`).
    Past ``deadline`` (:func:`time.monotonic`) it raises
    :class:`optimizer.guard.TimeLimitReached`; ``gave_up`` receives the nodes it opened
    and the best allocation it found (:class:`GaveUp`) when it cannot settle the program
    or runs out of time."""
    from optimizer.thresholds import ThresholdSearch

    searcher = ThresholdSearch(
        program,
        max_sorted_units=units_allowed(memory_mb, SORT_BYTES_PER_UNIT),
        deadline=deadline,
    )
    opened = 0
    last: list[Searched] = []

    def settled(floors: IntArray | None, *, first_feasible: bool) -> IntArray | None:
        nonlocal opened
        found = searcher.run(floors, first_feasible=first_feasible)
        if found is None:
            raise _Unsettled
        opened += found.nodes
        last.append(found)
        return found.x

    given = program
    gave_up = [] if gave_up is None else gave_up
    try:
        if maxmin:
            program = _raise_floors(
                program,
                ent.quota,
                lambda trial: settled(trial.lo, first_feasible=True) is not None,
            )
        x = settled(program.lo, first_feasible=False)
    except (_Unsettled, TimeLimitReached) as stopped:
        found = searcher.best_found
        gave_up.append(
            GaveUp(searcher.spent, None, None)
            if found is None
            else GaveUp(searcher.spent, found.x, found.gap, found.ties)
        )
        if isinstance(stopped, TimeLimitReached):
            raise
        return None
    cost = program.cost
    tree = last[-1].tree
    grade = ent.grade
    names = tuple(
        (str(grade[int(better[0])]), str(grade[int(worse[0])]))
        for better, _, worse, _ in searcher.pairs
    )
    if maxmin and proof is not None and x is not None and isinstance(cost, MarginalCost):
        above = searcher.run(_above_smallest_ratio(given.lo, x, cost.exact))
        if above is not None and above.x is None and above.tree is not None:
            sums = searcher.relaxed.sums
            proof(search_certificate("maxmin", cost.exact, sums, above.tree, names, ent.ids))
    if (
        proof is not None
        and not maxmin
        and tree is not None
        and isinstance(cost, MarginalCost)
        and (cost.rule in ("hamilton", "weighted") or not tree.open)
    ):  # divisor methods: only a tree without open leaves (those would need a bound)
        sums = searcher.relaxed.sums
        proof(search_certificate(cost.rule, cost.exact, sums, tree, names, ent.ids))
    each = "bounded by its linear relaxation" if searcher.bounded else "a nested greedy"
    if searcher.exact is not None:
        each += " in exact arithmetic"
    note = (
        f"grade_order by the exact search over grade thresholds ({opened:,} "
        f"node{'' if opened == 1 else 's'}, each {each}): no MILP was needed"
    )
    return "search", program, x, note


def _above_smallest_ratio(lo: IntArray, x: IntArray, exact: ExactQuota) -> IntArray:
    """``maxmin``: floors one step above ``x``'s smallest units per quota ``m``: every
    recipient with a quota at least ``floor(m q) + 1`` (none of them then has ``m``)."""
    numer, denom = exact.numer, exact.denom
    units = x.tolist()
    m = min(Fraction(units[i] * denom, q) for i, q in enumerate(numer) if q > 0)
    return np.array(
        [
            max(int(f), (m.numerator * q) // (m.denominator * denom) + 1) if q > 0 else int(f)
            for f, q in zip(lo.tolist(), numer, strict=True)
        ],
        dtype=np.int64,
    )


def _milp(
    program: IntegerProgram,
    quota: np.ndarray,
    engine: Backend,
    limit: float,
    *,
    maxmin: bool,
    memory_mb: float = DEFAULT_RUN_MEMORY_MB,
) -> tuple[IntegerProgram, Outcome]:
    """Solve by a MILP backend (which encodes every unit between the bounds, so the
    program goes with its unreachable caps lowered, :meth:`IntegerProgram.tightened`);
    refused before building when the units would not fit the run's memory."""
    window = program.tightened().window()
    if window > units_allowed(memory_mb, MILP_BYTES_PER_UNIT):
        message = too_large("the MILP", window, MILP_BYTES_PER_UNIT, memory_mb)
        return program, Outcome(Status.ERROR, None, None, message)
    end = time.monotonic() + limit  # the feasibility tests and the solve share the limit
    if maxmin:
        tests = 0

        def feasible(trial: IntegerProgram) -> bool:
            nonlocal tests
            outcome = engine.solve(trial.tightened(), time_limit_s=seconds_left(end), stages=0)
            tests += 1
            if outcome.status == Status.TIME_LIMIT and outcome.x is None:
                raise TimeLimitReached(
                    f"{engine.name} ran out of time in feasibility test {tests} of maxmin's "
                    "floor raising"
                )
            return outcome.status != Status.INFEASIBLE

        program = _raise_floors(program, quota, feasible)
    program = program.tightened()
    return program, engine.solve(program, time_limit_s=seconds_left(end))


def _allocations(
    scenario: Scenario, ent: Entitlements, rules: CompiledRules, x: IntArray
) -> Allocations:
    """One allocation per recipient, in the scenario's order, as columns (arrays where the
    values are numbers): no object per recipient until one is looked at."""
    at = np.empty(ent.size, dtype=np.int64)  # scenario position -> entitlement index
    at[ent.position] = np.arange(ent.size)
    given = x[at]
    table = RecipientTable.of(scenario.recipients)
    grades = np.empty(ent.size, dtype=object)
    grades[:] = ent.grade
    return Allocations(
        {
            "id": table.ids,
            "name": table.labels,
            "units": given,
            "amount": given * scenario.unit.value,
            "quota": ent.quota[at],
            "share": given / scenario.budget,
            "entitlement": ent.entitlement[at],
            "score": table.score,
            "grade": grades[at].tolist(),
            "binding": binding(x, ent, rules).per_recipient(at),
        }
    )


@functools.cache
def _versions() -> dict[str, str]:
    """Versions of Python and of every package that can change an answer (read from package
    metadata, so recording them never imports a solver)."""
    out = {"allot": optimizer.__version__, "python": platform.python_version()}
    for package in ("numpy", "highspy", "pulp", "ortools", "pydantic"):
        try:
            out[package] = _installed_version(package)
        except metadata.PackageNotFoundError:
            continue
    return out


def _installed_version(package: str) -> str:
    """``metadata.version(package)``, read from the ``Version`` line of the metadata's header
    rather than by parsing the whole file as e-mail (numpy's holds its long description:
    most of the start-up's 5 ms of version look-ups)."""
    text = metadata.distribution(package).read_text("METADATA") or ""
    for line in text.splitlines():
        if not line:  # the end of the header
            break
        if line.startswith("Version:"):
            return line.removeprefix("Version:").strip()
    return metadata.version(package)
