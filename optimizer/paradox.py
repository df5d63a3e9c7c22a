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

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

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
    return quota_verdict(
        [(a.id, a.units, a.quota, tuple(a.binding)) for a in result.allocations], method
    )


Share = tuple[str, int, float, Sequence[str]]
"""A recipient's id, units, quota and what held it (``binding``)."""


def quota_verdict(shares: Sequence[Share], method: str | None) -> Verdict:
    """The quota check from the allocation alone (no solve): who is outside ``floor(q) <= x
    <= ceil(q)``, and the bound or rule that put it there.

    >>> quota_verdict([("a", 3, 2.5, ()), ("b", 1, 1.5, ())], "hamilton").verdict
    'holds'
    >>> print(quota_verdict([("a", 5, 3.2, ("cap",))], None).detail)
    outside their quota: a 5 units for a quota of 3.20 (cap)
    """
    outside = [s for s in shares if not math.floor(s[2]) <= s[1] <= math.ceil(s[2])]
    if not outside:
        return Verdict("quota", "holds", "every recipient is within its quota rounded down and up")
    parts = []
    for rid, units, quota, binding in outside[:5]:
        if binding:
            why = ", ".join(binding)
        elif method in (None, "hamilton"):  # largest remainders stay within quota by design
            why = "bounds and rules on others moved their units here"
        else:
            why = f"{method} itself: divisor methods may leave the quota"
        parts.append(f"{rid} {units:,} units for a quota of {quota:,.2f} ({why})")
    more = f" and {len(outside) - 5} more" if len(outside) > 5 else ""
    return Verdict("quota", "fails", "outside their quota: " + "; ".join(parts) + more)


Point = tuple[Any, Mapping[str, int]]
"""One solved point of a sweep: the swept value and the units per recipient."""


def along_verdict(
    check: str, what: str, lines: Sequence[Sequence[Point]], *, only: str | None = None
) -> Verdict:
    """Monotonicity across a sweep's own points: along each line (the points that differ
    only in the swept ``what``, in rising order), nobody (``only``: that recipient) may get
    fewer units at a higher value. No solve: the sweep's results are the evidence.

    >>> line = [(1000, {"a": 5, "b": 5}), (1001, {"a": 6, "b": 4})]
    >>> print(along_verdict("budget_monotonicity", "budget", [line]).detail)
    Alabama paradox: b gets 5 units with a budget of 1000 but 4 with 1001
    >>> along_verdict("budget_monotonicity", "budget", [line], only="a").verdict
    'holds'
    """
    steps = 0
    for line in lines:
        for (low, before), (high, after) in itertools.pairwise(line):
            steps += 1
            for rid, units in before.items():
                if only is not None and rid != only:
                    continue
                now = after.get(rid)
                if now is not None and now < units:
                    name = "Alabama paradox" if what == "budget" else "population paradox"
                    return Verdict(
                        check,
                        "fails",
                        f"{name}: {rid} gets {units:,} units with a {what} of {low} but "
                        f"{now:,} with {high}",
                    )
    if steps == 0:
        return Verdict(
            check, "not applicable", f"fewer than two optimal points differ only in the {what}"
        )
    whom = "nobody gets" if only is None else f"{only} never gets"
    return Verdict(
        check,
        "holds",
        f"{whom} fewer units at a higher {what} ({steps:,} steps between the sweep's points)",
    )


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
