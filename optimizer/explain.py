"""Why each recipient got what it got (``binding``) and summary metrics of an allocation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from optimizer.entitlement import Entitlements, FloatArray, IntArray
from optimizer.model import IntegerProgram
from optimizer.objectives import FIRST_UNIT_FIRST, SCALE, MarginalCost, divisor
from optimizer.result import Metrics
from optimizer.rules import CompiledRules

_EPS = 1e-9


class Held(NamedTuple):
    """What :func:`binding` found: per recipient a code into ``labels``, the few distinct
    tuples of constraint names (code 0 is ``()``, held by nothing)."""

    code: IntArray
    labels: list[tuple[str, ...]]

    def per_recipient(self, at: IntArray | None = None) -> list[tuple[str, ...]]:
        """Each recipient's tuple (of the recipients at indices ``at``, in that order)."""
        code = self.code if at is None else self.code[at]
        return list(map(self.labels.__getitem__, code.tolist()))


def binding(x: IntArray, ent: Entitlements, rules: CompiledRules) -> Held:
    """Per recipient, the constraints that are tight at ``x`` *and* hold it away from its
    quota: a floor or rule lower bound holding it above, a cap or limit holding it below, a
    group rule at its bound, or grade_order tying it to the neighbouring grade. Found a rule
    at a time over arrays: each recipient's names in that order, each named once."""
    held = _Naming(ent.size)
    q = ent.quota
    held_up = np.flatnonzero((x == rules.lo) & (x > q + _EPS))
    held_down = np.flatnonzero((x == rules.hi) & (x < q - _EPS))
    held.add(held_up, [rules.lo_source[i] for i in held_up.tolist()])
    held.add(held_down, [rules.hi_source[i] or ("cap",) for i in held_down.tolist()])
    for row in rules.sums:
        total = int(x[row.index].sum())
        group_quota = float(q[row.index].sum())
        up = row.lower is not None and total == row.lower and total > group_quota + _EPS
        down = row.upper is not None and total == row.upper and total < group_quota - _EPS
        if up or down:
            xs, qs = x[row.index], q[row.index]
            mask = (xs >= qs - _EPS) if up else (xs <= qs + _EPS)
            if up and down:
                mask = (xs >= qs - _EPS) | (xs <= qs + _EPS)
            held.add(row.index[mask], (row.label,))
    for order in rules.orders:
        for better, worse in zip(order.levels, order.levels[1:], strict=False):
            ratio_b = x[better] / order.weight[better]
            ratio_w = x[worse] / order.weight[worse]
            tie = float(ratio_b.min())
            if abs(tie - float(ratio_w.max())) > _EPS:
                continue
            for members, ratios, up in ((better, ratio_b, True), (worse, ratio_w, False)):
                pushed = x[members] > q[members] + _EPS if up else x[members] < q[members] - _EPS
                at_tie = np.abs(ratios - tie) <= _EPS
                held.add(members[pushed & at_tie], (order.label,))
    return Held(held.code, held.labels)


class _Naming:
    """Each recipient's constraint names so far, as a code into a table of distinct tuples
    (a run names a dozen combinations among 100,000 recipients)."""

    def __init__(self, size: int) -> None:
        self.code = np.zeros(size, dtype=np.int64)
        self.labels: list[tuple[str, ...]] = [()]
        self._index: dict[tuple[str, ...], int] = {(): 0}

    def add(self, index: IntArray, names: tuple[str, ...] | Sequence[tuple[str, ...]]) -> None:
        """Append ``names`` (one tuple for all, or one per index) to the recipients at
        ``index``, each name kept where it first came."""
        if not len(index):
            return
        if isinstance(names, tuple):
            table, added = [names], np.zeros(len(index), dtype=np.int64)
        else:
            position = {t: k for k, t in enumerate(dict.fromkeys(names))}
            table = list(position)
            added = np.fromiter(map(position.__getitem__, names), np.int64, len(names))
        pairs, inverse = np.unique(self.code[index] * len(table) + added, return_inverse=True)
        codes = [
            self._code_of(self.labels[old] + table[new])
            for old, new in (divmod(p, len(table)) for p in pairs.tolist())
        ]
        self.code[index] = np.array(codes, dtype=np.int64)[inverse]

    def _code_of(self, names: tuple[str, ...]) -> int:
        names = tuple(dict.fromkeys(names))
        code = self._index.get(names)
        if code is None:
            code = self._index[names] = len(self.labels)
            self.labels.append(names)
        return code


def gini(values: FloatArray) -> float:
    """Gini coefficient of non-negative values (0 = all equal)."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    total = float(v.sum())
    if len(v) == 0 or total <= 0:
        return 0.0
    n = len(v)
    cum = np.arange(1, n + 1, dtype=np.float64)
    return float((2.0 * (cum * v).sum()) / (n * total) - (n + 1.0) / n)


# B_2k / (2k), k = 1..7: the asymptotic series psi(z) ~ ln z - 1/(2z) - sum B_2k / (2k z^2k)
# truncated after z^-14; at z >= 10 the first term left out is below 5e-17.
_PSI_SERIES = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)
# B_2j / (2j)!, j = 1..4: the Euler-Maclaurin derivative corrections.
_EM_SERIES = (1 / 12, -1 / 720, 1 / 30240, -1 / 1209600)
# binom(2n, n) / 16^n: 1/sqrt(k(k+1)) = sum_n c_n u^-(2n+1) with u = k + 1/2 (for u > 1/2).
_HH_SERIES = (1.0, 1 / 8, 3 / 128, 5 / 1024, 35 / 32768)
_DIRECT = 64  # at most this many terms per recipient are summed one by one


def digamma(z: FloatArray) -> FloatArray:
    """psi(z) for z > 0, vectorised (numpy has none and scipy is not a dependency): the
    recurrence psi(z) = psi(z + 1) - 1/z up to z >= 10, then the asymptotic series."""
    z = np.array(z, dtype=np.float64)
    out = np.zeros_like(z)
    small = z < 10.0
    while small.any():  # at most 10 rounds for z > 0
        out[small] -= 1.0 / z[small]
        z[small] += 1.0
        small = z < 10.0
    inv2 = 1.0 / (z * z)
    series = np.zeros_like(z)
    for coefficient in reversed(_PSI_SERIES):
        series = (series + coefficient) * inv2
    result: FloatArray = out + np.log(z) - 0.5 / z - series
    return result


def _hh_derivative(order: int, k: FloatArray) -> FloatArray:
    """The ``order``-th derivative of 1/sqrt(k(k+1)), by its series in u = k + 1/2 (five
    terms: relative error below 1e-19 for k >= 64, where it is used)."""
    u = k + 0.5
    total = np.zeros_like(u)
    for n, c in enumerate(_HH_SERIES):
        power = 2 * n + 1
        factor = math.prod(range(power, power + order)) * (-1) ** order
        total += c * factor * u ** -(power + order)
    return total


def _hh_tail(a: float, b: FloatArray) -> FloatArray:
    """sum_{k=a}^{b} 1/sqrt(k(k+1)) for a >= 64, b >= a, by Euler-Maclaurin: the integral
    (antiderivative 2 ln(sqrt(k) + sqrt(k+1))), the endpoint halves and four derivative
    corrections (the remainder is below 1e-20 at a = 64)."""
    at = np.full_like(b, a)
    antiderivative = np.log(np.sqrt(b) + np.sqrt(b + 1.0)) - np.log(np.sqrt(at) + np.sqrt(at + 1.0))
    total: FloatArray = 2.0 * antiderivative + 0.5 * (
        1.0 / np.sqrt(at * (at + 1.0)) + 1.0 / np.sqrt(b * (b + 1.0))
    )
    for j, coefficient in enumerate(_EM_SERIES, start=1):
        order = 2 * j - 1
        total += coefficient * (_hh_derivative(order, b) - _hh_derivative(order, at))
    return total


def _reciprocal_divisor_sum(rule: str, start: int, count: IntArray) -> FloatArray:
    """Per recipient, sum_{k=start}^{start+count-1} 1 / d(k) in O(1) each, whatever the
    count: exact prefix sums up to ``_DIRECT`` terms, closed forms beyond."""
    head = 1.0 / divisor(rule, np.arange(start, start + _DIRECT, dtype=np.float64))
    prefix = np.array([math.fsum(head[:j].tolist()) for j in range(_DIRECT + 1)])
    out: FloatArray = prefix[np.minimum(count, _DIRECT)]
    long = count > _DIRECT
    if not long.any():
        return out
    end = (start + count[long]).astype(np.float64)  # one past the last k
    if rule == "huntington-hill":
        tail = _hh_tail(float(start + _DIRECT), end - 1.0)
        out[long] = prefix[_DIRECT] + tail
    elif rule == "dean":  # 1 / d(k) = (1/k + 1/(k + 1)) / 2
        s = float(start)
        first = digamma(np.array([s])) + digamma(np.array([s + 1.0]))
        out[long] = (digamma(end) + digamma(end + 1.0) - first) / 2.0
    else:  # d(k) = k + c: sum_{k=start}^{end-1} 1/(k + c) = psi(end + c) - psi(start + c)
        c = {"jefferson": 1.0, "webster": 0.5, "adams": 0.0}[rule]
        first = digamma(np.array([start + c]))
        out[long] = digamma(end + c) - first
    return out


def objective_value(program: IntegerProgram, x: IntArray, kind: str) -> float:
    """The objective in natural units: ``sum |x - q|`` (Hamilton, maxmin), the sum of
    priorities (divisor methods), ``sum e x`` scaled to max(e) = 1 (weighted).

    For divisor methods this is the *unrounded* sum of the priorities of the units given
    (the solver's integer costs round each unit to 1/SCALE): a display value, accurate to
    about 1e-12 relative, computed in O(recipients) time and memory however many units."""
    q = program.cost.quota
    if not isinstance(program.cost, MarginalCost) or program.cost.rule == "hamilton":
        return float(np.abs(x - q).sum())
    if program.cost.rule == "weighted":  # every unit of a recipient costs the same
        each = program.cost.primary(np.arange(len(x)), np.zeros(len(x), dtype=np.int64))
        return float(-(each.astype(np.float64) * x).sum() / SCALE)  # no int64 overflow
    rule = program.cost.rule
    units = np.asarray(x, dtype=np.int64)
    # where d(0) = 0 (Adams, Huntington-Hill, Dean) the first unit's priority is 2 max(q) + q_i
    start = 1 if rule in FIRST_UNIT_FIRST else 0
    count = np.maximum(units - start, 0)
    total = q * _reciprocal_divisor_sum(rule, start, count)
    if start:
        top = float(q.max()) if len(q) else 0.0
        total = total + np.where(units >= 1, 2.0 * top + q, 0.0)
    return float(total.sum())


def metrics(program: IntegerProgram, x: IntArray, kind: str) -> Metrics:
    """Totals, inequality and disproportionality (against quotas) of an allocation."""
    q = program.cost.quota
    budget = program.budget
    positive = q > 0
    ratio = x[positive] / q[positive]
    lh = 100.0 * 0.5 * float(np.abs(x - q).sum()) / budget
    gallagher = 100.0 * math.sqrt(0.5 * float((((x - q) / budget) ** 2).sum()))
    low = float(ratio.min()) if len(ratio) else 0.0
    high = float(ratio.max()) if len(ratio) else 0.0
    return Metrics(
        total=int(x.sum()),
        objective=round(low, 12) if kind == "maxmin" else objective_value(program, x, kind),
        gini=gini(x.astype(np.float64)),
        min_units_per_quota=low,
        max_units_per_quota=high,
        max_min_ratio=(high / low) if low > 0 else None,
        loosemore_hanby=lh,
        gallagher=gallagher,
    )
