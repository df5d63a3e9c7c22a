"""``group``: bounds on the total units of all recipients sharing a tag value."""

from __future__ import annotations

import math

import numpy as np

from optimizer.entitlement import Entitlements, IntArray
from optimizer.exact import decimal
from optimizer.model import SubsetSum
from optimizer.scenario import GroupRule, Scenario


class TagIndex:
    """The recipients (entitlement order) holding each value of each tag, computed once per
    tag for all the rules that use it."""

    def __init__(self, scenario: Scenario, ent: Entitlements) -> None:
        self._tags = [scenario.recipients[p].tags for p in ent.position.tolist()]
        self._by_tag: dict[str, dict[str, IntArray]] = {}

    def members(self, tag: str, value: str) -> IntArray:
        if tag not in self._by_tag:
            groups: dict[str, list[int]] = {}
            for i, tags in enumerate(self._tags):
                held = tags.get(tag)
                if held is not None:
                    groups.setdefault(held, []).append(i)
            self._by_tag[tag] = {v: np.array(m, dtype=np.int64) for v, m in groups.items()}
        return self._by_tag[tag].get(value, np.zeros(0, dtype=np.int64))


def subset_sum(
    rule: GroupRule, scenario: Scenario, ent: Entitlements, *, tags: TagIndex | None = None
) -> SubsetSum:
    """Shares become whole units: at least ceil(min_share * budget), at most
    floor(max_share * budget); unit and share bounds combine to the tighter."""
    members = (tags or TagIndex(scenario, ent)).members(rule.tag, rule.value)
    lowers = [v for v in (rule.min_units,) if v is not None]
    uppers = [v for v in (rule.max_units,) if v is not None]
    if rule.min_share is not None:
        lowers.append(math.ceil(decimal(rule.min_share) * scenario.budget))
    if rule.max_share is not None:
        uppers.append(math.floor(decimal(rule.max_share) * scenario.budget))
    return SubsetSum(
        label=rule.label,
        index=members,
        lower=max(lowers) if lowers else None,
        upper=min(uppers) if uppers else None,
    )
