"""Optimality without a baseline: certificates checked from the scenario data, exactly.

Where the baseline cannot run (10,000 and 100,000 recipients, budgets of 10^9 units and
more) an answer is judged by a certificate instead of Allot's word:

- :func:`optimality`: for bounds (floors, caps, ``change_limit``) and group rules over
  disjoint member sets, the allowed allocations form an M-convex set and every objective
  is separable convex (``maxmin`` once its smallest ratio is fixed), so an allocation is
  optimal exactly when no single exchange "one unit from ``i`` to ``j``" lowers the cost
  (Murota, *Discrete Convex Analysis*, Theorem 6.26). Checked per group in O(n): the most
  expensive unit any group may give up against the cheapest unit any group may take, on
  exact marginal costs. ``maxmin``'s smallest ratio ``lam`` is maximal when raising every
  floor to ``floor(lam q_i) + 1`` leaves nothing allowed. ``grade_order`` rows are
  certified when the answer keeps ``grade_order`` and is optimal without it (the best of
  a larger set), and so are rows with group rules over overlapping sets that hold at the
  optimum without the later (or the earlier) of each overlapping pair; elsewhere there is
  no certificate here.
- :func:`engine_certificate`: Allot's own ``result.certificate`` (``greedy`` path,
  ``proportional``), checked against the data: the divisor ``D`` or the Hamilton
  threshold ``T`` it states must reproduce every recipient's units. Where remainders tie
  exactly the Hamilton interval is a single point (``low == high``, which the stated rule
  "T in (low, high]" does not cover): the units keyed exactly ``T`` must then have gone
  by rank. The crossing path's ``kind: flow`` (:func:`flow`: the cells and the prices'
  reduced costs) and the search path's ``kind: threshold_search`` (:func:`search_tree`)
  are proofs of optimality of their own.

Nothing here imports the engine.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # check.py imports this module
    from benchmarks.check import Problem

IntArray = npt.NDArray[np.int64]
DIVISOR_METHODS = ("jefferson", "webster", "huntington-hill", "adams")

Cost = Callable[[int, int], Fraction]
"""The exact marginal cost of the (k+1)-th unit of recipient i (never decreasing in k)."""


@dataclass(frozen=True)
class Certified:
    """``ok``: True (certified optimal), False (an improving exchange exists), None (no
    certificate applies); ``detail`` says which, in words."""

    ok: bool | None
    detail: str


def exact_quotas(problem: Problem) -> list[Fraction]:
    """``q_i = B e_i / sum(e)`` from the exact entitlements."""
    ent = problem.entitlement_exact
    total = sum(ent, Fraction(0))
    return [problem.budget * e / total for e in ent]


def marginal_cost(kind: str, quota: list[Fraction]) -> Cost:
    """The primary objective's marginal cost, exactly (Huntington-Hill's priority compared
    squared, which keeps the order of these non-negative numbers)."""
    if kind in ("hamilton", "maxmin"):
        return lambda i, k: max(Fraction(-1), min(Fraction(1), 2 * (k - quota[i]) + 1))
    if kind == "weighted":
        return lambda i, k: -quota[i]
    if kind not in (*DIVISOR_METHODS, "dean"):
        raise ValueError(f"unknown objective {kind!r}")
    first = 2 * max(quota)
    squared = kind == "huntington-hill"

    def divisor_cost(i: int, k: int) -> Fraction:
        d = {
            "jefferson": Fraction(k + 1),
            "webster": Fraction(2 * k + 1, 2),
            "adams": Fraction(k),
            "huntington-hill": Fraction(k * (k + 1)),
            "dean": Fraction(2 * k * (k + 1), 2 * k + 1),  # the harmonic mean of k, k + 1
        }[kind]
        priority = first + quota[i] if d == 0 else quota[i] / d
        if squared and d != 0:
            priority = quota[i] * quota[i] / d
        elif squared:
            priority = priority * priority
        return -priority

    return divisor_cost


def _parts(problem: Problem) -> tuple[list[int], list[int | None], list[int | None]] | None:
    """The group of each recipient (-1: none) and each group's bounds; None when the
    groups overlap (no M-convex structure)."""
    group = [-1] * len(problem.ids)
    lower: list[int | None] = []
    upper: list[int | None] = []
    for g, (_, members, least, most) in enumerate(problem.groups):
        for i in members.tolist():
            if group[i] != -1:
                return None
            group[i] = g
        lower.append(least)
        upper.append(most)
    return group, lower, upper


def _allowed_at(problem: Problem, lo: IntArray) -> bool:
    """Whether some allocation keeps floors ``lo``, the caps, the budget and the groups."""
    hi = problem.hi
    if np.any(lo > hi):
        return False
    parts = _parts(problem)
    assert parts is not None
    group, lower, upper = parts
    of = np.array(group, dtype=np.int64)
    least, most = int(lo[of == -1].sum()), int(hi[of == -1].sum())
    for g, (floor, cap) in enumerate(zip(lower, upper, strict=True)):
        low, high = int(lo[of == g].sum()), int(hi[of == g].sum())
        low = max(low, floor or 0)
        high = high if cap is None else min(high, cap)
        if low > high:
            return False
        least, most = least + low, most + high
    return least <= problem.budget <= most


def optimality(problem: Problem, x: IntArray) -> Certified:
    """Certify ``x`` optimal (see the module docstring); ``x`` must already satisfy every
    constraint (:meth:`Problem.violations`). Group rules whose members overlap an earlier
    rule's are dropped first: an allowed ``x`` optimal without them is optimal with them
    (the relaxation argument), and where it is not, nothing is concluded."""
    problem = _folded(problem)
    groups = list(problem.groups)
    if _parts(problem) is not None:
        proof = _exchange_optimal(problem, x)
        if proof.ok is False and problem.grade_order:  # the better exchange may break it
            return Certified(None, f"no certificate: grade_order binds ({proof.detail})")
        return proof
    tried: list[str] = []
    for order in (groups, groups[::-1]):  # keep the first (the last) of overlapping rules
        kept, dropped = [], []
        seen = np.zeros(len(problem.ids), dtype=bool)
        for row in order:
            if seen[row[1]].any():
                dropped.append(row[0])
            else:
                kept.append(row)
                seen[row[1]] = True
        proof = _exchange_optimal(replace(problem, groups=kept), x)
        if proof.ok:
            return Certified(
                True, f"{proof.detail}; the overlapping {', '.join(dropped)} held without them"
            )
        tried.append(", ".join(dropped))
    return Certified(
        None,
        "no certificate: group rules over overlapping sets, and the optimum without "
        + " or without ".join(f"({t})" for t in tried)
        + " is another",
    )


def _folded(problem: Problem) -> Problem:
    """The same problem with each group rule over one recipient made that recipient's floor
    and cap (the same allowed allocations): a band per region where each region is one
    recipient then no longer overlaps a rule over several regions."""
    single = [row for row in problem.groups if len(set(row[1].tolist())) == 1]
    if not single:
        return problem
    lo, hi = problem.lo.copy(), problem.hi.copy()
    for _, members, least, most in single:
        i = int(members[0])
        lo[i] = lo[i] if least is None else max(int(lo[i]), least)
        hi[i] = hi[i] if most is None else min(int(hi[i]), most)
    kept = [(row, label) for row, label in zip(problem.groups, _labels(problem), strict=True)]
    kept = [(row, label) for row, label in kept if len(set(row[1].tolist())) != 1]
    return replace(
        problem,
        lo=lo,
        hi=hi,
        groups=[row for row, _ in kept],
        group_labels=tuple(label for _, label in kept),
    )


def _labels(problem: Problem) -> tuple[str, ...]:
    """The group labels, one per group (the names when none were recorded)."""
    if len(problem.group_labels) == len(problem.groups):
        return problem.group_labels
    return tuple(row[0] for row in problem.groups)


def _exchange_optimal(problem: Problem, x: IntArray) -> Certified:
    """:func:`optimality` for group rules over disjoint sets."""
    parts = _parts(problem)
    assert parts is not None, "disjoint groups only"
    group, lower, upper = parts
    quota = exact_quotas(problem)
    lo = problem.lo.copy()
    kind = problem.kind
    if kind == "maxmin":
        positive = [i for i, q in enumerate(quota) if q > 0]
        lam = min(Fraction(int(x[i])) / quota[i] for i in positive)
        higher = lo.copy()
        for i in positive:
            higher[i] = max(int(higher[i]), math.floor(lam * quota[i]) + 1)
            lo[i] = max(int(lo[i]), math.ceil(lam * quota[i]))
        if _allowed_at(problem, higher):
            return Certified(False, f"a smallest units/quota above {float(lam):.9g} is allowed")
    cost = marginal_cost(kind, quota)
    hi = problem.hi
    give: dict[int, tuple[Fraction, int]] = {}  # per group (-1: none): dearest unit to give
    take: dict[int, tuple[Fraction, int]] = {}  # cheapest unit to take
    totals: dict[int, int] = {}
    for i, (units, floor, cap) in enumerate(zip(x.tolist(), lo.tolist(), hi.tolist(), strict=True)):
        g = group[i]
        totals[g] = totals.get(g, 0) + units
        if units > floor:
            c = cost(i, units - 1)
            if g not in give or c > give[g][0]:
                give[g] = (c, i)
        if units < cap:
            c = cost(i, units)
            if g not in take or c < take[g][0]:
                take[g] = (c, i)
    for src, (out, i) in give.items():
        for dst, (into, j) in take.items():
            if into >= out or i == j:
                continue
            if src != dst and not (_may(src, totals, lower, -1) and _may(dst, totals, upper, 1)):
                continue  # the groups' totals may not move that way
            return Certified(
                False,
                f"moving a unit from {problem.ids[i]} to {problem.ids[j]} lowers the cost "
                f"by {float(out - into):.3g}",
            )
    what = "no single exchange improves it (bounds and disjoint groups: M-convex)"
    if kind == "maxmin":
        what = "its smallest units/quota cannot rise, and " + what
    if problem.grade_order:
        what += "; grade_order holds at that optimum without it"
    return Certified(True, what)


def _may(g: int, totals: dict[int, int], bound: list[int | None], step: int) -> bool:
    """Whether group ``g`` (-1: no group) may change its total by ``step`` within
    ``bound`` (its lower bound for -1, its upper for +1)."""
    if g < 0 or bound[g] is None:
        return True
    limit = bound[g]
    assert limit is not None
    return totals[g] + step >= limit if step < 0 else totals[g] + step <= limit


def engine_certificate(problem: Problem, x: IntArray, certificate: dict[str, Any]) -> list[str]:
    """What is wrong with Allot's ``certificate`` for ``x`` (an empty list: it holds)."""
    quota = exact_quotas(problem)
    folded = _folded(problem)  # a group rule over one recipient: its bounds, as Allot folds it
    lo, hi = folded.lo.tolist(), folded.hi.tolist()
    units = x.tolist()
    exact = certificate.get("exact") or {}
    out: list[str] = []
    if certificate.get("kind") == "largest_remainder":
        low = None if exact.get("low") is None else Fraction(exact["low"])
        high = None if exact.get("high") is None else Fraction(exact["high"])
        if low is not None and high is not None and low > high:
            return [f"empty threshold interval ({low}, {high}]"]
        t = high if high is not None else (low + 1 if low is not None else Fraction(0))
        tied = low is not None and low == t  # remainders tie exactly at T: rank decides
        took, left = [], []  # recipients that took / did not take a unit keyed exactly T
        for i, q in enumerate(quota):
            if lo[i] >= hi[i]:
                continue
            want = min(max(math.ceil(q + t), lo[i]), hi[i])
            if tied and units[i] - 1 - q == t and units[i] > lo[i]:
                took.append(i)
            elif want != units[i]:
                out.append(f"{problem.ids[i]}: T = {t} gives {want} units, not {units[i]}")
            elif tied and units[i] - q == t and units[i] < hi[i]:
                left.append(i)
        if took and left:  # the tie went by rank: every taker ranks before every other
            rank = _rank(problem)
            if max(rank[i] for i in took) > min(rank[i] for i in left):
                out.append(f"the units tied at T = {t} did not go by rank")
        return out
    if certificate.get("kind") == "threshold_search":
        return search_tree(problem, x, certificate)
    if certificate.get("kind") == "flow":
        return flow(problem, x, certificate)
    if certificate.get("kind") == "milp":  # the solver's own proof: objective = bound
        for stage in certificate.get("stages") or ():
            objective, bound = stage.get("objective"), stage.get("bound")
            if objective is None or (bound is not None and abs(objective - bound) > 0.5):
                out.append(f"{stage.get('stage')}: objective {objective}, bound {bound}")
        return out
    if certificate.get("kind") != "divisor":
        return [f"unknown certificate kind {certificate.get('kind')!r}"]
    method = certificate["method"]
    squared = bool(exact.get("squared"))
    per = quota
    if certificate.get("unit") == "entitlement per unit":
        per = list(problem.entitlement_exact)
    low = Fraction(exact["low"])
    high = None if exact.get("high") is None else Fraction(exact["high"])
    if high is not None and high < low:
        return [f"empty divisor interval [{low}, {high}]"]
    d = (low + high) / 2 if high is not None else 2 * low + 1  # D, or D squared
    for i, share in enumerate(per):
        if lo[i] >= hi[i]:
            continue
        y = share * share / d if squared else share / d  # entitlement / D (squared)
        k = units[i]
        if k < hi[i] and y > _divisor(method, k, squared):
            out.append(f"{problem.ids[i]}: at D = {d} it earns unit {k + 1}")
        if k > lo[i] and y < _divisor(method, k - 1, squared):
            out.append(f"{problem.ids[i]}: at D = {d} it does not earn unit {k}")
    return out


def _rank(problem: Problem) -> list[int]:
    """0 = first: the larger entitlement, then the smaller id (README "Ties")."""
    ent, ids = problem.entitlement_exact, problem.ids
    order = sorted(range(len(ids)), key=lambda i: (-ent[i], ids[i]))
    rank = [0] * len(ids)
    for r, i in enumerate(order):
        rank[i] = r
    return rank


def _divisor(method: str, k: int, squared: bool) -> Fraction:
    """``d(k)``, or ``d(k)^2`` for Huntington-Hill (``squared``)."""
    if method == "huntington-hill":
        assert squared
        return Fraction(k * (k + 1))
    return {
        "jefferson": Fraction(k + 1),
        "webster": Fraction(2 * k + 1, 2),
        "adams": Fraction(k),
    }[method]


_NO_GROUP = ("in no group of the first family", "in no group of the second family")


def flow(problem: Problem, x: IntArray, certificate: dict[str, Any]) -> list[str]:
    """What is wrong with the crossing path's ``kind: flow`` certificate for ``x`` (an empty
    list: it proves ``x`` optimal). Rebuilt from the data: the group rules (over two or more
    recipients; rules over the same members merged, named by their labels joined by `` + ``)
    in the family the certificate's cells place them, each family disjoint; the cells
    (recipients sharing a group of each family, or none) with their units; in each cell the
    dearest unit given and the cheapest unit left (exact (primary, least squares) costs on
    the certificate's ``scale``; no exchange inside the cell may lower the cost). Then every
    residual move of the flow source -> first group -> cell -> second group -> sink (a unit
    more or less through a cell, a group's total up or down within its rule) must have a
    non-negative reduced cost at the stated prices: no cycle of moves lowers the cost, the
    optimality condition of a convex-cost flow. ``maxmin`` (whose level the prices do not
    prove) is left to the other checks."""
    kind = problem.kind
    if kind == "maxmin":
        return []
    if certificate.get("objective") != kind:
        return [f"a flow certificate for {certificate.get('objective')!r}, objective {kind!r}"]
    try:
        return _flow(problem, x, certificate)
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        return [f"not a flow certificate: {exc!r}"]


def _flow(problem: Problem, x: IntArray, certificate: dict[str, Any]) -> list[str]:
    folded = _folded(problem)
    quota = exact_quotas(problem)
    primary = marginal_cost(kind := problem.kind, quota)
    scale = certificate["scale"]
    p_scale, s_scale = Fraction(scale["primary"]), Fraction(scale["least_squares"])
    divisor = kind not in ("hamilton", "weighted")

    def cost(i: int, k: int) -> tuple[Fraction, Fraction]:
        squares = Fraction(0) if divisor else (2 * (k - quota[i]) + 1) * s_scale
        return primary(i, k) * p_scale, squares

    side: dict[str, int] = {}
    for cell in certificate["cells"]:
        for s, field in enumerate(("first", "second")):
            if side.setdefault(str(cell[field]), s) != s:
                return [f"{cell[field]!r} is in both families"]
    by_members: dict[tuple[int, ...], list[Any]] = {}  # members: [labels, least, most]
    for (_, members, least, most), label in zip(folded.groups, _labels(folded), strict=True):
        key = tuple(sorted(set(members.tolist())))
        row = by_members.setdefault(key, [[], 0, None])
        row[0].append(label)
        row[1] = max(row[1], least or 0)
        row[2] = most if row[2] is None else (row[2] if most is None else min(row[2], most))
    n = len(problem.ids)
    group = [list(_NO_GROUP) for _ in range(n)]
    bounds: dict[str, tuple[int, int | None]] = {name: (0, None) for name in _NO_GROUP}
    for index, (labels, least, most) in by_members.items():
        name = " + ".join(labels)
        if not index:
            continue  # a rule over nobody: no flow passes it
        if name not in side:
            return [f"group {name!r} is in no cell of the certificate"]
        for i in index:
            if group[i][side[name]] != _NO_GROUP[side[name]]:
                return [f"group {name!r} overlaps another of its family"]
            group[i][side[name]] = name
        bounds[name] = (least, most)
    units, lo, hi = x.tolist(), folded.lo.tolist(), folded.hi.tolist()
    totals = dict.fromkeys(bounds, 0)
    cells: dict[tuple[str, str], list[int]] = {}
    for i, (a, b) in enumerate(group):
        cells.setdefault((a, b), []).append(i)
        totals[a] += units[i]
        totals[b] += units[i]
    stated = {(str(c["first"]), str(c["second"])): c for c in certificate["cells"]}
    if set(stated) != set(cells) or len(stated) != len(certificate["cells"]):
        return [f"cells {sorted(set(stated) ^ set(cells))[:2]} differ from the data's"]
    price = {str(p["group"]): _pair(p["price"]) for p in certificate["prices"]}
    zero = (Fraction(0), Fraction(0))
    moves: list[tuple[str, str, tuple[Fraction, Fraction], str]] = []
    out = []
    for (a, b), cell in cells.items():
        if int(stated[(a, b)]["units"]) != sum(units[i] for i in cell):
            out.append(f"cell ({a}, {b}): units {stated[(a, b)]['units']} are not the data's")
        give = [cost(i, units[i] - 1) for i in cell if units[i] > lo[i]]
        take = [cost(i, units[i]) for i in cell if units[i] < hi[i]]
        dearest, cheapest = max(give, default=None), min(take, default=None)
        for mine, text in ((dearest, "last_unit_cost"), (cheapest, "next_unit_cost")):
            said = stated[(a, b)].get(text)
            if (None if said is None else _pair(said)) != mine:
                out.append(f"cell ({a}, {b}): {text} {said} is not the data's {mine}")
        if dearest is not None and cheapest is not None and dearest > cheapest:
            out.append(f"cell ({a}, {b}): an exchange inside it lowers the cost")
        if cheapest is not None:
            moves.append((a, b, cheapest, f"a unit more into cell ({a}, {b})"))
        if dearest is not None:
            moves.append((b, a, (-dearest[0], -dearest[1]), f"a unit less in cell ({a}, {b})"))
    for name, (least, most) in bounds.items():
        end = "budget in" if name == _NO_GROUP[0] or side.get(name) == 0 else "budget out"
        up = (end, name) if end == "budget in" else (name, end)
        if most is None or totals[name] < most:
            moves.append((*up, zero, f"{name} up"))
        if totals[name] > least:
            moves.append((up[1], up[0], zero, f"{name} down"))
    for tail, head, c, what in moves:
        if tail not in price or head not in price:
            out.append(f"no price for {tail if tail not in price else head!r}")
            continue
        reduced = (c[0] + price[tail][0] - price[head][0], c[1] + price[tail][1] - price[head][1])
        if reduced < zero:
            out.append(f"{what}: reduced cost {reduced[0]}; {reduced[1]} < 0 at the prices")
    return out


def _pair(text: str) -> tuple[Fraction, Fraction]:
    """A stated cost ``primary; least squares; rank``: its first two parts."""
    primary, squares = str(text).split(";")[:2]
    return Fraction(primary.strip()), Fraction(squares.strip())


_Path = tuple[tuple[int, bool, Fraction], ...]
"""The constraints a search node adds, root first: (grade level, up, ratio): ``up``, every
member of the level has at least ``ratio`` units per weight; else at most ``ratio``. A
split on recipient ``i``'s units is (``-1 - i``, up, units): at least, else at most."""


def search_tree(problem: Problem, x: IntArray, certificate: dict[str, Any]) -> list[str]:
    """What is wrong with the threshold search's ``certificate`` for ``x`` (an empty list:
    it proves ``x`` optimal). Checked here, from the data:

    - the nodes form one binary tree from node 1, each split between a better grade and a
      worse one: an allocation keeping ``grade_order`` has the better grade's smallest
      units per weight at least the worse grade's largest, so it is in child ``up`` (the
      better one's at least ``ratio``) or in child ``down`` (the worse one's at most
      ``ratio``): the leaves cover every allocation that keeps the rules;
    - each leaf's bounds are computed again (floors, caps, the path's ratios, bounds the
      grade order implies, the budget), and: the ``accepted`` leaf holds ``x``, which no
      single exchange improves there (bounds and disjoint groups: M-convex); an ``empty``
      leaf holds no allocation; a ``bound`` leaf's Lagrangian bound under its prices
      (weak duality: valid for any prices of the right sign) is at least ``x``'s cost.

    So no allocation keeping the rules costs less than ``x`` (which must keep them)."""
    kind = problem.kind
    if certificate.get("objective") != kind:
        return [f"a search certificate for {certificate.get('objective')!r}, objective {kind!r}"]
    if not problem.grade_order:
        return ["a search certificate for a scenario without grade_order"]
    broken = problem.violations(x)
    if broken:
        return ["the allocation breaks " + "; ".join(broken)]
    try:
        leaves = _leaves(problem, certificate.get("nodes") or [])
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        return [f"not a search tree: {exc}"]
    space = _Space.of(problem)
    floors = None
    if kind == "maxmin":  # a tree of the floors one step above x's smallest ratio
        if any(row.get("leaf") != "empty" for _, row, _ in leaves):
            return ["a maxmin tree must have empty leaves only"]
        floors = space.above_smallest_ratio(x)
    elif sum(1 for _, row, _ in leaves if row.get("leaf") == "accepted") != 1:
        return ["the tree needs exactly one accepted leaf"]
    cost = space.cost(x) if kind != "maxmin" else Fraction(0)
    out: list[str] = []
    for node, row, path in leaves:
        box = space.box(path, floors)
        leaf = row.get("leaf")
        if leaf == "accepted":
            if box is None or np.any(x < box[0]) or np.any(x > box[1]):
                out.append(f"node {node}: the allocation is not within the accepted leaf")
                continue
            proof = optimality(replace(problem, lo=box[0], hi=box[1], grade_order=False), x)
            if not proof.ok:
                out.append(f"node {node}: not optimal within the accepted leaf: {proof.detail}")
        elif leaf == "empty":
            if box is not None and space.allows(box):
                out.append(f"node {node}: said empty, but allocations fit its bounds")
        elif leaf == "pruned":
            if box is None:
                continue  # nothing there: any bound holds
            if kind != "weighted":
                out.append(f"node {node}: no pruned leaf is checked for {kind}")
                continue
            try:
                order_bound = space.order_lagrangian(box, row["prices"])
            except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
                out.append(f"node {node}: prices unreadable ({exc})")
                continue
            if order_bound is not None and order_bound <= cost:  # equal: the leaf may tie
                out.append(f"node {node}: bound {float(order_bound):.9g} <= cost {float(cost):.9g}")
        elif leaf == "bound":
            if box is None:
                continue  # nothing there: any bound holds
            if kind not in ("hamilton", "weighted"):
                out.append(f"node {node}: no Lagrangian bound is checked for {kind}")
                continue
            try:
                bound = space.lagrangian(box, row["prices"])
            except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
                out.append(f"node {node}: prices unreadable ({exc})")
                continue
            if bound < cost:
                out.append(f"node {node}: bound {float(bound):.9g} < cost {float(cost):.9g}")
        else:
            out.append(f"node {node}: unknown leaf {leaf!r}")
    return out


def _leaves(
    problem: Problem, rows: list[dict[str, Any]]
) -> list[tuple[int, dict[str, Any], _Path]]:
    """The leaves of the tree from node 1 with the constraints on their path; raises
    ValueError when the rows are not one binary tree of valid splits."""
    by_id: dict[int, dict[str, Any]] = {}
    for row in rows:
        node = int(row["node"])
        if node in by_id:
            raise ValueError(f"node {node} listed twice")
        by_id[node] = row
    grade = {name: g for g, name in enumerate(problem.grade_names)}
    leaves = []
    seen: set[int] = set()
    stack: list[tuple[int, _Path]] = [(1, ())]
    while stack:
        node, path = stack.pop()
        if node in seen or node not in by_id:
            raise ValueError(f"node {node} reached twice or not listed")
        seen.add(node)
        row = by_id[node]
        split = row.get("split")
        if split is None:
            leaves.append((node, row, path))
            continue
        if "member" in split:  # at least units in child up, at most units - 1 in down
            i, units = _member(problem, split["member"]), int(split["units"])
            stack.append((int(split["up"]), (*path, (-1 - i, True, Fraction(units)))))
            stack.append((int(split["down"]), (*path, (-1 - i, False, Fraction(units - 1)))))
            continue
        better, worse = grade[split["better"]], grade[split["worse"]]
        if better >= worse:
            raise ValueError(f"node {node}: {split['better']} is not better than {split['worse']}")
        ratio = Fraction(split["ratio"])
        stack.append((int(split["up"]), (*path, (better, True, ratio))))
        stack.append((int(split["down"]), (*path, (worse, False, ratio))))
    if seen != set(by_id):
        raise ValueError(f"nodes outside the tree: {sorted(set(by_id) - seen)[:5]}")
    return leaves


@dataclass(frozen=True)
class _Space:
    """The scenario in exact integers for the search certificate: quotas ``numer[i] /
    denom``, weights ``scaled[i] / scale``, the kept group rules (the first of any that
    overlap, as a relaxation may; a rule over one recipient is folded into its bounds
    instead), and the root bounds."""

    problem: Problem
    numer: list[int]
    denom: int
    scaled: list[int]
    scale: int
    grades: list[list[int]]  # the members (weight > 0) of each grade, best first
    levels: list[list[int]]  # the non-empty ones
    kept: list[tuple[str, IntArray, int | None, int | None]]

    @classmethod
    def of(cls, problem: Problem) -> _Space:
        ent = problem.entitlement_exact
        common = math.lcm(*(e.denominator for e in ent))
        whole = [int(e * common) for e in ent]
        total = sum(whole)
        scale = math.lcm(*(w.denominator for w in problem.weight_exact))
        scaled = [int(w * scale) for w in problem.weight_exact]
        grades = [
            [i for i in np.flatnonzero(problem.level == g).tolist() if scaled[i] > 0]
            for g in range(len(problem.grade_names))
        ]
        kept = []
        seen = np.zeros(len(problem.ids), dtype=bool)
        for row in problem.groups:  # a rule over one recipient is its bounds (``box``)
            if len(np.unique(row[1])) > 1 and not seen[row[1]].any():
                kept.append(row)
                seen[row[1]] = True
        numer = [problem.budget * e for e in whole]
        levels = [members for members in grades if members]
        return cls(problem, numer, total, scaled, scale, grades, levels, kept)

    def cost(self, x: IntArray) -> Fraction:
        """``sum |x - q|`` (Hamilton) or ``-sum q x`` (weighted), exactly."""
        units = x.tolist()
        if self.problem.kind == "weighted":
            return -Fraction(sum(u * q for u, q in zip(units, self.numer, strict=True)), self.denom)
        d = self.denom
        return Fraction(sum(abs(u * d - q) for u, q in zip(units, self.numer, strict=True)), d)

    def above_smallest_ratio(self, x: IntArray) -> list[int]:
        """``maxmin``: the floors under which every recipient with a quota has more units
        per quota than ``x``'s smallest (``floor(m q) + 1``)."""
        units, numer, d = x.tolist(), self.numer, self.denom
        m = min(Fraction(units[i] * d, q) for i, q in enumerate(numer) if q > 0)
        return [(m.numerator * q) // (m.denominator * d) + 1 if q > 0 else 0 for q in numer]

    def box(self, path: _Path, floors: list[int] | None = None) -> tuple[IntArray, IntArray] | None:
        """The bounds of a leaf: the floors (raised to ``floors``, if given) and caps (a
        group rule over one recipient among them), caps no allocation can reach lowered,
        the path's ratios, then what the grade order implies, to a fixed point (None: the
        bounds cross)."""
        problem = self.problem
        lo, hi = problem.lo.tolist(), problem.hi.tolist()
        if floors is not None:
            lo = [max(a, b) for a, b in zip(lo, floors, strict=True)]
        for _, members, least, most in problem.groups:
            if len(members) == 1:
                i = int(members[0])
                lo[i] = max(lo[i], least) if least is not None else lo[i]
                hi[i] = min(hi[i], most) if most is not None else hi[i]
        least_total = sum(lo)
        hi = [min(h, problem.budget - least_total + f) for h, f in zip(hi, lo, strict=True)]
        for _, members, _, most in problem.groups:  # any rule's maximum caps its members
            if most is not None:
                index = members.tolist()
                others = sum(lo[i] for i in index)
                for i in index:
                    hi[i] = min(hi[i], most - others + lo[i])
        for g, up, ratio in path:
            if g < 0:  # one recipient's units
                i = -1 - g
                if up:
                    lo[i] = max(lo[i], int(ratio))
                else:
                    hi[i] = min(hi[i], int(ratio))
                continue
            for i in self.grades[g]:
                if up:
                    lo[i] = max(lo[i], self._at_least(ratio, i))
                else:
                    hi[i] = min(hi[i], self._at_most(ratio, i))
        changed = True
        while changed:
            changed = False
            for better, worse in zip(self.levels, self.levels[1:], strict=False):
                floor_ratio = max(Fraction(lo[j] * self.scale, self.scaled[j]) for j in worse)
                for i in better:
                    k = self._at_least(floor_ratio, i)
                    if k > lo[i]:
                        lo[i], changed = k, True
                cap_ratio = min(Fraction(hi[i] * self.scale, self.scaled[i]) for i in better)
                for j in worse:
                    k = self._at_most(cap_ratio, j)
                    if k < hi[j]:
                        hi[j], changed = k, True
            if any(a > b for a, b in zip(lo, hi, strict=True)):
                return None
        return np.array(lo, dtype=np.int64), np.array(hi, dtype=np.int64)

    def _at_least(self, ratio: Fraction, i: int) -> int:
        """The fewest units giving recipient ``i`` at least ``ratio`` per weight."""
        return -((-ratio.numerator * self.scaled[i]) // (ratio.denominator * self.scale))

    def _at_most(self, ratio: Fraction, i: int) -> int:
        return (ratio.numerator * self.scaled[i]) // (ratio.denominator * self.scale)

    def allows(self, box: tuple[IntArray, IntArray]) -> bool:
        """Whether some allocation within ``box`` keeps the budget and the kept groups."""
        return _allowed_at(replace(self.problem, hi=box[1], groups=self.kept), box[0])

    def priced(self, prices: dict[str, Any]) -> tuple[list[Fraction], Fraction]:
        """Each recipient's price (``lambda`` plus its groups' prices) and ``lambda B +
        sum_g mu_g bound_g``; a price of the wrong sign for its bound is refused."""
        problem = self.problem
        lam = Fraction(prices["budget"])
        price = [lam] * len(problem.ids)
        value = lam * problem.budget
        for entry in prices.get("groups") or ():
            named = [g for g, label in enumerate(problem.group_labels) if label == entry["group"]]
            if len(named) != 1:
                raise ValueError(f"{len(named)} group rules named {entry['group']!r}")
            _, members, least, most = problem.groups[named[0]]
            mu = Fraction(entry["price"])
            side = least if entry["bound"] == "min" else most
            if side is None or (mu < 0 if entry["bound"] == "min" else mu > 0):
                raise ValueError(f"{entry['group']}: a {entry['bound']} price of {mu}")
            value += mu * side
            for i in members.tolist():
                price[i] += mu
        return price, value

    def lagrangian(self, box: tuple[IntArray, IntArray], prices: dict[str, Any]) -> Fraction:
        """``sum_i min_k (cost_i(k) - p_i k) + lambda B + sum_g mu_g bound_g`` over the box,
        with ``p_i = lambda + sum of mu_g over i's priced groups``: at most the cost of any
        allocation in the box that keeps the budget and the priced group rules (a ``min``
        price must be >= 0 on a rule with a lower bound, a ``max`` price <= 0 on one with
        an upper bound)."""
        problem = self.problem
        price, value = self.priced(prices)
        d = self.denom
        weighted = problem.kind == "weighted"
        sums: dict[Fraction, int] = {}  # per price p: sum of min_k (cost - p k) * d * den(p)
        for i, (floor, cap) in enumerate(zip(box[0].tolist(), box[1].tolist(), strict=True)):
            p, q = price[i], self.numer[i]
            a, b = p.numerator, p.denominator
            if weighted:  # -(q + p) k, times d * b
                best = min(-(q * b + a * d) * k for k in (floor, cap))
            else:  # |k - q| - p k: at an end or at a whole number next to q
                whole = q // d
                ks = {floor, cap, min(max(whole, floor), cap), min(max(whole + 1, floor), cap)}
                best = min(b * abs(k * d - q) - a * k * d for k in ks)
            sums[p] = sums.get(p, 0) + best
        return value + sum((Fraction(s, d * p.denominator) for p, s in sums.items()), Fraction(0))

    def order_lagrangian(
        self, box: tuple[IntArray, IntArray], prices: dict[str, Any]
    ) -> Fraction | None:
        """``weighted``, a pruned leaf: the Lagrangian with prices on the budget, the group
        rules named and, per threshold ``t`` between two grades, each member's side (``up``:
        ``x_i >= t w_i`` in the better grade, ``down``: ``x_j <= t w_j`` in the worse),
        ``t`` free between the worse grade's largest floor and the better grade's smallest
        cap per weight in the box: at most the cost of any allocation there that keeps the
        budget, those rules and ``grade_order`` (weak duality). None: some ``t`` has no
        room, so the box holds no allocation keeping ``grade_order``."""
        problem = self.problem
        price, value = self.priced(prices)
        grade = {name: g for g, name in enumerate(problem.grade_names)}
        floors, caps = box[0].tolist(), box[1].tolist()
        weight = problem.weight_exact
        for entry in prices.get("orders") or ():
            better, worse = grade[entry["better"]], grade[entry["worse"]]
            above, below = self.grades[better], self.grades[worse]
            if better >= worse or not above or not below:
                raise ValueError(f"no threshold between {entry['better']}, {entry['worse']}")
            slope = Fraction(0)
            for side_name, level, sign in (("up", above, 1), ("down", below, -1)):
                for name, text in (entry.get(side_name) or {}).items():
                    i, p = _member(problem, name), Fraction(text)
                    if i not in level or p < 0:
                        raise ValueError(f"{name}: a {side_name} price of {p} here")
                    price[i] += sign * p
                    slope += sign * p * weight[i]
            t_least = max(Fraction(floors[j]) / weight[j] for j in below)
            t_most = min(Fraction(caps[i]) / weight[i] for i in above)
            if t_least > t_most:
                return None
            value += min(slope * t_least, slope * t_most)
        d = self.denom
        for i, (floor, cap) in enumerate(zip(floors, caps, strict=True)):
            reduced = -Fraction(self.numer[i], d) - price[i]
            value += reduced * (floor if reduced >= 0 else cap)
        return value


def _member(problem: Problem, name: str) -> int:
    """The recipient a certificate names: by id, or ``#k``, the k-th id in code-point
    order."""
    ids = list(problem.ids)
    if name in ids:
        return ids.index(name)
    if name.startswith("#") and name[1:].isdigit():
        return ids.index(sorted(ids)[int(name[1:])])
    raise ValueError(f"no recipient {name!r}")
