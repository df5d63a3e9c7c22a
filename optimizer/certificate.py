"""Proof for readers: what a greedy-path allocation can be checked against by hand.

- Divisor methods: the interval ``[low, high]`` of divisors ``D`` (entitlement per unit)
  for which every recipient's units are its entitlement divided by ``D``, rounded by the
  method (down: Jefferson, half: Webster, geometric mean: Huntington-Hill, up: Adams),
  then held within its floor and cap. At an end of the interval a recipient may sit
  exactly on a rounding point; such ties went by rank.
- Hamilton (largest remainders): the recipients in remainder order, each one's quota
  (exact), whole part and remainder (up to :data:`MAX_LISTED` recipients), and the
  threshold interval ``(low, high]`` on ``units - quota``: a recipient holds every unit
  ``k`` with ``k - quota < T`` within its floor and cap, for any ``T`` in it.

Values are exact rationals written as decimals (30 significant digits, rounded inwards so
that any value printed inside the interval works; an interval narrower than that, or a
single divisor, shows its ends as exact fractions under ``exact``). Bounds-only programs (the
``greedy`` path) get one of these; the ``search`` path (``grade_order`` that binds) gets
its tree with a bound per leaf (:func:`search_certificate`, Hamilton and ``weighted``), and
the MILP its solver's proof per stage (:func:`milp_proof`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.entitlement import IntArray
from optimizer.exact import ExactQuota, divisor_of
from optimizer.model import SubsetSum
from optimizer.objectives import DIVISOR_METHODS

if TYPE_CHECKING:  # the search and its bound load only where a program has grade orders
    from optimizer.order_bound import Prices
    from optimizer.thresholds import SearchTree

_DIGITS = 30
MAX_LISTED = 1000
"""Above this many recipients the Hamilton certificate lists the remainder order by id
only (each quota is ``budget * entitlement / total entitlement`` in the allocations)."""
_UP = Context(prec=_DIGITS, rounding=ROUND_CEILING)
_DOWN = Context(prec=_DIGITS, rounding=ROUND_FLOOR)


def decimal_text(value: Fraction, *, up: bool = False) -> str:
    """An exact ratio as a decimal string of at most 30 significant digits (rounded up
    with ``up``, else down)."""
    ctx = _UP if up else _DOWN
    text = format(ctx.divide(Decimal(value.numerator), Decimal(value.denominator)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def certificate(
    rule: str,
    exact: ExactQuota,
    x: IntArray,
    lo: IntArray,
    hi: IntArray,
    ids: tuple[str, ...],
) -> dict[str, Any] | None:
    """The certificate of a bounds-only optimum ``x`` under ``rule`` (None for objectives
    without one: ``weighted``, ``maxmin``)."""
    if rule == "hamilton":
        return _hamilton(exact, x, lo, hi, ids)
    if rule in DIVISOR_METHODS:
        return _divisor(rule, exact, x, lo, hi)
    return None


def _hamilton(
    exact: ExactQuota, x: IntArray, lo: IntArray, hi: IntArray, ids: tuple[str, ...]
) -> dict[str, Any]:
    """Integer arithmetic throughout (``t = k - q`` as ``(k * denom - numer) / denom``):
    the certificate of 100,000 recipients costs a few hundred milliseconds."""
    denom = exact.denom
    low: int | None = None  # T > low / denom
    high: int | None = None  # T <= high / denom
    rows = []
    for i, (units, floor, cap) in enumerate(zip(x.tolist(), lo.tolist(), hi.tolist(), strict=True)):
        numer = exact.numer[i]
        if floor < cap:
            if units > floor:  # unit units-1 taken
                t = (units - 1) * denom - numer
                low = t if low is None or t > low else low
            if units < cap:  # unit `units` not taken
                t = units * denom - numer
                high = t if high is None or t < high else high
        whole, rem = divmod(numer, denom)
        rows.append((-rem, i, whole, units))
    rows.sort()
    rule = "units = clip(ceil(quota + T), floor, cap) for any T in (low, high]"
    tie: dict[str, list[str]] | None = None
    if low is not None and high is not None and low >= high:
        # remainders tied exactly at T = low = high: no T separates them, the rank decided
        tie = {"given": [], "passed": []}
        for i, (units, floor, cap) in enumerate(
            zip(x.tolist(), lo.tolist(), hi.tolist(), strict=True)
        ):
            if floor < cap and units > floor and (units - 1) * denom - exact.numer[i] == low:
                tie["given"].append(ids[i])
            if floor < cap and units < cap and units * denom - exact.numer[i] == high:
                tie["passed"].append(ids[i])
        rule = (
            "units = clip(ceil(quota + T), floor, cap) at T = low = high, except that the "
            "recipients in tie.given, whose quota + T is a whole number, have one unit more: "
            "their remainders tie exactly with those of tie.passed and the rank decided"
        )
    return {
        "kind": "largest_remainder",
        "rule": rule,
        "tie": tie,
        "threshold": {
            "low": None if low is None else decimal_text(Fraction(low, denom), up=True),
            "high": None if high is None else decimal_text(Fraction(high, denom)),
        },
        "exact": {
            "low": None if low is None else str(Fraction(low, denom)),
            "high": None if high is None else str(Fraction(high, denom)),
        },
        "remainder_order": [ids[i] for _, i, _, _ in rows],
        "quotas": None
        if len(rows) > MAX_LISTED
        else [
            {
                "id": ids[i],
                "quota": _fixed(whole, -rem, denom),
                "quota_exact": f"{whole * denom - rem}/{denom}",
                "whole": whole,
                "remainder": _fixed(0, -rem, denom),
                "units": units,
            }
            for rem, i, whole, units in rows
        ],
    }


def _fixed(whole: int, rem: int, denom: int) -> str:
    """``whole + rem / denom`` (``0 <= rem < denom``) with 18 decimals, rounded down."""
    digits = rem * 10**18 // denom
    return f"{whole}.{digits:018d}".rstrip("0").rstrip(".")


def _divisor(
    method: str, exact: ExactQuota, x: IntArray, lo: IntArray, hi: IntArray
) -> dict[str, Any] | None:
    """Bounds on the quota divisor ``D'`` (``q_i / D'`` rounded gives the units): a
    recipient off its bounds needs ``d(x-1) <= q/D' <= d(x)``, one at its floor
    ``q/D' <= d(floor)``, one at its cap ``q/D' >= d(cap-1)``. Huntington-Hill's d is a
    square root: its bounds are kept squared until printed."""
    squared = method == "huntington-hill"
    low = Fraction(0)  # on D' (or D'^2)
    high: Fraction | None = None
    for i, (units, floor, cap) in enumerate(zip(x.tolist(), lo.tolist(), hi.tolist(), strict=True)):
        if floor >= cap:
            continue
        q = exact.fraction(i)
        top = q * q if squared else q
        if units < cap:  # q / D' <= d(units):  D' >= q / d(units)
            num, den = divisor_of(method, units)
            if num == 0:  # d = 0: no divisor leaves this recipient without its first unit
                if top > 0:
                    return None
            else:
                low = max(low, top * den / num)
        if units > floor:  # q / D' >= d(units - 1):  D' <= q / d(units - 1)
            num, den = divisor_of(method, units - 1)
            if num > 0:
                bound = top * den / num
                high = bound if high is None else min(high, bound)
    if high is not None and high < low:  # pragma: no cover - the optimum always has one
        return None
    scale = exact.per_quota or Fraction(1)
    if squared:
        scale = scale * scale

    def text(value: Fraction | None, *, up: bool) -> str | None:
        if value is None:
            return None
        value = value * scale
        if squared:
            ctx = _UP if up else _DOWN
            root = ctx.sqrt(ctx.divide(Decimal(value.numerator), Decimal(value.denominator)))
            return format(root, "f")
        return decimal_text(value, up=up)

    def ratio(value: Fraction | None) -> str | None:
        return None if value is None else str(value * scale)

    return {
        "kind": "divisor",
        "method": method,
        "unit": "entitlement per unit" if exact.per_quota else "quota per unit",
        "rule": "units = clip(round(entitlement / D), floor, cap) for any D in [low, high], "
        f"rounded {_ROUNDING[method]}",
        "divisor": {"low": text(low, up=True), "high": text(high, up=False)},
        # the same bounds as exact fractions (Huntington-Hill: of D squared)
        "exact": {
            "squared": squared,
            "low": ratio(low),
            "high": ratio(high),
        },
    }


_ROUNDING = {
    "jefferson": "down (d(k) = k + 1)",
    "webster": "at one half (d(k) = k + 1/2)",
    "adams": "up (d(k) = k)",
    "huntington-hill": "at the geometric mean (d(k) = sqrt(k (k + 1)))",
    "dean": "at the harmonic mean (d(k) = 2 k (k + 1) / (2 k + 1))",
}


_STAGE_NAMES = ("primary cost", "least squares", "rank . x")


Stage = tuple[int, float | None, float | None]
"""A solved MILP stage: (index, objective, best bound)."""


def milp_proof(backend: str, stages: tuple[Stage, ...]) -> dict[str, Any]:
    """The MILP's own proof, stage by stage: the objective it found and the best bound it
    proved (equal, within its 0.5 margin on integer objectives: nothing better exists),
    each stage solved with the ones before it held at their optima."""
    return {
        "kind": "milp",
        "backend": backend,
        "rule": "each stage: objective = best bound (integer objectives, solved in order, "
        "each with the previous stages held at their optima; CBC reports optimality without "
        "its bound)",
        "stages": [
            {
                "stage": _STAGE_NAMES[k] if k < len(_STAGE_NAMES) else f"rank stage {k - 2}",
                "objective": objective,
                "bound": bound,
            }
            for k, objective, bound in stages
        ],
    }


def search_certificate(
    rule: str,
    exact: ExactQuota,
    sums: tuple[SubsetSum, ...],
    tree: SearchTree,
    pair_grades: tuple[tuple[str, str], ...],
    ids: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The threshold search's tree as a proof a reader can check from the data
    (``sums``: the group rules each node kept, over disjoint member sets). Open leaves need
    a bound, which ``hamilton`` and ``weighted`` costs have; a divisor method's tree is
    stated only when it has none (the root kept every rule, or the rest were empty).

    Every allocation that keeps ``grade_order`` lies in a leaf: a split on the grades
    (better, worse) at ``ratio`` has a child where every member of the better grade has at
    least ``ratio`` units per weight and one where every member of the worse grade has at
    most ``ratio``, and an allocation keeping the order is in one of them. The accepted
    leaf's allocation is optimal within that leaf's bounds (no single exchange improves it);
    each open leaf carries prices, a budget price ``lambda`` and a price ``mu_g`` on the
    group rules that bind there, whose Lagrangian bound ``sum_i min_k (cost_i(k) - (lambda
    + mu_g(i)) k) + lambda B + sum_g mu_g bound_g`` no allocation of the leaf can beat (weak
    duality) and which equals the leaf's optimum (strong duality holds for these separable
    convex costs over a partition); empty leaves hold no allocation.

    A search that bounds its nodes by their relaxation (``weighted``) also splits on one
    recipient's units (child ``up`` at least ``units``, ``down`` at most one fewer) and
    closes ``pruned`` leaves: prices on the budget, the group rules and, per pair of grades,
    on each member's side of the threshold (``x_i >= t w_i`` over the better grade, ``x_j
    <= t w_j`` over the worse, ``t`` free between the worse grade's largest floor and the
    better grade's smallest cap per weight), whose Lagrangian is above the answer's cost.
    Recipients are named by ``ids`` (the program's order), or as ``#k``, the k-th id in
    code-point order, when none are given."""
    cost = _unit_cost(rule, exact) if tree.open else None
    groups = _merged(sums, len(exact.numer))
    nodes: list[dict[str, Any]] = []
    for split in tree.splits:
        better, worse = pair_grades[split.pair]
        nodes.append(
            {
                "node": split.node,
                "split": {
                    "better": better,
                    "worse": worse,
                    "ratio": str(split.ratio),
                    "up": split.up,
                    "down": split.down,
                },
            }
        )

    def member(i: int) -> str:
        return ids[i] if ids else f"#{i}"

    for cut in tree.cuts:
        nodes.append(
            {
                "node": cut.node,
                "split": {
                    "member": member(cut.member),
                    "units": cut.units,
                    "up": cut.up,
                    "down": cut.down,
                },
            }
        )
    for closed in tree.pruned:
        nodes.append(
            {
                "node": closed.node,
                "leaf": "pruned",
                "prices": _order_prices(closed.prices, groups[0], pair_grades, member),
            }
        )
    if tree.accepted:
        nodes.append({"node": tree.accepted, "leaf": "accepted"})
    nodes.extend({"node": node, "leaf": "empty"} for node in tree.empty)
    for leaf in tree.open:
        assert cost is not None
        nodes.append(
            {
                "node": leaf.node,
                "leaf": "bound",
                "cost": str(Fraction(total_cost(rule, exact, leaf.x), exact.denom)),
                "prices": _prices(cost, groups, leaf.lo, leaf.hi, leaf.x, exact.denom),
            }
        )
    nodes.sort(key=lambda row: int(row["node"]))
    if rule == "maxmin":  # the tree of the floors one step higher: every leaf empty
        return {
            "kind": "threshold_search",
            "objective": "maxmin",
            "rule": "maxmin by a search over grade thresholds: with every floor raised to "
            "floor(m q) + 1, m the answer's smallest units per quota, no allocation keeps "
            "the rules (every leaf of this tree is empty), so m cannot rise",
            "nodes": nodes,
        }
    return {
        "kind": "threshold_search",
        "objective": rule,
        "rule": "grade_order by a search over grade thresholds: every allocation keeping "
        "grade_order lies in a leaf of this tree (a split gives every member of the better "
        "grade at least ratio units per weight in child up, every member of the worse grade "
        "at most ratio in child down); the accepted leaf's allocation is optimal within its "
        "bounds, each bound leaf's Lagrangian bound (prices on the budget and on the group "
        "rules named) is at least the accepted cost, and empty leaves hold no allocation"
        + (
            "; a split on a member gives it at least units in child up, at most units - 1 "
            "in child down; each pruned leaf's Lagrangian bound (prices on the budget, the "
            "group rules named and each member's side of a threshold t between the grades "
            "named, t free between the worse grade's largest floor and the better grade's "
            "smallest cap per weight) is at least the accepted cost"
            if tree.pruned or tree.cuts
            else ""
        ),
        "nodes": nodes,
    }


def _order_prices(
    prices: Prices,
    found: tuple[_Group, ...],
    pair_grades: tuple[tuple[str, str], ...],
    member: Callable[[int], str],
) -> dict[str, Any]:
    """A pruned leaf's prices (:class:`optimizer.order_bound.Prices`, for the cost ``-q``
    per unit) as the certificate states them: nonzero ones only."""
    unit = prices.unit
    groups = []
    for group, mu in zip(found, prices.groups, strict=True):
        if mu > 0 and group.lower is not None:
            groups.append({"group": group.lower[1], "bound": "min", "price": str(mu * unit)})
        elif mu < 0 and group.upper is not None:
            groups.append({"group": group.upper[1], "bound": "max", "price": str(mu * unit)})
    orders = []
    for k, (better, worse) in enumerate(pair_grades):
        up = {member(i): str(a * unit) for i, a in prices.up[k] if a}
        down = {member(j): str(b * unit) for j, b in prices.down[k] if b}
        if up or down:
            orders.append({"better": better, "worse": worse, "up": up, "down": down})
    return {"budget": str(prices.budget * unit), "groups": groups, "orders": orders}


def _unit_cost(rule: str, exact: ExactQuota) -> Callable[[int, int], int]:
    """The exact primary cost of unit ``k`` (the (k+1)-th) of recipient ``i``, times the
    quotas' common denominator."""
    numer, denom = exact.numer, exact.denom
    if rule == "weighted":
        return lambda i, k: -numer[i]
    if rule != "hamilton":  # pragma: no cover - search_certificate is asked for these only
        raise ValueError(f"no search certificate for {rule!r}")
    return lambda i, k: max(-denom, min(denom, 2 * (k * denom - numer[i]) + denom))


def total_cost(rule: str, exact: ExactQuota, x: IntArray) -> int:
    """``sum |x - q|`` (Hamilton) or ``-sum q x`` (weighted), times the denominator."""
    numer, denom = exact.numer, exact.denom
    units: list[int] = x.tolist()
    if rule == "weighted":
        return -sum(u * q for u, q in zip(units, numer, strict=True))
    return sum(abs(u * denom - q) for u, q in zip(units, numer, strict=True))


@dataclass(frozen=True)
class _Group:
    """Group rules over the same members: the tightest lower and upper bound, each with
    the label of the rule that sets it."""

    members: IntArray
    lower: tuple[int, str] | None
    upper: tuple[int, str] | None


def _merged(sums: tuple[SubsetSum, ...], size: int) -> tuple[tuple[_Group, ...], list[int]]:
    """The groups (rules over the same members merged) and each recipient's group (-1:
    none)."""
    owner = [-1] * size
    found: list[_Group] = []
    for row in sums:
        index = sorted(set(row.index.tolist()))
        if not index:
            continue
        g = owner[index[0]]
        if g < 0:
            g = len(found)
            found.append(_Group(np.array(index, dtype=np.int64), None, None))
            for i in index:
                owner[i] = g
        group = found[g]
        lower, upper = group.lower, group.upper
        if row.lower is not None and (lower is None or row.lower > lower[0]):
            lower = (row.lower, row.label)
        if row.upper is not None and (upper is None or row.upper < upper[0]):
            upper = (row.upper, row.label)
        found[g] = _Group(group.members, lower, upper)
    return tuple(found), owner


def _prices(
    cost: Callable[[int, int], int],
    groups: tuple[tuple[_Group, ...], list[int]],
    lo: IntArray,
    hi: IntArray,
    x: IntArray,
    denom: int,
) -> dict[str, Any]:
    """Prices under which ``x`` (a leaf's optimum) minimises the Lagrangian: within each
    group any price between its dearest unit taken and its cheapest unit left, the budget
    price ``lambda`` within every unconstrained group's range, and a group's own price
    above ``lambda`` only at its lower bound, below it only at its upper."""
    found, owner = groups
    dearest: dict[int, int] = {}  # per group (-1: none), the dearest unit taken
    cheapest: dict[int, int] = {}  # the cheapest unit left
    totals = [0] * len(found)
    for i, (units, floor, cap) in enumerate(zip(x.tolist(), lo.tolist(), hi.tolist(), strict=True)):
        g = owner[i]
        if g >= 0:
            totals[g] += units
        if units > floor:
            c = cost(i, units - 1)
            if g not in dearest or c > dearest[g]:
                dearest[g] = c
        if units < cap:
            c = cost(i, units)
            if g not in cheapest or c < cheapest[g]:
                cheapest[g] = c
    low: int | None = dearest.get(-1)  # the range of lambda (times denom)
    high: int | None = cheapest.get(-1)
    sides: list[tuple[bool, bool]] = []
    for g, group in enumerate(found):
        at_lower = group.lower is not None and totals[g] <= group.lower[0]
        at_upper = group.upper is not None and totals[g] >= group.upper[0]
        sides.append((at_lower, at_upper))
        if not at_upper and g in cheapest:  # lambda <= cheapest, unless mu_g may be < 0
            high = cheapest[g] if high is None else min(high, cheapest[g])
        if not at_lower and g in dearest:
            low = dearest[g] if low is None else max(low, dearest[g])
    if low is not None and high is not None:
        lam = Fraction(low + high, 2)
    else:
        lam = Fraction(low if low is not None else high if high is not None else 0)
    priced = []
    for g, (group, (at_lower, at_upper)) in enumerate(zip(found, sides, strict=True)):
        price = lam
        if at_lower and g in dearest:
            price = max(price, Fraction(dearest[g]))
        if at_upper and g in cheapest:
            price = min(price, Fraction(cheapest[g]))
        mu = price - lam
        if mu > 0 and group.lower is not None:
            priced.append({"group": group.lower[1], "bound": "min", "price": str(mu / denom)})
        elif mu < 0 and group.upper is not None:
            priced.append({"group": group.upper[1], "bound": "max", "price": str(mu / denom)})
    return {"budget": str(lam / denom), "groups": priced}
