"""Infeasibility diagnosis: the smallest set of bounds/rules to relax, and by how much.

Constraint *families* are the floors, the caps and each rule. The smallest set is found by
trying sets of increasing size (removing a family entirely) until the scenario becomes
feasible; among sets of that size the one needing the least relaxation wins (then the
first in scenario order). The amount for each family is an elastic relaxation: with the
rest of the set removed, minimise how far that family must give (units below floors, above
caps, short of a group minimum...), which is itself a small allocation problem solved by
the same engine.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np

from optimizer.apportion import greedy
from optimizer.compile import build_program
from optimizer.entitlement import FloatArray, IntArray
from optimizer.model import IntegerProgram
from optimizer.result import Diagnosis, Relaxation, Status
from optimizer.rules import change_limit
from optimizer.scenario import ChangeLimitRule, GradeOrderRule, GroupRule, Scenario

MAX_SET = 3
_TIME_LIMIT_S = 30.0


@dataclass(frozen=True)
class _Family:
    key: str  # "floors", "caps" or "rules[i]"
    label: str
    kind: str


@dataclass(frozen=True)
class _ElasticCost:
    """Unit costs that count violations: -1 for each unit up to ``want_lo`` (units short of a
    lower bound) and +1 for each unit from ``want_hi`` on (units over an upper bound)."""

    quota: FloatArray
    want_lo: IntArray
    want_hi: IntArray
    rank: IntArray

    def primary(self, i: IntArray, k: IntArray) -> IntArray:
        return np.where(k < self.want_lo[i], -1, np.where(k >= self.want_hi[i], 1, 0)).astype(
            np.int64
        )

    def secondary(self, i: IntArray, k: IntArray) -> IntArray:
        return np.rint((2.0 * (k - self.quota[i]) + 1.0) * 1000).astype(np.int64)

    def tertiary(self, i: IntArray) -> IntArray:
        return self.rank[i]


def diagnose(scenario: Scenario) -> Diagnosis:
    """Explain why ``scenario`` has no allocation (call only when it has none)."""
    families = _families(scenario)
    for size in range(1, min(MAX_SET, len(families)) + 1):
        candidates = []
        for subset in combinations(families, size):
            if _feasible(_without(scenario, subset)):
                relax = tuple(_amount(scenario, f, subset) for f in subset)
                candidates.append((sum(r.amount for r in relax), relax))
        if candidates:
            best = min(candidates, key=lambda c: c[0])[1]
            summary = "infeasible: " + "; ".join(r.message for r in best)
            return Diagnosis(summary=summary, relax=best)
    return Diagnosis(
        summary=f"infeasible: no set of up to {MAX_SET} bounds or rules explains the conflict",
        relax=(),
    )


def _families(scenario: Scenario) -> list[_Family]:
    """Rules first, so that when relaxing a rule or a bound costs the same, the rule (the
    policy choice) is named."""
    out = [_Family(f"rules[{i}]", rule.label, rule.type) for i, rule in enumerate(scenario.rules)]
    if any(r.floor > 0 for r in scenario.recipients):
        out.append(_Family("floors", "floors", "floor"))
    if any(r.cap is not None for r in scenario.recipients):
        out.append(_Family("caps", "caps", "cap"))
    return out


def _without(scenario: Scenario, subset: tuple[_Family, ...]) -> Scenario:
    """The scenario with the families in ``subset`` removed (keys index the original)."""
    keys = {f.key for f in subset}
    recipients = tuple(
        r.model_copy(
            update={
                "floor": 0 if "floors" in keys else r.floor,
                "cap": None if "caps" in keys else r.cap,
            }
        )
        for r in scenario.recipients
    )
    rules = tuple(rule for i, rule in enumerate(scenario.rules) if f"rules[{i}]" not in keys)
    return scenario.model_copy(update={"recipients": recipients, "rules": rules})


def _feasible(scenario: Scenario) -> bool:
    _, _, program = build_program(scenario)
    return _solve(program, stages=0) is not None


def _solve(program: IntegerProgram, *, stages: int) -> IntArray | None:
    if np.any(program.lo > program.hi) or not (
        program.lo.sum() <= program.budget <= program.hi.sum()
    ):
        return None
    if program.is_separable:
        return greedy(program)
    from optimizer import solvers

    outcome = solvers.backend("highs").solve(program, time_limit_s=_TIME_LIMIT_S, stages=stages)
    return outcome.x if outcome.status == Status.OPTIMAL else None


def _amount(scenario: Scenario, family: _Family, subset: tuple[_Family, ...]) -> Relaxation:
    """How far ``family`` must give when the rest of ``subset`` is removed."""
    others = tuple(f for f in subset if f.key != family.key)
    base = _without(scenario, others)
    relaxed = _without(scenario, subset)
    ent, _, program = build_program(relaxed)
    budget = scenario.budget
    ids = ent.ids
    if family.kind in ("floor", "cap", "change_limit"):
        base_ent = build_program(base)[0]
        want_lo, want_hi = program.lo, program.hi
        if family.kind == "floor":
            want_lo = base_ent.floor
        elif family.kind == "cap":
            want_hi = base_ent.cap
        else:
            limit = scenario.rules[int(family.key[6:-1])]
            assert isinstance(limit, ChangeLimitRule)
            want_lo, want_hi = change_limit.bounds(limit, base_ent, budget)
        cost = _ElasticCost(ent.quota, want_lo, want_hi, ent.rank)
        x = _solve(replace(program, cost=cost), stages=1)
        if x is None:  # the relaxed set was feasible a moment ago: only a solver failure
            return Relaxation(
                family.label,
                family.kind,
                0,
                f"relax {family.label} (the amount could not be computed)",
            )
        short = np.maximum(want_lo - x, 0)
        over = np.maximum(x - want_hi, 0)
        amount = int(short.sum() + over.sum())
        who = tuple(ids[i] for i in np.flatnonzero(short + over))
        return Relaxation(
            family.label,
            family.kind,
            amount,
            _bound_message(family, scenario, amount, int(short.sum()), int(over.sum()), who),
            who,
        )
    rule = scenario.rules[int(family.key[6:-1])]
    if isinstance(rule, GroupRule):
        _, _, with_rule = build_program(base)
        row = next(r for r in with_rule.sums if r.label == rule.label)
        members = row.index
        most = _group_extreme(program, members, largest=True)
        least = _group_extreme(program, members, largest=False)
        cap_room = int(program.hi[members].sum())
        floor_need = int(program.lo[members].sum())
        if row.lower is not None and most < row.lower:
            what = "caps" if most == min(cap_room, budget) else "the other bounds and rules"
            return Relaxation(
                rule.label,
                "group_min",
                row.lower - most,
                f"{rule.label} {_group_bound_text(rule, True)} conflicts with "
                f"{what}: at most {most:,} units possible, {row.lower:,} "
                "required",
            )
        assert row.upper is not None
        what = "floors" if least == floor_need else "the other bounds and rules"
        return Relaxation(
            rule.label,
            "group_max",
            least - row.upper,
            f"{rule.label} {_group_bound_text(rule, False)} conflicts with "
            f"{what}: at least {least:,} units required, at most "
            f"{row.upper:,} allowed",
        )
    assert isinstance(rule, GradeOrderRule)
    return Relaxation(
        rule.label,
        "grade_order",
        0,
        f"{rule.label} cannot hold together with the floors, caps and other "
        "rules: drop it or relax the bounds of the recipients it ties",
    )


def _group_extreme(program: IntegerProgram, members: IntArray, *, largest: bool) -> int:
    """The most (or fewest) units the group can get under everything else."""
    want_lo = np.zeros(program.size, dtype=np.int64)
    want_hi = np.full(program.size, program.budget, dtype=np.int64)
    if largest:
        want_lo[members] = program.hi[members]
    else:
        want_hi[members] = program.lo[members]
    cost = _ElasticCost(
        program.cost.quota, want_lo, want_hi, program.cost.tertiary(np.arange(program.size))
    )
    x = _solve(replace(program, cost=cost), stages=1)
    if x is None:  # only a solver failure: fall back to the bound the members allow
        return int((program.hi if largest else program.lo)[members].sum())
    return int(x[members].sum())


def _group_bound_text(rule: GroupRule, lower: bool) -> str:
    parts = [
        (k, getattr(rule, k))
        for k in (("min_share", "min_units") if lower else ("max_share", "max_units"))
    ]
    return " ".join(f"{k} {v:g}" for k, v in parts if v is not None)


def _bound_message(
    family: _Family, scenario: Scenario, amount: int, short: int, over: int, who: tuple[str, ...]
) -> str:
    budget = scenario.budget
    names = ", ".join(who[:5]) + (f" and {len(who) - 5} more" if len(who) > 5 else "")
    if family.kind == "floor":
        total = sum(r.floor for r in scenario.recipients)
        if total > budget:
            return (
                f"sum of floors is {total:,} > budget {budget:,}: lower floors by "
                f"{amount:,} units in total ({names})"
            )
        return f"floors conflict with the rules: lower floors by {amount:,} units ({names})"
    if family.kind == "cap":
        caps = [r.cap for r in scenario.recipients]
        if all(c is not None for c in caps) and sum(c for c in caps if c is not None) < budget:
            total = sum(c for c in caps if c is not None)
            return (
                f"sum of caps is {total:,} < budget {budget:,}: raise caps by "
                f"{amount:,} units in total ({names})"
            )
        return f"caps conflict with the rules: raise caps by {amount:,} units ({names})"
    rule = scenario.rules[int(family.key[6:-1])]
    assert isinstance(rule, ChangeLimitRule)
    parts = []
    if short:
        parts.append(f"{short:,} units more decrease")
    if over:
        parts.append(f"{over:,} units more increase")
    return f"{rule.label} must allow {' and '.join(parts)} than it does ({names})"
