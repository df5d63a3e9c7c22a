"""The budget gate: Allot's cost follows the work, not the numbers.

A budget row is an instance at a budget of :data:`~benchmarks.instances.BUDGETS` units. Each
is compared with the same instance at its smallest budget in the run (the reference):

- time: Allot's ``cpu_s``, the CPU time of the in-process ``solve()`` call, the best of the
  spec's repeats (process start-up and validation are left out: they do not depend on the
  budget). On the shared 2-core machine under load, the wall time of the same 840-recipient
  solve varied by half between runs, its CPU time by a fifth;
- memory: ``peak_mb``, the measuring process's peak resident size above its size at the
  start (plus any solver process it started), as the runner measures every case.

Each ratio divides by the reference's value or a floor, whichever is larger
(:data:`TIME_FLOOR_S`, :data:`MEMORY_FLOOR_MB`): a run of a millisecond or two, or a peak of
a few MB, varies by more than half between two runs of the same thing, and a real
regression (work growing with the number of units) costs far more than the floor.
A row whose spec has ``max_budget_ratio`` (the quick suite's 10^12 rows) fails when
either ratio is over it, or when either run gave no optimal answer. A ratio over the gate is
measured again (both budgets, :data:`CONFIRM_RUNS` more times at most, each side keeping
its best) before it counts: on a shared machine a 40 ms run can take 60 ms once, while
work that grows with the units fails every time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks.instances import budget_label
from benchmarks.registry import BenchSpec
from benchmarks.runner import Measurement, Row

TIME_FLOOR_S = 0.005
"""Times are compared against at least 5 ms."""
MEMORY_FLOOR_MB = 10.0
"""Peak memory is compared against at least 10 MB."""
CONFIRM_RUNS = 2
"""How many more times a pair over its gate is measured before the gate fails."""


@dataclass(frozen=True)
class ScaleCheck:
    """One budget row against the same instance at its reference budget."""

    instance: str  # the budget row's name
    budget: int
    reference: str | None  # the reference row's name; None: no smaller budget in the run
    reference_budget: int | None
    cpu_s: float | None
    reference_cpu_s: float | None
    peak_mb: float | None
    reference_peak_mb: float | None
    time_ratio: float | None  # cpu_s / max(reference_cpu_s, TIME_FLOOR_S)
    memory_ratio: float | None  # peak_mb / max(reference_peak_mb, MEMORY_FLOOR_MB)
    max_ratio: float | None  # the gate; None: reported, not gated
    ok: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def floored_ratio(value: float | None, reference: float | None, floor: float) -> float | None:
    """``value / max(reference, floor)``, or None when either is missing."""
    if value is None or reference is None:
        return None
    return value / max(reference, floor)


def check_scaling(
    high: Measurement,
    low: Measurement | None,
    max_ratio: float | None,
    *,
    time_floor_s: float = TIME_FLOOR_S,
    memory_floor_mb: float = MEMORY_FLOOR_MB,
) -> ScaleCheck:
    """Compare Allot's run at ``high.budget`` with its run at the reference ``low`` (``None``:
    none in the run; ``high`` itself: ``high`` is the reference)."""
    if low is None or low is high:
        return ScaleCheck(
            instance=high.instance,
            budget=high.budget or 0,
            reference=None if low is None else low.instance,
            reference_budget=None if low is None else low.budget,
            cpu_s=high.cpu_s,
            reference_cpu_s=None if low is None else low.cpu_s,
            peak_mb=high.peak_mb,
            reference_peak_mb=None if low is None else low.peak_mb,
            time_ratio=None if low is None else 1.0,
            memory_ratio=None if low is None else 1.0,
            max_ratio=max_ratio,
            ok=True,
            detail="not judged: no smaller budget of it in this run"
            if low is None
            else "the reference",
        )
    time_ratio = floored_ratio(high.cpu_s, low.cpu_s, time_floor_s)
    memory_ratio = floored_ratio(high.peak_mb, low.peak_mb, memory_floor_mb)
    problems = []
    if max_ratio is not None:
        for m in (low, high):
            if not _measured(m):
                problems.append(f"no optimal answer at {_units(m.budget)} ({m.status})")
        if not problems and time_ratio is not None and time_ratio > max_ratio:
            problems.append(
                f"CPU time {high.cpu_s:.4f} s at {_units(high.budget)} is {time_ratio:.2f}x "
                f"that at {_units(low.budget)} ({low.cpu_s:.4f} s, against at least "
                f"{time_floor_s * 1000:g} ms)"
            )
        if not problems and memory_ratio is not None and memory_ratio > max_ratio:
            problems.append(
                f"peak memory {high.peak_mb:.1f} MB at {_units(high.budget)} is "
                f"{memory_ratio:.2f}x that at {_units(low.budget)} ({low.peak_mb:.1f} MB, "
                f"against at least {memory_floor_mb:g} MB)"
            )
    return ScaleCheck(
        instance=high.instance,
        budget=high.budget or 0,
        reference=low.instance,
        reference_budget=low.budget,
        cpu_s=high.cpu_s,
        reference_cpu_s=low.cpu_s,
        peak_mb=high.peak_mb,
        reference_peak_mb=low.peak_mb,
        time_ratio=time_ratio,
        memory_ratio=memory_ratio,
        max_ratio=max_ratio,
        ok=not problems,
        detail="; ".join(problems) + (f" (gate {max_ratio:g}x)" if problems else ""),
    )


def budget_checks(
    rows: list[Row],
    *,
    measure: Callable[[BenchSpec], Measurement] | None = None,
    log: Callable[[str], None] | None = None,
) -> list[ScaleCheck]:
    """One check per budget row, against the same instance (size, objective, rules, seed)
    at its smallest budget in ``rows`` (a gated row is never its own reference); with
    ``measure``, a gated pair over its ratio is measured again (:data:`CONFIRM_RUNS`)."""
    groups: dict[tuple[int, str, str, int], list[Row]] = {}
    for row in rows:
        inst = row.spec.instance
        if inst.budget is not None:
            key = (inst.size, inst.objective, inst.rules, inst.seed)
            groups.setdefault(key, []).append(row)
    checks = []
    for row in rows:
        inst = row.spec.instance
        if inst.budget is None:
            continue
        group = groups[(inst.size, inst.objective, inst.rules, inst.seed)]
        reference = min(group, key=lambda r: r.spec.instance.units)
        gate = row.spec.max_budget_ratio
        low = None if reference is row and gate is not None else reference.allot
        check = check_scaling(row.allot, low, gate)
        if measure is not None and low is not None and not check.ok:
            check = _confirm(check, row, reference, measure, log)
        checks.append(check)
    return checks


def _confirm(
    check: ScaleCheck,
    row: Row,
    reference: Row,
    measure: Callable[[BenchSpec], Measurement],
    log: Callable[[str], None] | None,
) -> ScaleCheck:
    """Measure a pair over its gate again, each side keeping its best, until it passes or
    has failed :data:`CONFIRM_RUNS` more times (a run without an answer is not retried)."""
    for attempt in range(1, CONFIRM_RUNS + 1):
        if check.ok or not (_measured(row.allot) and _measured(reference.allot)):
            break
        if log is not None:
            log(
                f"budget gate {row.spec.name}: {check.detail}; measuring the pair again "
                f"({attempt} of {CONFIRM_RUNS})"
            )
        _keep_best(reference.allot, measure(reference.spec))
        _keep_best(row.allot, measure(row.spec))
        check = check_scaling(row.allot, reference.allot, row.spec.max_budget_ratio)
    return check


def _measured(m: Measurement) -> bool:
    """An optimal answer, with its CPU time and peak memory."""
    return m.status == "optimal" and m.cpu_s is not None and m.peak_mb is not None


def _keep_best(m: Measurement, again: Measurement) -> None:
    """Fold a new measurement into ``m``: each time and the peak, the lower of the two."""
    if not (_measured(m) and _measured(again)):
        return
    m.cpu_s = min(m.cpu_s or 0.0, again.cpu_s or 0.0)
    m.peak_mb = min(m.peak_mb or 0.0, again.peak_mb or 0.0)
    if m.total_s is not None and again.total_s is not None and again.total_s < m.total_s:
        m.validate_s, m.build_s = again.validate_s, again.build_s
        m.solve_s, m.total_s = again.solve_s, again.total_s


def _units(budget: int | None) -> str:
    if budget is None:
        return "? units"
    label = budget_label(budget)
    return f"10^{label[2:]} units" if label.startswith("1e") else f"{budget:,} units"
