"""Outcomes as typed values: the status, per-recipient allocations, metrics, solver report,
and the diagnosis of an infeasible scenario. ``Result.to_dict`` is the JSON contract."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple, overload

from optimizer.collector import cyclic_gc_paused

if TYPE_CHECKING:
    from numpy.typing import NDArray


class Status(StrEnum):
    """How a solve ended. Only ``optimal`` is a proven-optimal allocation."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    TIME_LIMIT = "time_limit"
    TIE = "tie"  # the scenario's tie_break refuses to decide a tie: no allocation
    ERROR = "error"

    @property
    def has_allocation(self) -> bool:
        return self in (Status.OPTIMAL, Status.FEASIBLE, Status.TIME_LIMIT)


class Allocation(NamedTuple):
    """What one recipient gets, and why. (A named tuple: a 100,000-recipient result makes
    one each, and a tuple is made in half the time of a frozen dataclass.)"""

    id: str
    name: str
    units: int
    amount: float  # units * unit value
    quota: float
    share: float  # units / budget
    entitlement: float
    score: float
    grade: str | None
    binding: tuple[str, ...]


ALLOCATION_COLUMNS = (
    "id",
    "name",
    "grade",
    "score",
    "quota",
    "entitlement",
    "units",
    "amount",
    "share",
    "binding",
)
"""The allocation table's columns, :class:`Allocation` fields: ``allot solve -f csv`` and
``-f parquet``, and the service's CSV, workbook and Parquet downloads."""


class Allocations(Sequence[Allocation]):
    """The allocations as columns, one per :class:`Allocation` field (numbers may be numpy
    arrays): what a 100,000-recipient run writes (Parquet, JSON) goes straight from them,
    and an :class:`Allocation` is made only where one is looked at (by index, or all of them
    once on the first iteration). Equal to any sequence of the same allocations."""

    __slots__ = ("_columns", "_rows")

    def __init__(self, columns: Mapping[str, Sequence[Any] | NDArray[Any]]) -> None:
        self._columns = {name: columns[name] for name in Allocation._fields}
        self._rows: tuple[Allocation, ...] | None = None
        sizes = {len(column) for column in self._columns.values()}
        if len(sizes) > 1:
            raise ValueError(f"allocation columns of different lengths: {sorted(sizes)}")

    @classmethod
    def of(cls, allocations: Sequence[Allocation]) -> Allocations:
        """``allocations`` as columns (themselves when they are already)."""
        if isinstance(allocations, Allocations):
            return allocations
        rows = tuple(allocations)
        columns = list(zip(*rows, strict=True)) or [()] * len(Allocation._fields)
        made = cls(dict(zip(Allocation._fields, columns, strict=True)))
        made._rows = rows
        return made

    def column(self, name: str) -> list[Any]:
        """One field of every allocation, as Python values (``binding``: tuples)."""
        values = self._columns[name]
        return values.tolist() if hasattr(values, "tolist") else list(values)

    def raw(self, name: str) -> Sequence[Any] | NDArray[Any]:
        """One field as held: a numpy array for the numbers made from arrays, else a
        sequence of Python values. (Read only: the allocations share it.)"""
        return self._columns[name]

    def rows(self) -> tuple[Allocation, ...]:
        """Every allocation, made once."""
        if self._rows is None:
            columns = [self.column(name) for name in Allocation._fields]
            self._rows = tuple(map(Allocation._make, zip(*columns, strict=True)))
        return self._rows

    def __len__(self) -> int:
        return len(self._columns["id"])

    @overload
    def __getitem__(self, index: int) -> Allocation: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Allocation, ...]: ...

    def __getitem__(self, index: int | slice) -> Allocation | tuple[Allocation, ...]:
        if isinstance(index, slice) or self._rows is not None:
            return self.rows()[index]
        if not -len(self) <= index < len(self):
            raise IndexError("allocation index out of range")
        cells = (self._columns[name][index] for name in Allocation._fields)
        return Allocation._make(c.item() if hasattr(c, "item") else c for c in cells)

    def __iter__(self) -> Iterator[Allocation]:
        return iter(self.rows())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return self.rows() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.rows())

    def __repr__(self) -> str:
        return f"Allocations({len(self):,} recipients)"

    def __getstate__(self) -> dict[str, Any]:  # (the rows are made again where needed)
        return {"_columns": self._columns}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._columns = state["_columns"]
        self._rows = None

    def dicts(self) -> list[dict[str, Any]]:
        """The allocations as the contract's objects (``binding`` a list)."""
        columns = [self.column(name) for name in Allocation._fields]
        columns[-1] = list(map(list, columns[-1]))
        fields = Allocation._fields
        return [dict(zip(fields, row, strict=True)) for row in zip(*columns, strict=True)]


@dataclass(frozen=True)
class Metrics:
    """Summary measures of an allocation (disproportionality measured against quotas)."""

    total: int
    objective: float
    gini: float
    min_units_per_quota: float
    max_units_per_quota: float
    max_min_ratio: float | None
    loosemore_hanby: float
    gallagher: float


@dataclass(frozen=True)
class SolverReport:
    """Which path and backend produced the answer, with versions and timings."""

    backend: str
    version: str
    path: str  # "greedy", "partition", "search" (exact structured paths) or "milp"
    seconds: float
    build_seconds: float
    gap: float | None
    versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Relaxation:
    """One bound or rule to relax, and by how many units, to make the scenario feasible."""

    constraint: str  # "floors", "caps", or a rule label
    kind: str  # "floor", "cap", "group_min", "group_max", "change_limit", "grade_order"
    amount: int
    message: str
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class Diagnosis:
    """The smallest set of bounds/rules whose relaxation makes the scenario feasible."""

    summary: str
    relax: tuple[Relaxation, ...]


@dataclass(frozen=True)
class Tie:
    """Units that went to ``given`` rather than ``passed`` by the tie-break order alone
    (:mod:`optimizer.ties`)."""

    units: int  # how many units the tie decided (one per recipient in ``given``)
    given: tuple[str, ...]  # ids that got a tied unit, in tie-break order
    passed: tuple[str, ...]  # ids that could have had it instead, in tie-break order
    reason: str  # why they tie, in words
    decided_by: str  # the policy: "order: ...", "lot (seed ...)", or "refuse"


@dataclass(frozen=True)
class OverrideNote:
    """A committee's override as the run applied it, beside the method's own answer."""

    id: str
    units: int  # what the recipient gets with the override
    method_units: int | None  # what the method alone gives (None: no allocation without it)
    reason: str
    author: str


@dataclass(frozen=True)
class Verdict:
    """One paradox check of a run (:mod:`optimizer.paradox`)."""

    check: str  # "quota", "budget_monotonicity", "score_monotonicity"
    verdict: str  # "holds", "fails" or "not applicable"
    detail: str  # the counterexample, the reason, or what was checked


@dataclass(frozen=True)
class Result:
    """The full answer for one scenario."""

    status: Status
    scenario: str
    scenario_hash: str
    budget: int
    unit: dict[str, Any]
    objective: dict[str, Any]
    allocations: Sequence[Allocation]
    """In the scenario's order: a tuple, or :class:`Allocations` (columns) from ``solve``."""
    metrics: Metrics | None
    solver: SolverReport
    diagnosis: Diagnosis | None = None
    message: str = ""
    certificate: dict[str, Any] | None = None
    """How a reader checks a greedy-path allocation by hand (:mod:`optimizer.certificate`)."""
    ties: tuple[Tie, ...] = ()
    """Every tie the tie-break order decided (or, status ``tie``, refused to decide)."""
    overrides: tuple[OverrideNote, ...] = ()
    """The scenario's overrides, each with the method's own units for that recipient."""
    checks: tuple[Verdict, ...] = ()
    """Paradox checks with verdicts, when the caller asked for them (:mod:`optimizer.paradox`)."""

    def to_dict(self) -> dict[str, Any]:
        """The result contract (docs/contract.md) as plain JSON values."""
        with cyclic_gc_paused():
            return self._to_dict()

    def _to_dict(self) -> dict[str, Any]:
        allocations = self.allocations
        data = asdict(replace(self, allocations=()))  # asdict deep-copies: slow per recipient
        data["allocations"] = Allocations.of(allocations).dicts()
        data["status"] = str(self.status)
        data["scenario"] = {"name": self.scenario, "hash": self.scenario_hash}
        del data["scenario_hash"]
        data["checks"] = [asdict(v) for v in self.checks]
        data["overrides"] = [asdict(o) for o in self.overrides]
        data["ties"] = [
            {**asdict(t), "given": list(t.given), "passed": list(t.passed)} for t in self.ties
        ]
        if data["diagnosis"] is not None:
            for item in data["diagnosis"]["relax"]:
                item["recipients"] = list(item["recipients"])
        return data
