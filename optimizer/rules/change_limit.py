"""``change_limit``: units may move at most a fraction down/up from ``previous``.

It only tightens each recipient's bounds, so the exact greedy still applies.
"""

from __future__ import annotations

import numpy as np

from optimizer.entitlement import Entitlements, IntArray
from optimizer.exact import decimal, scaled_bound
from optimizer.scenario import ChangeLimitRule


def bounds(rule: ChangeLimitRule, ent: Entitlements, budget: int) -> tuple[IntArray, IntArray]:
    """Lower and upper bounds the rule sets (0 and the budget for recipients it spares)."""
    prev = ent.previous
    given = ~np.isnan(prev)
    lo = np.zeros(ent.size, dtype=np.int64)
    hi = np.full(ent.size, budget, dtype=np.int64)
    if rule.max_decrease is not None:
        least = scaled_bound(prev[given], 1 - decimal(rule.max_decrease), upward=True)
        lo[given] = np.maximum(0, least)
    if rule.max_increase is not None:
        most = scaled_bound(prev[given], 1 + decimal(rule.max_increase), upward=False)
        hi[given] = np.minimum(budget, most)
    return lo, hi
