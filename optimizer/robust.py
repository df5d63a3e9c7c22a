"""Robustness: how much would the allocation move if the evaluation scores were a little off?

Each sample adds independent normal noise (standard deviation ``noise``, in score points) to
every recipient's evaluation score (the composite, when scores come from criteria), clips it
at ``MIN_SCORE`` so that it stays positive, and solves the scenario with those scores, all else
unchanged. The report gives, per recipient, the distribution of its units over the samples
(min, 5th percentile, median, 95th percentile, max; percentiles are sample quantiles, so they
are whole units that some sample really got) and the share of samples in which its grade
differs from its grade without noise.

The noise comes from one ``numpy.random.Generator`` seeded with ``seed``, drawn as one
``samples x recipients`` matrix in the calling process, recipients in ``id`` order: the same
seed gives the same samples, and so the same report, however many processes or Dask workers
solve them and whatever order the recipients are listed in.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from optimizer.errors import InputError, Problem
from optimizer.parallel import Progress, default_jobs, run_tasks
from optimizer.result import Result
from optimizer.scenario import Scenario
from optimizer.solve import solve

__all__ = ["MIN_SCORE", "RecipientSpread", "RobustReport", "robustness"]

MIN_SCORE = 0.01
"""Perturbed scores are clipped at this (scores must stay > 0)."""
MAX_SAMPLES = 1_000_000
PERCENTILES = (5, 50, 95)


@dataclass(frozen=True)
class _Batch:
    """Scores of some samples (rows), recipients in ``ids`` order."""

    scenario: Scenario
    ids: tuple[str, ...]
    scores: npt.NDArray[np.float64]


def _solve_batch(batch: _Batch) -> list[tuple[str, list[int] | None]]:
    """The status and units per recipient (``ids`` order; None: no allocation) for each row
    of scores."""
    out: list[tuple[str, list[int] | None]] = []
    for row in batch.scores:
        scores = dict(zip(batch.ids, row.tolist(), strict=True))
        result = solve(batch.scenario.with_scores(scores), ties=False)
        if result.status.has_allocation and result.allocations:
            units = {a.id: a.units for a in result.allocations}
            out.append((str(result.status), [units[i] for i in batch.ids]))
        else:
            out.append((str(result.status), None))
    return out


@dataclass(frozen=True)
class RecipientSpread:
    """One recipient's units over the solved samples, and how often its grade changed."""

    id: str
    name: str
    score: float
    grade: str | None
    units: int
    min: int
    p5: int
    median: int
    p95: int
    max: int
    mean: float
    p_units_change: float
    p_grade_change: float


@dataclass(frozen=True)
class RobustReport:
    """The baseline result and the spread of each recipient over the samples."""

    scenario: str
    scenario_hash: str
    noise: float
    samples: int
    seed: int
    solved: int
    statuses: dict[str, int]
    baseline: Result
    recipients: tuple[RecipientSpread, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": {"name": self.scenario, "hash": self.scenario_hash},
            "noise": self.noise,
            "samples": self.samples,
            "seed": self.seed,
            "solved": self.solved,
            "without_allocation": self.samples - self.solved,
            "statuses": dict(self.statuses),
            "recipients": [vars(r) for r in self.recipients],
        }


def robustness(
    scenario: Scenario,
    *,
    noise: float,
    samples: int,
    seed: int,
    jobs: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> RobustReport | Result:
    """Solve ``samples`` noisy copies of ``scenario``; the baseline :class:`Result` instead
    of a report when the scenario itself has no allocation (e.g. infeasible)."""
    problems = []
    if not (math.isfinite(noise) and noise >= 0):
        problems.append(Problem("noise", f"must be a number of score points >= 0 (got {noise})"))
    if not 1 <= samples <= MAX_SAMPLES:
        problems.append(Problem("samples", f"must be 1 to {MAX_SAMPLES:,} (got {samples})"))
    if seed < 0:
        problems.append(Problem("seed", f"must be >= 0 (got {seed})"))
    if problems:
        raise InputError(problems)
    baseline = solve(scenario)
    if not (baseline.status.has_allocation and baseline.allocations):
        return baseline

    by_id = {a.id: a for a in baseline.allocations}
    ids = tuple(sorted(by_id))
    base_scores = np.array([by_id[i].score for i in ids], dtype=np.float64)
    rng = np.random.default_rng(seed)
    scores = np.maximum(base_scores + rng.normal(0.0, noise, size=(samples, len(ids))), MIN_SCORE)

    workers = 1 if scheduler is None and jobs == 1 else (jobs or default_jobs())
    size = max(1, min(50, math.ceil(samples / (4 * workers))))
    batches = [_Batch(scenario, ids, scores[i : i + size]) for i in range(0, samples, size)]
    done_batches = run_tasks(
        _solve_batch,
        batches,
        jobs=jobs,
        scheduler=scheduler,
        progress=None if progress is None else _rows_progress(progress, batches, samples),
    )
    outcomes = [outcome for batch in done_batches for outcome in batch]
    rows = [units for _, units in outcomes if units is not None]
    statuses = dict(sorted(Counter(status for status, _ in outcomes).items()))
    units = np.array(rows, dtype=np.int64).reshape(len(rows), len(ids))
    changed = _grade_changes(scenario, ids, scores)

    spreads = []
    for j, rid in enumerate(ids):
        alloc = by_id[rid]
        column = units[:, j]
        if len(column):
            low, p5, median, p95, high = (
                int(column.min()),
                *(int(np.percentile(column, p, method="inverted_cdf")) for p in PERCENTILES),
                int(column.max()),
            )
            mean = round(float(column.mean()), 6)
            p_change = round(float(np.mean(column != alloc.units)), 6)
        else:
            low = p5 = median = p95 = high = alloc.units
            mean, p_change = float(alloc.units), 0.0
        spreads.append(
            RecipientSpread(
                id=rid,
                name=alloc.name,
                score=alloc.score,
                grade=alloc.grade,
                units=alloc.units,
                min=low,
                p5=p5,
                median=median,
                p95=p95,
                max=high,
                mean=mean,
                p_units_change=p_change,
                p_grade_change=round(float(changed[:, j].mean()), 6),
            )
        )
    order = {a.id: index for index, a in enumerate(baseline.allocations)}
    spreads.sort(key=lambda s: order[s.id])
    return RobustReport(
        scenario=scenario.name,
        scenario_hash=scenario.content_hash,
        noise=noise,
        samples=samples,
        seed=seed,
        solved=len(rows),
        statuses=statuses,
        baseline=baseline,
        recipients=tuple(spreads),
    )


def _grade_changes(
    scenario: Scenario, ids: Sequence[str], scores: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    """``[sample, recipient]``: is the grade at the noisy score not the grade without noise?"""
    if not scenario.grades:
        return np.zeros(scores.shape, dtype=np.bool_)
    # grades are best first with decreasing min_score: the grade's index is the number of
    # bands whose min_score the score does not reach
    bounds = np.array([g.min_score for g in scenario.grades], dtype=np.float64)
    level = (scores[:, :, None] < bounds[None, None, :]).sum(axis=2)
    by_id = {r.id: r for r in scenario.recipients}
    base = np.array([[by_id[i].score for i in ids]], dtype=np.float64)
    base_level = (base[:, :, None] < bounds[None, None, :]).sum(axis=2)
    changed: npt.NDArray[np.bool_] = level != base_level
    return changed


def _rows_progress(progress: Progress, batches: Sequence[_Batch], samples: int) -> Progress:
    """Report finished samples rather than finished batches."""
    finished = [0]

    def report(done: int, total: int) -> None:
        finished[0] = min(samples, finished[0] + len(batches[0].scores))
        progress(samples if done == total else finished[0], samples)

    return report
