"""Request and response models. Requests (``...Create``) forbid unknown fields; responses
(``...Public``) are what clients may rely on. The scenario and result bodies inside are the
contracts of docs/contract.md and are passed through as JSON objects."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.db import Role, Run, RunStatus, StoredScenario, Token

MAX_ID = 2**31 - 1
"""Ids are 32-bit integers in the database."""
RunIdItem = Annotated[int, Field(ge=1, le=MAX_ID)]

OVERRIDES_FIELD: Any = Field(
    default_factory=list,
    max_length=200,
    description="'path=value' assignments applied before validation, like the CLI's --set: "
    "'budget=1000', 'rules[0].min_share=0.3', 'recipients[busan].floor=40'",
    examples=[["budget=1300", "rules[0].min_share=0.3"]],
)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel):
    """A page of a list, newest first: ``total`` items match the filters; ``next_cursor``
    (None on the last page) gives the next page as ``?cursor=...``."""

    total: int
    limit: int
    offset: int
    next_cursor: str | None = None


# --------------------------------------------------------------------------- scenarios


class ScenarioPublic(BaseModel):
    """A stored scenario version, without its body."""

    id: int
    name: str
    version: int
    content_hash: str
    recipients: int
    created_by: str
    created_at: dt.datetime
    archived_at: dt.datetime | None = None


class ScenarioDetail(ScenarioPublic):
    """A stored scenario version with its normalised body."""

    body: dict[str, Any]


class ScenarioList(Page):
    items: list[ScenarioPublic]


# --------------------------------------------------------------------------- runs


class RunCreate(_Request):
    """Run a stored scenario (``scenario_id``) or an inline one (``scenario``: a JSON object,
    or YAML/JSON text), with optional overrides."""

    scenario_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    scenario: dict[str, Any] | str | None = None
    overrides: list[Annotated[str, Field(max_length=10_000)]] = OVERRIDES_FIELD
    note: str | None = Field(default=None, max_length=500)


class SolverInfo(BaseModel):
    backend: str | None
    version: str | None


class RunPublic(BaseModel):
    """A run without its result. ``status`` is where the run is (queued, running, done,
    failed, cancelled); ``outcome`` is the result's status once done (optimal, infeasible,
    ...). ``attempts``: how often a worker took it (more than 1 after a worker stopped);
    ``notes``: what the service did to it (a time limit capped, a retry)."""

    id: int
    status: RunStatus
    outcome: str | None
    scenario_id: int | None
    scenario_name: str
    scenario_hash: str
    recipients: int
    overrides: list[str]
    note: str | None
    sweep_id: int | None
    sweep_value: Any = None
    solver: SolverInfo
    timings: dict[str, Any] | None
    error: str | None
    requested_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    attempts: int
    cancel_requested: bool
    cancelled_by: str | None
    cancelled_at: dt.datetime | None
    notes: list[str]
    archived_at: dt.datetime | None = None
    adopted_by: str | None = Field(default=None, description="Who adopted the run (frozen)")
    adopted_at: dt.datetime | None = None
    adoption_note: str | None = None
    scenario_version: int | None = Field(
        default=None, description="The stored scenario's version (None: an inline scenario)"
    )
    budget: int | None = Field(default=None, description="The budget the run allocated, in units")
    objective: float | None = Field(default=None, description="The result's objective value")


class RunDetail(RunPublic):
    """A run with its full result (the result contract of docs/contract.md) once done."""

    result: dict[str, Any] | None


class RunWithScenario(RunDetail):
    """``GET /v1/runs/{id}``: with ``?include=scenario`` also the scenario as run and whether
    it still validates to ``scenario_hash`` (both left out otherwise)."""

    scenario: dict[str, Any] | None = None
    scenario_verified: bool | None = None


class RunList(Page):
    items: list[RunPublic]


# --------------------------------------------------------------------------- compare


class CompareCreate(_Request):
    run_ids: list[RunIdItem] = Field(
        min_length=2, max_length=50, description="The first is the baseline"
    )


class CompareRun(BaseModel):
    run_id: int
    label: str
    status: str | None
    scenario: dict[str, Any] | None
    budget: int | None
    objective: dict[str, Any] | None
    metrics: dict[str, Any] | None
    solver: dict[str, Any] | None
    total_units: int
    checks: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The run's paradox verdicts (check, verdict, detail); empty if the run "
        "has none (a sweep's runs)",
    )


class CompareRecipient(BaseModel):
    id: str
    name: str
    units: list[int | None]
    diff_units: list[int | None]
    diff_pct: list[float | None]
    grade: list[str | None]
    binding: list[list[str] | None]


class CompareRule(BaseModel):
    rule: str
    bound: list[bool]


class ComparePublic(BaseModel):
    """Units per recipient in each run, differences from the first run (units and percent),
    grades, metrics, and which rules bound in which run."""

    baseline: str
    runs: list[CompareRun]
    recipients: list[CompareRecipient]
    rules: list[CompareRule]


# --------------------------------------------------------------------------- sweeps


MAX_SWEEP_AXES = 6
"""Most parameters one sweep may vary together (the grid's size is bounded separately)."""
MAX_SPEC = 10_000


class SweepCreate(_Request):
    """Vary one parameter of a scenario (one run per value), or several (a list: one run per
    point of their grid, the first varying slowest, as ``allot sweep --set a=... --set
    b=...``)."""

    scenario_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    scenario: dict[str, Any] | str | None = None
    overrides: list[Annotated[str, Field(max_length=10_000)]] = OVERRIDES_FIELD
    set: str | list[str] = Field(
        description="path=start:stop:step (stop included) or path=v1,v2,...; a list of "
        f"them (at most {MAX_SWEEP_AXES}) sweeps the grid of every combination (at most "
        "ALLOT_MAX_SWEEP_VALUES points)",
        examples=["budget=1000:2000:100", ["budget=1000,1200", "rules[0].min_share=0.2,0.3"]],
    )

    @field_validator("set", mode="before")
    @classmethod
    def _one_or_a_few_sets(cls, value: Any) -> Any:
        """One message for what is not a ``set`` (not the union's two)."""
        specs = value if isinstance(value, list) else [value]
        if not all(isinstance(spec, str) for spec in specs):
            raise ValueError("must be path=values or a list of them (text)")
        if not 1 <= len(specs) <= MAX_SWEEP_AXES:
            raise ValueError(f"give 1 to {MAX_SWEEP_AXES} path=values (got {len(specs)})")
        if any(len(spec) > MAX_SPEC for spec in specs):
            raise ValueError(f"a path=values longer than {MAX_SPEC} characters")
        return value

    note: str | None = Field(default=None, max_length=500)


class SweepRecipient(BaseModel):
    id: str
    name: str


class SweepRow(BaseModel):
    """One value of a sweep: its run, where the run is, the result's status and objective,
    the units per recipient (in the order of ``SweepTable.recipients``; None: no allocation).
    ``values``: the value of each swept parameter (``value`` is the run's ``sweep_value``: the
    one value, or for a grid the list of them)."""

    value: Any
    values: list[Any]
    run_id: int
    status: RunStatus
    outcome: str | None
    objective: float | None
    total: int | None
    units: list[int | None]


class SweepTable(BaseModel):
    """The sweep at a glance: the swept parameters' values against units per recipient."""

    parameter: str
    parameters: list[str]
    recipients: list[SweepRecipient]
    rows: list[SweepRow]


SweepStatus = Literal["queued", "running", "done", "failed", "cancelled"]


class SweepItem(BaseModel):
    """A sweep in a list: what was swept and how far its runs are (``runs``: per status)."""

    id: int
    status: SweepStatus
    scenario_id: int | None
    scenario_name: str
    parameter: str
    parameters: list[str]
    spec: str
    note: str | None
    requested_by: str
    created_at: dt.datetime
    runs: dict[str, int]


class SweepList(Page):
    items: list[SweepItem]


class SweepAxis(BaseModel):
    """One swept parameter: its path, the ``set`` it came from and its values."""

    parameter: str
    set: str
    values: list[Any]


class SweepPublic(BaseModel):
    """A sweep. ``parameter`` and ``spec`` name what was swept (for a grid, the parameters
    joined by `` × `` and the sets by ``; ``), ``axes`` each parameter apart; ``values`` has
    one entry per run: the value, or for a grid the list of the parameters' values."""

    id: int
    status: SweepStatus
    scenario_id: int | None
    scenario_name: str
    scenario_hash: str
    parameter: str
    parameters: list[str]
    axes: list[SweepAxis]
    spec: str
    values: list[Any]
    overrides: list[str]
    note: str | None
    requested_by: str
    created_at: dt.datetime
    summary: SweepTable
    checks: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Verdicts across the finished points: budget monotonicity along a swept "
        "budget, score monotonicity along a swept recipients[ID].score (check, verdict, detail)",
    )
    runs: list[RunDetail] = Field(
        description="Every run with its result (without results when ?results=false)"
    )


# --------------------------------------------------------------------------- tokens


class TokenCreate(_Request):
    role: Role
    name: str | None = Field(default=None, min_length=1, max_length=200)
    expires_in_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        strict=True,
        description="The token stops working after this many days",
    )


class TokenPublic(BaseModel):
    """A token (never its secret): ``expires_at`` None means it never expires;
    ``last_used_at`` is to the minute."""

    id: int
    name: str
    role: Role
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    expires_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None


class TokenCreated(TokenPublic):
    token: str = Field(description="The secret, shown this once; only its hash is stored")


# --------------------------------------------------------------------------- health


class Health(BaseModel):
    status: str
    version: str


class Ready(BaseModel):
    """``ready`` when the database answers and at least one worker has a live heartbeat;
    ``degraded`` when no worker does (the API answers, queued runs wait)."""

    status: Literal["ready", "degraded"]
    database: str
    workers: int = Field(description="Workers with a heartbeat younger than a lease")
    queued: int = Field(description="Runs waiting for a worker")
    message: str | None = None


class WorkerPublic(BaseModel):
    """A process executing runs: where, since when, its last heartbeat and current runs."""

    id: str
    host: str
    pid: int
    kind: Literal["worker", "embedded"]
    concurrency: int
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    stopped_at: dt.datetime | None
    live: bool
    runs: list[int]


class WorkerList(BaseModel):
    items: list[WorkerPublic]
    live: int


# --------------------------------------------------------------------------- audit


class AdoptCreate(_Request):
    """``POST /v1/runs/{id}/adopt``: why the committee adopts this run (required)."""

    note: str = Field(min_length=1, max_length=2000, pattern=r"\S")


class AuditEntryPublic(BaseModel):
    """One audit entry: who (``actor``) did what (``action``) to which scenario, run or
    sweep, and when; ``detail`` adds what identifies it (a note, a scenario hash)."""

    id: int
    at: dt.datetime
    actor: str
    action: str
    subject_kind: str
    subject_id: int
    detail: dict[str, Any] | None


class AuditList(Page):
    items: list[AuditEntryPublic]


# --------------------------------------------------------------------------- from rows


def scenario_public(row: StoredScenario) -> ScenarioPublic:
    return ScenarioPublic(
        id=row.id,
        name=row.name,
        version=row.version,
        content_hash=row.content_hash,
        recipients=row.recipients,
        created_by=row.created_by,
        created_at=row.created_at,
        archived_at=row.archived_at,
    )


def scenario_detail(row: StoredScenario) -> ScenarioDetail:
    return ScenarioDetail(**scenario_public(row).model_dump(), body=row.body)


def _run_fields(run: Run) -> dict[str, Any]:
    budget, _, objective = run.summary()
    return {
        "id": run.id,
        "status": RunStatus(run.status),
        "outcome": run.outcome,
        "scenario_id": run.scenario_id,
        "scenario_name": run.scenario_name,
        "scenario_hash": run.scenario_hash,
        "recipients": run.recipients,
        "overrides": list(run.overrides),
        "note": run.note,
        "sweep_id": run.sweep_id,
        "sweep_value": run.sweep_value,
        "solver": SolverInfo(backend=run.solver_backend, version=run.solver_version),
        "timings": run.timings,
        "error": run.error,
        "requested_by": run.requested_by,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "attempts": run.attempts or 0,
        "cancel_requested": bool(run.cancel_requested),
        "cancelled_by": run.cancelled_by,
        "cancelled_at": run.cancelled_at,
        "notes": list(run.notes or []),
        "archived_at": run.archived_at,
        "adopted_by": run.adopted_by,
        "adopted_at": run.adopted_at,
        "adoption_note": run.adoption_note,
        "budget": _whole(budget),
        "objective": _number(objective),
    }


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer past float range: not a figure to list
        return None


def run_public(run: Run, *, scenario_version: int | None = None) -> RunPublic:
    return RunPublic(**_run_fields(run), scenario_version=scenario_version)


def run_detail(run: Run, *, scenario_version: int | None = None) -> RunDetail:
    return RunDetail(**_run_fields(run), result=run.result, scenario_version=scenario_version)


def token_public(row: Token) -> TokenPublic:
    return TokenPublic(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
    )
