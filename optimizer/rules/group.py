"""``group``: bounds on the total units of all recipients sharing a tag value."""

from __future__ import annotations

import math

import numpy as np

from optimizer.entitlement import Entitlements, IntArray
from optimizer.exact import decimal
from optimizer.model import SubsetSum
from optimizer.recipients import RecipientTable
from optimizer.scenario import GroupRule, Scenario


class TagIndex:
    """The recipients (entitlement order) holding each value of each tag, computed once per
    tag for all the rules that use it."""

    def __init__(self, scenario: Scenario, ent: Entitlements) -> None:
        self._table = RecipientTable.of(scenario.recipients)
        self._position = ent.position
        self._by_tag: dict[str, dict[str, IntArray]] = {}

    def members(self, tag: str, value: str) -> IntArray:
        if tag not in self._by_tag:
            held = self._table.tag_column(tag)
            # a code per distinct value, each recipient's code read by C-level calls
            codes = {v: c for c, v in enumerate(dict.fromkeys(held))}
            by_position = np.fromiter(map(codes.__getitem__, held), np.int64, count=len(held))
            coded = by_position[self._position]
            order = np.argsort(coded, kind="stable")  # members of each value in index order
            bounds = np.searchsorted(coded[order], np.arange(len(codes) + 1))
            self._by_tag[tag] = {
                v: order[bounds[c] : bounds[c + 1]].astype(np.int64)
                for v, c in codes.items()
                if v is not None
            }
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
