"""Entitlements, grades and quotas as arrays, in the canonical recipient order (sorted by id).

Working in id order makes every result independent of the order recipients were listed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from optimizer.scenario import Scenario

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Entitlements:
    """Per-recipient data the engine needs, index ``j`` = j-th recipient by sorted id."""

    ids: tuple[str, ...]
    position: IntArray  # index of each recipient in ``scenario.recipients``
    weight: FloatArray
    score: FloatArray
    multiplier: FloatArray
    entitlement: FloatArray  # e = weight * score * multiplier(grade)
    quota: FloatArray  # q = budget * e / sum(e)
    grade: tuple[str | None, ...]
    grade_level: IntArray  # 0 = best grade; -1 when the scenario has no grades
    floor: IntArray
    cap: IntArray  # the budget when no cap was given
    previous: FloatArray  # NaN when not given
    rank: IntArray  # tie-break order: larger entitlement first, then id

    @property
    def size(self) -> int:
        return len(self.ids)


def entitlements(scenario: Scenario) -> Entitlements:
    """Compute e_i = weight_i * score_i * multiplier(grade_i) and q_i = budget * e_i / sum(e).

    Whole arrays at a time (a scenario may hold every firm of a programme)."""
    recipients = scenario.recipients
    n = len(recipients)
    given_ids = [r.id for r in recipients]
    if any("\x00" in i for i in given_ids):  # NumPy strings cannot hold NUL: sort in Python
        order = np.array(sorted(range(n), key=given_ids.__getitem__), dtype=np.int64)
    else:  # code-point order, as Python sorts str (ids are unique: no ties)
        order = np.argsort(np.array(given_ids, dtype=str), kind="stable").astype(np.int64)
    recs = [recipients[j] for j in order.tolist()]
    ids = tuple(r.id for r in recs)
    weight = np.array([r.weight for r in recs], dtype=np.float64)
    score = np.array([r.score for r in recs], dtype=np.float64)
    # the first (best) band the score reaches, as Scenario.grade_of
    grade_level = np.full(n, -1, dtype=np.int64)
    for level in range(len(scenario.grades) - 1, -1, -1):
        grade_level[score >= scenario.grades[level].min_score] = level
    bands = [g.multiplier for g in scenario.grades] + [1.0]
    multiplier = np.array(bands, dtype=np.float64)[grade_level]
    names: list[str | None] = [g.grade for g in scenario.grades] + [None]
    ent = weight * score * multiplier
    quota = scenario.budget * ent / ent.sum()
    # rank: larger entitlement first, then id (the arrays are in id order already)
    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((np.arange(n), -ent))] = np.arange(n)
    caps = [r.cap for r in recs]
    previous = [r.previous for r in recs]
    return Entitlements(
        ids=ids,
        position=order,
        weight=weight,
        score=score,
        multiplier=multiplier,
        entitlement=ent,
        quota=quota,
        grade=tuple(names[g] for g in grade_level.tolist()),
        grade_level=grade_level,
        floor=np.array([r.floor for r in recs], dtype=np.int64),
        cap=np.minimum(
            np.array([scenario.budget if c is None else c for c in caps], dtype=np.int64),
            scenario.budget,
        ),
        previous=np.array([np.nan if p is None else p for p in previous], dtype=np.float64),
        rank=rank,
    )
