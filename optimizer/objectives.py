"""The separable objectives, as integer marginal costs of each unit.

Every objective Allot optimises over whole units is a sum over recipients of a convex
function of ``x_i``, so it is fully described by the cost of the (k+1)-th unit of each
recipient, ``c_i(k)``, which never decreases in ``k``:

- ``hamilton``: ``sum |x_i - q_i|``; ``c_i(k) = clip(2(k - q_i) + 1, -1, 1)``.
- divisor methods (``jefferson``, ``webster``, ``huntington-hill``, ``adams``, ``dean``):
  maximise the sum of the priorities ``q_i / d(k)`` of the units given;
  ``c_i(k) = -q_i / d(k)``. Where ``d(0) = 0`` (Adams, Huntington-Hill, Dean) the first
  unit's priority is ``2 max(q) + q_i``,
  above every later unit, so every recipient gets one unit first, largest quota first.
- ``weighted``: maximise ``sum e_i x_i``; ``c_i(k) = -q_i / max(q)``.

The MILP backends and the threshold search's sorted table see these costs rounded to
integers (``SCALE`` per unit of cost); the greedy and partition paths decide on the exact
keys of :mod:`optimizer.exact` (:attr:`MarginalCost.key`), which order units the same way
wherever the rounding can tell them apart. Ties are broken lexicographically, the same way on every
path: by the *secondary* cost ``2(k - q_i) + 1`` (the least-squares marginal: among equally
good allocations, the one closest to the quotas in squared distance), then by ``rank``
(larger entitlement first, then id).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import numpy as np

from optimizer.entitlement import FloatArray, IntArray
from optimizer.exact import ExactQuota, Key, key_function
from optimizer.scenario import Method

SCALE = 1_000_000_000
TIE_SCALE = 1_000
_COST_LIMIT = float(2**62)
"""Scaled primary costs are clipped to +-2^62, inside int64."""
DIVISOR_METHODS = ("jefferson", "webster", "huntington-hill", "adams", "dean")
FIRST_UNIT_FIRST = ("adams", "huntington-hill", "dean")
"""The divisor methods with ``d(0) = 0``: every recipient with a positive quota gets a unit
before any gets a second."""


def divisor(method: str, k: FloatArray) -> FloatArray:
    """The divisor d(k) of a divisor method at k units already given."""
    if method == "jefferson":
        return k + 1.0
    if method == "webster":
        return k + 0.5
    if method == "adams":
        return k.astype(np.float64)
    if method == "huntington-hill":
        return np.sqrt(k * (k + 1.0))
    if method == "dean":  # the harmonic mean of k and k + 1
        return k * (k + 1.0) / (k + 0.5)
    raise ValueError(f"not a divisor method: {method}")


def divisor_inverse(method: str, y: FloatArray) -> FloatArray:
    """The real ``k`` at which ``d(k) = y`` (``d`` extended to real k): the units whose
    divisor is below ``y`` are those below it."""
    if method == "jefferson":
        return y - 1.0
    if method == "webster":
        return y - 0.5
    if method == "adams":
        return y.astype(np.float64)
    if method == "huntington-hill":  # k (k + 1) = y^2
        return (np.sqrt(1.0 + 4.0 * y * y) - 1.0) / 2.0
    if method == "dean":  # 2 k (k + 1) = y (2 k + 1)
        return (y - 1.0 + np.sqrt(y * y + 1.0)) / 2.0
    raise ValueError(f"not a divisor method: {method}")


class UnitCost(Protocol):
    """Anything that prices each additional unit (vectorised over recipients ``i`` and
    units already given ``k``); costs must not decrease in ``k``."""

    @property
    def quota(self) -> FloatArray: ...

    def primary(self, i: IntArray, k: IntArray) -> IntArray: ...

    def secondary(self, i: IntArray, k: IntArray) -> IntArray: ...

    def tertiary(self, i: IntArray) -> IntArray: ...


@dataclass(frozen=True)
class MarginalCost:
    """Integer cost of each additional unit, with its lexicographic tie-breakers."""

    rule: str  # "hamilton", a divisor method name, or "weighted"
    quota: FloatArray
    rank: IntArray
    exact_quota: ExactQuota | None = field(default=None, compare=False, repr=False)
    """The quotas as exact ratios (from the scenario's decimal inputs); None: the floats'
    exact binary values."""

    @classmethod
    def for_objective(
        cls,
        kind: str,
        method: Method | None,
        quota: FloatArray,
        rank: IntArray,
        exact: ExactQuota | None = None,
    ) -> MarginalCost:
        """The marginal cost of a scenario objective; ``maxmin`` uses ``hamilton`` once its
        minimum ratio has been fixed by raised floors."""
        if kind == "weighted":
            return cls("weighted", quota, rank, exact)
        if kind == "maxmin":
            return cls("hamilton", quota, rank, exact)
        return cls(method or "hamilton", quota, rank, exact)

    @cached_property
    def exact(self) -> ExactQuota:
        """The quotas as exact ratios: every decision of the greedy paths is taken on them."""
        return self.exact_quota or ExactQuota.of_floats(self.quota)

    @cached_property
    def key(self) -> Callable[[int, int], Key]:
        """The exact key of unit ``k`` of recipient ``i`` (:func:`optimizer.exact.key_function`)."""
        return key_function(self.rule, self.exact, self.rank.tolist())

    def primary(self, i: IntArray, k: IntArray) -> IntArray:
        """Cost of the (k+1)-th unit of recipient i (vectorised), in units of 1/SCALE."""
        q = self.quota[i]
        kf = k.astype(np.float64)
        if self.rule == "hamilton":
            cost = np.clip(2.0 * (kf - q) + 1.0, -1.0, 1.0)
        elif self.rule == "weighted":
            top = self._top
            cost = -q / top if top > 0 else np.zeros_like(q)
        else:
            d = divisor(self.rule, kf)
            with np.errstate(divide="ignore", invalid="ignore"):
                priority = np.where(d > 0, q / np.where(d > 0, d, 1.0), 0.0)
            first = 2.0 * self._top + q
            cost = -np.where(d > 0, priority, first)
        # a first unit's priority over ~4.6e9 (a quota of 10^12 at d = 0.5) is clipped: such
        # units come before every unit near a threshold (about 1), so the order is kept
        return np.rint(np.clip(cost * SCALE, -_COST_LIMIT, _COST_LIMIT)).astype(np.int64)

    def secondary(self, i: IntArray, k: IntArray) -> IntArray:
        """Tie-breaking cost: the least-squares marginal 2(k - q_i) + 1 for Hamilton and
        weighted; none for divisor methods, whose exact ties go by rank alone so that the
        order of units does not depend on the house size (house monotonicity)."""
        if self.rule in DIVISOR_METHODS:
            return np.zeros(len(i), dtype=np.int64)
        return np.rint((2.0 * (k - self.quota[i]) + 1.0) * TIE_SCALE).astype(np.int64)

    def tertiary(self, i: IntArray) -> IntArray:
        """Last tie-break: the recipient's rank (larger entitlement, then id, first)."""
        return self.rank[i]

    @cached_property
    def _top(self) -> float:
        """The largest quota (computed once: the costs are evaluated many times)."""
        return float(self.quota.max()) if len(self.quota) else 0.0

    def first_guess(self, stage: int, i: IntArray, value: IntArray) -> FloatArray:
        """Where the cost of stage ``stage`` (0 primary, 1 secondary) of recipient ``i``
        first reaches ``value``: the smallest real k whose unrounded cost is at least
        ``value - 1/2``, by inverting each rule's formula (``-inf``: from the first unit on,
        ``inf``: never). Only a guess (floating point, rounding): the threshold search
        checks it against the exact integer costs and repairs it
        (:func:`optimizer.apportion.first_at_least`)."""
        q = self.quota[i]
        scale = SCALE if stage == 0 else TIE_SCALE
        t = (value.astype(np.float64) - 0.5) / scale  # the unrounded cost to reach
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if stage == 1 or self.rule == "hamilton":
                if stage == 1 and self.rule in DIVISOR_METHODS:
                    return np.where(t <= 0.0, -np.inf, np.inf)
                guess = q + (t - 1.0) / 2.0  # 2(k - q) + 1 >= t
                if stage == 0:  # clipped to [-1, 1]
                    guess = np.where(t <= -1.0, -np.inf, np.where(t > 1.0, np.inf, guess))
                return guess
            if self.rule == "weighted":
                zero = np.zeros(len(i), dtype=np.int64)
                return np.where(self.primary(i, zero) >= value, -np.inf, np.inf)
            # divisor methods: -q / d(k) >= t  <=>  d(k) >= q / -t (t < 0; never for t > 0)
            c = np.where(t < 0.0, q / -t, np.inf)
            return np.where(t > 0.0, np.inf, divisor_inverse(self.rule, c))


@dataclass(frozen=True)
class UnitTable:
    """All units each recipient could receive between its bounds, with their costs.

    Unit ``u`` is the (k_u + 1)-th unit of recipient ``owner_u``; ``start[i]:start[i+1]``
    are recipient i's units in increasing k.
    """

    owner: IntArray
    k: IntArray
    primary: IntArray
    secondary: IntArray
    tertiary: IntArray
    start: IntArray


def unit_table(cost: UnitCost, lo: IntArray, hi: IntArray) -> UnitTable:
    """Tabulate the costs of units ``lo_i .. hi_i - 1`` of every recipient."""
    length = np.maximum(hi - lo, 0)
    start = np.zeros(len(lo) + 1, dtype=np.int64)
    np.cumsum(length, out=start[1:])
    owner = np.repeat(np.arange(len(lo), dtype=np.int64), length)
    k = np.arange(int(start[-1]), dtype=np.int64) - start[owner] + lo[owner]
    return UnitTable(
        owner=owner,
        k=k,
        primary=cost.primary(owner, k),
        secondary=cost.secondary(owner, k),
        tertiary=cost.tertiary(owner),
        start=start,
    )
