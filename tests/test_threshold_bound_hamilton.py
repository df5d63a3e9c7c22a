"""Hamilton's primary cost ``sum |x - q|`` in a threshold-search node's relaxation
(:class:`optimizer.order_bound.NodeRelaxation` given the exact quotas): the exact
Lagrangian under HiGHS's prices is at most the primary of every allocation of the node
that keeps the budget, the partition's groups and the order (enumerated), and its
per-recipient minimum is the brute-force one."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import assume, given

from optimizer import thresholds
from optimizer.exact import ExactQuota
from optimizer.model import IntegerProgram
from optimizer.objectives import MarginalCost
from optimizer.order_bound import NodeRelaxation, Prices
from optimizer.partition import partition_of
from tests.test_threshold_bound import EXAMPLES, kept_within, sub_boxes, with_rule
from tests.test_thresholds import ordered_programs


def _relaxation(program: IntegerProgram) -> tuple[NodeRelaxation, ExactQuota, IntegerProgram]:
    """The relaxation of ``program``'s nodes under Hamilton's primary (its search's
    tightened program, whose groups must be a partition)."""
    searcher = thresholds.ThresholdSearch(program)
    relaxed = searcher.relaxed
    assume(len(searcher.pairs) > 0)
    assume(partition_of(relaxed.sums, relaxed.size) is not None)
    cost = program.cost
    assert isinstance(cost, MarginalCost)
    weight = thresholds.ExactOrders(searcher.pairs).weight
    levels = tuple((better, worse) for better, _, worse, _ in searcher.pairs)
    return NodeRelaxation(relaxed, levels, weight, cost.exact), cost.exact, relaxed


def _primary(quota: ExactQuota, units: tuple[int, ...]) -> int:
    """``sum |x - q|`` times the quotas' denominator."""
    d = quota.denom
    return sum(abs(u * d - q) for u, q in zip(units, quota.numer, strict=True))


@EXAMPLES
@given(ordered_programs().map(lambda p: with_rule(p, "hamilton")))
def test_the_hamilton_bound_is_below_every_allocation_of_a_node(program: IntegerProgram) -> None:
    """For random bounds inside the program's, the exact Lagrangian under HiGHS's prices
    (scaled to the cost ``denom |x - q|``) is at most that cost of every allocation within
    them keeping the budget, the partition's groups and the order."""
    relaxation, quota, relaxed = _relaxation(program)
    lo, hi = relaxed.lo, relaxed.hi
    assume(int((hi - lo + 1).prod()) <= 20_000)
    checked = 0
    for low, high in sub_boxes(lo, hi):
        found = relaxation.relax(low, high)
        if found is None:
            continue
        bound = relaxation.bound(found.prices.scaled(Fraction(quota.denom)), quota, low, high)
        for x in kept_within(program, relaxed, relaxation.weight, low, high):
            checked += 1
            assert bound <= _primary(quota, tuple(x.tolist()))
    assume(checked > 0)


@EXAMPLES
@given(ordered_programs().map(lambda p: with_rule(p, "hamilton")))
def test_the_hamilton_terms_are_the_brute_force_minima(program: IntegerProgram) -> None:
    """Under a budget price alone (no group or order price), the bound is ``lambda B`` plus
    each recipient's least ``denom |k - q| - lambda k`` over its bounds, found by trying
    every ``k``."""
    relaxation, quota, relaxed = _relaxation(program)
    pairs = len(relaxation.pairs)
    for budget_price in (0, 1, -1, 3, -5):
        unit = Fraction(1, 7)
        prices = Prices(
            budget_price,
            tuple(0 for _ in relaxation.members),
            tuple(() for _ in range(pairs)),
            tuple(() for _ in range(pairs)),
            unit,
        )
        lam = budget_price * unit
        expected = lam * relaxed.budget + sum(
            min(
                abs(k * quota.denom - q) - lam * k
                for k in range(int(relaxed.lo[i]), int(relaxed.hi[i]) + 1)
            )
            for i, q in enumerate(quota.numer)
        )
        assert relaxation.bound(prices, quota, relaxed.lo, relaxed.hi) == expected
