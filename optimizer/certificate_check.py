"""The crossing path's certificate (``kind: flow``) checked from the scenario's numbers alone.

:mod:`optimizer.verify` hands over the data it derived itself (exact quotas, bounds, the
group rules) and this module re-derives the flow the certificate describes, in exact
fractions, sharing no code with :mod:`optimizer.crossing`: the two families of disjoint
groups and the cells they cut, each cell's units and the cost of its last and next unit
(the split within a cell must admit no improving exchange), and then, at the stated
prices, the reduced cost of every residual move (a unit more or less through a cell, a
group's total up or down within its rule). All non-negative, in the lexicographic keys
(primary, least squares), means no cycle of moves lowers the cost: the convex-cost flow's
optimality condition, and so the allocation is optimal. The rank part of the keys only
breaks exact ties and is not checked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

Key = tuple[Fraction, Fraction]
"""A unit's (primary, least squares) cost, compared lexicographically."""

FLOW_RULES = ("hamilton", "weighted", "jefferson", "webster", "adams", "dean")
NONE_NAMES = ("in no group of the first family", "in no group of the second family")


@dataclass(frozen=True)
class Data:
    """What the check needs, derived from the scenario by the caller: exact quotas, each
    recipient's bounds (floors, caps, change limits, one-member rules), the allocation and
    the group rules as (label, members, least, most)."""

    ids: Sequence[str]
    q: Sequence[Fraction]
    lo: Sequence[int]
    hi: Sequence[int]
    x: Sequence[int]
    groups: Sequence[tuple[str, Sequence[int], int | None, int | None]]


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
        if last is not None:
            edges.append((second, first, _neg(last[0]), f"a unit less through {where}"))
    for name, least, most in [
        *((n, g[1], g[2]) for n, g in groups.items()),
        *((n, 0, None) for n in NONE_NAMES),
    ]:
        total = totals[name]
        end = "budget in" if name == NONE_NAMES[0] or side_of.get(name) == 0 else "budget out"
        up, down = (end, name) if end == "budget in" else (name, end)
        if most is None or total < most:
            edges.append((up, down, zero, f"{name}'s total up"))
        if total > least:
            edges.append((down, up, zero, f"{name}'s total down"))
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

    def __call__(self, i: int, k: int) -> Key:
        q, rule = self.q[i], self.rule
        if rule in ("hamilton", "weighted"):
            gap = 2 * (k - q) + 1
            p = max(Fraction(-1), min(Fraction(1), gap)) if rule == "hamilton" else -q
            return p * self.primary, gap * self.squares
        d = _divisor(rule, k)
        p = -(self.first + q) if d == 0 else -q / d
        return p * self.primary, Fraction(0)


def _divisor(rule: str, k: int) -> Fraction:
    if rule == "jefferson":
        return Fraction(k + 1)
    if rule == "webster":
        return Fraction(2 * k + 1, 2)
    if rule == "adams":
        return Fraction(k)
    return Fraction(2 * k * (k + 1), 2 * k + 1)  # dean: the harmonic mean of k and k + 1


def _key(text: str) -> Key:
    """``primary; least squares; rank`` as stated: the first two parts."""
    parts = str(text).split(";")
    return Fraction(parts[0].strip()), Fraction(parts[1].strip())


def _neg(key: Key) -> Key:
    return -key[0], -key[1]


def _text(key: Key | None) -> str:
    return "none" if key is None else f"{key[0]}; {key[1]}"
