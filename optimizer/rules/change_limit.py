"""``change_limit``: units may move at most a fraction down/up from ``previous``.

It only tightens each recipient's bounds, so the exact greedy still applies.
"""

from __future__ import annotations

import numpy as np

from optimizer.entitlement import Entitlements, IntArray
from optimizer.scenario import ChangeLimitRule

_EPS = 1e-9


def bounds(rule: ChangeLimitRule, ent: Entitlements, budget: int) -> tuple[IntArray, IntArray]:
    """Lower and upper bounds the rule sets (0 and the budget for recipients it spares)."""
    prev = ent.previous
    given = ~np.isnan(prev)
    lo = np.zeros(ent.size, dtype=np.int64)
    hi = np.full(ent.size, budget, dtype=np.int64)
    if rule.max_decrease is not None:
        least = np.ceil(prev[given] * (1.0 - rule.max_decrease) - _EPS)
        lo[given] = np.maximum(0, least).astype(np.int64)
    if rule.max_increase is not None:
        most = np.floor(prev[given] * (1.0 + rule.max_increase) + _EPS)
        hi[given] = np.minimum(budget, most).astype(np.int64)
    return lo, hi
