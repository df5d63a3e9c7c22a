"""The plan's grading: eligibility thresholds, grades by rank with quotas, additive grade
increments. Each is a change of the scenario the engine solves, and of its answer:

- ``eligibility``: recipients below ``min_score`` get weight 0, floor 0, cap 0 and no
  previous allocation, so they take no units and no share of the quotas; their allocation
  says ``excluded: score 58 < 60``;
- ``grade_quota``: grades are assigned by rank (best score first) within the quotas, then
  written back as score thresholds (the lowest score of each grade), which is what the
  engine reads; recipients tied at a boundary all take the worse grade, and the message
  names them;
- ``grade_increments``: the engine allocates ``budget - sum(increments)`` (floors, caps and
  previous allocations shifted by each recipient's increment), and each recipient's units
  are that share plus its increment.

Nothing here solves: :func:`solve_graded` calls back into the engine with the changed
scenario and maps its result back onto the scenario as written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import optimizer
from optimizer.plan_rules import (
    GRADING_RULES,
    EligibilityRule,
    GradeIncrementRule,
    GradeQuotaRule,
)
from optimizer.result import Allocation, Diagnosis, Relaxation, Result, SolverReport, Status
from optimizer.scenario import Grade, GradeOrderRule, Recipient, Scenario


@dataclass(frozen=True)
class Grading:
    """What the rules decided per recipient (in the scenario's order) and the notes that
    explain it."""

    excluded: tuple[str | None, ...]  # the reason, or None for an eligible recipient
    grade: tuple[str | None, ...]
    increment: tuple[int, ...]
    notes: tuple[str, ...]
    thresholds: tuple[float, ...]  # the grades' min_score as the engine reads them


def has_grading(scenario: Scenario) -> bool:
    return any(isinstance(rule, GRADING_RULES) for rule in scenario.rules)


def grading(scenario: Scenario) -> Grading:
    """Eligibility, grades by score then by the quotas' ranks, and increments."""
    recs = scenario.recipients
    rules = scenario.rules
    excluded: list[str | None] = [None] * len(recs)
    notes: list[str] = []
    for rule in rules:
        if isinstance(rule, EligibilityRule):
            out = []
            for k, rec in enumerate(recs):
                if rec.score < rule.min_score:
                    excluded[k] = f"excluded: score {rec.score:g} < {rule.min_score:g}"
                    out.append(rec.id)
            if out:
                notes.append(
                    f"{rule.label}: {len(out)} excluded below {rule.min_score:g} "
                    f"({', '.join(out[:10])}{', ...' if len(out) > 10 else ''})"
                )
    names = [g.grade for g in scenario.grades]
    level = [_band(scenario.grades, rec.score) for rec in recs]
    quotas = [r for r in rules if isinstance(r, GradeQuotaRule)]
    if quotas:
        level = _by_rank(recs, excluded, level, quotas, names, notes)
    grade = [names[g] if 0 <= g < len(names) else None for g in level]
    increments = next((r for r in rules if isinstance(r, GradeIncrementRule)), None)
    increment = tuple(
        0 if increments is None or excluded[k] or g is None else increments.units.get(g, 0)
        for k, g in enumerate(grade)
    )
    thresholds = _thresholds(scenario, recs, excluded, level)
    return Grading(tuple(excluded), tuple(grade), increment, tuple(notes), thresholds)


def _band(grades: tuple[Grade, ...], score: float) -> int:
    for index, grade in enumerate(grades):
        if score >= grade.min_score:
            return index
    return len(grades)


def _by_rank(
    recs: tuple[Recipient, ...],
    excluded: list[str | None],
    level: list[int],
    quotas: list[GradeQuotaRule],
    names: list[str],
    notes: list[str],
) -> list[int]:
    """Apply the quotas best grade first: too many in a grade, the lowest scores fall to
    the next; too few, the lowest scores of the better grades fall to it. A boundary
    through equal scores moves all of them (to the worse grade)."""
    level = list(level)
    active = [k for k in range(len(recs)) if excluded[k] is None]
    limits = {names.index(q.grade): q for q in quotas}
    for g in range(len(names)):
        quota = limits.get(g)
        if quota is None:
            continue
        members = sorted((k for k in active if level[k] == g), key=lambda k: -recs[k].score)
        if quota.max_count is not None and len(members) > quota.max_count and g + 1 < len(names):
            keep = _cut(members, quota.max_count, recs)
            moved = members[keep:]
            for k in moved:
                level[k] = g + 1
            notes.append(_moved_text(quota, recs, moved, names[g + 1], members, keep))
        if quota.min_count is not None:
            members = [k for k in active if level[k] == g]
            need = quota.min_count - len(members)
            if need > 0:
                better = sorted((k for k in active if level[k] < g), key=lambda k: recs[k].score)
                # the lowest scores first; a tie at the cut moves the whole tied group
                take = _take_lowest(better, need, recs)
                for k in take:
                    level[k] = g
                notes.append(
                    f"{quota.label}: at least {quota.min_count} {names[g]}: "
                    + ", ".join(f"{recs[k].id} ({recs[k].score:g})" for k in take)
                    + f" fall{'s' if len(take) == 1 else ''} to {names[g]}"
                    + (
                        " (a tie at the boundary moves every tied score)"
                        if len(take) > need
                        else ""
                    )
                )
    return level


def _cut(members: list[int], count: int, recs: tuple[Recipient, ...]) -> int:
    """How many of ``members`` (best first) keep the grade: ``count``, fewer when the
    boundary falls between equal scores."""
    keep = count
    while 0 < keep < len(members) and recs[members[keep - 1]].score == recs[members[keep]].score:
        keep -= 1
    return keep


def _take_lowest(better: list[int], need: int, recs: tuple[Recipient, ...]) -> list[int]:
    take = better[:need]
    while len(take) < len(better) and recs[better[len(take)]].score == recs[take[-1]].score:
        take.append(better[len(take)])
    return take


def _moved_text(
    quota: GradeQuotaRule,
    recs: tuple[Recipient, ...],
    moved: list[int],
    to: str,
    members: list[int],
    keep: int,
) -> str:
    text = (
        f"{quota.label}: at most {quota.max_count} {quota.grade} by rank: "
        + ", ".join(f"{recs[k].id} ({recs[k].score:g})" for k in moved)
        + f" fall{'s' if len(moved) == 1 else ''} to {to}"
    )
    if keep < (quota.max_count or 0):
        tied = [recs[k].id for k in members[keep:] if recs[k].score == recs[members[keep]].score]
        text += (
            f"; tie at the boundary: {', '.join(tied)} score "
            f"{recs[members[keep]].score:g} and the quota leaves room for "
            f"{(quota.max_count or 0) - keep}, so none of them keeps {quota.grade}"
        )
    return text


def _thresholds(
    scenario: Scenario,
    recs: tuple[Recipient, ...],
    excluded: list[str | None],
    level: list[int],
) -> tuple[float, ...]:
    """Score thresholds that give every eligible recipient its grade: each grade's lowest
    member score (a grade nobody holds: just above the best score, so nobody reaches it).
    Ranks never split equal scores, so the thresholds order the grades as listed."""
    top = max(r.score for r in recs)
    out: list[float] = []
    for g in range(len(scenario.grades)):
        scores = [recs[k].score for k in range(len(recs)) if level[k] == g and not excluded[k]]
        if scores:
            out.append(min(scores))
        else:  # nobody holds it: the next better grade's threshold (or above every score)
            out.append(out[-1] if out else top + 1.0)
    return tuple(out)


def engine_scenario(scenario: Scenario, plan: Grading) -> Scenario | Relaxation:
    """The scenario the engine solves: grades by the thresholds, the excluded out, the
    increments taken off the budget and each recipient's bounds (or why it cannot be)."""
    grades = tuple(
        g.model_copy(update={"min_score": t})
        for g, t in zip(scenario.grades, plan.thresholds, strict=True)
    )
    recs = []
    for rec, out, inc in zip(scenario.recipients, plan.excluded, plan.increment, strict=True):
        if out is not None:
            recs.append(
                rec.model_copy(update={"weight": 0.0, "floor": 0, "cap": 0, "previous": None})
            )
            continue
        floor = max(rec.floor - inc, max(-inc, 0))
        cap = None if rec.cap is None else rec.cap - inc
        if cap is not None and cap < floor:
            return Relaxation(
                constraint="grade_increments",
                kind="cap",
                amount=floor - cap,
                message=f"{rec.id}: its cap {rec.cap:,} is below its grade increment "
                f"({inc:+,}) plus its floor: raise the cap by {floor - cap:,} units",
                recipients=(rec.id,),
            )
        previous = None if rec.previous is None else max(rec.previous - inc, 0.0)
        recs.append(rec.model_copy(update={"floor": floor, "cap": cap, "previous": previous}))
    left = scenario.budget - sum(plan.increment)
    if left <= 0:
        return Relaxation(
            constraint="grade_increments",
            kind="budget",
            amount=1 - left,
            message=f"the grade increments add up to {sum(plan.increment):,} units, the "
            f"budget is {scenario.budget:,}: nothing is left to share ({1 - left:,} short)",
        )
    rules = tuple(r for r in scenario.rules if not isinstance(r, GRADING_RULES))
    by_weight = any(
        isinstance(r, GradeIncrementRule) and r.base == "weight" for r in scenario.rules
    )
    if by_weight:  # the base by weight alone: no scores, no multipliers
        grades = ()
        recs = [r.model_copy(update={"score": 1.0, "criteria": None}) for r in recs]
        rules = tuple(r for r in rules if not isinstance(r, GradeOrderRule))
    return scenario.model_copy(
        update={"grades": grades, "recipients": tuple(recs), "budget": left, "rules": rules}
    )


def solve_graded(scenario: Scenario, engine: Callable[[Scenario], Result]) -> Result:
    """Solve ``scenario`` through ``engine`` with its grading applied, and state the answer
    for the scenario as written (units with their increments, the excluded named)."""
    plan = grading(scenario)
    derived = engine_scenario(scenario, plan)
    if isinstance(derived, Relaxation):
        return Result(
            status=Status.INFEASIBLE,
            scenario=scenario.name,
            scenario_hash=scenario.content_hash,
            budget=scenario.budget,
            unit=scenario.unit.model_dump(),
            objective={
                "kind": scenario.objective.kind,
                "method": scenario.objective.resolved_method,
            },
            allocations=(),
            metrics=None,
            solver=SolverReport("none", optimizer.__version__, "none", 0.0, 0.0, None),
            diagnosis=Diagnosis(summary=f"infeasible: {derived.message}", relax=(derived,)),
            message=f"infeasible: {derived.message}",
        )
    result = engine(derived)
    notes = "; ".join(plan.notes)
    message = "; ".join(part for part in (result.message, notes) if part)
    common = {
        "scenario": scenario.name,
        "scenario_hash": scenario.content_hash,
        "budget": scenario.budget,
        "message": message,
    }
    if not result.allocations:
        return replace(result, **common)  # type: ignore[arg-type]
    value, budget = scenario.unit.value, scenario.budget
    allocations = tuple(
        _restated(a, rec.score, out, grade, inc, value, budget)
        for a, rec, out, grade, inc in zip(
            result.allocations,
            scenario.recipients,
            plan.excluded,
            plan.grade,
            plan.increment,
            strict=True,
        )
    )
    metrics = result.metrics
    if metrics is not None:
        metrics = replace(metrics, total=sum(a.units for a in allocations))
    certificate = result.certificate
    if certificate is not None and any(plan.increment):
        certificate = {**certificate, "before_increments": True}
    return replace(
        result,
        allocations=allocations,
        metrics=metrics,
        certificate=certificate,
        **common,  # type: ignore[arg-type]
    )


def _restated(
    a: Allocation,
    score: float,
    out: str | None,
    grade: str | None,
    inc: int,
    value: float,
    budget: int,
) -> Allocation:
    units = a.units + inc
    binding = (out,) if out else a.binding
    if inc:
        binding = (*binding, f"grade increment {inc:+,}")
    return a._replace(
        units=units,
        amount=units * value,
        quota=a.quota + inc,
        share=units / budget,
        score=score,
        grade=None if out else grade,
        binding=binding,
    )
