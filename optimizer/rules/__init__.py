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
    lo_src: list[list[str]] = [["floor"] if f > 0 else [] for f in lo]
    hi_src: list[list[str]] = [["cap"] if c < scenario.budget else [] for c in hi]
    sums: list[SubsetSum] = []
    orders: list[RatioOrder] = []
    for rule in scenario.rules:
        if isinstance(rule, ChangeLimitRule):
            rule_lo, rule_hi = change_limit.bounds(rule, ent, scenario.budget)
            _tighten(lo, lo_src, rule_lo, rule.label, np.greater, neutral=0)
            _tighten(hi, hi_src, rule_hi, rule.label, np.less, neutral=scenario.budget)
        elif isinstance(rule, GroupRule):
            sums.append(group.subset_sum(rule, scenario, ent))
        elif isinstance(rule, GradeOrderRule):
            orders.append(grade_order.ratio_order(rule, ent))
    return CompiledRules(
        lo=lo,
        hi=hi,
        lo_source=tuple(tuple(s) for s in lo_src),
        hi_source=tuple(tuple(s) for s in hi_src),
        sums=tuple(sums),
        orders=tuple(orders),
    )


def _tighten(
    bound: IntArray,
    sources: list[list[str]],
    new: IntArray,
    label: str,
    tighter: np.ufunc,
    *,
    neutral: int,
) -> None:
    """Move ``bound`` to ``new`` where tighter; name ``label`` wherever it now sets the bound
    (a bound equal to ``neutral``, 0 or the budget, is no bound at all)."""
    for i in range(len(bound)):
        if tighter(new[i], bound[i]):
            bound[i] = new[i]
            sources[i] = [label]
        elif new[i] == bound[i] != neutral and label not in sources[i]:
            sources[i].append(label)
