"""Budget components (a base by size plus an incentive by evaluation, ...), rounded jointly.

Each component ``c`` has units ``B_c`` (given, or its share of the budget apportioned by
largest remainders) and a basis ``b_ic``; recipient ``i``'s quota in it is
``B_c * b_ic / sum_j b_jc``, exactly. The recipient's quota is the sum over components, and
the engine rounds those sums once (the scenario's objective, floors, caps and rules), so the
budget is spent exactly. Each allocation is then split back into components by a
biproportional apportionment of the component quotas (every recipient's parts sum to its
units, every component's to its units), for the result and the reader.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np

from optimizer.biproportional import Matrix, biproportional
from optimizer.plan_rules import Component, ComponentsRule, part_data
from optimizer.result import Allocation, Result, Status
from optimizer.scenario import Objective, Recipient, Scenario

Engine = Callable[[Scenario], Result]


def part_columns(certificate: Any) -> list[tuple[str, dict[str, int]]]:
    """A components result's parts as table columns: (``component.<name>``, units by
    recipient id), in the rule's order; none for other results. The allocation tables (CLI
    CSV, the service's CSV and Excel, the web view's table) add them after their own."""
    if not isinstance(certificate, Mapping) or certificate.get("kind") != "components":
        return []
    return [
        (f"component.{part.get('name')}", dict(part.get("split") or {}))
        for part in certificate.get("components") or ()
        if isinstance(part, Mapping)
    ]


def component_units(rule: ComponentsRule, budget: int) -> list[int]:
    """Each component's units: as given, or its share of the budget by largest remainders
    (ties to the earlier component)."""
    if all(p.units is not None for p in rule.parts):
        return [int(p.units or 0) for p in rule.parts]
    shares = [Fraction(repr(p.share or 0.0)) for p in rule.parts]
    exact = [budget * s / sum(shares) for s in shares]
    units = [int(q) for q in exact]
    order = sorted(range(len(exact)), key=lambda k: (-(exact[k] - units[k]), k))
    for k in order[: budget - sum(units)]:
        units[k] += 1
    return units


def basis(part: Component, rec: Recipient, multiplier: Fraction) -> Fraction:
    """The recipient's basis in one component, exactly (decimals as written)."""
    weight = Fraction(repr(rec.weight))
    if part.basis == "weight":
        return weight
    if part.basis == "entitlement":
        return weight * Fraction(repr(rec.score)) * multiplier
    criterion = part.basis.removeprefix("criteria.")
    return weight * Fraction(repr((rec.criteria or {}).get(criterion, 0.0)))


def quotas(scenario: Scenario, rule: ComponentsRule) -> list[list[Fraction]]:
    """``q[c][i]``: recipient ``i``'s exact quota in component ``c``."""
    units = component_units(rule, scenario.budget)
    out = []
    for part, total in zip(rule.parts, units, strict=True):
        values = []
        for rec in scenario.recipients:
            grade = scenario.grade_of(rec)
            multiplier = Fraction(repr(grade.multiplier)) if grade is not None else Fraction(1)
            values.append(basis(part, rec, multiplier))
        whole = sum(values)
        out.append([total * v / whole if whole else Fraction(0) for v in values])
    return out


def split(units: int, parts: list[Fraction]) -> list[int]:
    """``units`` in proportion to ``parts`` (largest remainders, ties to the earlier)."""
    whole = sum(parts)
    if units == 0 or whole == 0:
        return [0] * len(parts)
    exact = [units * p / whole for p in parts]
    out = [int(q) for q in exact]
    order = sorted(range(len(exact)), key=lambda k: (-(exact[k] - out[k]), k))
    for k in order[: units - sum(out)]:
        out[k] += 1
    return out


def split_matrix(
    x: list[int], q: list[list[Fraction]], units: list[int]
) -> tuple[list[list[int]], bool]:
    """The allocations split into components so that both margins hold: the biproportional
    apportionment (Webster) of the component quotas to rows ``x`` and columns ``units``;
    where it has no answer (a floor on a recipient with no quota), each allocation split on
    its own. Returns ``cells[c][i]`` and whether both margins hold."""
    n, parts = len(x), len(units)
    denominator = 1
    for column in q:
        for v in column:
            denominator = denominator * v.denominator // math.gcd(denominator, v.denominator)
    cells = [(i, c) for i in range(n) for c in range(parts)]
    matrix = Matrix(
        row=np.array([i for i, _ in cells], dtype=np.int64),
        column=np.array([c for _, c in cells], dtype=np.int64),
        weight=tuple(int(q[c][i] * denominator) for i, c in cells),
        lo=np.zeros(len(cells), dtype=np.int64),
        hi=np.full(len(cells), max(sum(x), 1), dtype=np.int64),
        row_totals=tuple(x),
        column_totals=tuple(units),
    )
    answer = biproportional(matrix, "webster")
    out = [[0] * n for _ in range(parts)]
    if answer.x is not None:
        for (i, c), got in zip(cells, answer.x.tolist(), strict=True):
            out[c][i] = int(got)
        return out, True
    for i in range(n):
        for c, share in enumerate(split(x[i], [q[k][i] for k in range(parts)])):
            out[c][i] = share
    return out, False


def solve_components(scenario: Scenario, rule: ComponentsRule, engine: Engine) -> Result:
    """Round the summed component quotas once through ``engine``; split each allocation
    back into its components in the certificate, and name them in the message. Parts with
    their own method or rules are each rounded on their own (:func:`solve_by_part`)."""
    if rule.by_part:
        return solve_by_part(scenario, rule, engine)
    q = quotas(scenario, rule)
    total = [sum(column) for column in zip(*q, strict=True)]
    if not any(total):
        raise ValueError("every component quota is 0")  # pragma: no cover - validated
    recs = tuple(
        rec.model_copy(update={"weight": float(t), "score": 1.0, "criteria": None})
        for rec, t in zip(scenario.recipients, total, strict=True)
    )
    rules = tuple(r for r in scenario.rules if not isinstance(r, ComponentsRule))
    derived = scenario.model_copy(
        update={"recipients": recs, "grades": (), "rules": rules, "criteria": None}
    )
    result = engine(derived)
    units = component_units(rule, scenario.budget)
    described = " · ".join(
        f"{p.name} {u:,} by {p.basis}" for p, u in zip(rule.parts, units, strict=True)
    )
    message = "; ".join(
        part for part in (f"components: {described}, rounded jointly", result.message) if part
    )
    common: dict[str, Any] = {
        "scenario": scenario.name,
        "scenario_hash": scenario.content_hash,
        "message": message,
    }
    if not result.allocations:
        return replace(result, **common)
    per: dict[str, dict[str, int]] = {p.name: {} for p in rule.parts}
    allocations = []
    cells, both = split_matrix([a.units for a in result.allocations], q, units)
    for i, (rec, a) in enumerate(zip(scenario.recipients, result.allocations, strict=True)):
        for c, part in enumerate(rule.parts):
            per[part.name][rec.id] = cells[c][i]
        grade = scenario.grade_of(rec)
        allocations.append(
            a._replace(score=rec.score, grade=grade.grade if grade is not None else None)
        )
    certificate = {
        "kind": "components",
        "rule": "units = the joint rounding of the sum of each recipient's component quotas; "
        + (
            "each allocation split back biproportionally (Webster): every recipient's parts "
            "sum to its units and every component's to its units"
            if both
            else "each allocation split back by largest remainders of its component quotas "
            "(a component's parts may then differ from its units by rounding)"
        ),
        "components": [
            {"name": p.name, "basis": p.basis, "units": u, "split": per[p.name]}
            for p, u in zip(rule.parts, units, strict=True)
        ],
        "rounding": result.certificate,
    }
    return replace(result, allocations=tuple(allocations), certificate=certificate, **common)


def solve_by_part(scenario: Scenario, rule: ComponentsRule, engine: Engine) -> Result:
    """Each part rounded through ``engine`` on its own (its units, basis, method and rules);
    a recipient's units are the sum of its parts. A part without an allocation makes the
    scenario's answer, the part named."""
    units = component_units(rule, scenario.budget)
    q = quotas(scenario, rule)
    common: dict[str, Any] = {
        "scenario": scenario.name,
        "scenario_hash": scenario.content_hash,
        "budget": scenario.budget,
        "unit": scenario.unit.model_dump(),
    }
    per: dict[str, dict[str, int]] = {}
    rounding: dict[str, Any] = {}
    ties: list[tuple[Any, ...]] = []
    described = []
    status = Status.OPTIMAL
    first: Result | None = None
    for k, (part, total) in enumerate(zip(rule.parts, units, strict=True)):
        method = _part_method(scenario, part)
        rules = len(part.rules or ())
        described.append(
            f"{part.name} {total:,} by {part.basis} ({method}"
            + (f", {rules} rule{'' if rules == 1 else 's'}" if rules else "")
            + ")"
        )
        if total == 0:
            per[part.name] = {rec.id: 0 for rec in scenario.recipients}
            continue
        result = engine(Scenario.from_data(part_data(scenario, rule, k, total)))
        if not result.status.has_allocation:
            return _part_failed(result, part.name, common)
        if result.status != Status.OPTIMAL:
            status = result.status
        first = first or result
        per[part.name] = {a.id: a.units for a in result.allocations}
        rounding[part.name] = result.certificate
        ties.append(result.ties)
    value, budget = scenario.unit.value, scenario.budget
    allocations = []
    for i, rec in enumerate(scenario.recipients):
        got = sum(per[p.name][rec.id] for p in rule.parts)
        grade = scenario.grade_of(rec)
        quota = float(sum(q[c][i] for c in range(len(rule.parts))))
        allocations.append(
            Allocation(
                rec.id,
                rec.label,
                got,
                got * value,
                quota,
                got / budget,
                quota,
                rec.score,
                grade.grade if grade is not None else None,
                (),
            )
        )
    done = tuple(allocations)
    message = "components: " + " · ".join(described) + ", each rounded on its own"
    assert first is not None  # some part has units: the budget is positive
    return replace(
        first,
        status=status,
        allocations=done,
        metrics=_part_metrics(scenario, q, done),
        message=message,
        objective={"kind": scenario.objective.kind, "method": scenario.objective.method},
        certificate={
            "kind": "components",
            "rule": "each component rounded on its own (its method within its rules); a "
            "recipient's units are the sum of its parts",
            "components": [
                {
                    "name": p.name,
                    "basis": p.basis,
                    "units": u,
                    "method": _part_method(scenario, p),
                    "split": per[p.name],
                }
                for p, u in zip(rule.parts, units, strict=True)
            ],
            "rounding": rounding,
        },
        ties=tuple(tie for found in ties for tie in found),
        **common,
    )


def _part_method(scenario: Scenario, part: Component) -> str:
    """How a part rounded on its own is rounded: its method, else the objective's."""
    return str(part.method or scenario.objective.resolved_method or scenario.objective.kind)


def _part_failed(result: Result, part: str, common: dict[str, Any]) -> Result:
    """A part without an allocation: the scenario's answer, the part named."""
    diagnosis = result.diagnosis
    if diagnosis is not None:
        diagnosis = replace(diagnosis, summary=f"component {part}: {diagnosis.summary}")
    message = f"component {part}: {result.message}" if result.message else f"component {part}"
    return replace(
        result, allocations=(), metrics=None, diagnosis=diagnosis, message=message, **common
    )


def _part_metrics(
    scenario: Scenario, q: list[list[Fraction]], allocations: tuple[Allocation, ...]
) -> Any:
    """The usual measures against the summed component quotas."""
    from optimizer.compile import build_program
    from optimizer.explain import metrics

    total = [sum(column) for column in zip(*q, strict=True)]
    recs = tuple(
        rec.model_copy(
            update={"weight": float(t), "score": 1.0, "criteria": None, "floor": 0, "cap": None}
        )
        for rec, t in zip(scenario.recipients, total, strict=True)
    )
    flat = scenario.model_copy(
        update={
            "recipients": recs,
            "grades": (),
            "rules": (),
            "criteria": None,
            "objective": Objective(kind="proportional", method="hamilton"),
        }
    )
    _, _, program = build_program(flat)
    units = {a.id: a.units for a in allocations}
    x = np.array([units[rec.id] for rec in recs], dtype=np.int64)
    return metrics(program, x, "proportional")
