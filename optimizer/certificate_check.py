"""The crossing path's certificate (``kind: flow``) and the search path's tree (``kind:
threshold_search``) checked from the scenario's numbers alone.

:mod:`optimizer.verify` hands over the data it derived itself (exact quotas, bounds, the
group rules, the grades) and this module re-derives what the certificate states, in exact
fractions, sharing no code with :mod:`optimizer.crossing` or :mod:`optimizer.thresholds`.

- ``flow``: the two families of disjoint groups and the cells they cut, each cell's units
  and the cost of its last and next unit (the split within a cell must admit no improving
  exchange), and then, at the stated prices, the reduced cost of every residual move (a
  unit more or less through a cell, a group's total up or down within its rule). All
  non-negative, in the lexicographic keys (primary, least squares), means no cycle of moves
  lowers the cost: the convex-cost flow's optimality condition, and so the allocation is
  optimal. The rank part of the keys only breaks exact ties and is not checked.
- ``threshold_search``: the nodes form one binary tree whose splits cover every allocation
  keeping ``grade_order`` (the better grade at least the ratio per weight, or the worse
  one at most it); each leaf's bounds are derived again; the accepted leaf holds the
  allocation, which the caller's exchange check finds optimal there; an empty leaf admits
  no allocation; a bound leaf's stated optimum and its Lagrangian bound under its prices
  (weak duality) are at least the allocation's cost.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

Group = tuple[str, Sequence[int], int | None, int | None]
"""A group rule: its label, members, least and most units (None: no such bound)."""
Key = tuple[Fraction, Fraction]
"""A unit's (primary, least squares) cost, compared lexicographically."""

FLOW_RULES = ("hamilton", "weighted", "jefferson", "webster", "adams", "dean")
NONE_NAMES = ("in no group of the first family", "in no group of the second family")


@dataclass(frozen=True)
class Data:
    """What the check needs, derived from the scenario by the caller: exact quotas, each
    recipient's bounds (floors, caps, change limits, one-member rules), the allocation and
    the group rules; for the search, the budget, the weights and the grades."""

    ids: Sequence[str]
    q: Sequence[Fraction]
    lo: Sequence[int]
    hi: Sequence[int]
    x: Sequence[int]
    groups: Sequence[Group]
    budget: int = 0
    weight: Sequence[Fraction] = ()
    grades: Sequence[tuple[str, Sequence[int]]] = ()
    """The grades, best first, each with its members of positive weight."""


def flow_problems(rule: str, data: Data, cert: Mapping[str, Any]) -> str | None:
    """What is wrong with a ``kind: flow`` certificate for ``data.x`` under ``rule`` (None:
    it proves ``x`` optimal). Raises KeyError, TypeError or ValueError on a malformed one."""
    if cert.get("objective") != rule:
        return f"a flow certificate for {cert.get('objective')!r}; the objective is {rule!r}"
    if rule not in FLOW_RULES:
        return f"no flow certificate exists for {rule!r}"
    scale = cert["scale"]
    unit = _UnitCost(rule, data.q, Fraction(scale["primary"]), Fraction(scale["least_squares"]))
    families = _families(data, cert)
    if isinstance(families, str):
        return families
    groups, side_of = families
    # each recipient's cell: (its group of the first family, of the second; a NONE name)
    owner: list[list[str]] = [list(NONE_NAMES) for _ in data.x]
    for name, (members, _, _) in groups.items():
        for i in members:
            owner[i][side_of[name]] = name
    totals: dict[str, int] = dict.fromkeys([*groups, *NONE_NAMES], 0)
    cells: dict[tuple[str, str], list[int]] = {}
    for i, (first, second) in enumerate(owner):
        cells.setdefault((first, second), []).append(i)
        totals[first] += data.x[i]
        totals[second] += data.x[i]
    stated = {(str(c["first"]), str(c["second"])): c for c in cert["cells"]}
    if len(stated) != len(cert["cells"]) or set(stated) != set(cells):
        wrong = sorted(set(stated) ^ set(cells))[:2]
        return f"the certificate's cells are not the scenario's: {wrong} differ"
    price: dict[str, Key] = {str(p["group"]): _key(p["price"]) for p in cert["prices"]}
    edges: list[tuple[str, str, Key, str]] = []  # from, to, cost, the move in words
    firsts: list[tuple[str, str, int]] = []  # the same moves: first units gained (+1: lost)
    zero = (Fraction(0), Fraction(0))
    for (first, second), members in cells.items():
        row = stated[(first, second)]
        units = sum(data.x[i] for i in members)
        where = f"cell ({first}, {second})"
        if int(row["units"]) != units:
            return f"{where}: {units:,} units, the certificate says {row['units']}"
        last = max(
            ((unit(i, data.x[i] - 1), i) for i in members if data.x[i] > data.lo[i]),
            default=None,
        )
        following = min(
            ((unit(i, data.x[i]), i) for i in members if data.x[i] < data.hi[i]),
            default=None,
        )
        for (found, _), text, what in (
            (last or (None, 0), row.get("last_unit_cost"), "last"),
            (following or (None, 0), row.get("next_unit_cost"), "next"),
        ):
            said = None if text is None else _key(text)
            if said != found:
                return f"{where}: its {what} unit costs {_text(found)}, the certificate says {text}"
        if last is not None and following is not None and last[0] > following[0]:
            return (
                f"{where}: moving a unit from {data.ids[last[1]]} to "
                f"{data.ids[following[1]]} lowers the cost: the cell's split is not optimal"
            )
        if following is not None:
            edges.append((first, second, following[0], f"a unit more through {where}"))
            firsts.append((first, second, -unit.is_first(data.x[following[1]])))
        if last is not None:
            edges.append((second, first, _neg(last[0]), f"a unit less through {where}"))
            firsts.append((second, first, unit.is_first(data.x[last[1]] - 1)))
    for name, least, most in [
        *((n, g[1], g[2]) for n, g in groups.items()),
        *((n, 0, None) for n in NONE_NAMES),
    ]:
        total = totals[name]
        end = "budget in" if name == NONE_NAMES[0] or side_of.get(name) == 0 else "budget out"
        up, down = (end, name) if end == "budget in" else (name, end)
        if most is None or total < most:
            edges.append((up, down, zero, f"{name}'s total up"))
            firsts.append((up, down, 0))
        if total > least:
            edges.append((down, up, zero, f"{name}'s total down"))
            firsts.append((down, up, 0))
    if any(gained for _, _, gained in firsts) and _negative_cycle(firsts):
        return (
            "a cycle of moves gives a first unit to more recipients (first units under "
            "d(0) = 0 come before every other): the allocation is not optimal"
        )
    for tail, head, cost, what in edges:
        if tail not in price or head not in price:
            missing = tail if tail not in price else head
            return f"no price for {missing!r}"
        reduced = (
            cost[0] + price[tail][0] - price[head][0],
            cost[1] + price[tail][1] - price[head][1],
        )
        if reduced < zero:
            return (
                f"{what}: its reduced cost at the stated prices is {_text(reduced)}, below 0 "
                "(an improving exchange, or prices that prove nothing)"
            )
    return None


def _families(
    data: Data, cert: Mapping[str, Any]
) -> tuple[dict[str, tuple[list[int], int, int | None]], dict[str, int]] | str:
    """The group rules over two or more recipients, rules over the same members merged
    (named as the certificate names them: the labels joined by `` + ``, with the largest
    minimum and smallest maximum), each placed in the family the certificate's cells show;
    an error when that is not two families of disjoint groups."""
    merged: dict[frozenset[int], tuple[list[str], list[int], int, int | None]] = {}
    for label, members, least, most in data.groups:
        distinct = sorted(set(members))
        if len(distinct) < 2:
            continue  # over one recipient: its bounds; over none: nothing to flow
        key = frozenset(distinct)
        labels, _, low, high = merged.get(key, ([], distinct, 0, None))
        low = max(low, least or 0)
        high = most if high is None else (high if most is None else min(high, most))
        merged[key] = ([*labels, label], distinct, low, high)
    sides: dict[str, set[int]] = {}
    for cell in cert["cells"]:
        for side, field in enumerate(("first", "second")):
            sides.setdefault(str(cell[field]), set()).add(side)
    groups: dict[str, tuple[list[int], int, int | None]] = {}
    side_of: dict[str, int] = {}
    taken: list[set[int]] = [set(), set()]
    for labels, members, low, high in merged.values():
        name = " + ".join(labels)
        found = sides.get(name, set())
        if len(found) != 1:
            return f"group {name!r} is in {'both families' if found else 'no cell'}"
        side = found.pop()
        if taken[side] & set(members):
            return f"group {name!r} overlaps another group of its family"
        taken[side] |= set(members)
        groups[name], side_of[name] = (members, low, high), side
    return groups, side_of


class _UnitCost:
    """The exact (primary, least squares) cost of unit ``k`` (the (k+1)-th) of recipient
    ``i``, on the certificate's scale: Hamilton ``|k + 1 - q| - |k - q|``, ``weighted``
    ``-q``, each with the least squares ``(k + 1 - q)^2 - (k - q)^2``; a divisor method
    ``-q / d(k)`` (a first unit under ``d(0) = 0``: ``-(2 max q + q)``, before every other
    unit), least squares 0."""

    def __init__(self, rule: str, q: Sequence[Fraction], primary: Fraction, squares: Fraction):
        self.rule, self.q, self.primary, self.squares = rule, q, primary, squares
        self.first = 2 * max(q, default=Fraction(0))

    def is_first(self, k: int) -> int:
        """1 when unit ``k`` is a first unit under ``d(0) = 0`` (Adams, Dean), else 0."""
        return int(k == 0 and self.rule in ("adams", "dean"))

    def __call__(self, i: int, k: int) -> Key:
        q, rule = self.q[i], self.rule
        if rule in ("hamilton", "weighted"):
            gap = 2 * (k - q) + 1
            p = max(Fraction(-1), min(Fraction(1), gap)) if rule == "hamilton" else -q
            return p * self.primary, gap * self.squares
        d = divisor(rule, k)
        p = -(self.first + q) if d == 0 else -q / d
        return p * self.primary, Fraction(0)


def _negative_cycle(edges: list[tuple[str, str, int]]) -> bool:
    """Whether integer edge costs close a negative cycle (Bellman-Ford from a virtual root).
    The stated prices price a first unit at ``2 max q + q``, which ranks it above every
    other unit in any single exchange but not in every cycle through three cells or more:
    so first units gained are counted on their own (their count comes first in the cost)."""
    dist = dict.fromkeys([u for u, _, _ in edges] + [v for _, v, _ in edges], 0)
    for _ in range(len(dist) + 1):
        changed = False
        for u, v, c in edges:
            if dist[u] + c < dist[v]:
                dist[v], changed = dist[u] + c, True
        if not changed:
            return False
    return True


def divisor(rule: str, k: int) -> Fraction:
    """The divisor method's ``d(k)``, exactly, from its definition (the checks' own: they
    take nothing from the engine). Huntington-Hill's square root has no exact form."""
    if rule == "jefferson":
        return Fraction(k + 1)
    if rule == "webster":
        return Fraction(2 * k + 1, 2)
    if rule == "adams":
        return Fraction(k)
    if rule == "dean":
        return Fraction(2 * k * (k + 1), 2 * k + 1)  # the harmonic mean of k and k + 1
    raise ValueError(rule)


def _key(text: str) -> Key:
    """``primary; least squares; rank`` as stated: the first two parts."""
    parts = str(text).split(";")
    return Fraction(parts[0].strip()), Fraction(parts[1].strip())


def _neg(key: Key) -> Key:
    return -key[0], -key[1]


def _text(key: Key | None) -> str:
    return "none" if key is None else f"{key[0]}; {key[1]}"


Optimal = Callable[[list[int], list[int], list[Group]], str | None]
"""The caller's exchange check: why ``x`` is not optimal within these bounds under these
group rules (disjoint), or None."""
_Path = tuple[tuple[int, bool, Fraction], ...]
"""A node's constraints from the root: (grade, up, ratio), or for a split on one
recipient ``i``'s units (``-1 - i``, up, units)."""


def search_problems(
    rule: str, data: Data, cert: Mapping[str, Any], optimal_within: Optimal
) -> str | None:
    """What is wrong with a ``kind: threshold_search`` certificate for ``data.x`` under
    ``rule`` (None: it proves ``x`` optimal; ``x`` must keep every rule, which the caller
    checks). Raises KeyError, TypeError or ValueError on a malformed one."""
    if cert.get("objective") != rule:
        return f"a search certificate for {cert.get('objective')!r}; the objective is {rule!r}"
    leaves = _leaves(data, cert["nodes"])
    kinds = [str(row.get("leaf")) for _, row, _ in leaves]
    floors = None
    if rule == "maxmin":  # the tree of the floors one step above x's smallest ratio
        if set(kinds) != {"empty"}:
            return "a maxmin tree must have empty leaves only"
        positive = [i for i, q in enumerate(data.q) if q > 0]
        m = min(Fraction(data.x[i]) / data.q[i] for i in positive)
        floors = [math.floor(m * q) + 1 if q > 0 else 0 for q in data.q]
    elif kinds.count("accepted") != 1:
        return f"the tree needs exactly one accepted leaf ({kinds.count('accepted')} given)"
    kept = _disjoint([g for g in data.groups if len(set(g[1])) != 1])  # one member: bounds
    cost = _cost(rule, data) if rule in ("hamilton", "weighted") else None
    ints = _Integers.of(data)
    for node, row, path in leaves:
        box = _box(data, ints, path, floors)
        leaf = row.get("leaf")
        if leaf == "accepted":
            if box is None or any(
                not a <= u <= b for u, a, b in zip(data.x, box[0], box[1], strict=True)
            ):
                return f"node {node}: the allocation is not within the accepted leaf's bounds"
            wrong = optimal_within(box[0], box[1], kept)
            if wrong is not None:
                return f"node {node}: not optimal within the accepted leaf: {wrong}"
        elif leaf == "empty":
            if box is not None and _allows(data, box, kept):
                return f"node {node}: said empty, but allocations fit its bounds"
        elif leaf == "pruned":
            if rule != "weighted" or cost is None:
                return f"node {node}: no pruned leaf is checked for {rule}"
            if box is None:
                continue  # nothing there: any bound holds
            below_cost = _order_lagrangian(data, ints, box, row["prices"])
            if below_cost is not None and below_cost <= cost:  # equal: a tie the leaf may win
                return (
                    f"node {node}: its Lagrangian bound {below_cost} is not above the answer's "
                    f"cost {cost}: the leaf may hold an allocation as cheap or cheaper"
                )
        elif leaf == "bound":
            if cost is None:
                return f"node {node}: no bound leaf is checked for {rule}"
            stated = Fraction(str(row["cost"]))
            if stated < cost:
                return (
                    f"node {node}: its stated optimum {stated} costs less than the answer's "
                    f"{cost}: the search would have taken it"
                )
            if box is None:
                continue  # nothing there: any bound holds
            bound = _lagrangian(rule, data, ints, box, row["prices"])
            if bound < cost:
                return (
                    f"node {node}: its Lagrangian bound {bound} is below the answer's cost "
                    f"{cost}: the leaf may hold a cheaper allocation"
                )
        else:
            return f"node {node}: unknown leaf {leaf!r}"
    return None


def _leaves(data: Data, rows: Sequence[Mapping[str, Any]]) -> list[tuple[int, Any, _Path]]:
    """The leaves of the tree from node 1, each with the constraints on its path; raises
    ValueError unless the rows are one binary tree of splits of a better grade from a worse
    one."""
    by_id: dict[int, Mapping[str, Any]] = {}
    for row in rows:
        node = int(row["node"])
        if node in by_id:
            raise ValueError(f"node {node} listed twice")
        by_id[node] = row
    grade = {name: g for g, (name, _) in enumerate(data.grades)}
    leaves = []
    seen: set[int] = set()
    stack: list[tuple[int, _Path]] = [(1, ())]
    while stack:
        node, path = stack.pop()
        if node in seen or node not in by_id:
            raise ValueError(f"node {node} reached twice or not listed")
        seen.add(node)
        split = by_id[node].get("split")
        if split is None:
            leaves.append((node, by_id[node], path))
            continue
        if "member" in split:  # x_i >= units in child up, <= units - 1 in child down
            i, units = _member(data, split["member"]), int(split["units"])
            stack.append((int(split["up"]), (*path, (-1 - i, True, Fraction(units)))))
            stack.append((int(split["down"]), (*path, (-1 - i, False, Fraction(units - 1)))))
            continue
        better, worse = grade[split["better"]], grade[split["worse"]]
        if better >= worse:
            raise ValueError(f"node {node}: {split['better']} is not better than {split['worse']}")
        ratio = Fraction(str(split["ratio"]))
        stack.append((int(split["up"]), (*path, (better, True, ratio))))
        stack.append((int(split["down"]), (*path, (worse, False, ratio))))
    if seen != set(by_id):
        raise ValueError(f"nodes outside the tree: {sorted(set(by_id) - seen)[:5]}")
    return leaves


@dataclass(frozen=True)
class _Integers:
    """The weights as ``big[i] / scale`` and the quotas as ``numer[i] / denom``, integers."""

    big: list[int]
    scale: int
    numer: list[int]
    denom: int

    @classmethod
    def of(cls, data: Data) -> _Integers:
        scale = math.lcm(*(w.denominator for w in data.weight))
        denom = math.lcm(*(q.denominator for q in data.q))
        return cls(
            [int(w * scale) for w in data.weight],
            scale,
            [int(q * denom) for q in data.q],
            denom,
        )


def _box(
    data: Data, ints: _Integers, path: _Path, floors: list[int] | None
) -> tuple[list[int], list[int]] | None:
    """A leaf's bounds: the floors (raised to ``floors``) and caps; caps no allocation can
    reach (the budget, any rule's maximum); the path's ratios (``ceil(m w)`` up, ``floor(m
    w)`` down); then what ``grade_order`` implies between adjacent grades, to a fixed point.
    Each step is implied by the rules, so the leaf's allocations lie within. None: they
    cross. Integers throughout: weights ``w_i = W_i / S``."""
    lo, hi = list(data.lo), list(data.hi)
    if floors is not None:
        lo = [max(a, b) for a, b in zip(lo, floors, strict=True)]
    for _, members, least, most in data.groups:  # a rule over one recipient: its bounds
        if len(set(members)) == 1:
            i = next(iter(members))
            lo[i] = lo[i] if least is None else max(lo[i], least)
            hi[i] = hi[i] if most is None else min(hi[i], most)
    least = sum(lo)
    hi = [min(h, data.budget - least + f) for h, f in zip(hi, lo, strict=True)]
    for _, members, _, most in data.groups:
        if most is not None:
            others = sum(lo[i] for i in set(members))
            for i in set(members):
                hi[i] = min(hi[i], most - others + lo[i])
    big = ints.big
    for g, up, ratio in path:
        if g < 0:  # one recipient's units
            i, units = -1 - g, int(ratio)
            if up:
                lo[i] = max(lo[i], units)
            else:
                hi[i] = min(hi[i], units)
            continue
        a, b = ratio.numerator, ratio.denominator * ints.scale
        for i in data.grades[g][1]:
            if up:
                lo[i] = max(lo[i], -(-a * big[i] // b))
            else:
                hi[i] = min(hi[i], a * big[i] // b)
    levels = [members for _, members in data.grades if members]
    changed = True
    while changed:
        changed = False
        for better, worse in itertools.pairwise(levels):
            # the worse grade's largest floor per weight, lo[j] / W[j], gives the better
            # grade's floors ceil(lo[j] W[i] / W[j]); the better's smallest cap the worse's caps
            top = worse[0]
            for j in worse:
                if lo[j] * big[top] > lo[top] * big[j]:
                    top = j
            for i in better:
                k = -(-lo[top] * big[i] // big[top])
                if k > lo[i]:
                    lo[i], changed = k, True
            bottom = better[0]
            for i in better:
                if hi[i] * big[bottom] < hi[bottom] * big[i]:
                    bottom = i
            for j in worse:
                k = hi[bottom] * big[j] // big[bottom]
                if k < hi[j]:
                    hi[j], changed = k, True
        if any(a > b for a, b in zip(lo, hi, strict=True)):
            return None
    return lo, hi


def _disjoint(groups: Sequence[Group]) -> list[Group]:
    """The group rules in order, less any whose members overlap an earlier kept one's
    (fewer rules: a relaxation, so an optimum within them is one within all)."""
    kept: list[Group] = []
    seen: set[int] = set()
    for group in groups:
        members = set(group[1])
        if not members & seen:
            kept.append(group)
            seen |= members
    return kept


def _allows(data: Data, box: tuple[list[int], list[int]], kept: list[Group]) -> bool:
    """Whether some allocation within ``box`` keeps the budget and the ``kept`` rules
    (disjoint: each group's total ranges on its own)."""
    lo, hi = box
    grouped: set[int] = set()
    least = most = 0
    for _, members, low, high in kept:
        index = set(members)
        grouped |= index
        a = max(sum(lo[i] for i in index), low or 0)
        b = sum(hi[i] for i in index) if high is None else min(sum(hi[i] for i in index), high)
        if a > b:
            return False
        least, most = least + a, most + b
    rest = [i for i in range(len(lo)) if i not in grouped]
    least += sum(lo[i] for i in rest)
    most += sum(hi[i] for i in rest)
    return least <= data.budget <= most


def _cost(rule: str, data: Data) -> Fraction:
    """``sum |x - q|`` (Hamilton) or ``-sum q x`` (``weighted``), exactly."""
    if rule == "weighted":
        return -sum((q * u for q, u in zip(data.q, data.x, strict=True)), Fraction(0))
    return sum((abs(u - q) for q, u in zip(data.q, data.x, strict=True)), Fraction(0))


def _lagrangian(
    rule: str,
    data: Data,
    ints: _Integers,
    box: tuple[list[int], list[int]],
    prices: Mapping[str, Any],
) -> Fraction:
    """``sum_i min_k (cost_i(k) - p_i k) + lambda B + sum_g mu_g bound_g`` over the box,
    ``p_i`` being ``lambda`` plus the prices of ``i``'s groups: at most the cost of any
    allocation in the box that keeps the budget and the priced rules (weak duality: a
    ``min`` price must be at least 0, a ``max`` price at most 0)."""
    price, value = _priced(data, prices)
    d = ints.denom
    sums: dict[tuple[int, int], int] = {}  # per price a / b: sum of min_k (cost - p k) d b
    for i, (low, high) in enumerate(zip(box[0], box[1], strict=True)):
        q, a, b = ints.numer[i], price[i].numerator, price[i].denominator
        if rule == "weighted":  # -(q + p) k, times d b
            best = min(-(q * b + a * d) * k for k in (low, high))
        else:  # |k - q| - p k: least at an end or at a whole number next to q
            ks = {low, high, *(min(max(k, low), high) for k in (q // d, q // d + 1))}
            best = min(b * abs(k * d - q) - a * k * d for k in ks)
        sums[a, b] = sums.get((a, b), 0) + best
    value += sum((Fraction(v, d * b) for (_, b), v in sums.items()), Fraction(0))
    return value


def _priced(data: Data, prices: Mapping[str, Any]) -> tuple[list[Fraction], Fraction]:
    """Each recipient's price (``lambda`` plus its groups' prices) and ``lambda B + sum_g
    mu_g bound_g``; a price of the wrong sign for its bound (weak duality) is refused."""
    lam = Fraction(str(prices["budget"]))
    price = [lam] * len(data.q)
    value = lam * data.budget
    for entry in prices.get("groups") or ():
        named = [g for g in data.groups if g[0] == entry["group"]]
        if len(named) != 1:
            raise ValueError(f"{len(named)} group rules named {entry['group']!r}")
        _, members, least, most = named[0]
        mu = Fraction(str(entry["price"]))
        side = least if entry["bound"] == "min" else most
        if side is None or (mu < 0 if entry["bound"] == "min" else mu > 0):
            raise ValueError(f"{entry['group']}: a {entry['bound']} price of {mu}")
        value += mu * side
        for i in set(members):
            price[i] += mu
    return price, value


def _member(data: Data, name: str) -> int:
    """The recipient a certificate names: by id, or ``#k``, the k-th id in code-point
    order (the engine's own order)."""
    if name in data.ids:
        return list(data.ids).index(name)
    if name.startswith("#") and name[1:].isdigit():
        return list(data.ids).index(sorted(data.ids)[int(name[1:])])
    raise ValueError(f"no recipient {name!r}")


def _order_lagrangian(
    data: Data, ints: _Integers, box: tuple[list[int], list[int]], prices: Mapping[str, Any]
) -> Fraction | None:
    """``weighted``: the Lagrangian of a pruned leaf, ``lambda B + sum_g mu_g bound_g +
    sum_i min_k (-q_i - p_i) k + sum_t min_t s t`` over the box, where ``p_i`` adds to
    ``lambda`` the prices of ``i``'s groups and, per threshold ``t`` between grades, ``i``'s
    ``up`` price (``x_i >= t w_i``, better grade) less its ``down`` price (``x_j <= t w_j``,
    worse grade), and ``s`` is ``sum up w - sum down w``; ``t`` lies between the worse
    grade's largest floor and the better grade's smallest cap per weight. At most the cost
    of any allocation of the leaf keeping the budget, the priced rules and ``grade_order``
    (weak duality: prices of the right sign). None: some ``t`` has no room, so the leaf
    holds no allocation keeping ``grade_order``."""
    price, value = _priced(data, prices)
    grade = {name: g for g, (name, _) in enumerate(data.grades)}
    lo, hi = box
    for entry in prices.get("orders") or ():
        better, worse = grade[entry["better"]], grade[entry["worse"]]
        above, below = data.grades[better][1], data.grades[worse][1]
        if better >= worse or not above or not below:
            raise ValueError(f"no threshold between {entry['better']} and {entry['worse']}")
        slope = Fraction(0)
        for side_name, level, sign in (("up", above, 1), ("down", below, -1)):
            for name, text in (entry.get(side_name) or {}).items():
                i, p = _member(data, name), Fraction(str(text))
                if i not in level or p < 0:
                    raise ValueError(f"{name}: a {side_name} price of {p} between these grades")
                price[i] += sign * p
                slope += sign * p * data.weight[i]
        t_least = max(Fraction(lo[j]) / data.weight[j] for j in below)
        t_most = min(Fraction(hi[i]) / data.weight[i] for i in above)
        if t_least > t_most:
            return None
        value += min(slope * t_least, slope * t_most)
    for i, (low, high) in enumerate(zip(lo, hi, strict=True)):
        reduced = -data.q[i] - price[i]
        value += reduced * (low if reduced >= 0 else high)
    return value
