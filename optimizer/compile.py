"""Scenario -> integer program: entitlements, rules and objective, no solving."""

from __future__ import annotations

from dataclasses import replace

from optimizer.entitlement import Entitlements, entitlements
from optimizer.exact import ExactQuota, exact_entitlements, exact_rank
from optimizer.model import IntegerProgram
from optimizer.objectives import MarginalCost
from optimizer.rules import CompiledRules, compile_rules
from optimizer.scenario import Scenario


def build_program(scenario: Scenario) -> tuple[Entitlements, CompiledRules, IntegerProgram]:
    """Entitlements, compiled rules and the integer program of a scenario."""
    ent = entitlements(scenario)
    exact_e, exponent = exact_entitlements(ent.weight, ent.score, ent.multiplier)
    ent = replace(ent, rank=exact_rank(ent.entitlement, exact_e))
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
