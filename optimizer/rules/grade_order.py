"""``grade_order``: a better grade never gets fewer units per unit of weight.

Encoded over adjacent grade levels (min of the better >= max of the worse), which is
O(n) rows instead of one row per pair. Recipients with weight 0 are exempt.
"""

from __future__ import annotations

import numpy as np

from optimizer.entitlement import Entitlements
from optimizer.model import RatioOrder
from optimizer.scenario import GradeOrderRule


def ratio_order(rule: GradeOrderRule, ent: Entitlements) -> RatioOrder:
    """The chain of grade levels, best first, skipping grades nobody has."""
    levels = []
    for level in range(int(ent.grade_level.max()) + 1):
        members = np.flatnonzero((ent.grade_level == level) & (ent.weight > 0))
        if len(members):
            levels.append(members.astype(np.int64))
    return RatioOrder(label=rule.label, levels=tuple(levels), weight=ent.weight)
