"""Sensitivity ("what would it take"): for each recipient, the smallest change of its score,
up and down, holding everything else fixed, that changes its allocation.

The search runs the real solver. Scores are moved on a grid of ``precision`` score points
(default 0.01): from an estimate of the change worth about half a unit of quota, the step is
doubled until the units change (or the limit is reached: the score doubled going up, ``precision``
left going down), then bisected down to one grid step. The reported change ``delta`` is a
multiple of ``precision`` such that, both checked by the solver during the search,

* at ``score ± delta`` the recipient's units differ from its units now, and
* at ``score ± (delta - precision)`` they are the same as now.

It is the *smallest* such change if the units move monotonically with the score between the
two, which holds for the apportionment methods (a recipient's units never fall when its own
score rises and nothing else changes) and, in practice, with rules; a narrow window in which
a rule moves the units and moves them back could be stepped over. Crossing a grade band can
move the units by more than one unit at once: the report gives the units at the new score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from optimizer.errors import InputError, Problem
from optimizer.parallel import Progress, run_tasks
from optimizer.result import Result
from optimizer.scenario import Scenario
from optimizer.solve import solve

__all__ = ["DEFAULT_PRECISION", "Change", "SensitivityReport", "Threshold", "sensitivity"]

DEFAULT_PRECISION = 0.01
"""Score points: the grid the change is searched on."""
Direction = Literal["up", "down"]


@dataclass(frozen=True)
class Change:
    """The recipient's outcome at a changed score (``units`` None: no allocation there)."""

    delta: float
    score: float
    units: int | None
    grade: str | None


@dataclass(frozen=True)
class Threshold:
    """One recipient's current outcome and the smallest change up and down that moves it
    (``None``: no change within the searched range)."""

    id: str
    name: str
    score: float
    grade: str | None
    units: int
    up: Change | None
    down: Change | None


@dataclass(frozen=True)
class SensitivityReport:
    scenario: str
    scenario_hash: str
    precision: float
    baseline: Result
    recipients: tuple[Threshold, ...]

    def to_dict(self) -> dict[str, Any]:
        def change(c: Change | None) -> dict[str, Any] | None:
            return None if c is None else vars(c)

        return {
            "scenario": {"name": self.scenario, "hash": self.scenario_hash},
            "precision": self.precision,
            "recipients": [
                {
                    "id": t.id,
                    "name": t.name,
                    "score": t.score,
                    "grade": t.grade,
                    "units": t.units,
                    "up": change(t.up),
                    "down": change(t.down),
                }
                for t in self.recipients
            ],
        }


@dataclass(frozen=True)
class _Search:
    scenario: Scenario
    id: str
    direction: Direction
    units: int
    quota: float
    precision: float


def _decimals(precision: float) -> int:
    """Decimals to round a change to (0.01 -> 4, 0.25 -> 3), hiding float noise."""
    return max(0, -math.floor(math.log10(precision))) + 2


def _search(task: _Search) -> Change | None:
    """Find the grid step where the units first change (see the module docstring)."""
    scenario, p = task.scenario, task.precision
    score = next(r.score for r in scenario.recipients if r.id == task.id)
    sign = 1 if task.direction == "up" else -1
    digits = _decimals(p)
    limit = math.floor(score / p) if sign > 0 else math.floor((score - p) / p + 1e-9)
    if limit < 1:
        return None
    seen: dict[int, Change] = {}

    def at(k: int) -> Change:
        if k not in seen:
            delta = round(k * p, digits)
            new_score = score + sign * delta
            result = solve(scenario.with_scores({task.id: new_score}), ties=False)
            alloc = next((a for a in result.allocations if a.id == task.id), None)
            seen[k] = Change(
                delta=delta,
                score=new_score,
                units=alloc.units if alloc is not None else None,
                grade=alloc.grade if alloc is not None else None,
            )
        return seen[k]

    def moved(k: int) -> bool:
        return at(k).units != task.units

    # about half a unit of quota: dq/ds is roughly q/s when one recipient is small
    estimate = 0.5 * score / task.quota if task.quota > 0 else score
    step = min(limit, max(1, round(estimate / p)))
    low, high = 0, step
    while not moved(high):
        if high == limit:
            return None
        low, high = high, min(limit, 2 * high)
    while high - low > 1:
        middle = (low + high) // 2
        if moved(middle):
            high = middle
        else:
            low = middle
    return at(high)


def sensitivity(
    scenario: Scenario,
    *,
    precision: float = DEFAULT_PRECISION,
    only: Sequence[str] | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> SensitivityReport | Result:
    """The smallest score change up and down for each recipient (or those in ``only``);
    the baseline :class:`Result` instead when the scenario has no allocation."""
    problems = []
    if not (math.isfinite(precision) and 0 < precision <= 100):
        problems.append(
            Problem("precision", f"must be score points > 0 and <= 100 (got {precision})")
        )
    known = {r.id for r in scenario.recipients}
    problems.extend(
        Problem("only", f"no recipient with id {rid!r}") for rid in only or () if rid not in known
    )
    if problems:
        raise InputError(problems)
    baseline = solve(scenario)
    if not (baseline.status.has_allocation and baseline.allocations):
        return baseline
    chosen = [a for a in baseline.allocations if only is None or a.id in set(only)]
    tasks = [
        _Search(scenario, a.id, direction, a.units, a.quota, precision)
        for a in chosen
        for direction in ("up", "down")
    ]
    found = run_tasks(_search, tasks, jobs=jobs, scheduler=scheduler, progress=progress)
    return SensitivityReport(
        scenario=scenario.name,
        scenario_hash=scenario.content_hash,
        precision=precision,
        baseline=baseline,
        recipients=tuple(
            Threshold(
                id=a.id,
                name=a.name,
                score=a.score,
                grade=a.grade,
                units=a.units,
                up=found[2 * i],
                down=found[2 * i + 1],
            )
            for i, a in enumerate(chosen)
        ),
    )
