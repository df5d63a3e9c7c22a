"""Policy rules. Each module turns one rule type into bounds or linear constraints.

:func:`compile_rules` gathers them into the pieces of an
:class:`~optimizer.model.IntegerProgram`, remembering which rule set each bound so that
explanations can name it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.entitlement import Entitlements, IntArray
from optimizer.model import RatioOrder, SubsetSum
from optimizer.rules import change_limit, grade_order, group
from optimizer.scenario import ChangeLimitRule, GradeOrderRule, GroupRule, Scenario


@dataclass(frozen=True)
class CompiledRules:
    """Bounds after bound-type rules, plus the rows the rules add."""

    lo: IntArray
    hi: IntArray
    lo_source: tuple[tuple[str, ...], ...]  # what set each lower bound ("floor", a rule label)
    hi_source: tuple[tuple[str, ...], ...]
    sums: tuple[SubsetSum, ...]
    orders: tuple[RatioOrder, ...]


def compile_rules(scenario: Scenario, ent: Entitlements) -> CompiledRules:
    """Apply every rule of the scenario to the recipients' floors and caps."""
    lo = ent.floor.copy()
    hi = ent.cap.copy()
    # what set each bound, as an index into a short table of distinct tuples of labels
    lo_src = _Sources(np.where(lo > 0, 1, 0), [(), ("floor",)])
    hi_src = _Sources(np.where(hi < scenario.budget, 1, 0), [(), ("cap",)])
    sums: list[SubsetSum] = []
    orders: list[RatioOrder] = []
    tags = group.TagIndex(scenario, ent)
    for rule in scenario.rules:
        if isinstance(rule, ChangeLimitRule):
            rule_lo, rule_hi = change_limit.bounds(rule, ent, scenario.budget)
            lo_src.tighten(lo, rule_lo, rule.label, np.greater, neutral=0)
            hi_src.tighten(hi, rule_hi, rule.label, np.less, neutral=scenario.budget)
        elif isinstance(rule, GroupRule):
            sums.append(group.subset_sum(rule, scenario, ent, tags=tags))
        elif isinstance(rule, GradeOrderRule):
            orders.append(grade_order.ratio_order(rule, ent))
    if scenario.overrides:
        position = {rid: i for i, rid in enumerate(ent.ids)}
        for override in scenario.overrides:
            i = position[override.id]
            low, high = override.bounds
            label = f"override: {override.reason}"
            lo[i] = low if low is not None else ent.floor[i]
            hi[i] = high if high is not None else ent.cap[i]
            lo_src.code[i] = lo_src.code_of((label,) if low is not None else ("floor",))
            hi_src.code[i] = hi_src.code_of((label,) if high is not None else ("cap",))
    return CompiledRules(
        lo=lo,
        hi=hi,
        lo_source=lo_src.per_recipient(),
        hi_source=hi_src.per_recipient(),
        sums=tuple(sums),
        orders=tuple(orders),
    )


class _Sources:
    """The labels behind each recipient's bound: a code per recipient into a table of the
    few distinct tuples of labels (whole arrays at a time, however many recipients)."""

    def __init__(self, code: IntArray, table: list[tuple[str, ...]]) -> None:
        self.code = code.astype(np.int64)
        self.table = table

    def code_of(self, labels: tuple[str, ...]) -> int:
        if labels not in self.table:
            self.table.append(labels)
        return self.table.index(labels)

    def tighten(
        self, bound: IntArray, new: IntArray, label: str, tighter: np.ufunc, *, neutral: int
    ) -> None:
        """Move ``bound`` to ``new`` where tighter; name ``label`` wherever it now sets the
        bound (a bound equal to ``neutral``, 0 or the budget, is no bound at all)."""
        moved = tighter(new, bound)
        also = ~moved & (new == bound) & (bound != neutral)
        for old in sorted(set(self.code[also].tolist())):
            labels = self.table[old]
            if label not in labels:
                self.code[also & (self.code == old)] = self.code_of((*labels, label))
        self.code[moved] = self.code_of((label,))
        bound[moved] = new[moved]

    def per_recipient(self) -> tuple[tuple[str, ...], ...]:
        return tuple(map(self.table.__getitem__, self.code.tolist()))
