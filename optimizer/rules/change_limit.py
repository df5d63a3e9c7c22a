"""``change_limit``: units may move at most a fraction down/up from ``previous``.

It only tightens each recipient's bounds, so the exact greedy still applies.
"""

from __future__ import annotations

import math

import numpy as np

from optimizer.entitlement import Entitlements, IntArray
from optimizer.scenario import ChangeLimitRule

_EPS = 1e-9


def bounds(rule: ChangeLimitRule, ent: Entitlements, budget: int) -> tuple[IntArray, IntArray]:
    """Lower and upper bounds the rule sets (0 and the budget for recipients it spares)."""
    lo = np.zeros(ent.size, dtype=np.int64)
    hi = np.full(ent.size, budget, dtype=np.int64)
    for i, prev in enumerate(ent.previous):
        if math.isnan(prev):
            continue
        if rule.max_decrease is not None:
            lo[i] = max(0, math.ceil(prev * (1.0 - rule.max_decrease) - _EPS))
        if rule.max_increase is not None:
            hi[i] = min(budget, math.floor(prev * (1.0 + rule.max_increase) + _EPS))
    return lo, hi
