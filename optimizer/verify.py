"""An independent check of a result against its scenario, without solving.

``allot verify RESULT.json [SCENARIO]`` re-derives what a reader can check from the
scenario's own definitions (docs/contract.md), in exact fractions, sharing no code with the
paths that solve: the content hash, the budget, every floor, cap and rule, the certificate
(divisor interval or remainder threshold; the crossing path's flow prices and the search
path's tree, :mod:`optimizer.certificate_check`, each a proof of optimality when it holds)
and, for a claimed optimum not so proved, that no single unit moved from one recipient to
another, with every rule kept, would make the stated objective better. Over bounds and
group rules on disjoint sets that last test is a proof of optimality (the cost is
separable convex over an M-convex set); elsewhere it is a necessary condition, and the
report says so.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from optimizer.certificate_check import Data as FlowData
from optimizer.certificate_check import divisor, flow_problems, search_problems
from optimizer.scenario import ChangeLimitRule, GradeOrderRule, GroupRule, Scenario

MAX_PAIRS = 2_000_000
"""Single-unit moves examined at most by the optimality check (a count, not a clock)."""


@dataclass(frozen=True)
class Check:
    """One verdict: ``ok`` True (holds), False (fails: ``detail`` says where) or None (not
    applicable, or not checked: ``detail`` says why)."""

    name: str
    ok: bool | None
    detail: str


def _d(value: float | int) -> Fraction:
    """A number as the decimal it is written as."""
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


def verify(result: Mapping[str, Any], scenario: Scenario | None) -> list[Check]:
    """Every check, in order; the first with ``ok`` False is the failure to report."""
    checks: list[Check] = []
    status = result.get("status")
    rows = result.get("allocations") or []
    if status not in ("optimal", "feasible", "time_limit") or not rows:
        return [Check("status", False, f"status {status}: no allocation to verify")]
    units = {str(a["id"]): int(a["units"]) for a in rows}
    if len(units) != len(rows):
        return [Check("recipients", False, "an id appears twice among the allocations")]
    unit_value = _d((result.get("unit") or {}).get("value", 1))
    wrong = [a["id"] for a in rows if _d(a["amount"]) != a["units"] * unit_value]
    if wrong and any(
        abs(float(a["amount"]) - a["units"] * float(unit_value)) > 1e-9 * abs(float(a["amount"]))
        for a in rows
    ):
        checks.append(Check("amounts", False, f"amount is not units x unit value for {wrong[0]}"))
    else:
        checks.append(Check("amounts", True, "every amount is units x unit value"))
    if scenario is None:
        budget = int(result.get("budget", 0))
        total = sum(units.values())
        checks.append(
            Check(
                "budget",
                total == budget,
                f"units sum to {total:,}; the result's budget is {budget:,}",
            )
        )
        checks.append(
            Check(
                "scenario",
                None,
                "no scenario given: hash, bounds, rules and optimality are not checked",
            )
        )
        return checks
    return checks + _against(result, scenario, units)


def _against(result: Mapping[str, Any], scenario: Scenario, units: dict[str, int]) -> list[Check]:
    out: list[Check] = []
    given = (result.get("scenario") or {}).get("hash")
    out.append(
        Check(
            "hash",
            given == scenario.content_hash,
            f"the result is of {given}; the scenario file is {scenario.content_hash}",
        )
    )
    ids = [r.id for r in scenario.recipients]
    if set(ids) != set(units):
        missing = sorted(set(ids) - set(units))[:3]
        extra = sorted(set(units) - set(ids))[:3]
        out.append(Check("recipients", False, f"missing {missing}, unknown {extra}"))
        return out
    out.append(Check("recipients", True, f"{len(ids):,} recipients, as in the scenario"))
    x = [units[i] for i in ids]
    total = sum(x)
    out.append(
        Check(
            "budget",
            total == scenario.budget,
            f"units sum to {total:,}; budget {scenario.budget:,}",
        )
    )
    model = _Model(scenario, x)
    out.append(model.bounds_check())
    out.extend(model.rule_checks())
    certificate = result.get("certificate")
    proved = None
    if certificate:
        out.append(model.certificate_check(certificate))
        if (
            out[-1].ok
            and certificate.get("kind") in _PROOFS
            and scenario.objective.kind != "maxmin"
        ):
            proved = certificate.get("kind")
    if result.get("status") == "optimal" and proved is not None:  # single moves add nothing
        out.append(Check("optimality", True, f"proved by the certificate ({proved}) above"))
    elif result.get("status") == "optimal":
        out.append(model.optimality_check())
    else:  # feasible, or time_limit with an allocation: it claims no optimum to check
        status = result.get("status")
        out.append(Check("optimality", None, f"not claimed (status {status}): {_said(result)}"))
    return out


def _said(result: Mapping[str, Any]) -> str:
    """What the result says of itself, shortened to its first 200 characters."""
    message = str(result.get("message") or "no message")
    return message if len(message) <= 200 else message[:199] + "…"


_PROOFS = ("flow", "threshold_search")
"""Certificate kinds whose check proves the allocation optimal."""


class _Model:
    """The scenario's definitions in exact arithmetic, and one allocation ``x``."""

    def __init__(self, scenario: Scenario, x: list[int]) -> None:
        self.s = scenario
        self.x = x
        recs = scenario.recipients
        self.n = len(recs)
        self.grade = [scenario.grade_of(r) for r in recs]
        self.e = [
            _d(r.weight) * _d(r.score) * (_d(g.multiplier) if g else 1)
            for r, g in zip(recs, self.grade, strict=True)
        ]
        total = sum(self.e)
        self.q = [scenario.budget * e / total if total else Fraction(0) for e in self.e]
        self.lo = [r.floor for r in recs]
        self.hi = [scenario.budget if r.cap is None else min(r.cap, scenario.budget) for r in recs]
        self.groups: list[tuple[str, list[int], int | None, int | None]] = []
        self.orders: list[tuple[str, list[list[int]]]] = []
        self.unchecked: list[str] = []
        for rule in scenario.rules:
            if isinstance(rule, ChangeLimitRule):
                for i, r in enumerate(recs):
                    if r.previous is None:
                        continue
                    if rule.max_decrease is not None:
                        low = math.ceil(_d(r.previous) * (1 - _d(rule.max_decrease)))
                        self.lo[i] = max(self.lo[i], low)
                    if rule.max_increase is not None:
                        high = math.floor(_d(r.previous) * (1 + _d(rule.max_increase)))
                        self.hi[i] = min(self.hi[i], high)
            elif isinstance(rule, GroupRule):
                members = [
                    i for i, r in enumerate(recs) if _tag(r.tags.get(rule.tag)) == rule.value
                ]
                lows = [v for v in (rule.min_units,) if v is not None]
                highs = [v for v in (rule.max_units,) if v is not None]
                if rule.min_share is not None:
                    lows.append(math.ceil(_d(rule.min_share) * scenario.budget))
                if rule.max_share is not None:
                    highs.append(math.floor(_d(rule.max_share) * scenario.budget))
                self.groups.append(
                    (
                        rule.label,
                        members,
                        max(lows) if lows else None,
                        min(highs) if highs else None,
                    )
                )
            elif isinstance(rule, GradeOrderRule):
                levels = []
                for grade in scenario.grades:
                    members = [
                        i
                        for i, (r, g) in enumerate(zip(recs, self.grade, strict=True))
                        if g is grade and r.weight > 0
                    ]
                    if members:
                        levels.append(members)
                self.orders.append((rule.label, levels))
            else:
                self.unchecked.append(f"{rule.label} ({rule.type})")
        for _, one, least, most in self.groups:  # a rule over one recipient bounds it
            if len(one) == 1:
                self.lo[one[0]] = max(self.lo[one[0]], least or 0)
                self.hi[one[0]] = min(self.hi[one[0]], self.hi[one[0]] if most is None else most)
        self._index_groups()

    def _index_groups(self) -> None:
        """Each recipient's groups and each group's total, for the exchange check."""
        self.group_of: list[list[int]] = [[] for _ in range(self.n)]
        for g, (_, members, _, _) in enumerate(self.groups):
            for i in members:
                self.group_of[i].append(g)
        self.totals = [sum(self.x[i] for i in members) for _, members, _, _ in self.groups]

    # ------------------------------------------------------------------ feasibility

    def bounds_check(self) -> Check:
        if self.unchecked:  # eligibility and two-stage rules change what floors mean
            return Check("bounds", None, "not checked (rules verify does not model)")
        for i, r in enumerate(self.s.recipients):
            if not self.lo[i] <= self.x[i] <= self.hi[i]:
                return Check(
                    "bounds",
                    False,
                    f"recipients[{i}] ({r.id}): {self.x[i]:,} units outside [{self.lo[i]:,}, "
                    f"{self.hi[i]:,}] (floor, cap, change_limit, one-member rules)",
                )
        within = "floor, cap, change_limit and one-member rules"
        return Check("bounds", True, f"every recipient within its {within}")

    def rule_checks(self) -> list[Check]:
        out = []
        for (label, _members, low, high), total in zip(self.groups, self.totals, strict=True):
            ok = (low is None or total >= low) and (high is None or total <= high)
            out.append(Check(f"rule {label}", ok, f"group total {total:,} in [{low}, {high}]"))
        for label, levels in self.orders:
            broken = self._order_break(levels, self.x)
            out.append(
                Check(
                    f"rule {label}",
                    broken is None,
                    broken
                    or "every better grade gets at "
                    "least as much per unit of weight as every worse one",
                )
            )
        for text in self.unchecked:
            out.append(Check(f"rule {text}", None, "not checked by verify"))
        return out

    def _order_break(self, levels: list[list[int]], x: Sequence[int]) -> str | None:
        recs = self.s.recipients
        for better, worse in itertools.pairwise(levels):
            low = min(better, key=lambda i: Fraction(x[i]) / _d(recs[i].weight))
            high = max(worse, key=lambda j: Fraction(x[j]) / _d(recs[j].weight))
            if Fraction(x[low]) / _d(recs[low].weight) < Fraction(x[high]) / _d(recs[high].weight):
                return f"{recs[low].id} (better grade) gets less per weight than {recs[high].id}"
        return None

    def _move_allowed(self, i: int, j: int) -> bool:
        if i == j or self.x[i] <= self.lo[i] or self.x[j] >= self.hi[j]:
            return False
        for g in set(self.group_of[i]) ^ set(self.group_of[j]):
            _, _, low, high = self.groups[g]
            delta = -1 if g in self.group_of[i] else 1
            total = self.totals[g] + delta
            if (low is not None and total < low) or (high is not None and total > high):
                return False
        if self.orders:
            moved = list(self.x)
            moved[i] -= 1
            moved[j] += 1
            return all(self._order_break(levels, moved) is None for _, levels in self.orders)
        return True

    # ------------------------------------------------------------------ certificate

    def certificate_check(self, cert: Mapping[str, Any]) -> Check:
        kind = cert.get("kind")
        if self.unchecked:
            return Check("certificate", None, "not checked (rules verify does not model)")
        if kind == "divisor" and cert.get("method") not in _ROUNDED:
            return Check("certificate", None, f"method {cert.get('method')} not checked")
        if kind == "divisor":
            return self._divisor_certificate(cert)
        if kind == "largest_remainder":
            return self._remainder_certificate(cert)
        if kind == "flow":
            return self._flow_certificate(cert)
        if kind == "threshold_search":
            return self._search_certificate(cert)
        return Check("certificate", None, f"kind {kind!r} is not checked by verify")

    def _divisor_certificate(self, cert: Mapping[str, Any]) -> Check:
        method = str(cert.get("method"))
        exact = cert.get("exact") or {}
        low = Fraction(exact["low"]) if exact.get("low") else None
        high = Fraction(exact["high"]) if exact.get("high") else None
        squared = bool(exact.get("squared"))
        if low is None and high is None:
            return Check("certificate", None, "no divisor bound to check")
        if low is not None and high is not None:
            point, ends = (low + high) / 2, low == high
        elif low is not None:
            point, ends = (low * 2 if low > 0 else Fraction(1)), False
        else:
            assert high is not None
            point, ends = high / 2, False
        if point <= 0:
            return Check("certificate", None, "a divisor interval at 0 is not checked")
        per_unit = [self.e[i] for i in range(self.n)]
        if cert.get("unit") == "quota per unit":
            per_unit = self.q
        for i in range(self.n):
            if self.lo[i] >= self.hi[i]:
                continue
            want = _rounded(method, per_unit[i], point, squared)
            options = {want} if not ends else _either(method, per_unit[i], point, squared)
            got = {min(max(w, self.lo[i]), self.hi[i]) for w in options}
            if self.x[i] not in got:
                rid = self.s.recipients[i].id
                return Check(
                    "certificate",
                    False,
                    f"{rid}: {self.x[i]:,} units, but its entitlement divided by D = {point} "
                    f"rounds ({method}) to {sorted(got)}",
                )
        return Check(
            "certificate",
            True,
            f"every recipient's units are its entitlement / D "
            f"rounded ({method}), within its bounds, for D in the stated interval",
        )

    def _flow_certificate(self, cert: Mapping[str, Any]) -> Check:
        """The crossing path's prices (:mod:`optimizer.certificate_check`)."""
        if self.s.objective.kind == "maxmin":
            return Check(
                "certificate",
                None,
                "kind 'flow' under maxmin is not checked (that the smallest units per quota "
                "cannot rise needs a proof the certificate does not carry)",
            )
        rule = (
            "weighted" if self.s.objective.kind == "weighted" else self.s.objective.resolved_method
        )
        data = FlowData(
            [r.id for r in self.s.recipients], self.q, self.lo, self.hi, self.x, self.groups
        )
        try:
            wrong = flow_problems(str(rule), data, cert)
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
            return Check("certificate", False, f"not a flow certificate: {exc!r}")
        if wrong is not None:
            return Check("certificate", False, wrong)
        return Check(
            "certificate",
            True,
            "flow: every cell's split admits no improving exchange and, at the stated prices, "
            "no move of a unit through a cell or a group total has a negative reduced cost "
            "(a proof of optimality)",
        )

    def _search_certificate(self, cert: Mapping[str, Any]) -> Check:
        """The search path's tree (:mod:`optimizer.certificate_check`); the accepted leaf's
        optimality is this module's exchange check within the leaf's bounds."""
        kind = self.s.objective.kind
        rule = kind if kind in ("weighted", "maxmin") else self.s.objective.resolved_method
        recs = self.s.recipients
        grades = [
            (
                grade.grade,
                [i for i, g in enumerate(self.grade) if g is grade and recs[i].weight > 0],
            )
            for grade in self.s.grades
        ]
        data = FlowData(
            [r.id for r in recs],
            self.q,
            self.lo,
            self.hi,
            self.x,
            self.groups,
            budget=self.s.budget,
            weight=[_d(r.weight) for r in recs],
            grades=grades,
        )
        try:
            wrong = search_problems(str(rule), data, cert, self._optimal_within)
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
            return Check("certificate", False, f"not a search tree: {exc!r}")
        if wrong is not None:
            return Check("certificate", False, f"threshold_search {wrong}")
        leaves = Counter(str(row.get("leaf")) for row in cert["nodes"] if "leaf" in row)
        what = ", ".join(f"{count} {leaf}" for leaf, count in sorted(leaves.items()))
        if kind == "maxmin":
            return Check(
                "certificate",
                True,
                f"threshold_search: with every floor one step above the answer's smallest "
                f"units per quota the splits' leaves ({what}) hold no allocation: that "
                f"smallest ratio cannot rise",
            )
        return Check(
            "certificate",
            True,
            f"threshold_search: the splits cover every allocation keeping grade_order and "
            f"every leaf holds ({what}): a proof of optimality",
        )

    def _optimal_within(
        self, lo: list[int], hi: list[int], groups: list[tuple[str, Any, int | None, int | None]]
    ) -> str | None:
        """Why no single exchange test proves ``x`` optimal within bounds ``lo``, ``hi``
        under ``groups`` (disjoint: then it is a proof), or None."""
        leaf = copy.copy(self)
        leaf.lo, leaf.hi, leaf.orders = lo, hi, []
        leaf.groups = [(label, list(m), a, b) for label, m, a, b in groups]
        leaf._index_groups()
        check = leaf.optimality_check()
        return None if check.ok else check.detail

    def _remainder_certificate(self, cert: Mapping[str, Any]) -> Check:
        exact = cert.get("exact") or {}
        low = Fraction(exact["low"]) if exact.get("low") else None
        high = Fraction(exact["high"]) if exact.get("high") else None
        t = high if high is not None else (low + 1 if low is not None else Fraction(0))
        for i in range(self.n):
            value = self.q[i] + t
            # on the end of the interval a remainder may sit exactly on T: a tie, by rank
            options = {math.ceil(value)} | ({int(value) + 1} if value.denominator == 1 else set())
            wants = {min(max(w, self.lo[i]), self.hi[i]) for w in options}
            want = min(wants)
            if self.x[i] not in wants:
                rid = self.s.recipients[i].id
                return Check(
                    "certificate",
                    False,
                    f"{rid}: {self.x[i]:,} units, but clip(ceil(quota + T)) is {want:,} at T = {t}",
                )
        return Check(
            "certificate",
            True,
            "every recipient's units are clip(ceil(quota + T)) for T in the stated interval",
        )

    # ------------------------------------------------------------------ optimality

    def optimality_check(self) -> Check:
        """No single-unit move that keeps every rule improves the cost. The cost change of a
        move is (removing ``i``'s last unit) + (adding ``j``'s next), a sum of two vectors
        (primary, least squares) compared lexicographically: moves are visited in order of
        that sum (the smallest sums of two sorted lists), so only moves that would improve
        are examined, and the check stops at the first that keeps every rule."""
        kind = self.s.objective.kind
        if kind == "maxmin" or self.unchecked:
            what = "maxmin" if kind == "maxmin" else "rules verify does not model"
            return Check("optimality", None, f"not checked ({what})")
        rule = "weighted" if kind == "weighted" else str(self.s.objective.resolved_method)
        zero = (Fraction(0), Fraction(0))
        give = sorted(
            (self._change(rule, i, -1), i) for i in range(self.n) if self.x[i] > self.lo[i]
        )
        take = sorted(
            (self._change(rule, j, +1), j) for j in range(self.n) if self.x[j] < self.hi[j]
        )
        heap = [(_add(give[0][0], take[0][0]), 0, 0)] if give and take else []
        seen = {(0, 0)}
        visited = 0
        while heap:
            total, a, b = heapq.heappop(heap)
            if total >= zero:
                break
            visited += 1
            if visited > MAX_PAIRS:
                return Check("optimality", None, f"not checked: more than {MAX_PAIRS:,} moves")
            i, j = give[a][1], take[b][1]
            if self._move_allowed(i, j):
                recs = self.s.recipients
                return Check(
                    "optimality",
                    False,
                    f"moving one unit from {recs[i].id} to {recs[j].id} keeps every rule and "
                    f"improves the objective ({rule}): the result is not optimal",
                )
            for na, nb in ((a + 1, b), (a, b + 1)):
                if na < len(give) and nb < len(take) and (na, nb) not in seen:
                    seen.add((na, nb))
                    heapq.heappush(heap, (_add(give[na][0], take[nb][0]), na, nb))
        structured = not self.orders and _disjoint([m for _, m, _, _ in self.groups])
        scope = (
            "a proof over bounds and group rules on disjoint sets"
            if structured
            else "necessary, not sufficient, under grade_order or overlapping group rules"
        )
        return Check("optimality", True, f"no single-unit move improves the objective ({scope})")

    def _change(self, rule: str, i: int, step: int) -> tuple[Fraction, Fraction]:
        """Cost change (primary, least squares) of giving ``i`` one unit more (``step`` 1) or
        one fewer (-1); the divisor methods' cost is minus the sum of the priorities
        ``q / d(k)`` of the units given (Huntington-Hill squared; a first unit under a zero
        divisor counts as more than any priority)."""
        x, q = self.x[i], self.q[i]
        after = x + step
        squares = (after - q) ** 2 - (x - q) ** 2
        if rule == "hamilton":
            return abs(after - q) - abs(x - q), squares
        if rule == "weighted":
            return -q * step, squares
        k = x if step > 0 else x - 1  # the unit added or removed
        priority = _priority(rule, q, k)
        value = _INFINITE + q if priority is None else priority  # first units: larger quota first
        return (-value if step > 0 else value), Fraction(0)


_INFINITE = Fraction(10**60)
"""The priority of a first unit under a zero divisor (Adams, Huntington-Hill, Dean) is this plus
its quota: above every real priority, larger quota first (as the README defines it)."""


def _add(a: tuple[Fraction, Fraction], b: tuple[Fraction, Fraction]) -> tuple[Fraction, Fraction]:
    return a[0] + b[0], a[1] + b[1]


def _tag(value: Any) -> str | None:
    return None if value is None else str(value)


def _disjoint(sets: list[list[int]]) -> bool:
    seen: dict[int, frozenset[int]] = {}
    for members in sets:
        key = frozenset(members)
        for i in members:
            if i in seen and seen[i] != key:
                return False
            seen[i] = key
    return True


def _priority(rule: str, q: Fraction, k: int) -> Fraction | None:
    """``q / d(k)``; None for infinity (``d(k) = 0``). Huntington-Hill: the priority
    squared (compared squared)."""
    if rule == "huntington-hill":
        d2 = Fraction(k * (k + 1))
        return None if d2 == 0 else q * q / d2
    d = divisor(rule, k)
    return None if d == 0 else q / d


_ROUNDED = ("jefferson", "webster", "adams", "huntington-hill", "dean")


def _rounded(method: str, value: Fraction, d: Fraction, squared: bool) -> int:
    """``value / D`` rounded by the method (``D`` squared for Huntington-Hill)."""
    if method == "huntington-hill":
        v2 = value * value / d if squared else (value / d) ** 2
        k = _isqrt_floor(v2)
        return k + 1 if v2 > k * (k + 1) else k
    v = value / d
    if method == "jefferson":
        return math.floor(v)
    if method == "webster":
        return math.floor(v + Fraction(1, 2))
    if method == "adams":
        return math.ceil(v)
    if method == "dean":  # up past the harmonic mean of floor(v) and floor(v) + 1
        k = math.floor(v)
        return k if v <= divisor("dean", k) else k + 1
    raise ValueError(method)


def _either(method: str, value: Fraction, d: Fraction, squared: bool) -> set[int]:
    """The roundings just below and just above ``D``: both, where ``value / D`` sits on a
    rounding point (an end of the interval: such ties went by rank)."""
    eps = Fraction(1, 10**40)
    return {
        _rounded(method, value, d * (1 - eps), squared),
        _rounded(method, value, d * (1 + eps), squared),
    }


def _isqrt_floor(v: Fraction) -> int:
    """``floor(sqrt(v))`` for a non-negative fraction."""
    k = math.isqrt(v.numerator // v.denominator)
    while (k + 1) * (k + 1) <= v:
        k += 1
    return k


def result_problems(data: Any) -> list[tuple[str, str]]:
    """What makes ``data`` not a result this module can read: (field path, reason) pairs."""
    if not isinstance(data, Mapping):
        return [("", f"a result must be a JSON object (got {type(data).__name__})")]
    out: list[tuple[str, str]] = []
    if not isinstance(data.get("status"), str):
        out.append(("status", "missing (a result as `allot solve --format json` writes it)"))
    rows = data.get("allocations")
    if not isinstance(rows, list):
        return [*out, ("allocations", "must be a list")]
    for k, row in enumerate(rows):
        if not isinstance(row, Mapping):
            out.append((f"allocations[{k}]", "must be an object"))
            continue
        if not isinstance(row.get("id"), str):
            out.append((f"allocations[{k}].id", "must be a string"))
        for name in ("units",):
            if not isinstance(row.get(name), int) or isinstance(row.get(name), bool):
                out.append((f"allocations[{k}].{name}", "must be a whole number"))
        amount = row.get("amount")
        if not isinstance(amount, int | float) or isinstance(amount, bool):
            out.append((f"allocations[{k}].amount", "must be a number"))
    return out
