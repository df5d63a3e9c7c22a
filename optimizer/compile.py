"""Scenario -> integer program: entitlements, rules and objective, no solving."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from optimizer.entitlement import Entitlements, IntArray, entitlements
from optimizer.exact import ExactQuota, exact_entitlements, exact_rank
from optimizer.model import IntegerProgram
from optimizer.objectives import MarginalCost
from optimizer.rules import CompiledRules, compile_rules
from optimizer.scenario import Scenario, TieBreak
from optimizer.ties import listed_rank, lot_rank


def build_program(scenario: Scenario) -> tuple[Entitlements, CompiledRules, IntegerProgram]:
    """Entitlements, compiled rules and the integer program of a scenario."""
    ent = entitlements(scenario)
    exact_e, exponent = exact_entitlements(ent.weight, ent.score, ent.multiplier)
    rank = exact_rank(ent.entitlement, exact_e)
    ent = replace(ent, rank=_tie_rank(scenario.tie_break, ent, rank))
    rules = compile_rules(scenario, ent)
    exact = ExactQuota.of_entitlements(scenario.budget, exact_e, exponent)
    cost = MarginalCost.for_objective(
        scenario.objective.kind, scenario.objective.resolved_method, ent.quota, ent.rank, exact
    )
    program = IntegerProgram(
        budget=scenario.budget,
        lo=rules.lo,
        hi=rules.hi,
        sums=rules.sums,
        orders=rules.orders,
        cost=cost,
    )
    return ent, rules, program


def _tie_rank(policy: TieBreak | None, ent: Entitlements, rank: IntArray) -> IntArray:
    """The last tie-break order under the scenario's ``tie_break`` (``rank``: larger
    entitlement first, then id)."""
    if policy is None or policy.kind == "refuse":
        return rank
    if policy.kind == "lot":
        assert policy.seed is not None
        return lot_rank(ent.ids, policy.seed)
    if isinstance(policy.by, tuple):
        return listed_rank(ent.ids, policy.by, rank)
    if policy.by == "id":  # the arrays are in id order
        return np.arange(ent.size, dtype=np.int64)
    return rank
