"""Proof for readers: what a greedy-path allocation can be checked against by hand.

- Divisor methods: the interval ``[low, high]`` of divisors ``D`` (entitlement per unit)
  for which every recipient's units are its entitlement divided by ``D``, rounded by the
  method (down: Jefferson, half: Webster, geometric mean: Huntington-Hill, up: Adams),
  then held within its floor and cap. At an end of the interval a recipient may sit
  exactly on a rounding point; such ties went by rank.
- Hamilton (largest remainders): every recipient's quota, its whole part and remainder,
  and the threshold interval ``(low, high]`` on ``units - quota``: a recipient holds every
  unit ``k`` with ``k - quota < T`` within its floor and cap, for any ``T`` in it.

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
    low: Fraction | None = None  # T > low
    high: Fraction | None = None  # T <= high
    rows = []
    for i, (units, floor, cap) in enumerate(zip(x.tolist(), lo.tolist(), hi.tolist(), strict=True)):
        q = exact.fraction(i)
        whole = q.numerator // q.denominator
        if floor < cap:
            if units > floor:  # unit units-1 taken
                low = max(low, units - 1 - q) if low is not None else units - 1 - q
            if units < cap:  # unit `units` not taken
                high = min(high, units - q) if high is not None else units - q
        rows.append((q - whole, i, q, whole, units))
    rows.sort(key=lambda r: (-r[0], r[1]))
    return {
        "kind": "largest_remainder",
        "rule": "units = clip(ceil(quota + T), floor, cap) for any T in (low, high]",
        "threshold": {
            "low": None if low is None else decimal_text(low, up=True),
            "high": None if high is None else decimal_text(high),
        },
        "exact": {
            "low": None if low is None else str(low),
            "high": None if high is None else str(high),
        },
        "remainder_order": [
            {
                "id": ids[i],
                "quota": decimal_text(q),
                "quota_exact": str(q),
                "whole": whole,
                "remainder": decimal_text(rem),
                "units": units,
            }
            for rem, i, q, whole, units in rows
        ],
    }


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
