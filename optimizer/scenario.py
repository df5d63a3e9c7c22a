"""The validated, immutable scenario (the contract of docs/contract.md) and its content hash.

``Scenario.from_data`` turns already-parsed data (dicts and lists, after ``extends`` and
recipient files were resolved by :mod:`optimizer.loading`) into a frozen model, reporting
*every* problem with its field path in one :class:`~optimizer.errors.InputError`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_serializer,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from optimizer.collector import cyclic_gc_paused
from optimizer.criteria import Scores, Weights, with_composite_scores
from optimizer.errors import InputError, Problem
from optimizer.exact import MAX_BUDGET
from optimizer.plan_rules import (
    BiproportionalRule,
    ComponentsRule,
    EligibilityRule,
    GradeIncrementRule,
    GradeQuotaRule,
    Hard,
    TwoStageRule,
    plan_problems,
)
from optimizer.recipients import RecipientColumns, RecipientTable, recipient_table

METHOD_ALIASES: Mapping[str, str] = {
    "hamilton": "hamilton",
    "largest-remainder": "hamilton",
    "jefferson": "jefferson",
    "dhondt": "jefferson",
    "d'hondt": "jefferson",
    "webster": "webster",
    "sainte-lague": "webster",
    "sainte-laguë": "webster",
    "huntington-hill": "huntington-hill",
    "adams": "adams",
    "dean": "dean",
    "harmonic": "dean",
    "quota": "quota",
    "balinski-young": "quota",
}
Method = Literal["hamilton", "jefferson", "webster", "huntington-hill", "adams", "dean", "quota"]
Backend = Literal["auto", "greedy", "cbc", "cp-sat", "highs"]


MAX_MAGNITUDE = 1e15
"""Largest score, weight or unit value: entitlements and amounts stay finite numbers."""
MAX_MULTIPLIER = 1e6
"""Largest grade multiplier or change limit fraction."""
MAX_NAME = 500
"""Longest scenario or recipient name (ids: 200)."""


def _not_bool_or_text(value: Any) -> Any:
    """Booleans and text are not numbers (YAML's ``true`` or a quoted ``"1200"``)."""
    if isinstance(value, bool | str):
        raise PydanticCustomError("int_type", "must be a whole number")
    return value


WholeNumber = Annotated[int, BeforeValidator(_not_bool_or_text)]
"""A whole number: ``1200`` or ``1.2e3``, never ``true``, ``"1200"`` or ``2.5``."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class _Relaxable(_Frozen, Hard):
    """A rule the diagnosis may suggest relaxing, unless it is ``hard`` (the law fixes it)."""


class Unit(_Frozen):
    """Display unit of one budget unit, e.g. ``100M KRW``; never affects the allocation."""

    label: str = Field(default="unit", max_length=100)
    value: float = Field(default=1.0, gt=0, le=MAX_MAGNITUDE, strict=True)


TagValue = str | int | float | bool


class Recipient(_Frozen):
    """One region, programme or firm that receives whole units."""

    id: str = Field(min_length=1, max_length=200)
    name: str | None = Field(default=None, max_length=MAX_NAME)
    score: float = Field(gt=0, le=MAX_MAGNITUDE, strict=True)
    weight: float = Field(default=1.0, ge=0, le=MAX_MAGNITUDE, strict=True)
    floor: WholeNumber = Field(default=0, ge=0, le=MAX_BUDGET)
    cap: WholeNumber | None = Field(default=None, ge=0, le=MAX_BUDGET)
    previous: float | None = Field(default=None, ge=0, le=MAX_BUDGET, strict=True)
    tags: dict[Annotated[str, Field(max_length=200)], Annotated[str, Field(max_length=200)]] = (
        Field(default_factory=dict)
    )
    criteria: Scores | None = None
    """Per-criterion scores; ``score`` is then their weighted average (see
    :mod:`optimizer.criteria`)."""
    hard: bool = False
    """True: its floor and cap are fixed (the diagnosis never suggests relaxing them)."""

    @model_serializer(mode="wrap")
    def _without_derived(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Leave out what is not given: no ``criteria`` key without criteria (so scenarios
        without them keep their content hash), and no ``score`` where it is computed from
        criteria (so that the normalised form validates again after a criterion changed)."""
        data: dict[str, Any] = handler(self)
        if not self.hard:
            data.pop("hard", None)
        if self.criteria is None:
            data.pop("criteria", None)
        else:
            data.pop("score", None)
        return data

    @field_validator("id")
    @classmethod
    def _id_is_trimmed(cls, value: str) -> str:
        if value.strip() != value or not value:
            raise ValueError("must not be empty or start/end with spaces")
        return value

    @field_validator("cap")
    @classmethod
    def _cap_at_least_floor(cls, value: int | None, info: Any) -> int | None:
        floor = info.data.get("floor")
        if value is not None and isinstance(floor, int) and value < floor:
            raise ValueError(f"must be >= floor ({floor})")
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_as_text(cls, value: Any) -> Any:
        if type(value) is dict and all(type(v) is str for v in value.values()):
            return value  # already text (keys are checked as str by the field type)
        if isinstance(value, Mapping):
            return {
                str(k): (str(v).lower() if isinstance(v, bool) else _tag_text(v))
                for k, v in value.items()
            }
        return value

    @property
    def label(self) -> str:
        """The display name: ``name`` when given, else ``id``."""
        return self.name or self.id


def _tag_text(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return value


class Grade(_Frozen):
    """A score band: recipients scoring at least ``min_score`` get this grade (best band first)."""

    grade: str = Field(min_length=1)
    min_score: float
    multiplier: float = Field(default=1.0, gt=0, le=MAX_MULTIPLIER, strict=True)


class Objective(_Frozen):
    """What the allocation optimises; ``method`` applies to ``proportional`` only."""

    kind: Literal["proportional", "weighted", "maxmin"] = "proportional"
    method: Method | None = None

    @field_validator("method", mode="before")
    @classmethod
    def _canonical_method(cls, value: Any) -> Any:
        if isinstance(value, str):
            key = value.strip().lower().replace("_", "-").replace(" ", "-")
            if key not in METHOD_ALIASES:
                names = ", ".join(sorted(METHOD_ALIASES))
                raise ValueError(f"unknown method {value!r} (one of: {names})")
            return METHOD_ALIASES[key]
        return value

    @property
    def resolved_method(self) -> Method | None:
        """The apportionment method in force: hamilton by default for ``proportional``."""
        if self.kind != "proportional":
            return None
        return self.method or "hamilton"


_GROUP_BOUNDS = ("min_share", "max_share", "min_units", "max_units")


class GroupRule(_Relaxable):
    """Bounds on the units (or budget share) of all recipients with ``tags[tag] == value``."""

    type: Literal["group"]
    name: str | None = Field(default=None, max_length=MAX_NAME)
    tag: str = Field(min_length=1)
    value: str
    min_share: float | None = Field(default=None, ge=0, le=1, strict=True)
    max_share: float | None = Field(default=None, ge=0, le=1, strict=True)
    min_units: WholeNumber | None = Field(default=None, ge=0, le=MAX_BUDGET)
    max_units: WholeNumber | None = Field(default=None, ge=0, le=MAX_BUDGET)

    @field_validator("value", mode="before")
    @classmethod
    def _value_as_text(cls, value: Any) -> Any:
        return str(value).lower() if isinstance(value, bool) else _tag_text(value)

    @field_validator("max_share")
    @classmethod
    def _share_order(cls, value: float | None, info: Any) -> float | None:
        low = info.data.get("min_share")
        if value is not None and low is not None and value < low:
            raise ValueError(f"must be >= min_share ({low})")
        return value

    @field_validator("max_units")
    @classmethod
    def _units_order(cls, value: int | None, info: Any) -> int | None:
        low = info.data.get("min_units")
        if value is not None and low is not None and value < low:
            raise ValueError(f"must be >= min_units ({low})")
        return value

    @model_validator(mode="after")
    def _some_bound(self) -> GroupRule:
        if all(getattr(self, k) is None for k in _GROUP_BOUNDS):
            raise ValueError("a group rule needs at least one of " + ", ".join(_GROUP_BOUNDS))
        return self

    @property
    def label(self) -> str:
        return self.name or f"group {self.tag}={self.value}"


class GradeOrderRule(_Relaxable):
    """A better grade never gets fewer units per unit of weight than a worse grade."""

    type: Literal["grade_order"]
    name: str | None = Field(default=None, max_length=MAX_NAME)

    @property
    def label(self) -> str:
        return self.name or "grade_order"


class ChangeLimitRule(_Relaxable):
    """Each recipient with a ``previous`` allocation moves at most this fraction down / up."""

    type: Literal["change_limit"]
    name: str | None = Field(default=None, max_length=MAX_NAME)
    max_decrease: float | None = Field(default=None, ge=0, le=1, strict=True)
    max_increase: float | None = Field(default=None, ge=0, le=MAX_MULTIPLIER, strict=True)

    @model_validator(mode="after")
    def _one_limit(self) -> ChangeLimitRule:
        if self.max_decrease is None and self.max_increase is None:
            raise ValueError("a change_limit rule needs max_decrease, max_increase or both")
        return self

    @property
    def label(self) -> str:
        return self.name or "change_limit"


Rule = Annotated[
    GroupRule
    | GradeOrderRule
    | ChangeLimitRule
    | BiproportionalRule
    | EligibilityRule
    | GradeQuotaRule
    | GradeIncrementRule
    | TwoStageRule
    | ComponentsRule,
    Field(discriminator="type"),
]
RULE_TYPES = (
    "group",
    "grade_order",
    "change_limit",
    "biproportional",
    "eligibility",
    "grade_quota",
    "grade_increments",
    "two_stage",
    "components",
)


class Override(_Frozen):
    """A committee's decision on one recipient's units (``units``, or ``min``/``max``),
    replacing its floor and cap and every bound a rule sets on it, with the reason and
    who decided; results show it beside what the method alone gives."""

    id: str = Field(min_length=1, max_length=200)
    units: WholeNumber | None = Field(default=None, ge=0, le=MAX_BUDGET)
    min: WholeNumber | None = Field(default=None, ge=0, le=MAX_BUDGET)
    max: WholeNumber | None = Field(default=None, ge=0, le=MAX_BUDGET)
    reason: str = Field(min_length=1, max_length=1000)
    author: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_kind(self) -> Override:
        if self.units is not None and (self.min is not None or self.max is not None):
            raise ValueError("give units, or min and/or max, not both")
        if self.units is None and self.min is None and self.max is None:
            raise ValueError("an override needs units, min or max")
        if self.min is not None and self.max is not None and self.max < self.min:
            raise ValueError(f"max ({self.max}) must be >= min ({self.min})")
        return self

    @property
    def bounds(self) -> tuple[int | None, int | None]:
        """(lower, upper) units it sets; None leaves that side to the floor or cap."""
        if self.units is not None:
            return self.units, self.units
        return self.min, self.max


class TieBreak(_Frozen):
    """How units that tie are decided (:mod:`optimizer.ties`): by a documented ``order``
    (larger entitlement first then id, or id, or a list of ids first), by a recorded ``lot``
    (``seed``), or not at all (``refuse``: status ``tie``)."""

    kind: Literal["order", "lot", "refuse"] = "order"
    by: Literal["entitlement", "id"] | tuple[str, ...] = "entitlement"
    seed: WholeNumber | None = Field(default=None, ge=0, le=2**63 - 1)

    @model_validator(mode="after")
    def _fields_of_kind(self) -> TieBreak:
        if self.kind == "lot" and self.seed is None:
            raise ValueError("a lot needs a seed (any whole number, recorded with the run)")
        if self.kind != "lot" and self.seed is not None:
            raise ValueError(f"seed only applies to kind lot (kind is {self.kind})")
        if self.kind != "order" and self.by != "entitlement":
            raise ValueError(f"by only applies to kind order (kind is {self.kind})")
        return self

    @property
    def text(self) -> str:
        """The policy in words, as results name it."""
        if self.kind == "lot":
            return f"lot (seed {self.seed})"
        if self.kind == "refuse":
            return "refuse"
        if isinstance(self.by, tuple):
            return "order: " + ", ".join(self.by) + ", then larger entitlement, then id"
        return "order: by id" if self.by == "id" else "order: larger entitlement, then id"


class SolverOptions(_Frozen):
    """Which backend to use and how long it may run."""

    backend: Backend = "auto"
    time_limit_s: float = Field(default=30.0, gt=0, le=86_400, strict=True)


class Scenario(_Frozen):
    """A validated allocation problem. Build it with :meth:`from_data`, not the constructor."""

    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str | None = Field(default=None, max_length=10 * MAX_NAME)
    budget: WholeNumber = Field(gt=0, le=MAX_BUDGET)
    unit: Unit = Field(default_factory=Unit)
    recipients: tuple[Recipient, ...]
    criteria: Weights | None = None
    """Named evaluation criteria and their weights (:mod:`optimizer.criteria`)."""
    grades: tuple[Grade, ...] = ()
    objective: Objective = Field(default_factory=Objective)
    rules: tuple[Rule, ...] = ()
    solver: SolverOptions = Field(default_factory=SolverOptions)
    tie_break: TieBreak | None = None
    """How tied units are decided; None: the default order (and left out of the hash)."""
    overrides: tuple[Override, ...] | None = None
    """Committee decisions on single recipients (:class:`Override`)."""
    hard: tuple[Literal["floors", "caps"], ...] | None = None
    """Scenario-wide: every recipient's floor (and/or cap) is fixed; the diagnosis never
    suggests relaxing them (per recipient: ``Recipient.hard``)."""

    @classmethod
    def from_data(cls, data: Any) -> Scenario:
        """Validate parsed data; raise :class:`InputError` listing every problem found."""
        if not isinstance(data, Mapping):
            raise InputError(
                [Problem("", f"a scenario must be a mapping of fields (got {type(data).__name__})")]
            )
        with cyclic_gc_paused():  # a model per recipient: see optimizer.collector
            return cls._from_mapping({k: v for k, v in data.items() if k != "extends"})

    @classmethod
    def _from_mapping(cls, data: dict[str, Any]) -> Scenario:
        given = data.get("recipients")
        if isinstance(given, RecipientColumns) and data.get("criteria") is not None:
            data = {**data, "recipients": given.dicts()}  # scores from criteria: row by row
        raw = data
        data, criteria_problems = with_composite_scores(data)
        rows = data.get("recipients")
        table: RecipientTable | None = None
        row_problems: list[Problem] = []
        slow_rows: list[int] | None = None
        if type(rows) is list and rows:  # validated as columns (optimizer.recipients)
            table, row_problems, slow_rows = recipient_table(rows)
            data = {**data, "recipients": ()}
        elif isinstance(rows, RecipientColumns):  # a columnar file's, read as columns
            table, row_problems, slow_rows = rows.validated()
            data = {**data, "recipients": ()}

        problems = _raw_problems(raw, slow_rows)
        problems.extend(criteria_problems)
        try:
            scenario = cls.model_validate(data)
        except ValidationError as exc:
            problems.extend(pydantic_problems(exc))
            problems.extend(row_problems)
            raise InputError(_reported(problems)) from None
        if row_problems:
            problems.extend(row_problems)
            raise InputError(_reported(problems))
        if table is not None:
            scenario = scenario.model_copy(update={"recipients": table})
        if scenario.recipients:
            problems.extend(_cross_problems(scenario))
        if problems:
            raise InputError(_reported(problems))
        return scenario

    @field_serializer("recipients", mode="wrap")
    def _recipient_models(self, value: Any, handler: SerializerFunctionWrapHandler) -> Any:
        """A :class:`RecipientTable` is written as its recipients' dicts, from its columns."""
        return value.dicts() if isinstance(value, RecipientTable) else handler(value)

    @model_serializer(mode="wrap")
    def _without_empty_criteria(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.criteria is None:
            data.pop("criteria", None)
        return data

    @field_validator("criteria")
    @classmethod
    def _criterion_names(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        for name in value or {}:
            if not name.strip() or name.strip() != name or any(c in name for c in ".[]="):
                raise ValueError(
                    f"criterion name {name!r} must be non-empty text without spaces at the "
                    "ends and without '.', '[', ']' or '='"
                )
        return value

    def with_scores(self, scores: Mapping[str, float]) -> Scenario:
        """A copy in which the recipients named in ``scores`` have that score, given directly
        (their criteria scores, if any, are dropped). Not validated: each score must be > 0."""
        if isinstance(self.recipients, RecipientTable):
            return self.model_copy(update={"recipients": self.recipients.with_scores(scores)})
        recipients = tuple(
            r.model_copy(update={"score": float(scores[r.id]), "criteria": None})
            if r.id in scores
            else r
            for r in self.recipients
        )
        return self.model_copy(update={"recipients": recipients})

    def canonical(self) -> dict[str, Any]:
        """The normalised content as plain JSON values, recipients sorted by id (the
        reference :meth:`canonical_text` is tested against)."""
        data = self.model_dump(mode="json", exclude=self._unset_optional())
        data["recipients"] = sorted(data["recipients"], key=lambda r: r["id"])
        return data

    def _unset_optional(self) -> set[str]:
        """Fields added after the hash was fixed, left out of it while unset, so a
        scenario that does not use them keeps its hash."""
        return {name for name in _HASH_WHEN_SET if getattr(self, name) is None}

    def canonical_text(self) -> str:
        """:meth:`canonical` as compact JSON text with sorted keys: what the hash is of.

        The same text as ``json.dumps(self.canonical(), sort_keys=True, ...)`` (the tests
        check it), with each recipient written straight from its fields: no dict per
        recipient, no sorting of their keys (a third of a 100,000-recipient solve)."""
        before, after = self._canonical_frame()
        return before + RecipientTable.of(self.recipients).canonical_rows() + after

    def _canonical_frame(self) -> tuple[str, str]:
        """:meth:`canonical_text` before and after the recipients' objects."""
        data = self.model_dump(mode="json", exclude={"recipients", *self._unset_optional()})
        data["recipients"] = []
        before, after = _CANONICAL_JSON(data).split('"recipients":[]', 1)
        return before + '"recipients":[', "]" + after

    @property
    def content_hash(self) -> str:
        """sha256 of the canonical JSON form (:meth:`canonical_text`, read in pieces):
        formatting, key order and recipient order do not change it; any change of content
        does."""
        before, after = self._canonical_frame()
        digest = hashlib.sha256(before.encode("utf-8"))
        for part in RecipientTable.of(self.recipients).canonical_bytes():
            digest.update(part)
        digest.update(after.encode("utf-8"))
        return "sha256:" + digest.hexdigest()

    def grade_of(self, recipient: Recipient) -> Grade | None:
        """The first (best) grade whose ``min_score`` the recipient reaches."""
        for grade in self.grades:
            if recipient.score >= grade.min_score:
                return grade
        return None


_HASH_WHEN_SET = ("tie_break", "hard", "overrides")


MAX_PROBLEMS = 200
"""The most problems one error lists; past it, a last line counts the rest (a firm-level file
with a bad column would otherwise answer with 100,000 lines)."""


def _reported(problems: Iterable[Problem]) -> list[Problem]:
    """The distinct problems in field order: the first :data:`MAX_PROBLEMS`, then a count."""
    found = sorted(set(problems), key=_problem_order)
    if len(found) <= MAX_PROBLEMS:
        return found
    rest = len(found) - MAX_PROBLEMS
    more = Problem("", f"... and {rest:,} more problem{'s' if rest > 1 else ''} like these")
    return [*found[:MAX_PROBLEMS], more]


def path_text(loc: Sequence[str | int]) -> str:
    """``('recipients', 3, 'cap')`` -> ``recipients[3].cap``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _problem_order(problem: Problem) -> tuple[Any, ...]:
    parts = []
    for token in problem.path.replace("[", ".[").split("."):
        if token.startswith("[") and token[1:-1].isdigit():
            parts.append((0, int(token[1:-1]), ""))
        else:
            parts.append((1, 0, token))
    return (parts, problem.message)


_MESSAGES = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown field",
    "finite_number": "must be a finite number",
}


def pydantic_problems(exc: ValidationError, within: tuple[str | int, ...] = ()) -> list[Problem]:
    """The problems of a pydantic error in Allot's words, at paths under ``within``."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = [*within, *(p for p in err["loc"] if not (isinstance(p, str) and p in RULE_TYPES))]
        kind = err["type"]
        if kind == "union_tag_invalid":
            message = (
                f"unknown rule type {err['input'].get('type')!r} (one of: {', '.join(RULE_TYPES)})"
            )
            loc = [*loc, "type"]
        elif kind == "union_tag_not_found":
            message = f"required field is missing (one of: {', '.join(RULE_TYPES)})"
            loc = [*loc, "type"]
        elif kind in _MESSAGES:
            message = _MESSAGES[kind]
        else:
            message = err["msg"].removeprefix("Value error, ")
            message = message.replace("Input should be", "must be")
            message = message[0].lower() + message[1:]
            given = err.get("input")
            if kind not in ("value_error",) and _is_scalar(given):
                message += f" (got {given!r})"
            if kind == "string_type" and isinstance(given, bool | int | float):
                message += "; put it in quotes to make it text"
        if kind == "finite_number" or (
            isinstance(err.get("input"), float) and not math.isfinite(err["input"])
        ):
            message = "must be a finite number (got " + repr(err.get("input")) + ")"
        problems.append(Problem(path_text(loc), message))
    return problems


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and len(repr(value)) <= 60


def _raw_problems(data: Mapping[str, Any], searched: list[int] | None = None) -> list[Problem]:
    """Checks that need the raw data so they run even when other fields are invalid;
    ``searched``: the only recipients that may hold a non-finite number (the column checks
    of :func:`~optimizer.recipients.recipient_table` cleared the others)."""
    recipients = data.get("recipients")
    if isinstance(recipients, RecipientColumns):  # a columnar file's (its reader refuses inf)
        problems = list(_non_finite({k: v for k, v in data.items() if k != "recipients"}, ()))
        rows = {i: recipients.row(i) for i in searched or ()}
        problems.extend(_non_finite_in_recipients(rows, list(rows)))  # type: ignore[arg-type]
        return problems + _duplicate_ids(recipients.ids)
    if isinstance(recipients, list):
        problems = list(_non_finite({k: v for k, v in data.items() if k != "recipients"}, ()))
        problems.extend(_non_finite_in_recipients(recipients, searched))
    else:
        problems = list(_non_finite(data, ()))
    if isinstance(recipients, list | tuple) and not recipients:
        problems.append(Problem("recipients", "must list at least one recipient"))
    if isinstance(recipients, list):
        if set(map(type, recipients)) == {dict}:  # (a column of ids read in C)
            ids = list(map(dict.get, recipients, repeat("id")))
        else:
            ids = [
                r.get("id") if type(r) is dict or isinstance(r, Mapping) else None
                for r in recipients
            ]
        problems.extend(_duplicate_ids(ids))
    elif recipients is not None and not isinstance(recipients, tuple):
        problems.append(
            Problem("recipients", "must be a list of recipients or {file: path.csv|path.xlsx}")
        )
    return problems


def _duplicate_ids(ids: list[Any]) -> list[Problem]:
    """Each repeated text id after its first, with the row that first has it."""
    problems: list[Problem] = []
    try:
        if len(set(ids)) == len(ids):
            return problems  # every id distinct (no count per id needed)
    except TypeError:  # an unhashable id (a list): counted below among the text ids
        pass
    counts = Counter(i for i in ids if isinstance(i, str))
    if len(counts) == sum(counts.values()):
        return problems  # no duplicate ids
    first: dict[str, int] = {}
    for index, rid in enumerate(ids):
        if isinstance(rid, str) and counts[rid] > 1:
            if rid in first:
                problems.append(
                    Problem(
                        f"recipients[{index}].id",
                        f"duplicate id {rid!r} (also recipients[{first[rid]}])",
                    )
                )
            else:
                first[rid] = index
    return problems


def _non_finite(value: Any, loc: tuple[str | int, ...]) -> Iterator[Problem]:
    """Every inf/nan in the data (``1e400`` parses as inf), even where a field such as a tag
    would otherwise turn it into text. Text, integers and finite numbers are skipped without
    a call each: a firm-level file has millions of them."""
    if isinstance(value, float) and not math.isfinite(value):
        yield Problem(path_text(loc), f"must be a finite number (got {value!r})")
        return
    if isinstance(value, Mapping):
        items: Iterable[tuple[str | int, Any]] = ((str(k), v) for k, v in value.items())
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        return
    plain = _PLAIN_TYPES
    for key, item in items:
        kind = type(item)
        if kind in plain or (kind is float and math.isfinite(item)):
            continue
        yield from _non_finite(item, (*loc, key))


_PLAIN_TYPES = frozenset({str, int, bool, type(None)})


def _non_finite_in_recipients(
    recipients: list[Any], searched: list[int] | None = None
) -> Iterator[Problem]:
    """:func:`_non_finite` over the recipients, where an inf/nan directly in a recipient's
    field needs no search: every field rejects it when validated, with the same message at
    the same path (:func:`_pydantic_problems`). Only containers (tags, criteria, anything
    unexpected) are searched: a tag would otherwise turn inf into the text ``"inf"``."""
    plain, isfinite = _PLAIN_TYPES, math.isfinite
    rows = enumerate(recipients) if searched is None else ((i, recipients[i]) for i in searched)
    for index, rec in rows:
        if type(rec) is not dict:
            yield from _non_finite(rec, ("recipients", index))
            continue
        for key, value in rec.items():
            kind = type(value)
            if kind is dict:  # a flat dict of plain values (the usual tags) needs no search
                for item in value.values():
                    of = type(item)
                    if of not in plain and not (of is float and isfinite(item)):
                        yield from _non_finite(value, ("recipients", index, key))
                        break
            elif kind is list or kind is tuple:
                yield from _non_finite(value, ("recipients", index, key))


def _cross_problems(scenario: Scenario) -> list[Problem]:
    """Checks across fields that are only meaningful on an otherwise valid scenario."""
    problems: list[Problem] = []
    table = RecipientTable.of(scenario.recipients)
    grades = scenario.grades
    for index in range(1, len(grades)):
        if grades[index].min_score >= grades[index - 1].min_score:
            problems.append(
                Problem(
                    f"grades[{index}].min_score",
                    "grades must be listed best first with strictly "
                    f"decreasing min_score ({grades[index - 1].min_score} "
                    f"before {grades[index].min_score})",
                )
            )
    seen: dict[str, int] = {}
    for index, grade in enumerate(grades):
        if grade.grade in seen:
            problems.append(Problem(f"grades[{index}].grade", f"duplicate grade {grade.grade!r}"))
        seen.setdefault(grade.grade, index)
    if grades:
        lowest = min(g.min_score for g in grades)
        for index in np.flatnonzero(table.score < lowest).tolist():
            problems.append(
                Problem(
                    f"recipients[{index}].score",
                    f"{float(table.score[index])} is below every grade's min_score "
                    f"(lowest {lowest}); add a grade for it",
                )
            )
    overridden: set[str] = set()
    ids = set(table.ids) if scenario.overrides or scenario.tie_break else set()
    for index, override in enumerate(scenario.overrides or ()):
        if override.id not in ids:
            problems.append(Problem(f"overrides[{index}].id", f"no recipient {override.id!r}"))
        elif override.id in overridden:
            problems.append(
                Problem(f"overrides[{index}].id", f"{override.id!r} has an override already")
            )
        overridden.add(override.id)
    if scenario.tie_break is not None and isinstance(scenario.tie_break.by, tuple):
        known = ids
        listed: set[str] = set()
        for index, rid in enumerate(scenario.tie_break.by):
            if rid not in known:
                problems.append(Problem(f"tie_break.by[{index}]", f"no recipient {rid!r}"))
            elif rid in listed:
                problems.append(Problem(f"tie_break.by[{index}]", f"{rid!r} listed twice"))
            listed.add(rid)
    if scenario.objective.method is not None and scenario.objective.kind != "proportional":
        problems.append(
            Problem(
                "objective.method",
                f"only applies to kind proportional (kind is {scenario.objective.kind})",
            )
        )
    held: dict[str, set[str | None]] = {}  # the values of each tag a rule names
    for index, rule in enumerate(scenario.rules):
        if isinstance(rule, GroupRule):
            if rule.tag not in held:
                held[rule.tag] = set(table.tag_column(rule.tag))
            if rule.value not in held[rule.tag]:
                problems.append(
                    Problem(
                        f"rules[{index}].value",
                        f"no recipient has tags.{rule.tag} == {rule.value!r}",
                    )
                )
            for key in ("min_units", "max_units"):
                amount = getattr(rule, key)
                if amount is not None and amount > scenario.budget:
                    problems.append(
                        Problem(
                            f"rules[{index}].{key}",
                            f"{amount} is more than the budget ({scenario.budget})",
                        )
                    )
        elif isinstance(rule, GradeOrderRule) and not grades:
            problems.append(Problem(f"rules[{index}].type", "grade_order needs a grades list"))
        elif isinstance(rule, ChangeLimitRule) and all(p is None for p in table.previous):
            problems.append(
                Problem(
                    f"rules[{index}].type",
                    "change_limit needs recipients with a previous allocation",
                )
            )
    problems.extend(plan_problems(scenario))
    if not table.weight.any():
        problems.append(Problem("recipients", "at least one recipient needs weight > 0"))
    labels = Counter(rule.label for rule in scenario.rules)
    for index, rule in enumerate(scenario.rules):
        if labels[rule.label] > 1:
            problems.append(
                Problem(
                    f"rules[{index}].name",
                    f"two rules are both called {rule.label!r}; give each a distinct name",
                )
            )
    return problems


_CANONICAL_JSON = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode
_TEXT = json.encoder.encode_basestring  # a JSON string, as ensure_ascii=False writes it
