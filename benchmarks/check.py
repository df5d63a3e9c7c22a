"""Independent checks of an allocation against the scenario *data*: every constraint, and
the objective's value in natural units.

Nothing here imports the engine: quotas, grades, bounds and objective values are computed
again from the plain scenario data, so a bug in Allot cannot hide behind itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.certificate import engine_certificate, optimality

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
DIVISOR_METHODS = ("jefferson", "webster", "huntington-hill", "adams")


@dataclass(frozen=True)
class Problem:
    """The scenario data as arrays, in the order the recipients are listed."""

    ids: list[str]
    budget: int
    quota: FloatArray
    weight: FloatArray
    level: IntArray  # grade level, 0 = best; -1 without grades
    lo: IntArray  # floors and change_limit lower bounds
    hi: IntArray  # caps, change_limit upper bounds and the budget
    groups: list[tuple[str, IntArray, int | None, int | None]]  # name, members, min, max
    grade_order: bool
    kind: str  # "hamilton", a divisor method, "weighted" or "maxmin"
    entitlement_exact: tuple[Fraction, ...] = ()  # e_i from the decimals as written
    weight_exact: tuple[Fraction, ...] = ()  # w_i from the decimals as written
    grade_names: tuple[str, ...] = ()  # best first: level g is grade_names[g]
    group_labels: tuple[str, ...] = ()  # each group's label as Allot names it

    @classmethod
    def of(cls, data: dict[str, Any]) -> Problem:
        recipients = data["recipients"]
        budget = int(data["budget"])
        n = len(recipients)
        score = np.array([float(r["score"]) for r in recipients])
        weight = np.array([float(r.get("weight", 1.0)) for r in recipients])
        grades = data.get("grades", [])
        level = np.full(n, -1, dtype=np.int64)
        for g in range(len(grades) - 1, -1, -1):
            level[score >= grades[g]["min_score"]] = g
        multiplier = np.array([grades[g]["multiplier"] if g >= 0 else 1.0 for g in level])
        ent = weight * score * multiplier
        exact_multiplier = [
            as_written(grades[g]["multiplier"]) if g >= 0 else Fraction(1) for g in level.tolist()
        ]
        ent_exact = tuple(
            as_written(r.get("weight", 1.0)) * as_written(r["score"]) * m
            for r, m in zip(recipients, exact_multiplier, strict=True)
        )
        quota = budget * ent / ent.sum()
        lo = np.array([int(r.get("floor", 0)) for r in recipients], dtype=np.int64)
        hi = np.array(
            [budget if r.get("cap") is None else min(int(r["cap"]), budget) for r in recipients],
            dtype=np.int64,
        )
        groups: list[tuple[str, IntArray, int | None, int | None]] = []
        labels: list[str] = []
        grade_order = False
        for rule in data.get("rules", []):
            if rule["type"] == "change_limit":
                for i, r in enumerate(recipients):
                    prev = r.get("previous")
                    if prev is None:
                        continue
                    if rule.get("max_decrease") is not None:
                        least = math.ceil(prev * (1 - as_written(rule["max_decrease"])))
                        lo[i] = max(lo[i], least)
                    if rule.get("max_increase") is not None:
                        most = math.floor(prev * (1 + as_written(rule["max_increase"])))
                        hi[i] = min(hi[i], most)
            elif rule["type"] == "group":
                members = np.array(
                    [
                        i
                        for i, r in enumerate(recipients)
                        if r.get("tags", {}).get(rule["tag"]) == rule["value"]
                    ],
                    dtype=np.int64,
                )
                lows = [rule[k] for k in ("min_units",) if rule.get(k) is not None]
                highs = [rule[k] for k in ("max_units",) if rule.get(k) is not None]
                if rule.get("min_share") is not None:
                    lows.append(math.ceil(as_written(rule["min_share"]) * budget))
                if rule.get("max_share") is not None:
                    highs.append(math.floor(as_written(rule["max_share"]) * budget))
                name = rule.get("name") or f"{rule['tag']}={rule['value']}"
                labels.append(rule.get("name") or f"group {rule['tag']}={rule['value']}")
                groups.append(
                    (name, members, max(lows) if lows else None, min(highs) if highs else None)
                )
            elif rule["type"] == "grade_order":
                grade_order = True
        objective = data.get("objective", {})
        kind = objective.get("kind", "proportional")
        if kind == "proportional":
            kind = {"dhondt": "jefferson", "sainte-lague": "webster"}.get(
                objective.get("method") or "hamilton", objective.get("method") or "hamilton"
            )
        return cls(
            ids=[r["id"] for r in recipients],
            budget=budget,
            quota=quota,
            weight=weight,
            level=level,
            lo=lo,
            hi=hi,
            groups=groups,
            grade_order=grade_order,
            kind=kind,
            entitlement_exact=ent_exact,
            weight_exact=tuple(as_written(r.get("weight", 1.0)) for r in recipients),
            grade_names=tuple(str(g["grade"]) for g in grades),
            group_labels=tuple(labels),
        )

    def violations(self, x: IntArray) -> list[str]:
        """Every constraint ``x`` (whole units, listing order) breaks."""
        out = []
        if len(x) != len(self.ids):
            return [f"{len(x)} allocations for {len(self.ids)} recipients"]
        if int(x.sum()) != self.budget:
            out.append(f"units sum to {int(x.sum())}, budget is {self.budget}")
        below, above = np.flatnonzero(x < self.lo), np.flatnonzero(x > self.hi)
        if len(below):
            out.append(f"{len(below)} recipients below their floor (e.g. {self.ids[below[0]]})")
        if len(above):
            out.append(f"{len(above)} recipients above their cap (e.g. {self.ids[above[0]]})")
        for name, members, least, most in self.groups:
            total = int(x[members].sum())
            if (least is not None and total < least) or (most is not None and total > most):
                out.append(f"group {name}: {total} units outside [{least}, {most}]")
        if self.grade_order:
            out.extend(self.grade_order_violations(x))
        return out

    def grade_order_violations(self, x: IntArray) -> list[str]:
        """``grade_order`` over every pair of non-empty grades (weight > 0), not only
        adjacent grade indices: an empty middle grade does not switch the check off."""
        rated = self.weight > 0
        bands = []  # (grade, smallest and largest units per weight), best grade first
        for g in range(int(self.level.max()) + 1):
            members = np.flatnonzero(rated & (self.level == g)).tolist()
            if members:
                # exactly, weights read as the decimals they show: at 10^12 units two grades
                # can tie, and floating-point ratios then break the tie either way
                ratio = [
                    Fraction(int(x[i])) / Fraction(repr(float(self.weight[i]))) for i in members
                ]
                bands.append((g, min(ratio), max(ratio)))
        out = []
        for a, (g, low, _) in enumerate(bands):
            for h, _, high in bands[a + 1 :]:
                if low < high:
                    shown = f"{float(low):g}/weight < grade {h}'s {float(high):g}"
                    out.append(f"grade_order: grade {g} gets {shown}")
        return out

    def cost(self, x: IntArray) -> float:
        """The objective as a cost to minimise (see :func:`natural`)."""
        q = self.quota
        if self.kind == "hamilton":
            return float(np.abs(x - q).sum())
        if self.kind == "weighted":
            return -float((q * x).sum() / q.max())
        if self.kind == "maxmin":
            positive = q > 0
            return -float((x[positive] / q[positive]).min())
        return -priority_sum(self.kind, q, x)


def as_written(value: float | int) -> Fraction:
    """A number as written in the data: a float is the decimal its ``repr`` shows."""
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


def natural(problem: Problem, cost: float) -> float:
    """The objective in the units the README uses: ``sum |x - q|`` (Hamilton), the sum of
    the priorities of the units given (divisor methods), ``sum e x`` scaled to max(e) = 1
    (weighted), the smallest units per quota (maxmin)."""
    return cost if problem.kind == "hamilton" else -cost


EXACT_UNITS = 10_000_000
"""Priority sums over at most this many units add up every unit's priority; larger ones (the
budget rows) sum each recipient's first :data:`HEAD_UNITS` units and the rest in closed form."""
HEAD_UNITS = 100


def priority_sum(
    method: str, quota: FloatArray, x: IntArray, *, exact_units: int = EXACT_UNITS
) -> float:
    """Sum over recipients of the priorities ``q_i / d(k)`` of their units k = 0..x_i - 1;
    where ``d(0) = 0`` the first unit's priority is ``2 max(q) + q_i`` (every recipient's
    first unit before anyone's second)."""
    if int(x.sum()) <= exact_units:
        owner = np.repeat(np.arange(len(x)), x)
        k = (np.arange(int(x.sum())) - np.repeat(np.cumsum(x) - x, x)).astype(np.float64)
        return float(unit_priority(method, quota, owner, k).sum())
    head = np.minimum(x, HEAD_UNITS)
    total = priority_sum(method, quota, head, exact_units=int(head.sum()))
    for i in np.flatnonzero(x > HEAD_UNITS).tolist():
        total += float(quota[i]) * _tail(method, float(HEAD_UNITS), float(x[i]) - 1.0)
    return total


def _tail(method: str, a: float, b: float) -> float:
    """``sum 1 / d(k)`` for k = a..b (a >= 1), by Euler-Maclaurin to the first derivative:
    within about 1e-11 of the sum from a = 100 on."""
    if method == "huntington-hill":
        integral = math.acosh(2.0 * b + 1.0) - math.acosh(2.0 * a + 1.0)

        def f(k: float) -> float:
            return 1.0 / math.sqrt(k * (k + 1.0))

        def df(k: float) -> float:
            return -(2.0 * k + 1.0) / (2.0 * math.sqrt(k * (k + 1.0)) ** 3)

    else:
        c = {"jefferson": 1.0, "webster": 0.5, "adams": 0.0}[method]
        integral = math.log((b + c) / (a + c))

        def f(k: float) -> float:
            return 1.0 / (k + c)

        def df(k: float) -> float:
            return -1.0 / (k + c) ** 2

    return integral + (f(a) + f(b)) / 2.0 + (df(b) - df(a)) / 12.0


def unit_priority(method: str, quota: FloatArray, owner: IntArray, k: FloatArray) -> FloatArray:
    """Priority of unit ``k`` (0-based) of recipient ``owner`` under a divisor method."""
    d = {
        "jefferson": k + 1.0,
        "webster": k + 0.5,
        "adams": k,
        "huntington-hill": np.sqrt(k * (k + 1.0)),
    }[method]
    q = quota[owner]
    first = 2.0 * float(quota.max()) + q
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.where(d > 0, q / np.where(d > 0, d, 1.0), first)
    return out


def tolerance(problem: Problem, *costs: float) -> float:
    """How far two objective values may differ and still count as equal: Allot compares
    costs rounded to 1e-9 of a unit of cost, the baseline in floating point."""
    scale = max([1.0, *(abs(c) for c in costs)])
    return 1e-7 * scale + 1e-9 * problem.budget


@dataclass(frozen=True)
class Verdict:
    """The correctness check of one Allot answer against the baseline's."""

    ok: bool
    relation: str  # "equal", "better", "worse", "no baseline", "invalid", ...
    detail: str = ""


def compare(
    problem: Problem,
    allot: IntArray | None,
    allot_status: str,
    baseline: IntArray | None,
    baseline_status: str,
    certificate: dict[str, Any] | None = None,
) -> Verdict:
    """Check Allot's answer: it must be optimal, satisfy every constraint, and be at least
    as good as any valid baseline answer (equal when the baseline proved optimality). The
    baseline's status is never trusted: its answer is checked against the constraints.
    Without a valid baseline answer the answer must carry a certificate checked here from
    the data (:mod:`benchmarks.certificate`); Allot's own ``certificate``, when given, must
    hold as well."""
    if allot is None or allot_status not in ("optimal", "feasible", "time_limit"):
        return Verdict(False, "no answer", f"Allot status {allot_status}")
    broken = problem.violations(allot)
    if broken:
        return Verdict(False, "invalid", "Allot: " + "; ".join(broken))
    if allot_status != "optimal":  # the search's best when it stopped: valid, not proven
        return _unproven(problem, allot, allot_status, baseline, baseline_status)
    if certificate is not None:
        wrong = engine_certificate(problem, allot, certificate)
        if wrong:
            return Verdict(False, "certificate wrong", "; ".join(wrong)[:300])
    base_broken = [] if baseline is None else problem.violations(baseline)
    if baseline is None or base_broken:
        why = f"baseline: {baseline_status}" if baseline is None else "baseline invalid"
        if certificate is not None and certificate.get("kind") == "threshold_search":
            return Verdict(True, "certified", f"the search tree's bounds hold ({why})")
        flow = certificate is not None and certificate.get("kind") == "flow"
        if flow and problem.kind != "maxmin":  # maxmin: its level is not in the prices
            return Verdict(True, "certified", f"the flow's prices hold ({why})")
        proof = optimality(problem, allot)
        if proof.ok is False:
            return Verdict(False, "not optimal", f"{proof.detail} ({why})")
        if proof.ok:
            return Verdict(True, "certified", f"{proof.detail} ({why})")
        if baseline is None:
            return Verdict(True, "no baseline", f"baseline: {baseline_status}; {proof.detail}")
        return Verdict(True, "baseline invalid", "baseline: " + "; ".join(base_broken)[:200])
    assert baseline is not None
    mine, theirs = problem.cost(allot), problem.cost(baseline)
    tol = tolerance(problem, mine, theirs)
    if mine > theirs + tol:
        return Verdict(
            False,
            "worse",
            f"Allot's objective {natural(problem, mine):.9g} is worse than the baseline's "
            f"{natural(problem, theirs):.9g}",
        )
    if mine < theirs - tol:
        note = "" if baseline_status != "optimal" else " (the baseline said optimal)"
        return Verdict(True, "better", f"baseline {natural(problem, theirs):.9g}{note}")
    return Verdict(True, "equal")


def _unproven(
    problem: Problem,
    allot: IntArray,
    allot_status: str,
    baseline: IntArray | None,
    baseline_status: str,
) -> Verdict:
    """An answer Allot says is not proven optimal (``feasible``, or ``time_limit`` with an
    allocation): it keeps every constraint, which is all it claims; how it compares with a
    valid baseline answer is stated, not judged."""
    if baseline is None or problem.violations(baseline):
        return Verdict(True, "not proven", f"Allot: {allot_status}; baseline: {baseline_status}")
    mine, theirs = problem.cost(allot), problem.cost(baseline)
    tol = tolerance(problem, mine, theirs)
    relation = (
        "worse than"
        if mine > theirs + tol
        else "better than"
        if mine < theirs - tol
        else "as good as"
    )
    return Verdict(
        True,
        "not proven",
        f"Allot: {allot_status}, {relation} the baseline's {natural(problem, theirs):.9g}",
    )
