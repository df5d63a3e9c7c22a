"""Run the registry: time Allot and the baseline on each instance, check every answer.

Each measurement runs in a process of its own, forked from the runner once the instance is
generated and the libraries are imported, so that

- the peak memory of one case is not the leftover of another (``peak_mb`` is the peak
  resident size of that process above its size at the start, plus that of any solver
  process it started, CBC's for instance);
- a case that overruns its time limit (CBC does, on large L1 models) is killed with its
  whole process group and recorded as ``killed``, without stopping the suite.

Allot's times: ``build`` is turning the validated scenario into the integer program
(entitlements, rules; ``solver.build_seconds``), ``solve`` the rest of
:func:`optimizer.solve.solve` (the exact path or the MILP, the explanation of every
allocation, the metrics and the scenario's content hash), ``total`` the whole call.
Validating the data into a :class:`~optimizer.scenario.Scenario` is timed apart
(``validate``), like reading a file; ``cpu`` is the CPU time of the ``solve()`` call (the
budget gate's measure: on a busy machine it varies far less than the wall time). The
baseline's ``build`` is the PuLP model, its ``solve`` PuLP's ``solve()`` (writing the
model, CBC, reading the answer back). A spec with ``baseline=False`` records the baseline
as ``not run`` without starting it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from benchmarks.baseline import run_baseline
from benchmarks.check import Problem, compare
from benchmarks.instances import generate
from benchmarks.registry import BenchSpec

BASELINE = "pulp+cbc"
NOT_RUN = "not run"
GRACE_S = 60.0  # beyond the time limit before a case is killed (CBC overruns its limit)


@dataclass
class Measurement:
    """One solver on one instance."""

    instance: str
    size: int
    objective: str
    rules: str
    solver: str  # "allot:auto", "allot:highs", ..., or BASELINE
    status: str  # optimal, time_limit, infeasible, error, killed, not built (...)
    path: str = ""  # Allot: greedy, partition or milp
    validate_s: float | None = None
    build_s: float | None = None
    solve_s: float | None = None
    total_s: float | None = None
    peak_mb: float | None = None
    killed_after_s: float | None = None  # killed: the wall time it had run (a lower bound)
    objective_value: float | None = None
    valid: bool | None = None  # the answer satisfies every constraint (checked here)
    units: list[int] | None = None  # dropped from the JSON file (see Report.to_json)
    detail: str = ""
    budget: int | None = None  # the instance's budget in units
    cpu_s: float | None = None  # Allot: CPU seconds of the solve() call (all its threads)
    certificate: dict[str, Any] | None = None  # Allot's result.certificate (not in the JSON)

    @property
    def key(self) -> str:
        return f"{self.instance}/{self.solver}"


def run_suite(specs: list[BenchSpec], *, log: Callable[[str], None] | None = None) -> list[Row]:
    """Measure every spec (Allot ``auto``, the spec's MILP backends, then the baseline)
    and judge it."""
    _import_everything()
    rows = []
    for spec in specs:
        data = generate(spec.instance)
        solvers = ["allot:auto", *(f"allot:{b}" for b in spec.backends), BASELINE]
        found: dict[str, Measurement] = {}
        for solver in solvers:
            started = time.perf_counter()
            if solver == BASELINE and not spec.baseline:
                m = found[solver] = _new(spec, solver, NOT_RUN)
            else:
                m = found[solver] = _isolated(spec, data, solver)
            if log is not None:
                log(
                    f"{spec.name:38s} {solver:12s} {m.status:11s} {m.path:9s} "
                    f"total {_fmt(m.total_s)} s  (wall {time.perf_counter() - started:.1f} s)"
                )
        rows.append(
            judge(
                spec,
                Problem.of(data),
                found["allot:auto"],
                found[BASELINE],
                tuple(found[f"allot:{b}"] for b in spec.backends),
            )
        )
    return rows


def measure_again(spec: BenchSpec, solver: str = "allot:auto") -> Measurement:
    """One more measurement of ``solver`` on ``spec``, in a process of its own as in
    :func:`run_suite` (the budget gate confirms a failure this way)."""
    return _isolated(spec, generate(spec.instance), solver)


def _new(spec: BenchSpec, solver: str, status: str, **fields: Any) -> Measurement:
    """A measurement of ``solver`` on ``spec``'s instance, so far only its status."""
    inst = spec.instance
    return Measurement(
        inst.name,
        inst.size,
        inst.objective,
        inst.rules,
        solver,
        status,
        budget=inst.units,
        **fields,
    )


def _fmt(value: float | None) -> str:
    return "   -   " if value is None else f"{value:7.3f}"


def _import_everything() -> None:
    """Import the solvers once in the runner, so no case pays for it."""
    import highspy  # noqa: F401
    import pulp  # noqa: F401

    import optimizer.solve  # noqa: F401
    from optimizer import solvers

    solvers.available_backends()


def _isolated(spec: BenchSpec, data: dict[str, Any], solver: str) -> Measurement:
    """Run one case in a forked process (see the module docstring)."""
    if sys.platform != "linux" or "fork" not in multiprocessing.get_all_start_methods():
        return _measure(spec, data, solver)  # pragma: no cover - the runner's home is Linux
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(spec, data, solver, send), daemon=True)
    child.start()
    send.close()
    limit = spec.time_limit_s + GRACE_S
    result: Measurement | None = None
    started = time.perf_counter()
    if receive.poll(limit):
        with contextlib.suppress(EOFError):
            result = receive.recv()
    if result is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid or 0, signal.SIGKILL)
        child.join()
        return _new(
            spec,
            solver,
            "killed" if child.exitcode == -signal.SIGKILL else "error",
            killed_after_s=time.perf_counter() - started,
            detail=f"no answer {limit:.0f} s after its {spec.time_limit_s:.0f} s time limit "
            f"(exit code {child.exitcode})",
        )
    child.join()
    return result


def _child(spec: BenchSpec, data: dict[str, Any], solver: str, send: Any) -> None:
    os.setpgrp()  # so that a kill reaches CBC too
    try:
        send.send(_measure(spec, data, solver))
    except Exception as exc:  # pragma: no cover - reported, not raised
        send.send(_new(spec, solver, "error", detail=f"{type(exc).__name__}: {exc}"[:300]))


def _measure(spec: BenchSpec, data: dict[str, Any], solver: str) -> Measurement:
    """The best of ``spec.repeat`` runs: repeats only where a run is short enough for
    noise to matter (under a second), and for the baseline only on the smallest sizes."""
    repeat = spec.repeat if solver != BASELINE or spec.instance.size <= 100 else 1
    runs = [_run_once(spec, data, solver)]
    while len(runs) < repeat and (runs[0].total_s or 0.0) < 1.0:
        runs.append(_run_once(spec, data, solver))
    best = min(runs, key=lambda m: m.total_s if m.total_s is not None else float("inf"))
    best.peak_mb = max((m.peak_mb or 0.0) for m in runs)
    cpu = [m.cpu_s for m in runs if m.cpu_s is not None]
    best.cpu_s = min(cpu) if cpu else None
    _check(best, Problem.of(data))
    return best


def _check(m: Measurement, problem: Problem) -> None:
    """Judge the answer ``m`` holds: its validity and objective value. Done once every run
    is measured, so that the check's own memory (a divisor method's priority sum over a
    million units) counts in no run's peak."""
    if m.units is None:
        return
    units = np.array(m.units, dtype=np.int64)
    broken = problem.violations(units)
    m.objective_value = problem.cost(units)
    if m.solver == BASELINE:
        integral = m.valid is not False  # _run_once marks a non-integral answer
        m.valid = integral and not broken
        if not m.valid:
            m.detail = "; ".join(broken)[:300] or "not integral"
    else:
        m.valid = not broken


@contextlib.contextmanager
def _peak_memory() -> Iterator[list[float]]:
    """Yields a list that holds, on exit, the peak resident memory in MB above the level at
    entry (this process, plus its waited-for children such as CBC)."""
    start = _rss_mb()
    out: list[float] = []
    yield out
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    out.append(max(own - start, 0.0) + children)


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # pragma: no cover - not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _run_once(spec: BenchSpec, data: dict[str, Any], solver: str) -> Measurement:
    """One run, timed and its peak memory measured; its answer is checked by :func:`_check`."""
    m = _new(spec, solver, "error")
    if solver == BASELINE:
        with _peak_memory() as peak:
            run = run_baseline(data, time_limit_s=spec.time_limit_s)
        m.peak_mb = peak[0]
        if run.units is None and run.build_s == 0.0:
            m.status = run.status  # not built
            return m
        m.build_s, m.solve_s, m.total_s = run.build_s, run.solve_s, run.total_s
        m.status = run.status.lower().replace(" ", "_")
        if run.units is not None:
            m.units = run.units
            if not run.integral:
                m.valid = False  # and so it stays (_check)
        return m
    from optimizer.scenario import Scenario
    from optimizer.solve import solve

    backend = solver.split(":", 1)[1]
    with _peak_memory() as peak:
        started = time.perf_counter()
        scenario = Scenario.from_data(data)
        validated, cpu = time.perf_counter(), time.process_time()
        result = solve(scenario, backend=backend, time_limit_s=spec.time_limit_s)
        finished, m.cpu_s = time.perf_counter(), time.process_time() - cpu
    m.peak_mb = peak[0]
    m.validate_s = validated - started
    m.total_s = finished - validated
    m.build_s = result.solver.build_seconds
    m.solve_s = m.total_s - m.build_s
    m.status = str(result.status)
    m.path = result.solver.path
    m.detail = result.message[:300]
    m.certificate = result.certificate
    if result.allocations:
        by_id = {a.id: a.units for a in result.allocations}
        m.units = [int(by_id[r["id"]]) for r in data["recipients"]]
    return m


@dataclass(frozen=True)
class Row:
    """One instance: Allot ``auto`` beside the baseline, the ratio and the check."""

    spec: BenchSpec
    allot: Measurement
    baseline: Measurement
    backends: tuple[Measurement, ...]
    ratio: float | None
    check_ok: bool
    check: str
    gate_ok: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "instance": self.spec.name,
            "budget": self.spec.instance.units,
            "ratio": self.ratio,
            "max_ratio": self.spec.max_ratio,
            "check_ok": self.check_ok,
            "check": self.check,
            "gate_ok": self.gate_ok,
        }


def judge(
    spec: BenchSpec,
    problem: Problem,
    allot: Measurement,
    baseline: Measurement,
    backends: tuple[Measurement, ...] = (),
) -> Row:
    """The correctness check and the ratio gate of one instance.

    Allot's ``auto`` answer must be optimal, satisfy every constraint and be at least as
    good as any valid baseline answer (:func:`benchmarks.check.compare`); a MILP backend
    must give the same allocation as ``auto``, or report that it ran out of time. The
    baseline's own status is never trusted. A run Allot refuses as too large for the run's
    memory has no answer to check: the row says so ("refused") and does not fail."""
    base_units = None if baseline.units is None else np.array(baseline.units, dtype=np.int64)
    verdicts = []
    for m in (allot, *backends):
        stopped = m is not allot and m.status in ("time_limit", "killed")
        if m.units is None:
            if m is allot and refused(m):  # no answer to check: the guard's documented refusal
                verdicts.append((True, f"{m.solver}: refused ({m.detail[:200]})"))
            else:
                verdicts.append((stopped, f"{m.solver}: no answer ({m.status})"))
            continue
        units = np.array(m.units, dtype=np.int64)
        v = compare(problem, units, m.status, base_units, baseline.status, m.certificate)
        text = f"{m.solver}: {v.relation}" + (f" ({v.detail})" if v.detail else "")
        verdicts.append((v.ok or (stopped and not problem.violations(units)), text))
        if m is not allot and m.status == "optimal" and m.units != allot.units:
            verdicts.append((False, f"{m.solver}: not the allocation auto found"))
    ratio = None  # for a killed baseline, an upper bound (it ran at least that long)
    base_seconds = baseline.total_s or baseline.killed_after_s
    if allot.total_s is not None and base_seconds:
        ratio = allot.total_s / base_seconds
    gate_ok = spec.max_ratio is None or (ratio is not None and ratio <= spec.max_ratio)
    return Row(
        spec=spec,
        allot=allot,
        baseline=baseline,
        backends=backends,
        ratio=ratio,
        check_ok=all(ok for ok, _ in verdicts),
        check="; ".join(text for _, text in verdicts),
        gate_ok=gate_ok,
    )


def refused(m: Measurement) -> bool:
    """Whether Allot refused the run before solving because it would not fit the run's
    memory ("too large: ...", README "Budgets in won"): a row with no answer to check, shown
    as refused rather than failed."""
    return m.status == "error" and m.detail.startswith("too large")


def measurements_to_json(measurements: list[Measurement]) -> list[dict[str, Any]]:
    out = []
    for m in measurements:
        data = asdict(m)
        del data["units"], data["certificate"]
        out.append(data)
    return out
