"""``group``: bounds on the total units of all recipients sharing a tag value."""

from __future__ import annotations

import math

import numpy as np

from optimizer.entitlement import Entitlements
from optimizer.model import SubsetSum
from optimizer.scenario import GroupRule, Scenario

_EPS = 1e-9


def subset_sum(rule: GroupRule, scenario: Scenario, ent: Entitlements) -> SubsetSum:
    """Shares become whole units: at least ceil(min_share * budget), at most
    floor(max_share * budget); unit and share bounds combine to the tighter."""
    by_id = {r.id: r for r in scenario.recipients}
    members = np.array(
        [i for i, rid in enumerate(ent.ids) if by_id[rid].tags.get(rule.tag) == rule.value],
        dtype=np.int64,
    )
    lowers = [v for v in (rule.min_units,) if v is not None]
    uppers = [v for v in (rule.max_units,) if v is not None]
    if rule.min_share is not None:
        lowers.append(math.ceil(rule.min_share * scenario.budget - _EPS))
    if rule.max_share is not None:
        uppers.append(math.floor(rule.max_share * scenario.budget + _EPS))
    return SubsetSum(
        label=rule.label,
        index=members,
        lower=max(lowers) if lowers else None,
        upper=min(uppers) if uppers else None,
    )
