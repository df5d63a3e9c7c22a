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
single divisor, shows its ends as exact fractions under ``exact``). Only bounds-only programs (the
``greedy`` path) get a certificate: group rules and ``grade_order`` are proved by the
paths that solve them.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from fractions import Fraction
from typing import Any

from optimizer.entitlement import IntArray
from optimizer.exact import ExactQuota, divisor_of

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
    if rule in ("jefferson", "webster", "adams", "huntington-hill"):
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
