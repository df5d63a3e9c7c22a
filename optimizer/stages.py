"""Two-stage allocation: the budget to groups first (regions, by their own scores, bounds
and rules), then each group's units to its recipients (programmes, by ``within``), each
stage solved by the engine; the result explains both stages."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from optimizer.exact import decimal
from optimizer.plan_rules import TwoStageRule, first_stage_data
from optimizer.result import Allocation, Diagnosis, Relaxation, Result, Status
from optimizer.scenario import ChangeLimitRule, Objective, Scenario

Engine = Callable[[Scenario], Result]


def solve_two_stage(scenario: Scenario, rule: TwoStageRule, engine: Engine) -> Result:
    """Solve the first stage, then every group's second stage; an infeasible stage makes
    the scenario infeasible with that stage's diagnosis, named."""
    first = Scenario.from_data(first_stage_data(rule, scenario.budget, scenario.name))
    top = engine(first)
    common: dict[str, Any] = {
        "scenario": scenario.name,
        "scenario_hash": scenario.content_hash,
        "budget": scenario.budget,
    }
    if not top.status.has_allocation:
        return _failed(top, f"first stage ({rule.by})", common)
    within = rule.within or scenario.objective.method
    kind = scenario.objective.kind
    by_group: dict[str, list[int]] = {}
    for k, rec in enumerate(scenario.recipients):
        by_group.setdefault(rec.tags[rule.by], []).append(k)
    allocations: list[Allocation | None] = [None] * len(scenario.recipients)
    # a change limit bounds each recipient on its own: it holds in its group's stage
    limits = tuple(r for r in scenario.rules if isinstance(r, ChangeLimitRule))
    certificates: dict[str, Any] = {}
    status = top.status
    for group in top.allocations:
        members = by_group[group.id]
        recs = tuple(scenario.recipients[k] for k in members)
        if group.units == 0:
            result = _nothing(scenario, recs, group.id, _least(recs, limits))
        else:
            sub = scenario.model_copy(
                update={
                    "name": f"{scenario.name}: {group.id}",
                    "budget": group.units,
                    "recipients": recs,
                    "rules": limits,
                    "objective": Objective.model_validate(
                        {"kind": kind, "method": within if kind == "proportional" else None}
                    ),
                }
            )
            result = engine(sub)
        if not result.status.has_allocation:
            return _failed(result, f"second stage in {group.id} ({group.units:,} units)", common)
        if result.status != Status.OPTIMAL:
            status = result.status
        certificates[group.id] = result.certificate
        value, budget = scenario.unit.value, scenario.budget
        for k, a in zip(members, result.allocations, strict=True):
            allocations[k] = a._replace(share=a.units / budget, amount=a.units * value)
    done = tuple(a for a in allocations if a is not None)
    first_units = {a.id: a.units for a in top.allocations}
    method = first.objective.resolved_method or first.objective.kind
    message = (
        f"two stages: {len(first_units)} {rule.by}s by {method} (first stage), then each "
        f"{rule.by}'s units to its recipients by {within or 'hamilton'}"
    )
    return replace(
        top,
        status=status,
        unit=scenario.unit.model_dump(),  # the first stage's scenario has the default unit
        allocations=done,
        metrics=_metrics(scenario, done),
        message=message,
        objective={"kind": kind, "method": within or scenario.objective.resolved_method},
        certificate={
            "kind": "two_stage",
            "by": rule.by,
            "first": {
                "method": method,
                "units": first_units,
                "certificate": top.certificate,
                "message": top.message,
            },
            "within": certificates,
        },
        **common,
    )


def _least(recs: tuple[Any, ...], limits: tuple[ChangeLimitRule, ...]) -> int:
    """The fewest units ``recs`` can take: their floors, or what a change limit keeps of
    their previous units when that is more (exact decimals, rounded up as the rule is)."""
    total = 0
    for r in recs:
        least = r.floor
        for limit in limits:
            if limit.max_decrease is not None and r.previous is not None:
                kept = decimal(r.previous) * (1 - decimal(limit.max_decrease))
                least = max(least, math.ceil(kept))
        total += least
    return total


def _nothing(scenario: Scenario, recs: tuple[Any, ...], group: str, floors: int) -> Result:
    """A group given no units: its recipients get none (their floors, and what change
    limits keep, cannot be met)."""
    blank = Result(
        status=Status.OPTIMAL if floors == 0 else Status.INFEASIBLE,
        scenario=scenario.name,
        scenario_hash="",
        budget=0,
        unit=scenario.unit.model_dump(),
        objective={},
        allocations=tuple(
            Allocation(r.id, r.label, 0, 0.0, 0.0, 0.0, 0.0, r.score, None, ()) for r in recs
        )
        if floors == 0
        else (),
        metrics=None,
        solver=_empty_report(),
    )
    if floors:
        text = f"{group} gets no units, its recipients' floors (and change limits) need {floors:,}"
        return replace(
            blank,
            diagnosis=Diagnosis(
                f"infeasible: {text}", (Relaxation("floors", "floor", floors, text),)
            ),
            message=text,
        )
    return blank


def _empty_report() -> Any:
    """An empty solver report (nothing was solved)."""
    import optimizer
    from optimizer.result import SolverReport

    return SolverReport("none", optimizer.__version__, "none", 0.0, 0.0, 0.0)


def _failed(result: Result, stage: str, common: dict[str, Any]) -> Result:
    """A stage without an allocation: the scenario's answer, the stage named."""
    diagnosis = result.diagnosis
    if diagnosis is not None:
        diagnosis = replace(diagnosis, summary=f"{stage}: {diagnosis.summary}")
    message = f"{stage}: {result.message}" if result.message else stage
    return replace(
        result, allocations=(), metrics=None, diagnosis=diagnosis, message=message, **common
    )


def _metrics(scenario: Scenario, allocations: tuple[Allocation, ...]) -> Any:
    """The usual measures of the combined allocation against the flat quotas."""
    from optimizer.compile import build_program
    from optimizer.entitlement import entitlements
    from optimizer.explain import metrics

    flat = scenario.model_copy(
        update={"objective": Objective(kind="proportional", method="hamilton"), "rules": ()}
    )
    _, _, program = build_program(flat)
    ent = entitlements(flat)
    units = {a.id: a.units for a in allocations}
    x = np.array([units[i] for i in ent.ids], dtype=np.int64)
    return metrics(program, x, "proportional")
