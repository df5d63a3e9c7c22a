"""A scenario's plain data read exactly, as README.md and docs/contract.md define it.

Every number is the decimal it is written as (``Fraction(repr(float))``); entitlement
``e_i = weight_i * score_i * multiplier(grade_i)`` with the first band, best first, whose
``min_score`` the score reaches; quota ``q_i = B e_i / sum(e)``; rank: larger entitlement
first, then the smaller id (Python string order). Rules become what the Rules table says:
``change_limit`` bounds rounded inwards, group shares rounded inwards to whole units (unit
and share bounds combine to the tighter), ``grade_order`` over every pair of grades.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any

DIVISOR_METHODS = ("jefferson", "webster", "adams", "huntington-hill", "dean")
METHOD_NAMES: Mapping[str, str] = {
    "hamilton": "hamilton",
    "largest-remainder": "hamilton",
    "jefferson": "jefferson",
    "dhondt": "jefferson",
    "d'hondt": "jefferson",
    "webster": "webster",
    "sainte-lague": "webster",
    "sainte-laguë": "webster",
    "huntington-hill": "huntington-hill",
    "adams": "adams",
    "dean": "dean",
    "harmonic": "dean",
}
CRITERIA_DECIMALS = 9
"""README "Scores from criteria": the weighted average is rounded to 9 decimals."""


def exact(value: int | float | str | Fraction) -> Fraction:
    """A number as written: a float is the decimal its ``repr`` shows (0.1 is one tenth)."""
    if isinstance(value, bool):
        raise TypeError("a number was expected, got a bool")
    if isinstance(value, float):
        return Fraction(repr(value))
    return Fraction(value)


def tag_text(value: Any) -> str:
    """A tag value as the text group rules compare (``true``, ``3`` for ``3.0``)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class Group:
    """A group rule: the members' total lies in ``[lower, upper]``."""

    name: str
    members: frozenset[int]
    lower: int
    upper: int


@dataclass(frozen=True)
class Instance:
    """One scenario, exactly; index ``i`` is the i-th recipient as listed."""

    ids: tuple[str, ...]
    budget: int
    entitlement: tuple[Fraction, ...]
    weight: tuple[Fraction, ...]
    level: tuple[int | None, ...]  # grade band, 0 = best; None: no band reached
    lo: tuple[int, ...]  # floors and change_limit
    hi: tuple[int, ...]  # caps, change_limit and the budget
    groups: tuple[Group, ...]
    grade_order: bool
    kind: str  # "hamilton", a divisor method, "weighted" or "maxmin"

    @property
    def size(self) -> int:
        return len(self.ids)

    @cached_property
    def quota(self) -> tuple[Fraction, ...]:
        total = sum(self.entitlement, Fraction(0))
        return tuple(self.budget * e / total for e in self.entitlement)

    @cached_property
    def rank(self) -> tuple[int, ...]:
        """0 = first: the larger entitlement, then the smaller id."""
        order = sorted(range(self.size), key=lambda i: (-self.entitlement[i], self.ids[i]))
        out = [0] * self.size
        for r, i in enumerate(order):
            out[i] = r
        return tuple(out)

    @cached_property
    def rank_order(self) -> tuple[int, ...]:
        """Recipients in rank order (the documented order of the last tie-break)."""
        return tuple(sorted(range(self.size), key=lambda i: self.rank[i]))

    def graded_levels(self) -> list[list[int]]:
        """The members (weight > 0) of each non-empty grade band, best first."""
        bands: dict[int, list[int]] = {}
        for i, level in enumerate(self.level):
            if level is not None and self.weight[i] > 0:
                bands.setdefault(level, []).append(i)
        return [bands[b] for b in sorted(bands)]

    def violations(self, x: Sequence[int]) -> list[str]:
        """Every requirement ``x`` breaks, in words (an empty list: it is allowed)."""
        out: list[str] = []
        if sum(x) != self.budget:
            out.append(f"total {sum(x)} != budget {self.budget}")
        for i, v in enumerate(x):
            if not self.lo[i] <= v <= self.hi[i]:
                out.append(f"{self.ids[i]}: {v} outside [{self.lo[i]}, {self.hi[i]}]")
        for g in self.groups:
            total = sum(x[i] for i in g.members)
            if not g.lower <= total <= g.upper:
                out.append(f"group {g.name}: {total} outside [{g.lower}, {g.upper}]")
        if self.grade_order:
            out.extend(self.grade_order_violations(x))
        return out

    def grade_order_violations(self, x: Sequence[int]) -> list[str]:
        """``grade_order`` over EVERY pair of non-empty bands (not only adjacent ones)."""
        out = []
        bands = self.graded_levels()
        for a, better in enumerate(bands):
            low = min(Fraction(x[i]) / self.weight[i] for i in better)
            for worse in bands[a + 1 :]:
                high = max(Fraction(x[j]) / self.weight[j] for j in worse)
                if low < high:
                    out.append(f"grade_order: {low} per weight in a better grade < {high}")
        return out


def read(data: Mapping[str, Any]) -> Instance:
    """The :class:`Instance` of a scenario's resolved plain data (``extends`` merged and
    recipient files read, as :func:`optimizer.loading.load_data` returns it)."""
    budget = int(data["budget"])
    bands = [
        (exact(g["min_score"]), exact(g.get("multiplier", 1.0))) for g in data.get("grades") or ()
    ]
    criteria = {k: exact(v) for k, v in (data.get("criteria") or {}).items()}
    objective = data.get("objective") or {}
    kind = objective.get("kind", "proportional")
    if kind == "proportional":
        method = str(objective.get("method") or "hamilton")
        kind = METHOD_NAMES[method.strip().lower().replace("_", "-").replace(" ", "-")]
    ids, ent, weights, levels, lo, hi = [], [], [], [], [], []
    recipients = list(data["recipients"])
    for rec in recipients:
        score = composite(rec, criteria)
        weight = exact(rec.get("weight", 1.0))
        level = next((b for b, (low, _) in enumerate(bands) if score >= low), None)
        multiplier = bands[level][1] if level is not None else Fraction(1)
        ids.append(str(rec["id"]))
        ent.append(weight * score * multiplier)
        weights.append(weight)
        levels.append(level)
        lo.append(int(rec.get("floor") or 0))
        cap = rec.get("cap")
        hi.append(budget if cap is None else min(int(cap), budget))
    groups = []
    grade_order = False
    for rule in data.get("rules") or ():
        if rule["type"] == "change_limit":
            for i, rec in enumerate(recipients):
                if rec.get("previous") is None:
                    continue
                prev = exact(rec["previous"])
                if rule.get("max_decrease") is not None:
                    least = math.ceil(prev * (1 - exact(rule["max_decrease"])))
                    lo[i] = max(lo[i], least, 0)
                if rule.get("max_increase") is not None:
                    most = math.floor(prev * (1 + exact(rule["max_increase"])))
                    hi[i] = min(hi[i], most)
        elif rule["type"] == "group":
            members = frozenset(
                i
                for i, rec in enumerate(recipients)
                if rule["tag"] in (rec.get("tags") or {})
                and tag_text(rec["tags"][rule["tag"]]) == tag_text(rule["value"])
            )
            lowers, uppers = [0], [budget]
            if rule.get("min_units") is not None:
                lowers.append(int(rule["min_units"]))
            if rule.get("max_units") is not None:
                uppers.append(int(rule["max_units"]))
            if rule.get("min_share") is not None:
                lowers.append(math.ceil(exact(rule["min_share"]) * budget))
            if rule.get("max_share") is not None:
                uppers.append(math.floor(exact(rule["max_share"]) * budget))
            name = rule.get("name") or f"{rule['tag']}={rule['value']}"
            groups.append(Group(name, members, max(lowers), min(uppers)))
        elif rule["type"] == "grade_order":
            grade_order = True
        else:
            raise ValueError(f"unknown rule type {rule['type']!r}")
    return Instance(
        ids=tuple(ids),
        budget=budget,
        entitlement=tuple(ent),
        weight=tuple(weights),
        level=tuple(levels),
        lo=tuple(lo),
        hi=tuple(hi),
        groups=tuple(groups),
        grade_order=grade_order,
        kind=kind,
    )


def composite(rec: Mapping[str, Any], weights: Mapping[str, Fraction]) -> Fraction:
    """The recipient's score: given, or the weighted average of its criteria rounded to
    :data:`CRITERIA_DECIMALS` decimals (half to even)."""
    if rec.get("score") is not None:
        return exact(rec["score"])
    scores = rec["criteria"]
    average = sum((weights[c] * exact(scores[c]) for c in weights), Fraction(0)) / sum(
        weights.values(), Fraction(0)
    )
    scale = 10**CRITERIA_DECIMALS
    return Fraction(round(average * scale), scale)  # Fraction rounds half to even
