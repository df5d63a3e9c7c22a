"""What the pages show, built from stored runs and results: plain values for the templates,
with every decision (sorting, which change is large, what held a recipient) made here, not in
the templates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from api.db import Run, RunStatus, StoredScenario
from api.routes.scenarios import scenario_yaml
from api.schemas import ComparePublic
from api.web.charts import BarItem, Chart, GroupItem, bar_chart, grouped_bar_chart
from api.web.formatting import number, percent, signed, signed_percent
from optimizer.compare import BOUND_NAMES
from optimizer.scenario import Rule

LARGE_CHANGE_PCT = 5.0
"""A change from the baseline at least this large (in percent) gets a sentence."""

METRICS: dict[str, tuple[str, str]] = {
    "total": ("Total units", "units allocated; always the budget"),
    "objective": ("Objective", "the value the solver optimised"),
    "gini": ("Gini of units", "0 = all equal"),
    "min_units_per_quota": ("Smallest units / quota", "1 = exactly proportional"),
    "max_units_per_quota": ("Largest units / quota", "1 = exactly proportional"),
    "max_min_ratio": ("Max / min units per quota", "1 = everyone at the same ratio"),
    "loosemore_hanby": ("Loosemore-Hanby", "percentage points away from the quotas"),
    "gallagher": ("Gallagher", "percentage points away from the quotas (least squares)"),
}

_RULE = TypeAdapter[Any](Rule)


# --------------------------------------------------------------------------- runs list


@dataclass(frozen=True)
class RunRow:
    """One run as the runs list and page headers show it."""

    id: int
    scenario_id: int | None
    scenario_name: str
    version: int | None
    status: str
    outcome: str | None
    created_at: dt.datetime
    requested_by: str
    budget: int | None
    unit_label: str
    backend: str | None
    backend_version: str | None
    seconds: float | None
    overrides: tuple[str, ...]
    note: str | None

    @property
    def scenario_label(self) -> str:
        return f"{self.scenario_name} (v{self.version})" if self.version else self.scenario_name

    @property
    def comparable(self) -> bool:
        return self.status == RunStatus.DONE and self.outcome not in (None, "infeasible", "error")

    @property
    def state(self) -> str:
        return self.outcome if self.status == RunStatus.DONE and self.outcome else self.status


def run_row(run: Run, versions: Mapping[int, int]) -> RunRow:
    body = run.scenario_body or {}
    timings = run.timings or {}
    seconds = timings.get("total_s", timings.get("run_s"))
    return RunRow(
        id=run.id,
        scenario_id=run.scenario_id,
        scenario_name=run.scenario_name,
        version=versions.get(run.scenario_id) if run.scenario_id is not None else None,
        status=run.status,
        outcome=run.outcome,
        created_at=run.created_at,
        requested_by=run.requested_by,
        budget=body.get("budget"),
        unit_label=unit_label(body),
        backend=run.solver_backend,
        backend_version=run.solver_version,
        seconds=seconds,
        overrides=tuple(run.overrides or ()),
        note=run.note,
    )


def unit_label(body: Mapping[str, Any]) -> str:
    """The scenario's unit label (``100M KRW``), or ``units``."""
    unit = body.get("unit") or {}
    return str(unit.get("label") or "units")


@dataclass(frozen=True)
class ScenarioRow:
    id: int
    name: str
    version: int
    recipients: int
    budget: int | None
    unit_label: str
    content_hash: str
    created_by: str
    created_at: dt.datetime

    @property
    def label(self) -> str:
        return f"{self.name} (v{self.version})"


def scenario_row(row: StoredScenario) -> ScenarioRow:
    return ScenarioRow(
        id=row.id,
        name=row.name,
        version=row.version,
        recipients=row.recipients,
        budget=row.body.get("budget"),
        unit_label=unit_label(row.body),
        content_hash=row.content_hash,
        created_by=row.created_by,
        created_at=row.created_at,
    )


# --------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class RuleView:
    label: str
    kind: str
    text: str
    held: tuple[str, ...]
    """Names of the recipients this rule held."""


@dataclass(frozen=True)
class MetricView:
    key: str
    label: str
    help: str
    value: Any


@dataclass(frozen=True)
class RunView:
    row: RunRow
    content_hash: str
    allocations: tuple[Mapping[str, Any], ...]
    chart: Chart | None
    rules: tuple[RuleView, ...]
    bounds: tuple[RuleView, ...]
    metrics: tuple[MetricView, ...]
    yaml: str
    diagnosis: Mapping[str, Any] | None
    error: str | None
    solver: Mapping[str, Any]
    objective: Mapping[str, Any]
    totals: Mapping[str, float | None]
    message: str = ""


def run_view(run: Run, versions: Mapping[int, int]) -> RunView:
    result = run.result or {}
    allocations = tuple(result.get("allocations") or ())
    chart = None
    if allocations:
        chart = bar_chart(
            [
                BarItem(str(a["id"]), recipient_name(a), int(a["units"]), marker=a.get("quota"))
                for a in allocations
            ]
        )
    body = run.scenario_body or {}
    return RunView(
        row=run_row(run, versions),
        content_hash=run.scenario_hash,
        allocations=allocations,
        chart=chart,
        rules=tuple(rule_views(body.get("rules") or (), allocations)),
        bounds=tuple(bound_views(allocations)),
        metrics=tuple(metric_views(result.get("metrics") or {})),
        yaml=scenario_yaml(body),
        diagnosis=result.get("diagnosis"),
        error=run.error,
        solver=result.get("solver") or {},
        objective=result.get("objective") or body.get("objective") or {},
        totals={key: _total(allocations, key) for key in ("quota", "units", "amount", "share")},
        message=str(result.get("message") or ""),
    )


def _total(allocations: Sequence[Mapping[str, Any]], key: str) -> float | None:
    values = [a.get(key) for a in allocations]
    numbers = [v for v in values if isinstance(v, int | float)]
    if not values or len(numbers) < len(values):
        return None
    return sum(numbers)


def recipient_name(allocation: Mapping[str, Any]) -> str:
    """The name the scenario gives (e.g. ``부산광역시``), else the id."""
    return str(allocation.get("name") or allocation.get("id"))


def rule_label(rule: Mapping[str, Any]) -> str:
    """The label results use for a rule (its ``name``, or one made from its type)."""
    try:
        return str(_RULE.validate_python(dict(rule)).label)
    except ValidationError:
        return str(rule.get("name") or rule.get("type") or "rule")


def rule_text(rule: Mapping[str, Any]) -> str:
    """What a rule asks, in words."""
    kind = rule.get("type")
    if kind == "group":
        parts = []
        if rule.get("min_share") is not None:
            parts.append(f"at least {percent(rule['min_share'], 1)} of the budget")
        if rule.get("max_share") is not None:
            parts.append(f"at most {percent(rule['max_share'], 1)} of the budget")
        if rule.get("min_units") is not None:
            parts.append(f"at least {number(rule['min_units'])} units")
        if rule.get("max_units") is not None:
            parts.append(f"at most {number(rule['max_units'])} units")
        return f"recipients with {rule.get('tag')} = {rule.get('value')} get " + " and ".join(parts)
    if kind == "grade_order":
        return "a better grade never gets fewer units per unit of weight than a worse one"
    if kind == "change_limit":
        parts = []
        if rule.get("max_decrease") is not None:
            parts.append(f"down by at most {percent(rule['max_decrease'], 1)}")
        if rule.get("max_increase") is not None:
            parts.append(f"up by at most {percent(rule['max_increase'], 1)}")
        return "each recipient with a previous allocation moves " + " and ".join(parts)
    return str(kind)


def _held_by(allocations: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    held: dict[str, list[str]] = {}
    for allocation in allocations:
        for label in allocation.get("binding") or ():
            held.setdefault(str(label), []).append(recipient_name(allocation))
    return held


def rule_views(
    rules: Sequence[Mapping[str, Any]], allocations: Sequence[Mapping[str, Any]]
) -> list[RuleView]:
    held = _held_by(allocations)
    views = []
    for rule in rules:
        label = rule_label(rule)
        views.append(
            RuleView(
                label=label,
                kind=str(rule.get("type")),
                text=rule_text(rule),
                held=tuple(held.get(label, ())),
            )
        )
    return views


def bound_views(allocations: Sequence[Mapping[str, Any]]) -> list[RuleView]:
    """Recipients held at their own floor or cap."""
    held = _held_by(allocations)
    texts = {"floor": "held at their floor", "cap": "held at their cap"}
    return [
        RuleView(label=name, kind=name, text=texts[name], held=tuple(held[name]))
        for name in sorted(BOUND_NAMES)
        if held.get(name)
    ]


def metric_views(metrics: Mapping[str, Any]) -> list[MetricView]:
    known = [MetricView(k, *METRICS[k], metrics[k]) for k in METRICS if k in metrics]
    other = [MetricView(k, k, "", v) for k, v in metrics.items() if k not in METRICS]
    return known + other


# --------------------------------------------------------------------------- compare


def run_letter(index: int) -> str:
    """``A``, ``B``, ..., ``Z``, ``AA``, ...

    >>> [run_letter(i) for i in (0, 1, 25, 26)]
    ['A', 'B', 'Z', 'AA']
    """
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


@dataclass(frozen=True)
class CompareCell:
    units: int | None
    diff: int | None
    pct: float | None
    grade: str | None
    binding: tuple[str, ...]

    @property
    def change(self) -> str:
        """The CSS class of the change: ``increase``, ``decrease`` or ``same``."""
        if not self.diff:
            return "same"
        return "increase" if self.diff > 0 else "decrease"


@dataclass(frozen=True)
class CompareRow:
    id: str
    name: str
    cells: tuple[CompareCell, ...]


@dataclass(frozen=True)
class CompareView:
    letters: tuple[str, ...]
    runs: tuple[RunRow, ...]
    rows: tuple[CompareRow, ...]
    chart: Chart
    sentences: tuple[str, ...]
    rules: tuple[tuple[str, tuple[bool, ...]], ...]
    metrics: tuple[tuple[str, str, tuple[Any, ...]], ...]
    unit_labels: tuple[str, ...] = field(default=())


def change_sentence(name: str, cell: CompareCell, letter: str, *, baseline: str = "A") -> str:
    """``Gangwon: -12 units (-8.1%), held by change_limit in run B``."""
    if cell.units is None:
        return f"{name}: not in run {letter}"
    if cell.diff is None:
        return f"{name}: {number(cell.units)} units in run {letter}, not in run {baseline}"
    text = f"{name}: {signed(cell.diff)} units"
    if cell.pct is not None:
        text += f" ({signed_percent(cell.pct)})"
    if cell.binding:
        return f"{text}, held by {' and '.join(cell.binding)} in run {letter}"
    return f"{text} in run {letter}"


def compare_view(compared: ComparePublic, rows: Sequence[RunRow]) -> CompareView:
    letters = tuple(run_letter(i) for i in range(len(rows)))
    table = []
    changes: list[tuple[float, str]] = []
    for recipient in compared.recipients:
        cells = tuple(
            CompareCell(
                units=recipient.units[i],
                diff=recipient.diff_units[i],
                pct=recipient.diff_pct[i],
                grade=recipient.grade[i],
                binding=tuple(recipient.binding[i] or ()),
            )
            for i in range(len(rows))
        )
        table.append(CompareRow(recipient.id, recipient.name, cells))
        for index, cell in enumerate(cells[1:], start=1):
            large = cell.pct is not None and abs(cell.pct) >= LARGE_CHANGE_PCT
            missing = (cell.units is None) != (cells[0].units is None)
            if large or missing:
                size = 100.0 if cell.pct is None else abs(cell.pct)
                letter = letters[index]
                sentence = change_sentence(recipient.name, cell, letter, baseline=letters[0])
                changes.append((size, sentence))
    sentences = [text for _, text in sorted(changes, key=lambda change: -change[0])]
    baseline = [cells.cells[0].units or 0 for cells in table]
    order = sorted(range(len(table)), key=lambda i: (-baseline[i], table[i].name))
    chart = grouped_bar_chart(
        [
            GroupItem(table[i].id, table[i].name, tuple(c.units for c in table[i].cells))
            for i in order
        ],
        series=tuple(f"run {letter}" for letter in letters),
    )
    metric_keys = list(METRICS) + sorted(
        {k for run in compared.runs for k in (run.metrics or {}) if k not in METRICS}
    )
    metrics = []
    for key in metric_keys:
        values = tuple((run.metrics or {}).get(key) for run in compared.runs)
        if any(v is not None for v in values):
            label, help_text = METRICS.get(key, (key, ""))
            metrics.append((label, help_text, values))
    return CompareView(
        letters=letters,
        runs=tuple(rows),
        rows=tuple(table),
        chart=chart,
        sentences=tuple(sentences),
        rules=tuple((rule.rule, tuple(rule.bound)) for rule in compared.rules),
        metrics=tuple(metrics),
        unit_labels=tuple(row.unit_label for row in rows),
    )
