"""Rules that give a scenario the plan's structure: the region x kind matrix
(``biproportional``), and their checks across the scenario.

The models live here, apart from :mod:`optimizer.scenario`, which lists them among its
rule types; the checks take the validated scenario and report problems with field paths,
as the scenario's own checks do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

from optimizer.errors import Problem
from optimizer.exact import MAX_BUDGET

if TYPE_CHECKING:
    from optimizer.scenario import Scenario

CELL_METHODS = ("jefferson", "webster", "huntington-hill", "adams", "dean")
"""The divisor methods a biproportional rule rounds cells by."""

Units = Annotated[int, Field(ge=0, le=MAX_BUDGET)]


class Hard(BaseModel):
    """A rule the diagnosis may suggest relaxing, unless it is ``hard`` (the law fixes it);
    every relaxable rule is one (``optimizer.scenario`` builds its rules on it)."""

    hard: bool = False

    @model_serializer(mode="wrap")
    def _hard_when_set(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """No ``hard`` key unless set, so rules without it keep their content hash."""
        data: dict[str, Any] = handler(self)
        if not self.hard:
            data.pop("hard", None)
        return data


class BiproportionalRule(Hard):
    """Totals on two margins at once: each recipient sits in the cell (``tags[rows]``,
    ``tags[columns]``) of a matrix whose row and column sums are fixed (several may share a
    cell: programmes of one region and kind), and gets ``round(e / (row divisor * column
    divisor))`` (biproportional apportionment). Rows and
    columns without a given total share what the budget leaves by ``margins`` (default: the
    objective's method) in proportion to their cells' entitlements. ``hard``: the margins
    are fixed (by law); an impossible matrix is then diagnosed as the floors and caps to
    relax, never the totals."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    type: Literal["biproportional"]
    name: str | None = None
    rows: str = Field(min_length=1)
    columns: str = Field(min_length=1)
    row_totals: dict[str, Units] = Field(default_factory=dict)
    column_totals: dict[str, Units] = Field(default_factory=dict)
    margins: str | None = None
    """The method for the totals not given (any method, Hamilton included)."""

    @field_validator("row_totals", "column_totals", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {_key_text(k): v for k, v in value.items()}
        return value

    @field_validator("margins", mode="before")
    @classmethod
    def _canonical_margins(cls, value: Any) -> Any:
        return _canonical_method(value)

    @property
    def label(self) -> str:
        return self.name or f"biproportional {self.rows} x {self.columns}"


class EligibilityRule(BaseModel):
    """Recipients scoring below ``min_score`` are excluded: no units, no entitlement, their
    floors and previous allocations set aside."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    type: Literal["eligibility"]
    name: str | None = None
    min_score: float

    @property
    def label(self) -> str:
        return self.name or "eligibility"


class GradeQuotaRule(BaseModel):
    """Grades by rank: at most ``max_count`` recipients get ``grade`` (the best scores among
    those reaching it keep it, the rest fall to the next grade), at least ``min_count`` get
    it (the lowest scores of the better grades fall to it). Recipients tied at the boundary
    are never split: they all take the worse grade."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    type: Literal["grade_quota"]
    name: str | None = None
    grade: str = Field(min_length=1)
    max_count: int | None = Field(default=None, ge=0)
    min_count: int | None = Field(default=None, ge=0)

    @property
    def label(self) -> str:
        return self.name or f"grade_quota {self.grade}"


class GradeIncrementRule(BaseModel):
    """Additive grade increments: each recipient of a grade gets ``units[grade]`` whole units
    more (or fewer, when negative) than its proportional share of what the increments leave
    of the budget (a base plus an evaluation incentive, as the 2013 ladder: B the base, S +25,
    A +10, C -10, D -35)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    type: Literal["grade_increments"]
    name: str | None = None
    units: dict[str, Annotated[int, Field(ge=-MAX_BUDGET, le=MAX_BUDGET)]]
    base: Literal["entitlement", "weight"] = "entitlement"
    """What the rest of the budget is shared by: the entitlements (weight x score x
    multiplier), or the weights alone (equal weights: the same base for everyone)."""

    @property
    def label(self) -> str:
        return self.name or "grade_increments"


GRADING_RULES = (EligibilityRule, GradeQuotaRule, GradeIncrementRule)


class Component(BaseModel):
    """One named part of the budget: ``units`` or a ``share`` of it, divided in proportion
    to ``basis``: ``weight`` (size alone), ``entitlement`` (weight x score x grade
    multiplier) or ``criteria.<name>`` (weight x that criterion's score). A part with its
    own ``method`` or ``rules`` is rounded on its own (every part then is: see
    :class:`ComponentsRule`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = Field(min_length=1)
    units: int | None = Field(default=None, ge=0, le=MAX_BUDGET)
    share: float | None = Field(default=None, ge=0, le=1)
    basis: str = "entitlement"
    method: str | None = None
    """This part's rounding (default: the objective's method)."""
    rules: tuple[dict[str, Any], ...] | None = None
    """This part's rules (group rules over its units, ...), as a scenario's rules."""

    @field_validator("method", mode="before")
    @classmethod
    def _canonical(cls, value: Any) -> Any:
        return _canonical_method(value)

    @model_serializer(mode="wrap")
    def _own_when_set(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """No ``method`` or ``rules`` key unless set: components without them keep their
        content hash."""
        data: dict[str, Any] = handler(self)
        for key in ("method", "rules"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


class ComponentsRule(BaseModel):
    """The budget as named components (a base by size, an incentive by evaluation, ...):
    each recipient's quota is the sum of its quotas in every component, and the sum is
    rounded once, by the objective's method, within floors, caps and the other rules, so
    the budget is spent exactly; the result splits each allocation back into components.

    When a part names its own ``method`` or ``rules``, every part is rounded on its own
    instead (its units by its method within its rules) and a recipient's units are the sum
    of its parts: the budget is still spent exactly, but floors, caps and rules of the
    whole cannot be kept (they are refused; put them in a part's rules)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    type: Literal["components"]
    name: str | None = None
    parts: tuple[Component, ...] = Field(min_length=1)

    @property
    def label(self) -> str:
        return self.name or "components"

    @property
    def by_part(self) -> bool:
        """Whether each part is rounded on its own (a part names a method or rules)."""
        return any(p.method is not None or p.rules is not None for p in self.parts)


def part_data(scenario: Scenario, rule: ComponentsRule, k: int, units: int) -> dict[str, Any]:
    """Part ``k`` as scenario data: the recipients with the part's basis as their
    entitlement (exact decimals as written), its units, method and rules; no floors, caps
    or previous units (they belong to the whole)."""
    part = rule.parts[k]
    criterion = part.basis.removeprefix("criteria.")
    recipients = []
    for rec in scenario.recipients:
        data: dict[str, Any] = {"id": rec.id, "name": rec.label, "tags": dict(rec.tags)}
        if part.basis == "weight":
            data.update(weight=rec.weight, score=1.0)
        elif part.basis == "entitlement":
            data.update(weight=rec.weight, score=rec.score)
        else:
            value = float((rec.criteria or {}).get(criterion, 0.0))
            data.update(weight=rec.weight if value > 0 else 0.0, score=value if value > 0 else 1.0)
        recipients.append(data)
    kind = scenario.objective.kind
    method = part.method or scenario.objective.method
    objective: dict[str, Any] = (
        {"kind": "proportional", "method": method}
        if part.method is not None or kind == "proportional"
        else {"kind": kind}
    )
    out: dict[str, Any] = {
        "name": f"{scenario.name}: {part.name}",
        "budget": units,
        "objective": {k: v for k, v in objective.items() if v is not None},
        "recipients": recipients,
        "rules": list(part.rules or ()),
    }
    if part.basis == "entitlement" and scenario.grades:
        out["grades"] = [g.model_dump(mode="json") for g in scenario.grades]
    return out


def components_rule(scenario: Scenario) -> ComponentsRule | None:
    """The scenario's components rule, if it has one."""
    return next((r for r in scenario.rules if isinstance(r, ComponentsRule)), None)


def _component_problems(scenario: Scenario) -> list[Problem]:
    problems: list[Problem] = []
    for index, rule in enumerate(scenario.rules):
        if not isinstance(rule, ComponentsRule):
            continue
        at = f"rules[{index}]"
        names: set[str] = set()
        for k, part in enumerate(rule.parts):
            where = f"{at}.parts[{k}]"
            if (part.units is None) == (part.share is None):
                problems.append(Problem(where, "give units or share (one of them)"))
            if part.name in names:
                problems.append(Problem(f"{where}.name", f"duplicate component {part.name!r}"))
            names.add(part.name)
            criterion = part.basis.removeprefix("criteria.")
            if part.basis not in ("weight", "entitlement") and (
                not part.basis.startswith("criteria.") or criterion not in (scenario.criteria or {})
            ):
                problems.append(
                    Problem(
                        f"{where}.basis",
                        f"{part.basis!r} is not weight, entitlement or criteria.<name> of a "
                        "criterion the scenario names",
                    )
                )
        by_units = [p.units for p in rule.parts if p.units is not None]
        by_share = [p.share for p in rule.parts if p.share is not None]
        if by_units and by_share:
            problems.append(
                Problem(f"{at}.parts", "give every component units, or every one a share")
            )
        elif by_units and sum(by_units) != scenario.budget:
            problems.append(
                Problem(
                    f"{at}.parts",
                    f"the components' units add up to {sum(by_units):,}, the budget is "
                    f"{scenario.budget:,}",
                )
            )
        elif by_share and abs(sum(by_share) - 1) > 1e-9:
            problems.append(
                Problem(f"{at}.parts", f"the components' shares add up to {sum(by_share):g}, not 1")
            )
        for other, extra in enumerate(scenario.rules):
            if other != index and (extra.type in ("components", "grade_order") or rule.by_part):
                problems.append(
                    Problem(
                        f"rules[{other}].type",
                        f"cannot be combined with the components rule ({at})"
                        + (
                            ": its parts are rounded on their own (a part names a method or "
                            f"rules), so put this rule in the rules of a part ({at}.parts[k]."
                            "rules)"
                            if rule.by_part and extra.type not in ("components", "grade_order")
                            else ""
                        ),
                    )
                )
        if rule.by_part and not problems:
            problems.extend(_part_problems(scenario, rule, at))
    return problems


def _part_problems(scenario: Scenario, rule: ComponentsRule, at: str) -> list[Problem]:
    """Parts rounded on their own: no floors or caps of the whole, and each part a valid
    scenario (its method and rules checked there, reported at the part's path)."""
    from optimizer.components import component_units
    from optimizer.errors import InputError
    from optimizer.scenario import Scenario as ScenarioModel

    problems = [
        Problem(
            f"recipients[{k}].{bound}",
            f"the parts of {at} are rounded on their own (a part names a method or rules), "
            "so a floor or cap of the sum cannot be kept: bound a part with a rule in its "
            "rules instead",
        )
        for k, rec in enumerate(scenario.recipients)
        for bound, value in (("floor", rec.floor), ("cap", rec.cap))
        if value not in (0, None)
    ]
    for k, units in enumerate(component_units(rule, scenario.budget)):
        if units == 0:
            continue
        try:
            ScenarioModel.from_data(part_data(scenario, rule, k, units))
        except InputError as exc:
            problems.extend(
                Problem(f"{at}.parts[{k}].{p.path}", p.message)
                for p in exc.problems
                if p.path.startswith(("rules", "objective"))
            )
    return problems


class TwoStageRule(BaseModel):
    """Two stages in one scenario: the budget is first apportioned to groups (``first``:
    the groups as recipients, with their own scores, bounds, grades, objective and rules;
    ids are the values of tag ``by``), then each group's units to its recipients by
    ``within`` (default: the objective's method) within their own floors and caps."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    type: Literal["two_stage"]
    name: str | None = None
    by: str = Field(min_length=1)
    first: dict[str, Any]
    within: str | None = None

    @field_validator("within", mode="before")
    @classmethod
    def _canonical_within(cls, value: Any) -> Any:
        return _canonical_method(value)

    @property
    def label(self) -> str:
        return self.name or f"two_stage by {self.by}"


def first_stage_data(rule: TwoStageRule, budget: int, name: str) -> dict[str, Any]:
    """The first stage as scenario data: the groups with the scenario's budget."""
    given = {k: v for k, v in rule.first.items() if k not in ("name", "budget", "extends")}
    return {"name": f"{name}: first stage ({rule.by})", "budget": budget, **given}


def _canonical_method(value: Any) -> Any:
    """A method name as the objective reads it (aliases, case and spaces forgiven)."""
    from optimizer.scenario import METHOD_ALIASES

    if isinstance(value, str):
        key = value.strip().lower().replace("_", "-").replace(" ", "-")
        if key not in METHOD_ALIASES:
            names = ", ".join(sorted(METHOD_ALIASES))
            raise ValueError(f"unknown method {value!r} (one of: {names})")
        return METHOD_ALIASES[key]
    return value


def two_stage_rule(scenario: Scenario) -> TwoStageRule | None:
    """The scenario's two_stage rule, if it has one."""
    return next((r for r in scenario.rules if isinstance(r, TwoStageRule)), None)


def _stage_problems(scenario: Scenario) -> list[Problem]:
    from optimizer.errors import InputError
    from optimizer.scenario import Scenario as ScenarioModel

    problems: list[Problem] = []
    for index, rule in enumerate(scenario.rules):
        if not isinstance(rule, TwoStageRule):
            continue
        at = f"rules[{index}]"
        for other, extra in enumerate(scenario.rules):
            if other != index and extra.type not in MATRIX_COMPANIONS:
                problems.append(
                    Problem(
                        f"rules[{other}].type",
                        f"cannot be combined with the two_stage rule ({at}): put first-stage "
                        f"rules in {at}.first.rules (a change_limit here bounds every "
                        "second-stage recipient and is allowed)"
                        + (
                            "; a group rule over the second-stage recipients of every group "
                            "at once is not supported"
                            if extra.type == "group"
                            else ""
                        ),
                    )
                )
        for key in ("name", "budget", "extends"):
            if key in rule.first:
                problems.append(
                    Problem(f"{at}.first.{key}", "set by the scenario, not the first stage")
                )
        try:
            first = ScenarioModel.from_data(first_stage_data(rule, scenario.budget, scenario.name))
        except InputError as exc:
            problems.extend(
                Problem(f"{at}.first" + ("." if p.path else "") + p.path, p.message)
                for p in exc.problems
                if not p.path.startswith(("name", "budget"))
            )
            continue
        groups = {r.id for r in first.recipients}
        held: set[str] = set()
        for k, rec in enumerate(scenario.recipients):
            value = rec.tags.get(rule.by)
            if value is None or value not in groups:
                problems.append(
                    Problem(
                        f"recipients[{k}].tags.{rule.by}",
                        "required: one of the first stage's recipients "
                        f"({', '.join(sorted(groups)[:6])}{', ...' if len(groups) > 6 else ''})"
                        if value is None
                        else f"{value!r} is not a first-stage recipient of {at}",
                    )
                )
            else:
                held.add(value)
        for k, group in enumerate(first.recipients):
            if group.id not in held:
                problems.append(
                    Problem(
                        f"{at}.first.recipients[{k}].id",
                        f"no recipient has tags.{rule.by} == {group.id!r}",
                    )
                )
    return problems


def _key_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def cell_method(scenario: Scenario) -> str:
    """The divisor method a biproportional scenario rounds its cells by (Webster, the
    Zurich standard, when the objective names none)."""
    return scenario.objective.method or "webster"


def biproportional_rule(scenario: Scenario) -> tuple[int, BiproportionalRule] | None:
    """The scenario's biproportional rule and its index, if it has one."""
    for index, rule in enumerate(scenario.rules):
        if isinstance(rule, BiproportionalRule):
            return index, rule
    return None


def plan_problems(scenario: Scenario) -> list[Problem]:
    """What makes a scenario's plan rules unusable, with field paths."""
    return (
        _quota_problems(scenario)
        + _grading_problems(scenario)
        + _matrix_problems(scenario)
        + _stage_problems(scenario)
        + _component_problems(scenario)
    )


def _quota_problems(scenario: Scenario) -> list[Problem]:
    """The Quota method takes floors and caps but no rule, and one step per unit."""
    if scenario.objective.method != "quota":
        return []
    from optimizer.quota_method import MAX_UNITS

    problems = [
        Problem(
            f"rules[{k}].type",
            "the quota method takes floors and caps only (no rules); use a divisor method "
            "or hamilton with rules",
        )
        for k in range(len(scenario.rules))
    ]
    if scenario.budget > MAX_UNITS:
        problems.append(
            Problem(
                "budget",
                f"the quota method gives one unit at a time: at most {MAX_UNITS:,} units "
                f"(got {scenario.budget:,}); count the budget in larger units",
            )
        )
    return problems


def _grading_problems(scenario: Scenario) -> list[Problem]:
    problems: list[Problem] = []
    names = {g.grade for g in scenario.grades}
    seen: dict[str, int] = {}
    for index, rule in enumerate(scenario.rules):
        at = f"rules[{index}]"
        if isinstance(rule, EligibilityRule):
            if "eligibility" in seen:
                problems.append(Problem(f"{at}.type", "only one eligibility rule"))
            seen.setdefault("eligibility", index)
            if all(r.score < rule.min_score for r in scenario.recipients):
                problems.append(
                    Problem(f"{at}.min_score", f"no recipient scores {rule.min_score} or more")
                )
        elif isinstance(rule, GradeQuotaRule | GradeIncrementRule):
            if not scenario.grades:
                problems.append(Problem(f"{at}.type", f"{rule.type} needs a grades list"))
                continue
            if isinstance(rule, GradeQuotaRule):
                if rule.grade not in names:
                    problems.append(Problem(f"{at}.grade", f"no grade called {rule.grade!r}"))
                if rule.max_count is None and rule.min_count is None:
                    problems.append(Problem(at, "a grade_quota needs max_count, min_count or both"))
                elif (
                    rule.max_count is not None
                    and rule.min_count is not None
                    and rule.min_count > rule.max_count
                ):
                    problems.append(
                        Problem(f"{at}.min_count", f"must be <= max_count ({rule.max_count})")
                    )
                key = f"quota {rule.grade}"
            else:
                for grade in rule.units:
                    if grade not in names:
                        problems.append(
                            Problem(f"{at}.units.{grade}", f"no grade called {grade!r}")
                        )
                key = "increments"
            if key in seen:
                problems.append(Problem(at, f"{rule.label} is given twice"))
            seen.setdefault(key, index)
    return problems


MATRIX_COMPANIONS = ("change_limit",)
"""The rules a biproportional or two_stage rule takes beside it: a change limit bounds each
recipient (a cell's programme, a group's recipient) on its own, so it becomes that
recipient's floor and cap, exactly."""

CELL_COMPANIONS = (*MATRIX_COMPANIONS, "eligibility", "grade_quota")
"""A biproportional rule also takes the grading rules that only change entitlements:
``eligibility`` (an excluded programme's cell entitlement is 0, its floor lapses) and
``grade_quota`` (grades by rank set the multipliers), applied before the matrix is
rounded. Grade increments are not: they take units off the budget the totals add up to."""


def _beside_matrix(kind: str, at: str) -> str:
    """Why a rule of ``kind`` cannot sit beside the biproportional rule at ``at``."""
    if kind == "group":
        return (
            f"a group rule cannot be combined with the biproportional rule ({at}): the matrix "
            f"fixes every row's and column's total; give a row or column its total in "
            f"{at}.row_totals or {at}.column_totals, or bound single cells with floors and caps"
        )
    if kind == "grade_order":
        return (
            f"grade_order cannot be combined with the biproportional rule ({at}): each cell's "
            "units follow from its row and column divisors alone"
        )
    if kind == "grade_increments":
        return (
            f"grade_increments cannot be combined with the biproportional rule ({at}): the "
            "increments would come off the budget that the row and column totals add up to"
        )
    return (
        f"cannot be combined with the biproportional rule ({at}): the matrix's totals are its "
        "rules; give cells floors and caps (change_limit, eligibility and grade_quota are "
        "allowed)"
    )


def _matrix_problems(scenario: Scenario) -> list[Problem]:
    found = biproportional_rule(scenario)
    if found is None:
        return []
    index, rule = found
    at = f"rules[{index}]"
    problems: list[Problem] = []
    for other, extra in enumerate(scenario.rules):
        if other != index and extra.type not in CELL_COMPANIONS:
            problems.append(Problem(f"rules[{other}].type", _beside_matrix(extra.type, at)))
    if scenario.objective.kind != "proportional":
        problems.append(
            Problem("objective.kind", f"a biproportional rule needs kind proportional ({at})")
        )
    elif scenario.objective.method not in (None, *CELL_METHODS):
        problems.append(
            Problem(
                "objective.method",
                f"{scenario.objective.method} has no divisors, so it cannot round a matrix "
                f"to two margins ({at}); use one of {', '.join(CELL_METHODS)}",
            )
        )
    if rule.rows == rule.columns:
        problems.append(Problem(f"{at}.columns", "must name another tag than rows"))
        return problems
    values: dict[str, set[str]] = {rule.rows: set(), rule.columns: set()}
    for k, rec in enumerate(scenario.recipients):
        for tag, side in ((rule.rows, "row"), (rule.columns, "column")):
            value = rec.tags.get(tag)
            if value is None:
                problems.append(
                    Problem(
                        f"recipients[{k}].tags.{tag}",
                        f"required: the biproportional rule ({at}) puts each recipient in a "
                        f"{side} by this tag",
                    )
                )
            else:
                values[tag].add(value)
    for field, tag in (("row_totals", rule.rows), ("column_totals", rule.columns)):
        for name, total in getattr(rule, field).items():
            if name not in values[tag]:
                problems.append(
                    Problem(f"{at}.{field}.{name}", f"no recipient has tags.{tag} == {name!r}")
                )
            elif total > scenario.budget:
                problems.append(
                    Problem(
                        f"{at}.{field}.{name}",
                        f"{total} is more than the budget ({scenario.budget})",
                    )
                )
    return problems
