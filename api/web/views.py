"""What the pages show, built from stored runs and results: plain values for the templates,
in the reader's language, with every decision (sorting, which change is large, what held a
recipient and how to say so) made here, not in the templates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from pydantic import TypeAdapter, ValidationError

from api.db import Run, RunStatus, StoredScenario
from api.routes.scenarios import scenario_yaml
from api.schemas import ComparePublic
from api.web.charts import BarItem, Chart, GroupItem, bar_chart, grouped_bar_chart
from api.web.formatting import is_won, number, percent, signed, signed_percent
from api.web.matrix import has_matrix
from api.web.tilemap import REGIONS, MapKind, TileMap, by_region, region_index, tile_map
from api.web.translations import N_, Translator
from optimizer.compare import BOUND_NAMES
from optimizer.scenario import Rule

LARGE_CHANGE_PCT = 5
"""A change from the baseline at least this large (in percent, exactly) gets a sentence."""

METRICS: dict[str, tuple[str, str]] = {
    "total": (N_("Total units"), N_("Units handed out; always the whole budget.")),
    "objective": (
        N_("Objective"),
        N_(
            "The figure the solver made as small (or large) as it could; lower is closer "
            "to the aim for proportional objectives."
        ),
    ),
    "gini": (
        N_("Gini of units"),
        N_("How unequal the units are: 0 means everyone got the same, 1 that one got all."),
    ),
    "min_units_per_quota": (
        N_("Smallest units / quota"),
        N_("The recipient furthest below its fair share; 1 means exactly its share."),
    ),
    "max_units_per_quota": (
        N_("Largest units / quota"),
        N_("The recipient furthest above its fair share; 1 means exactly its share."),
    ),
    "max_min_ratio": (
        N_("Max / min units per quota"),
        N_("The best-treated against the worst-treated recipient; 1 means all alike."),
    ),
    "loosemore_hanby": (
        N_("Distance from fair shares (Loosemore-Hanby)"),
        N_(
            "Percentage points of the budget that would have to move for everyone to get "
            "exactly their fair share; 0 is perfect."
        ),
    ),
    "gallagher": (
        N_("Distance from fair shares (Gallagher)"),
        N_("Like the line above, but large gaps count more than many small ones; 0 is perfect."),
    ),
}

STATES: dict[str, str] = {
    "queued": N_("queued"),
    "running": N_("running"),
    "done": N_("done"),
    "failed": N_("failed"),
    "cancelled": N_("cancelled"),
    "optimal": N_("optimal"),
    "feasible": N_("feasible"),
    "infeasible": N_("infeasible"),
    "error": N_("error"),
    "time_limit": N_("time limit"),
    "tie": N_("tie, not decided"),
}

RULE_KINDS: dict[str, str] = {
    "group": N_("group rule"),
    "grade_order": N_("grade order"),
    "change_limit": N_("stability rule"),
}

CRITERIA: dict[str, str] = {
    "performance": N_("performance"),
    "jobs": N_("jobs"),
    "investment": N_("investment"),
    "innovation": N_("innovation"),
}
"""Names of the criteria the example scenarios use; others are shown as the scenario names them."""

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
    unit_value: float
    backend: str | None
    backend_version: str | None
    solve_seconds: float | None
    """Time the run took once a worker had it (solving and storing)."""
    queued_seconds: float | None
    """Time the run waited in the queue before a worker took it."""
    overrides: tuple[str, ...]
    note: str | None
    sweep_id: int | None = None
    content_hash: str = ""

    @property
    def scenario_label(self) -> str:
        return f"{self.scenario_name} (v{self.version})" if self.version else self.scenario_name

    @property
    def comparable(self) -> bool:
        return self.status == RunStatus.DONE and self.outcome not in (
            None,
            "infeasible",
            "error",
            "tie",
        )

    @property
    def state(self) -> str:
        return self.outcome if self.status == RunStatus.DONE and self.outcome else self.status

    @property
    def in_won(self) -> bool:
        return is_won(self.unit_label)

    @property
    def budget_won(self) -> float | None:
        """The budget in won when the scenario's unit is counted in won."""
        if self.budget is None or not self.in_won:
            return None
        return self.budget * self.unit_value


def run_row(run: Run, versions: Mapping[int, int]) -> RunRow:
    budget, unit, _ = run.summary()
    timings = run.timings or {}
    return RunRow(
        id=run.id,
        scenario_id=run.scenario_id,
        scenario_name=run.scenario_name,
        version=versions.get(run.scenario_id) if run.scenario_id is not None else None,
        status=run.status,
        outcome=run.outcome,
        created_at=run.created_at,
        requested_by=run.requested_by,
        budget=budget,
        unit_label=unit_label({"unit": unit}),
        unit_value=float(unit.get("value") or 1.0),
        backend=run.solver_backend,
        backend_version=run.solver_version,
        solve_seconds=timings.get("solve_s", timings.get("run_s")),
        queued_seconds=timings.get("queued_s"),
        overrides=tuple(run.overrides or ()),
        note=run.note,
        sweep_id=run.sweep_id,
        content_hash=run.scenario_hash,
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
    kind_text: str = ""


@dataclass(frozen=True)
class MetricView:
    key: str
    label: str
    help: str
    value: Any


@dataclass(frozen=True)
class AllocationView:
    """One row of a run's table: the result's allocation, last year's units and the change,
    and what held it, in words."""

    id: str
    name: str
    grade: str | None
    score: Any
    quota: float | None
    units: int
    amount: float | None
    share: float | None
    previous: float | None
    change: float | None
    change_pct: float | None
    binding: tuple[str, ...]
    reasons: tuple[str, ...]

    @property
    def direction(self) -> str:
        if not self.change:
            return "same"
        return "increase" if self.change > 0 else "decrease"


@dataclass(frozen=True)
class Components:
    """Where a scenario scores by weighted criteria: each criterion (label, weight as a share
    of all weights) and each recipient's score per criterion beside its composite score."""

    criteria: tuple[tuple[str, float], ...]
    rows: tuple[tuple[str, str, tuple[float | None, ...], Any, int], ...]
    """(id, name, scores per criterion, composite score, units)."""


def components(
    body: Mapping[str, Any], rows: Sequence[AllocationView], t: Translator
) -> Components | None:
    weights = body.get("criteria")
    if not isinstance(weights, Mapping) or not weights:
        return None
    total = sum(float(w) for w in weights.values()) or 1.0
    keys = list(weights)
    recipients = {str(r.get("id")): r for r in _recipients(body)}
    table = []
    for row in rows:
        given = recipients.get(row.id, {}).get("criteria") or {}
        scores = tuple(
            float(given[k]) if isinstance(given.get(k), int | float) else None for k in keys
        )
        table.append((row.id, row.name, scores, row.score, row.units))
    labels = tuple(
        (t.gettext(CRITERIA[k]) if k in CRITERIA else k, float(weights[k]) / total) for k in keys
    )
    return Components(labels, tuple(table))


BASES: dict[str, str] = {
    "weight": N_("by weight"),
    "entitlement": N_("by evaluation"),
}
"""How a budget component is shared out (the others are criteria, named as given)."""


@dataclass(frozen=True)
class Breakdown:
    """A plan's structure, as a table: a budget split into components (a column per
    component, a row per recipient) or allocated in two stages (a row per group with what
    the first stage gave it)."""

    kind: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, str, tuple[Any, ...]], ...]
    """(id, name, a value per column)."""
    by: str = ""


def breakdown(
    certificate: Mapping[str, Any] | None, rows: Sequence[AllocationView], t: Translator
) -> Breakdown | None:
    """The components or the two stages of a run, from its certificate."""
    if not isinstance(certificate, Mapping) or not rows:
        return None
    if certificate.get("kind") == "components":
        parts = [c for c in certificate.get("components") or () if isinstance(c, Mapping)]
        if not parts:
            return None
        columns = []
        for part in parts:
            basis = str(part.get("basis") or "")
            how = t.gettext(BASES[basis]) if basis in BASES else basis
            if part.get("method"):  # rounded on its own, by this method
                how = f"{how}, {part.get('method')}" if how else str(part.get("method"))
            columns.append(f"{part.get('name')} ({how})" if how else str(part.get("name")))
        table = tuple(
            (
                row.id,
                row.name,
                (*((part.get("split") or {}).get(row.id) for part in parts), row.units),
            )
            for row in rows
        )
        return Breakdown("components", (*columns, t.gettext("Units")), table)
    if certificate.get("kind") == "two_stage":
        first = certificate.get("first") or {}
        units = first.get("units") or {}
        if not isinstance(units, Mapping) or not units:
            return None
        by = str(certificate.get("by") or "")
        table = tuple(
            (
                str(group),
                (REGIONS[group][2] if t.lang == "ko" else REGIONS[group][3])
                if group in REGIONS
                else str(group),
                (given,),
            )
            for group, given in units.items()
        )
        return Breakdown("two_stage", (t.gettext("Units"),), table, by=by)
    return None


@dataclass(frozen=True)
class MapChoice:
    kind: MapKind
    label: str
    current: bool


SHOWN_ROWS = 200
"""Recipients a run page lists (its table, its chart's largest bars, the scenario's YAML):
a run of 100,000 firms as one page was 100 MB of HTML and minutes to build. The page says
how many it leaves out; the downloads hold every one."""


@dataclass(frozen=True)
class RunView:
    row: RunRow
    content_hash: str
    allocations: tuple[AllocationView, ...]
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
    tile_map: TileMap | None
    map_choices: tuple[MapChoice, ...]
    has_previous: bool
    message: str = ""
    components: Components | None = None
    regions: tuple[RegionRow, ...] = ()
    breakdown: Breakdown | None = None
    ties: tuple[Mapping[str, Any], ...] = ()
    checks: tuple[Mapping[str, Any], ...] = ()
    overrides: tuple[Mapping[str, Any], ...] = ()
    has_matrix: bool = False
    """Whether the run has a matrix page (a biproportional or two_stage result)."""
    shown: int = SHOWN_ROWS
    """How many recipients the page's tables list (:data:`SHOWN_ROWS`)."""

    @property
    def has_allocation(self) -> bool:
        return bool(self.allocations)


def _recipients(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = body.get("recipients")
    return [r for r in found if isinstance(r, Mapping)] if isinstance(found, list) else []


def _rules_by_label(body: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {rule_label(rule): rule for rule in body.get("rules") or () if isinstance(rule, Mapping)}


def reason(
    label: str,
    rule: Mapping[str, Any] | None,
    recipient: Mapping[str, Any],
    change_pct: float | None,
    t: Translator,
) -> str:
    """Why a recipient got no more (or no less), in plain words."""
    if label == "floor":
        return t.gettext("held at its floor of %(n)s units", n=number(recipient.get("floor")))
    if label == "cap":
        return t.gettext("held at its cap of %(n)s units", n=number(recipient.get("cap")))
    kind = (rule or {}).get("type")
    if kind == "change_limit":
        if change_pct is not None:
            return t.gettext(
                "held at %(pct)s against last year by the stability rule (%(rule)s)",
                pct=signed_percent(change_pct),
                rule=label,
            )
        return t.gettext("held by the stability rule (%(rule)s)", rule=label)
    if kind == "grade_order":
        return t.gettext(
            "held so that a better grade never gets less per unit of weight (%(rule)s)",
            rule=label,
        )
    if kind == "group":
        return t.gettext("held by the group rule “%(rule)s”", rule=label)
    return t.gettext("held by %(rule)s", rule=label)


def allocation_views(
    allocations: Sequence[Mapping[str, Any]], body: Mapping[str, Any], t: Translator
) -> list[AllocationView]:
    recipients = {str(r.get("id")): r for r in _recipients(body)}
    rules = _rules_by_label(body)
    rows = []
    for a in allocations:
        recipient = recipients.get(str(a["id"]), {})
        previous = recipient.get("previous")
        units = int(a["units"])
        change = None if previous is None else units - float(previous)
        change_pct = None if not previous or change is None else 100 * change / float(previous)
        binding = tuple(str(b) for b in a.get("binding") or ())
        rows.append(
            AllocationView(
                id=str(a["id"]),
                name=recipient_name(a),
                grade=a.get("grade"),
                score=a.get("score"),
                quota=a.get("quota"),
                units=units,
                amount=a.get("amount"),
                share=a.get("share"),
                previous=None if previous is None else float(previous),
                change=change,
                change_pct=change_pct,
                binding=binding,
                reasons=tuple(reason(b, rules.get(b), recipient, change_pct, t) for b in binding),
            )
        )
    return rows


MAP_KINDS: dict[MapKind, str] = {
    "units": N_("units"),
    "share": N_("share of the budget"),
    "change": N_("change"),
}


def run_map(
    rows: Sequence[AllocationView],
    body: Mapping[str, Any],
    kind: MapKind,
    t: Translator,
    *,
    unit: str,
) -> TileMap | None:
    """The run's units, shares or change against last year, on the map of the regions."""
    index = region_index(_recipients(body))
    units = by_region(index, {r.id: r.units for r in rows})
    if units is None or not rows:
        return None
    shares = by_region(index, {r.id: r.share for r in rows}) or {}
    previous = by_region(index, {r.id: r.previous for r in rows}) or {}
    change = {
        rid: 100 * (units[rid] - previous[rid]) / previous[rid]
        for rid in units
        if previous.get(rid)
    }
    values: Mapping[str, float | None] = {"units": units, "share": shares, "change": change}[kind]
    labels = {}
    for rid, value in units.items():
        parts = [t.gettext("%(n)s units of %(unit)s", n=number(value), unit=unit)]
        if rid in shares:
            parts.append(t.gettext("%(share)s of the budget", share=percent(shares[rid], 1)))
        if rid in previous:
            parts.append(
                t.gettext(
                    "last year %(n)s (%(pct)s)",
                    n=number(previous[rid]),
                    pct=signed_percent(change.get(rid)),
                )
            )
        labels[rid] = ", ".join(parts)
    named = {
        rid: f"{REGIONS[rid][2] if t.lang == 'ko' else REGIONS[rid][3]}: {text}"
        for rid, text in labels.items()
    }
    return tile_map(values, kind=kind, lang=t.lang, labels=named)


@dataclass(frozen=True)
class RegionRow:
    """One region's sums over its programmes (the map's figures, as a table)."""

    id: str
    name: str
    members: int
    units: float
    share: float | None
    previous: float | None

    @property
    def change_pct(self) -> float | None:
        if not self.previous:
            return None
        return 100 * (self.units - self.previous) / self.previous


def region_rows(
    rows: Sequence[AllocationView], body: Mapping[str, Any], t: Translator
) -> tuple[RegionRow, ...]:
    """Per region, the sums over the recipients tagged with it; empty when the recipients
    are the regions themselves (their table is the allocation table) or not regions."""
    recipients = _recipients(body)
    if not rows or all(str(r.get("id")) in REGIONS for r in recipients):
        return ()
    index = region_index(recipients)
    units = by_region(index, {r.id: r.units for r in rows})
    if units is None:
        return ()
    shares = by_region(index, {r.id: r.share for r in rows}) or {}
    previous = by_region(index, {r.id: r.previous for r in rows}) or {}
    members = by_region(index, {r.id: 1 for r in rows}) or {}
    return tuple(
        RegionRow(
            rid,
            REGIONS[rid][2] if t.lang == "ko" else REGIONS[rid][3],
            int(members.get(rid, 0)),
            units[rid],
            shares.get(rid),
            previous.get(rid),
        )
        for rid in REGIONS
        if rid in units
    )


def map_choices(kind: MapKind, has_previous: bool, t: Translator) -> tuple[MapChoice, ...]:
    kinds: list[MapKind] = ["units", "share", "change"] if has_previous else ["units", "share"]
    return tuple(MapChoice(k, t.gettext(MAP_KINDS[k]), k == kind) for k in kinds)


def _page_yaml(body: Mapping[str, Any], t: Translator) -> str:
    """The scenario as YAML, its first :data:`SHOWN_ROWS` recipients and a comment counting
    the rest."""
    recipients = body.get("recipients")
    if not isinstance(recipients, list) or len(recipients) <= SHOWN_ROWS:
        return scenario_yaml(dict(body))
    text = scenario_yaml({**body, "recipients": recipients[:SHOWN_ROWS]})
    more = t.gettext(
        "%(n)s more recipients, not shown here", n=number(len(recipients) - SHOWN_ROWS)
    )
    return f"{text}# ... {more}\n"


def run_view(
    run: Run, versions: Mapping[int, int], t: Translator, *, map_kind: MapKind = "units"
) -> RunView:
    result = (run.result or {}) if run.status == RunStatus.DONE else {}
    body = run.scenario_body or {}
    raw = tuple(result.get("allocations") or ())
    rows = tuple(allocation_views(raw, body, t))
    row = run_row(run, versions)
    chart = None
    if rows:
        largest = sorted(rows, key=lambda r: (-r.units, r.name, r.id))[:SHOWN_ROWS]
        chart = bar_chart(
            [BarItem(r.id, r.name, r.units, marker=r.quota) for r in largest],
            series=(t.gettext("units"),),
            quota_text=t.gettext("quota"),
        )
    has_previous = any(r.previous is not None for r in rows)
    if map_kind == "change" and not has_previous:
        map_kind = "units"
    return RunView(
        row=row,
        content_hash=run.scenario_hash,
        allocations=rows,
        chart=chart,
        rules=tuple(rule_views(body.get("rules") or (), raw, t)),
        bounds=tuple(bound_views(raw, t)),
        metrics=tuple(metric_views(result.get("metrics") or {}, t)),
        yaml=_page_yaml(body, t),
        diagnosis=result.get("diagnosis"),
        error=run.error,
        solver=result.get("solver") or {},
        objective=result.get("objective") or body.get("objective") or {},
        totals={
            "quota": _total([r.quota for r in rows]),
            "units": _total([r.units for r in rows]),
            "amount": _total([r.amount for r in rows]),
            "share": _total([r.share for r in rows]),
            "previous": _total([r.previous for r in rows]),
        },
        tile_map=run_map(rows, body, map_kind, t, unit=row.unit_label),
        map_choices=map_choices(map_kind, has_previous, t),
        has_previous=has_previous,
        message=str(result.get("message") or ""),
        components=components(body, rows, t),
        regions=region_rows(rows, body, t),
        breakdown=breakdown(result.get("certificate"), rows, t),
        ties=_mappings(result.get("ties")),
        checks=tuple(_check_view(c, t) for c in _mappings(result.get("checks"))),
        overrides=_mappings(result.get("overrides")),
        has_matrix=bool(rows) and has_matrix(result.get("certificate")),
        shown=SHOWN_ROWS,
    )


def _mappings(found: Any) -> tuple[Mapping[str, Any], ...]:
    """The objects of a result's list field (ties, checks, overrides); () when absent."""
    return tuple(x for x in found if isinstance(x, Mapping)) if isinstance(found, list) else ()


def _check_view(check: Mapping[str, Any], t: Translator) -> Mapping[str, Any]:
    """A paradox check with its name and verdict in the reader's language (the detail is the
    engine's sentence)."""
    name, verdict = str(check.get("check")), str(check.get("verdict"))
    return {
        "name": t.gettext(CHECKS.get(name, name)),
        "verdict": t.gettext(VERDICTS.get(verdict, verdict)),
        "key": verdict,
        "detail": str(check.get("detail") or ""),
    }


def check_views(checks: Any, t: Translator) -> tuple[Mapping[str, Any], ...]:
    """Paradox checks (a result's ``checks``, a sweep's) as the pages show them."""
    return tuple(_check_view(check, t) for check in _mappings(checks))


def verdict_table(
    checks_per_run: Sequence[Any], t: Translator
) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """The compare page's verdicts: per check (in the reader's language), per run its
    verdict text and key (``not computed`` for a run without checks).

    >>> verdict_table([[{"check": "quota", "verdict": "holds"}], []], Translator("en"))
    (('quota', (('holds', 'holds'), ('not computed', 'none'))),)
    """
    per_run = [{str(c.get("check")): c for c in _mappings(found)} for found in checks_per_run]
    names = list(dict.fromkeys(name for found in per_run for name in found))
    rows = []
    for name in names:
        cells = []
        for found in per_run:
            check = found.get(name)
            if check is None:
                cells.append((t.gettext(N_("not computed")), "none"))
            else:
                view = _check_view(check, t)
                cells.append((str(view["verdict"]), str(view["key"])))
        rows.append((t.gettext(CHECKS.get(name, name)), tuple(cells)))
    return tuple(rows)


CHECKS: dict[str, str] = {
    "quota": N_("quota"),
    "budget_monotonicity": N_("budget monotonicity (more budget, nobody loses)"),
    "score_monotonicity": N_("score monotonicity (a higher score, never fewer units)"),
}

VERDICTS: dict[str, str] = {
    "holds": N_("holds"),
    "fails": N_("fails"),
    "not applicable": N_("not applicable"),
}


def _total(values: Sequence[Any]) -> float | None:
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


def rule_text(rule: Mapping[str, Any], t: Translator) -> str:
    """What a rule asks, in words."""
    kind = rule.get("type")
    if kind == "group":
        parts = []
        if rule.get("min_share") is not None:
            parts.append(t.gettext("at least %(p)s of the budget", p=percent(rule["min_share"], 1)))
        if rule.get("max_share") is not None:
            parts.append(t.gettext("at most %(p)s of the budget", p=percent(rule["max_share"], 1)))
        if rule.get("min_units") is not None:
            parts.append(t.gettext("at least %(n)s units", n=number(rule["min_units"])))
        if rule.get("max_units") is not None:
            parts.append(t.gettext("at most %(n)s units", n=number(rule["max_units"])))
        return t.gettext(
            "recipients with %(tag)s = %(value)s get %(what)s",
            tag=rule.get("tag"),
            value=rule.get("value"),
            what=t.gettext(" and ").join(parts),
        )
    if kind == "grade_order":
        return t.gettext(
            "a better grade never gets fewer units per unit of weight than a worse one"
        )
    if kind == "change_limit":
        parts = []
        if rule.get("max_decrease") is not None:
            parts.append(t.gettext("down by at most %(p)s", p=percent(rule["max_decrease"], 1)))
        if rule.get("max_increase") is not None:
            parts.append(t.gettext("up by at most %(p)s", p=percent(rule["max_increase"], 1)))
        return t.gettext(
            "each recipient with last year's units moves %(what)s against last year",
            what=t.gettext(" and ").join(parts),
        )
    return str(kind)


def _held_by(allocations: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    held: dict[str, list[str]] = {}
    for allocation in allocations:
        for label in allocation.get("binding") or ():
            held.setdefault(str(label), []).append(recipient_name(allocation))
    return held


def rule_views(
    rules: Sequence[Mapping[str, Any]], allocations: Sequence[Mapping[str, Any]], t: Translator
) -> list[RuleView]:
    held = _held_by(allocations)
    views = []
    for rule in rules:
        label = rule_label(rule)
        views.append(
            RuleView(
                label=label,
                kind=str(rule.get("type")),
                text=rule_text(rule, t),
                held=tuple(held.get(label, ())),
                kind_text=t.gettext(RULE_KINDS.get(str(rule.get("type")), str(rule.get("type")))),
            )
        )
    return views


def bound_views(allocations: Sequence[Mapping[str, Any]], t: Translator) -> list[RuleView]:
    """Recipients held at their own floor or cap."""
    held = _held_by(allocations)
    texts = {"floor": t.gettext("held at their floor"), "cap": t.gettext("held at their cap")}
    return [
        RuleView(label=name, kind=name, text=texts[name], held=tuple(held[name]))
        for name in sorted(BOUND_NAMES)
        if held.get(name)
    ]


def metric_views(metrics: Mapping[str, Any], t: Translator) -> list[MetricView]:
    known = [
        MetricView(k, t.gettext(METRICS[k][0]), t.gettext(METRICS[k][1]), metrics[k])
        for k in METRICS
        if k in metrics
    ]
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


def exact_percent(diff: int | None, base: int | None) -> Fraction | None:
    """The change in percent as an exact fraction (None without a base)."""
    if diff is None or not base:
        return None
    return Fraction(100 * diff, base)


def shown_percent(value: float | Fraction | None, threshold: int = LARGE_CHANGE_PCT) -> str:
    """A change in percent to one decimal, or more where one decimal would put it on the
    other side of ``threshold`` than it is (``-4.95%`` is not shown as ``-5.0%``).

    >>> shown_percent(Fraction(-495, 100)), shown_percent(-8.108), shown_percent(Fraction(5))
    ('-4.95%', '-8.1%', '+5.0%')
    """
    if value is None:
        return signed_percent(None)
    exact = Fraction(value)
    for decimals in range(1, 7):
        text = signed_percent(float(exact), decimals)
        rounded = Fraction(text.rstrip("%").replace(",", ""))
        if (abs(rounded) >= threshold) == (abs(exact) >= threshold):
            return text
    return signed_percent(float(exact), 6)


@dataclass(frozen=True)
class CompareCell:
    units: int | None
    diff: int | None
    pct: float | Fraction | None
    grade: str | None
    binding: tuple[str, ...]

    @property
    def change(self) -> str:
        """The CSS class of the change: ``increase``, ``decrease`` or ``same``."""
        if not self.diff:
            return "same"
        return "increase" if self.diff > 0 else "decrease"

    @property
    def large(self) -> bool:
        return self.pct is not None and abs(Fraction(self.pct)) >= LARGE_CHANGE_PCT

    @property
    def pct_text(self) -> str:
        return shown_percent(self.pct)


@dataclass(frozen=True)
class CompareRow:
    id: str
    name: str
    cells: tuple[CompareCell, ...]


@dataclass(frozen=True)
class Unallocated:
    """A picked run with no allocation to compare: why, in its own words."""

    letter: str
    row: RunRow
    summary: str
    relax: tuple[str, ...]


@dataclass(frozen=True)
class CompareView:
    letters: tuple[str, ...]
    runs: tuple[RunRow, ...]
    rows: tuple[CompareRow, ...]
    chart: Chart | None
    sentences: tuple[str, ...]
    rules: tuple[tuple[str, tuple[bool, ...]], ...]
    metrics: tuple[tuple[str, str, tuple[Any, ...]], ...]
    unit_labels: tuple[str, ...] = field(default=())
    unallocated: tuple[Unallocated, ...] = ()
    all_runs: tuple[RunRow, ...] = ()
    all_letters: tuple[str, ...] = ()
    maps: tuple[tuple[str, TileMap], ...] = ()


def change_sentence(
    name: str, cell: CompareCell, letter: str, t: Translator, *, baseline: str = "A"
) -> str:
    """``Gangwon: -12 units (-8.1%), held by change_limit in run B``."""
    if cell.units is None:
        return t.gettext("%(name)s: not in run %(run)s", name=name, run=letter)
    if cell.diff is None:
        return t.gettext(
            "%(name)s: %(n)s units in run %(run)s, not in run %(base)s",
            name=name,
            n=number(cell.units),
            run=letter,
            base=baseline,
        )
    pct = "" if cell.pct is None else f" ({shown_percent(cell.pct)})"
    if cell.binding:
        return t.gettext(
            "%(name)s: %(diff)s units%(pct)s, held by %(rules)s in run %(run)s",
            name=name,
            diff=signed(cell.diff),
            pct=pct,
            rules=t.gettext(" and ").join(cell.binding),
            run=letter,
        )
    return t.gettext(
        "%(name)s: %(diff)s units%(pct)s in run %(run)s",
        name=name,
        diff=signed(cell.diff),
        pct=pct,
        run=letter,
    )


def unallocated(
    letter: str, row: RunRow, result: Mapping[str, Any] | None, error: str | None, t: Translator
) -> Unallocated:
    diagnosis = (result or {}).get("diagnosis") or {}
    summary = str(diagnosis.get("summary") or (result or {}).get("message") or error or "")
    if not summary:
        summary = t.gettext(
            "This run has no allocation (%(state)s).",
            state=t.gettext(STATES.get(row.state, row.state)),
        )
    relax = tuple(
        str(item.get("message") or item.get("constraint"))
        for item in diagnosis.get("relax") or ()
        if isinstance(item, Mapping)
    )
    return Unallocated(letter, row, summary, relax)


def compare_view(
    compared: ComparePublic | None,
    rows: Sequence[RunRow],
    t: Translator,
    *,
    all_rows: Sequence[RunRow] = (),
    all_letters: Sequence[str] = (),
    missing: Sequence[Unallocated] = (),
    recipients: Sequence[Mapping[str, Any]] = (),
) -> CompareView:
    """Runs with allocations side by side (``compared``, the first is the baseline); runs
    without one are listed in ``missing`` with their diagnosis, never as missing recipients."""
    if not all_rows:
        all_rows, all_letters = rows, [run_letter(i) for i in range(len(rows))]
    letter_of = {row.id: letter for row, letter in zip(all_rows, all_letters, strict=True)}
    letters = tuple(letter_of[row.id] for row in rows)
    if compared is None:
        return CompareView(
            letters=letters,
            runs=tuple(rows),
            rows=(),
            chart=None,
            sentences=(),
            rules=(),
            metrics=(),
            unallocated=tuple(missing),
            all_runs=tuple(all_rows),
            all_letters=tuple(all_letters),
        )
    table = []
    changes: list[tuple[Fraction, str, str]] = []
    for recipient in compared.recipients:
        base_units = recipient.units[0]
        cells = tuple(
            CompareCell(
                units=recipient.units[i],
                diff=recipient.diff_units[i],
                pct=exact_percent(recipient.diff_units[i], base_units),
                grade=recipient.grade[i],
                binding=tuple(recipient.binding[i] or ()),
            )
            for i in range(len(rows))
        )
        table.append(CompareRow(recipient.id, recipient.name, cells))
        for index, cell in enumerate(cells[1:], start=1):
            missing_here = (cell.units is None) != (cells[0].units is None)
            if cell.large or missing_here:
                size = Fraction(100) if cell.pct is None else abs(Fraction(cell.pct))
                sentence = change_sentence(
                    recipient.name, cell, letters[index], t, baseline=letters[0]
                )
                changes.append((size, recipient.name, sentence))
    sentences = [text for _, _, text in sorted(changes, key=lambda c: (-c[0], c[1]))]
    baseline = [cells.cells[0].units or 0 for cells in table]
    order = sorted(range(len(table)), key=lambda i: (-baseline[i], table[i].name))
    chart = grouped_bar_chart(
        [
            GroupItem(table[i].id, table[i].name, tuple(c.units for c in table[i].cells))
            for i in order
        ],
        series=tuple(t.gettext("run %(run)s", run=letter) for letter in letters),
    )
    metric_keys = list(METRICS) + sorted(
        {k for run in compared.runs for k in (run.metrics or {}) if k not in METRICS}
    )
    metrics = []
    for key in metric_keys:
        values = tuple((run.metrics or {}).get(key) for run in compared.runs)
        if any(v is not None for v in values):
            label, help_text = METRICS.get(key, (key, ""))
            metrics.append((t.gettext(label), t.gettext(help_text) if help_text else "", values))
    maps = []
    regions = region_index(recipients)
    for index, letter in enumerate(letters[1:], start=1):
        units = by_region(regions, {r.id: r.cells[index].units for r in table})
        base = by_region(regions, {r.id: r.cells[0].units for r in table})
        if units is None or base is None:
            break
        change = {k: 100 * (units[k] - base[k]) / base[k] for k in units if base.get(k)}
        labels = {
            k: t.gettext(
                "%(name)s: %(n)s units in run %(run)s, %(change)s against run %(base)s",
                name=REGIONS[k][2] if t.lang == "ko" else REGIONS[k][3],
                n=number(units[k]),
                run=letter,
                change=signed_percent(change.get(k)),
                base=letters[0],
            )
            for k in units
        }
        maps.append((letter, tile_map(change, kind="change", lang=t.lang, labels=labels)))
    return CompareView(
        letters=letters,
        runs=tuple(rows),
        rows=tuple(table),
        chart=chart,
        sentences=tuple(sentences),
        rules=tuple((rule.rule, tuple(rule.bound)) for rule in compared.rules),
        metrics=tuple(metrics),
        unit_labels=tuple(row.unit_label for row in rows),
        unallocated=tuple(missing),
        all_runs=tuple(all_rows),
        all_letters=tuple(all_letters),
        maps=tuple(maps),
    )
