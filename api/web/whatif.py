"""What-if pages: a stored sweep (one run per value of a parameter, or per point of a grid),
and the sensitivity and robustness of a finished run, computed from the run's own scenario
with the optimizer's ``sensitivity`` and ``robustness`` (in this process, one solve after
another) and kept in memory, since a finished run never changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from api.db import Run, Sweep
from api.routes.sweeps import point_values, sweep_axes
from api.web.charts import LineChart, RangeChart, ReachChart, line_chart, range_chart, reach_chart
from api.web.formatting import number, percent, score
from api.web.translations import Translator
from api.web.views import RunRow, recipient_name, run_row
from optimizer.loading import validate_data
from optimizer.result import Result
from optimizer.robust import RobustReport, robustness
from optimizer.sensitivity import SensitivityReport, sensitivity

MAX_RECIPIENTS = 100
"""Larger scenarios are analysed with the CLI (``allot sensitivity``/``robust``), not here."""
MAX_SAMPLES = 1000
DEFAULT_NOISE = 2.0
DEFAULT_SAMPLES = 200
DEFAULT_SEED = 7


# --------------------------------------------------------------------------- sweeps


@dataclass(frozen=True)
class SweepRow:
    id: int
    scenario_name: str
    parameter: str
    spec: str
    values: tuple[Any, ...]
    requested_by: str
    created_at: Any
    note: str | None
    parameters: tuple[str, ...] = ()
    sets: tuple[str, ...] = ()
    """Each swept parameter and its ``set`` (several: a grid)."""

    @property
    def is_grid(self) -> bool:
        return len(self.parameters) > 1


def sweep_row(sweep: Sweep) -> SweepRow:
    axes = sweep_axes(sweep)
    return SweepRow(
        id=sweep.id,
        scenario_name=sweep.scenario_name,
        parameter=sweep.parameter,
        spec=sweep.spec,
        values=tuple(sweep.sweep_values),
        requested_by=sweep.requested_by,
        created_at=sweep.created_at,
        note=sweep.note,
        parameters=tuple(axis.parameter for axis in axes),
        sets=tuple(axis.set for axis in axes),
    )


@dataclass(frozen=True)
class SweepLine:
    id: str
    name: str
    units: tuple[int | None, ...]
    changes: tuple[bool, ...]
    """Whether the units differ from those at the value before."""


@dataclass(frozen=True)
class SweepView:
    sweep: SweepRow
    runs: tuple[RunRow, ...]
    values: tuple[str, ...]
    lines: tuple[SweepLine, ...]
    chart: LineChart | None
    totals: tuple[int | None, ...]
    pending: int
    failures: tuple[tuple[str, str], ...]
    """(``parameter = value``, why) for each value (grid point) without an allocation."""
    heads: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """The table's heading rows: each swept parameter and its value in every column."""


def _value_text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return number(value) if float(value).is_integer() else score(value)


def _positions(values: Sequence[Any]) -> list[float] | None:
    """The swept values as numbers, when they all are."""
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return [float(v) for v in values]
    return None


def sweep_view(sweep: Sweep, runs: Sequence[Run], t: Translator) -> SweepView:
    """A one-parameter sweep as a table and a line per recipient; a grid as the table alone,
    headed by a row per parameter (its points are in grid order, not along one axis)."""
    axes = sweep_axes(sweep)
    points = [point_values(axes, value) for value in sweep.sweep_values]
    heads = tuple(
        (axis.parameter, tuple(_value_text(point[i]) for point in points))
        for i, axis in enumerate(axes)
    )
    labels = [
        ", ".join(
            f"{axis.parameter} = {_value_text(v)}" for axis, v in zip(axes, point, strict=True)
        )
        for point in points
    ]
    grid = len(axes) > 1
    values = tuple(labels) if grid else heads[0][1]
    by_value: list[Mapping[str, int]] = []
    names: dict[str, str] = {}
    failures = []
    totals: list[int | None] = []
    pending = 0
    for run, text in zip(runs, labels, strict=False):
        allocations = (run.result or {}).get("allocations") or []
        if run.status in ("queued", "running"):
            pending += 1
        elif not allocations:
            diagnosis = (run.result or {}).get("diagnosis") or {}
            why = diagnosis.get("summary") or run.error or run.outcome or run.status
            failures.append((text, str(why)))
        for a in allocations:
            names.setdefault(str(a["id"]), recipient_name(a))
        by_value.append({str(a["id"]): int(a["units"]) for a in allocations})
        totals.append(sum(int(a["units"]) for a in allocations) if allocations else None)
    lines = []
    for rid, name in names.items():
        units = tuple(found.get(rid) for found in by_value)
        changes = tuple(
            i > 0 and units[i] is not None and units[i - 1] is not None and units[i] != units[i - 1]
            for i in range(len(units))
        )
        lines.append(SweepLine(rid, name, units, changes))
    chart = None
    if lines and not grid:
        chart = line_chart(
            values[: len(by_value)],
            [(line.id, line.name, line.units) for line in lines],
            x_label=sweep.parameter,
            positions=_positions(sweep.sweep_values[: len(by_value)]),
            title_of=lambda name, value, units: t.gettext(
                "%(name)s at %(param)s = %(value)s: %(n)s units",
                name=name,
                param=sweep.parameter,
                value=value,
                n=number(units),
            ),
        )
    return SweepView(
        sweep=sweep_row(sweep),
        runs=tuple(run_row(run, {}) for run in runs),
        values=values,
        lines=tuple(lines),
        chart=chart,
        totals=tuple(totals),
        pending=pending,
        failures=tuple(failures),
        heads=heads,
    )


# --------------------------------------------------------------------------- sensitivity


@lru_cache(maxsize=32)
def _sensitivity(run_id: int, content_hash: str, body_json: str) -> SensitivityReport | Result:
    return sensitivity(validate_data(json.loads(body_json)), jobs=1)


@lru_cache(maxsize=32)
def _robustness(
    run_id: int, content_hash: str, body_json: str, noise: float, samples: int, seed: int
) -> RobustReport | Result:
    scenario = validate_data(json.loads(body_json))
    return robustness(scenario, noise=noise, samples=samples, seed=seed, jobs=1)


def _body_json(run: Run) -> str:
    return json.dumps(run.scenario_body, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class ReachRow:
    id: str
    name: str
    grade: str | None
    score: float
    units: int
    up: str
    down: str


@dataclass(frozen=True)
class SensitivityView:
    row: RunRow
    precision: float
    rows: tuple[ReachRow, ...]
    chart: ReachChart


def _reach_text(change: Any, units: int, grade: str | None, t: Translator) -> str:
    if change is None:
        return t.gettext("no change within reach")
    if change.units is None:
        return t.gettext("%(delta)s points: no allocation", delta=score(change.delta))
    delta = f"{change.delta:+g}" if change.delta else "0"
    diff = f"{change.units - units:+d}"
    text = t.gettext(
        "%(delta)s points → %(n)s units (%(diff)s)", delta=delta, n=number(change.units), diff=diff
    )
    if change.grade and change.grade != grade:
        text += " " + t.gettext("grade %(old)s→%(new)s", old=grade or "–", new=change.grade)
    return text


def sensitivity_view(run: Run, t: Translator) -> SensitivityView | str:
    """The view, or why there is none (a sentence)."""
    body = run.scenario_body or {}
    if len(body.get("recipients") or ()) > MAX_RECIPIENTS:
        return t.gettext(
            "This scenario has more than %(n)s recipients: use allot sensitivity on the "
            "command line.",
            n=number(MAX_RECIPIENTS),
        )
    report = _sensitivity(run.id, run.scenario_hash, _body_json(run))
    if not isinstance(report, SensitivityReport):
        return t.gettext("This run has no allocation, so nothing can move.")
    rows = []
    chart_rows = []
    for r in report.recipients:
        down = None if r.down is None else -r.down.delta
        up = None if r.up is None else r.up.delta
        down_text = _reach_text(None if r.down is None else _negated(r.down), r.units, r.grade, t)
        up_text = _reach_text(r.up, r.units, r.grade, t)
        rows.append(ReachRow(r.id, r.name, r.grade, r.score, r.units, up_text, down_text))
        title = f"{r.name}: ↓ {down_text}; ↑ {up_text}"
        chart_rows.append(
            (
                r.id,
                r.name,
                down,
                up,
                "–" if down is None else f"{down:g}",
                "–" if up is None else f"+{up:g}",
                title,
            )
        )
    return SensitivityView(run_row(run, {}), report.precision, tuple(rows), reach_chart(chart_rows))


@dataclass(frozen=True)
class _Shown:
    delta: float
    units: int | None
    grade: str | None


def _negated(change: Any) -> _Shown:
    return _Shown(-change.delta, change.units, change.grade)


# --------------------------------------------------------------------------- robustness


@dataclass(frozen=True)
class SpreadRow:
    id: str
    name: str
    grade: str | None
    score: float
    units: int
    low: int
    p5: int
    median: int
    p95: int
    high: int
    p_units_change: str
    p_grade_change: str


@dataclass(frozen=True)
class RobustnessView:
    row: RunRow
    noise: float
    samples: int
    seed: int
    solved: int
    rows: tuple[SpreadRow, ...]
    chart: RangeChart


def robustness_view(
    run: Run, t: Translator, *, noise: float, samples: int, seed: int
) -> RobustnessView | str:
    body = run.scenario_body or {}
    if len(body.get("recipients") or ()) > MAX_RECIPIENTS:
        return t.gettext(
            "This scenario has more than %(n)s recipients: use allot robust on the command line.",
            n=number(MAX_RECIPIENTS),
        )
    report = _robustness(run.id, run.scenario_hash, _body_json(run), noise, samples, seed)
    if not isinstance(report, RobustReport):
        return t.gettext("This run has no allocation, so there is nothing to shake.")
    rows = []
    for s in report.recipients:
        rows.append(
            SpreadRow(
                s.id,
                s.name,
                s.grade,
                s.score,
                s.units,
                s.min,
                s.p5,
                s.median,
                s.p95,
                s.max,
                percent(s.p_units_change, 1),
                percent(s.p_grade_change, 1),
            )
        )
    chart = range_chart(
        [
            (
                r.id,
                r.name,
                (r.low, r.p5, r.median, r.p95, r.high),
                r.units,
                t.gettext(
                    "%(name)s: now %(n)s units; under noise %(low)s to %(high)s, "
                    "90%% of samples %(p5)s to %(p95)s",
                    name=r.name,
                    n=number(r.units),
                    low=number(r.low),
                    high=number(r.high),
                    p5=number(r.p5),
                    p95=number(r.p95),
                ),
            )
            for r in rows
        ]
    )
    return RobustnessView(run_row(run, {}), noise, samples, seed, report.solved, tuple(rows), chart)
