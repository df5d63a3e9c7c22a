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
    """Compute e_i = weight_i * score_i * multiplier(grade_i) and q_i = budget * e_i / sum(e)."""
    order = sorted(range(len(scenario.recipients)), key=lambda j: scenario.recipients[j].id)
    recs = [scenario.recipients[j] for j in order]
    grades = [scenario.grade_of(r) for r in recs]
    level_of = {g.grade: index for index, g in enumerate(scenario.grades)}
    weight = np.array([r.weight for r in recs], dtype=np.float64)
    score = np.array([r.score for r in recs], dtype=np.float64)
    multiplier = np.array([g.multiplier if g else 1.0 for g in grades], dtype=np.float64)
    ent = weight * score * multiplier
    quota = scenario.budget * ent / ent.sum()
    ids = tuple(r.id for r in recs)
    rank_order = sorted(range(len(recs)), key=lambda j: (-ent[j], ids[j]))
    rank = np.empty(len(recs), dtype=np.int64)
    rank[rank_order] = np.arange(len(recs))
    return Entitlements(
        ids=ids,
        position=np.array(order, dtype=np.int64),
        weight=weight,
        score=score,
        multiplier=multiplier,
        entitlement=ent,
        quota=quota,
        grade=tuple(g.grade if g else None for g in grades),
        grade_level=np.array([level_of[g.grade] if g else -1 for g in grades], dtype=np.int64),
        floor=np.array([r.floor for r in recs], dtype=np.int64),
        cap=np.array(
            [scenario.budget if r.cap is None else min(r.cap, scenario.budget) for r in recs],
            dtype=np.int64,
        ),
        previous=np.array(
            [np.nan if r.previous is None else r.previous for r in recs], dtype=np.float64
        ),
        rank=rank,
    )
