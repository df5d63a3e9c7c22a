"""Entitlements, grades and quotas as arrays, in the canonical recipient order (sorted by id).

Working in id order makes every result independent of the order recipients were listed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from optimizer.recipients import RecipientTable
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
    table = RecipientTable.of(scenario.recipients)
    n = len(table)
    order = table.order()  # code-point order of the ids, as Python sorts str
    ids = tuple([table.ids[j] for j in order.tolist()])
    weight = table.weight[order]
    score = table.score[order]
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
        floor=table.floor[order],
        cap=np.minimum(table.cap_array(scenario.budget)[order], scenario.budget),
        previous=table.previous_array()[order],
        rank=rank,
    )
