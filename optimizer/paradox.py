"""Checks with verdicts: the known pathologies of apportionment, tested on one run.

- **quota**: every recipient within its quota rounded down and up (``floor(q) <= x <=
  ceil(q)``); who is outside, and the bound or rule that put it there (divisor methods may
  leave it by themselves).
- **budget monotonicity** (the Alabama paradox): one unit more, and 1% more, must not give
  anyone fewer units.
- **score monotonicity** (the population paradox): a recipient whose score rises by 1%,
  all else equal, must not get fewer units.

Each is ``holds``, ``fails`` with the counterexample, or ``not applicable`` with the reason.
They re-solve the scenario a few times (2 for the budget, one per recipient for the scores,
for runs of up to :data:`MAX_SCORE_CHECKS` recipients), with the run's own rules in force.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from optimizer.result import Result, Status, Verdict
from optimizer.scenario import Scenario

MAX_SCORE_CHECKS = 60
"""Runs of up to this many recipients (the 60 programmes) have each score raised in turn."""
MAX_RECIPIENTS = 10_000
"""Above this, only the quota check runs (each other check is a solve of the whole run)."""
SCORE_STEP = 0.01
"""The relative rise of a score in the score-monotonicity check."""

Solver = Callable[[Scenario], Result]


def paradox_checks(scenario: Scenario, result: Result, solver: Solver) -> tuple[Verdict, ...]:
    """The verdicts for ``result`` (a solve of ``scenario``); ``solver`` re-solves variants
    the same way (same backend and limits)."""
    if result.status != Status.OPTIMAL:
        reason = f"the run has no optimal allocation (status {result.status})"
        return tuple(
            Verdict(name, "not applicable", reason)
            for name in ("quota", "budget_monotonicity", "score_monotonicity")
        )
    out = [_quota(result, scenario.objective.resolved_method)]
    if len(scenario.recipients) > MAX_RECIPIENTS:
        reason = f"more than {MAX_RECIPIENTS:,} recipients: each check is another full solve"
        out.append(Verdict("budget_monotonicity", "not applicable", reason))
        out.append(Verdict("score_monotonicity", "not applicable", reason))
        return tuple(out)
    out.append(_budget(scenario, result, solver))
    out.append(_scores(scenario, result, solver))
    return tuple(out)


def _quota(result: Result, method: str | None) -> Verdict:
    outside = [
        a for a in result.allocations if not math.floor(a.quota) <= a.units <= math.ceil(a.quota)
    ]
    if not outside:
        return Verdict("quota", "holds", "every recipient is within its quota rounded down and up")
    parts = []
    for a in outside[:5]:
        if a.binding:
            why = ", ".join(a.binding)
        elif method in (None, "hamilton"):  # largest remainders stay within quota by design
            why = "bounds and rules on others moved their units here"
        else:
            why = f"{method} itself: divisor methods may leave the quota"
        parts.append(f"{a.id} {a.units:,} units for a quota of {a.quota:,.2f} ({why})")
    more = f" and {len(outside) - 5} more" if len(outside) > 5 else ""
    return Verdict("quota", "fails", "outside their quota: " + "; ".join(parts) + more)


def _budget(scenario: Scenario, result: Result, solver: Solver) -> Verdict:
    units = {a.id: a.units for a in result.allocations}
    budgets = sorted({scenario.budget + 1, scenario.budget + math.ceil(scenario.budget / 100)})
    tried = []
    for budget in budgets:
        grown = solver(scenario.model_copy(update={"budget": budget}))
        if grown.status != Status.OPTIMAL:
            continue
        tried.append(budget)
        for a in grown.allocations:
            if a.units < units[a.id]:
                return Verdict(
                    "budget_monotonicity",
                    "fails",
                    f"Alabama paradox: {a.id} gets {units[a.id]:,} units with a budget of "
                    f"{scenario.budget:,} but {a.units:,} with {budget:,}",
                )
    if not tried:
        return Verdict(
            "budget_monotonicity",
            "not applicable",
            f"no optimal allocation at a budget of {budgets[0]:,} or {budgets[-1]:,}",
        )
    shown = " and ".join(f"{b:,}" for b in tried)
    return Verdict(
        "budget_monotonicity", "holds", f"nobody gets fewer units with a budget of {shown}"
    )


def _scores(scenario: Scenario, result: Result, solver: Solver) -> Verdict:
    units = {a.id: a.units for a in result.allocations}
    recipients = scenario.recipients
    if any(r.criteria is not None for r in recipients):
        return Verdict(
            "score_monotonicity", "not applicable", "scores come from criteria (raise those)"
        )
    if len(recipients) > MAX_SCORE_CHECKS:
        return Verdict(
            "score_monotonicity",
            "not applicable",
            f"more than {MAX_SCORE_CHECKS} recipients: each would be another solve",
        )
    checked = 0
    for k, rec in enumerate(recipients):
        raised = rec.model_copy(update={"score": rec.score * (1 + SCORE_STEP)})
        variant = scenario.model_copy(
            update={"recipients": (*recipients[:k], raised, *recipients[k + 1 :])}
        )
        answer = solver(variant)
        if answer.status != Status.OPTIMAL:
            continue
        checked += 1
        now = next(a.units for a in answer.allocations if a.id == rec.id)
        if now < units[rec.id]:
            return Verdict(
                "score_monotonicity",
                "fails",
                f"population paradox: {rec.id} gets {units[rec.id]:,} units with a score of "
                f"{rec.score:g} but {now:,} with {raised.score:g} (everything else equal)",
            )
    if checked == 0:
        return Verdict("score_monotonicity", "not applicable", "no raised score had an optimum")
    return Verdict(
        "score_monotonicity",
        "holds",
        f"no recipient gets fewer units when its score rises by {SCORE_STEP:.0%}",
    )
