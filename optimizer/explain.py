"""Why each recipient got what it got (``binding``) and summary metrics of an allocation."""

from __future__ import annotations

import math

import numpy as np

from optimizer.entitlement import Entitlements, FloatArray, IntArray
from optimizer.model import IntegerProgram
from optimizer.objectives import SCALE, MarginalCost
from optimizer.result import Metrics
from optimizer.rules import CompiledRules

_EPS = 1e-9


def binding(x: IntArray, ent: Entitlements, rules: CompiledRules) -> list[tuple[str, ...]]:
    """Per recipient, the constraints that are tight at ``x`` *and* hold it away from its
    quota: a floor or rule lower bound holding it above, a cap or limit holding it below, a
    group rule at its bound, or grade_order tying it to the neighbouring grade."""
    out: list[list[str]] = [[] for _ in range(ent.size)]
    q = ent.quota
    held_up = np.flatnonzero((x == rules.lo) & (x > q + _EPS))
    held_down = np.flatnonzero((x == rules.hi) & (x < q - _EPS))
    for i in held_up.tolist():
        out[i].extend(rules.lo_source[i])
    for i in held_down.tolist():
        out[i].extend(rules.hi_source[i] or ("cap",))
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
            for i in row.index[mask].tolist():
                out[i].append(row.label)
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
                for i in members[pushed & at_tie].tolist():
                    if order.label not in out[i]:
                        out[i].append(order.label)
    return [tuple(dict.fromkeys(b)) if b else () for b in out]


def gini(values: FloatArray) -> float:
    """Gini coefficient of non-negative values (0 = all equal)."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    total = float(v.sum())
    if len(v) == 0 or total <= 0:
        return 0.0
    n = len(v)
    cum = np.arange(1, n + 1, dtype=np.float64)
    return float((2.0 * (cum * v).sum()) / (n * total) - (n + 1.0) / n)


def objective_value(program: IntegerProgram, x: IntArray, kind: str) -> float:
    """The objective in natural units: ``sum |x - q|`` (Hamilton, maxmin), the sum of
    priorities (divisor methods), ``sum e x`` scaled to max(e) = 1 (weighted)."""
    q = program.cost.quota
    if not isinstance(program.cost, MarginalCost) or program.cost.rule == "hamilton":
        return float(np.abs(x - q).sum())
    if program.cost.rule == "weighted":  # every unit of a recipient costs the same
        each = program.cost.primary(np.arange(len(x)), np.zeros(len(x), dtype=np.int64))
        return float(-int((each * x).sum()) / SCALE)
    owner = np.repeat(np.arange(len(x)), x)
    k = np.arange(int(x.sum())) - np.repeat(np.cumsum(x) - x, x)
    return float(-program.cost.primary(owner, k).sum() / SCALE)


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
