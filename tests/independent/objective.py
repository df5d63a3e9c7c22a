"""The documented objectives and tie-break order, as a key to minimise.

README "Objectives and apportionment methods" and "Ties":

- ``hamilton``: minimise ``sum |x_i - q_i|``; ties by least squares ``sum (x_i - q_i)^2``,
  then ``rank . x`` (units to the larger entitlement, then the smaller id);
- divisor methods: maximise the sum of the priorities ``q_i / d(k)`` of the units given
  (``d(k) = k + 1`` Jefferson, ``k + 1/2`` Webster, ``k`` Adams, ``sqrt(k (k + 1))``
  Huntington-Hill, the harmonic mean ``2 / (1/k + 1/(k + 1))`` Dean); a first unit with
  ``d(0) = 0`` has priority ``2 max(q) + q_i``, above every later unit; exact ties go
  straight to ``rank . x``;
- ``weighted``: maximise ``sum e_i x_i``; ties as Hamilton;
- ``maxmin``: maximise the smallest ``x_i / q_i`` (``q_i > 0``), then the Hamilton keys;
- last, where all of those tie (possible under ``grade_order``): the first recipient in
  rank order gets the most units, then the second, and so on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Context, Decimal, localcontext
from fractions import Fraction
from typing import Any

from tests.independent.instance import DIVISOR_METHODS, Instance

_CONTEXT = Context(prec=80)
_RESOLUTION = Decimal("1e-40")
"""Huntington-Hill sums (of square roots) are compared after rounding to this: two sums
of different terms closer than that do not occur on the small instances enumerated."""

Key = tuple[Any, ...]


def divisor(method: str, k: int) -> Fraction:
    """``d(k)`` squared for Huntington-Hill, ``d(k)`` for the others (exact)."""
    if method == "jefferson":
        return Fraction(k + 1)
    if method == "webster":
        return Fraction(2 * k + 1, 2)
    if method == "adams":
        return Fraction(k)
    if method == "huntington-hill":
        return Fraction(k * (k + 1))
    if method == "dean":  # the harmonic mean of k and k + 1 (0 at k = 0)
        return Fraction(0) if k == 0 else 2 / (Fraction(1, k) + Fraction(1, k + 1))
    raise ValueError(method)


def priority(inst: Instance, i: int, k: int) -> Fraction | Decimal:
    """The priority of the (k+1)-th unit of recipient ``i``: exact, or (Huntington-Hill) a
    Decimal of 80 digits."""
    q = inst.quota
    d = divisor(inst.kind, k)
    first = 2 * max(q) + q[i]
    if inst.kind == "huntington-hill":
        if d == 0:
            return _decimal(first)
        return _CONTEXT.divide(_decimal(q[i]), _CONTEXT.sqrt(Decimal(int(d))))
    return first if d == 0 else q[i] / d


def _decimal(v: Fraction) -> Decimal:
    return _CONTEXT.divide(Decimal(v.numerator), Decimal(v.denominator))


def per_recipient(inst: Instance) -> Callable[[int, int], tuple[Any, ...]]:
    """The separable part of the key: for recipient ``i`` at ``v`` units, the terms the key
    sums (primary, least squares, rank), each a function of ``v`` alone."""
    q, rank, kind = inst.quota, inst.rank, inst.kind
    if kind in DIVISOR_METHODS:
        hill = kind == "huntington-hill"
        cache: dict[tuple[int, int], Any] = {}

        def divisor_terms(i: int, v: int) -> tuple[Any, ...]:
            if (i, v) not in cache:
                terms = sorted(priority(inst, i, k) for k in range(v))
                with localcontext(_CONTEXT):
                    cache[i, v] = sum(terms, Decimal(0) if hill else Fraction(0))
            return (-cache[i, v], rank[i] * v)

        return divisor_terms
    if kind == "weighted":
        e = inst.entitlement
        return lambda i, v: (-e[i] * v, (v - q[i]) ** 2, rank[i] * v)
    return lambda i, v: (abs(v - q[i]), (v - q[i]) ** 2, rank[i] * v)


def allocation_key(inst: Instance, x: Sequence[int]) -> Key:
    """The key the documented optimum minimises (smaller is better)."""
    return key_function(inst)(x)


def key_function(inst: Instance) -> Callable[[Sequence[int]], Key]:
    """:func:`allocation_key` for many allocations of one instance."""
    terms = per_recipient(inst)
    q, order, hill = inst.quota, inst.rank_order, inst.kind == "huntington-hill"
    positive = [i for i in range(inst.size) if q[i] > 0]

    memo: dict[tuple[int, int], tuple[Any, ...]] = {}

    def term(i: int, v: int) -> tuple[Any, ...]:
        if (i, v) not in memo:
            memo[i, v] = terms(i, v)
        return memo[i, v]

    def key(x: Sequence[int]) -> Key:
        parts = [term(i, v) for i, v in enumerate(x)]
        with localcontext(_CONTEXT):
            sums: list[Any] = [sum(column) for column in zip(*parts, strict=True)]
            if hill:
                sums[0] = sums[0].quantize(_RESOLUTION)
        head: tuple[Any, ...] = ()
        if inst.kind == "maxmin":
            head = (-min(Fraction(x[i]) / q[i] for i in positive),)
        return (*head, *sums, tuple(-x[i] for i in order))

    return key


def unit_key(inst: Instance, i: int, k: int) -> Key:
    """The marginal key of the (k+1)-th unit of ``i``: what adding it changes in each
    separable term (primary, least squares, rank). Non-decreasing in ``k``."""
    q, rank = inst.quota, inst.rank
    ls = 2 * (k - q[i]) + 1
    if inst.kind in DIVISOR_METHODS:
        p = priority(inst, i, k)
        if inst.kind == "huntington-hill":  # compare squared priorities: exact
            d = divisor(inst.kind, k)
            p = (2 * max(q) + q[i]) ** 2 if d == 0 else q[i] ** 2 / d
        return (-p, 0, rank[i])
    if inst.kind == "weighted":
        return (-inst.entitlement[i], ls, rank[i])
    return (abs(k + 1 - q[i]) - abs(k - q[i]), ls, rank[i])
