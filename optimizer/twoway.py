"""A scenario with a biproportional rule, solved: its matrix built from the recipients'
tags, the totals not given apportioned from the budget, the cells apportioned by
:mod:`optimizer.biproportional`, and the answer as a :class:`~optimizer.result.Result`
whose certificate holds the row and column divisors (and any ties)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import ROUND_FLOOR, Context, Decimal
from fractions import Fraction
from typing import Any

import numpy as np

import optimizer
from optimizer.biproportional import (
    Apportionment,
    Matrix,
    Shortfall,
    apportion_line,
    biproportional,
    power_of,
    rounded,
    signpost,
)
from optimizer.certificate import decimal_text
from optimizer.diagnosis import _hard_labels, _hard_note
from optimizer.entitlement import Entitlements, IntArray, entitlements
from optimizer.exact import exact_entitlements
from optimizer.explain import metrics
from optimizer.plan_rules import BiproportionalRule, cell_method
from optimizer.result import (
    Allocation,
    Diagnosis,
    Metrics,
    Relaxation,
    Result,
    SolverReport,
    Status,
)
from optimizer.rules import change_limit
from optimizer.scenario import ChangeLimitRule, Objective, Scenario


def solve_biproportional(scenario: Scenario, rule: BiproportionalRule) -> Result:
    """Allocate a scenario whose budget is a matrix of ``rule.rows`` x ``rule.columns``."""
    started = time.perf_counter()
    method = cell_method(scenario)
    plan = Plan.of(scenario, rule)
    crossed = plan.crossed(rule.label)
    totals = plan.totals(scenario.budget, rule.margins or _margin_method(method))
    answer: Apportionment | None = None
    short: Shortfall | None = None
    if crossed is not None:
        pass  # no matrix holds a recipient whose bounds cross
    elif isinstance(totals, Shortfall):
        short = totals
    else:
        matrix = replace(plan.matrix, row_totals=totals[0], column_totals=totals[1])
        plan = replace(plan, matrix=matrix)
        answer = biproportional(matrix, method, 10**plan.exponent)
        short = answer.shortfall
    seconds = time.perf_counter() - started
    report = SolverReport(
        backend="exact",
        version=optimizer.__version__,
        path="biproportional",
        seconds=round(seconds, 6),
        build_seconds=0.0,
        gap=0.0 if short is None else None,
        versions=_versions(),
    )
    common: dict[str, Any] = {
        "scenario": scenario.name,
        "scenario_hash": scenario.content_hash,
        "budget": scenario.budget,
        "unit": scenario.unit.model_dump(),
        "objective": {"kind": "proportional", "method": method},
        "solver": report,
    }
    if short is not None or answer is None or answer.x is None:
        relax = crossed or plan.relaxation(_known(short), rule.label)
        if rule.hard and crossed is None:
            diagnosis = _kept(scenario, plan, relax, _known(short).kind)
        else:
            diagnosis = Diagnosis(summary=relax.message, relax=(relax,))
        return Result(
            status=Status.INFEASIBLE,
            allocations=(),
            metrics=None,
            diagnosis=diagnosis,
            message=diagnosis.summary,
            **common,
        )
    x = answer.x
    proof = plan.certificate(answer, rule)
    ties = proof["ties"]
    message = (
        f"biproportional {method}: {answer.transfers:,} transfer"
        f"{'' if answer.transfers == 1 else 's'} after alternating scaling"
    )
    if ties:
        message += (
            f"; {len(ties)} tie{'' if len(ties) == 1 else 's'}: an equally good allocation "
            "moves one unit around the cells listed in certificate.ties"
        )
    return Result(
        status=Status.OPTIMAL,
        allocations=plan.allocations(scenario, x, answer),
        metrics=plan.metrics(scenario, x, answer),
        message=message,
        certificate=proof,
        **common,
    )


_BOUNDS_AT_FAULT: dict[str, tuple[str, ...]] = {
    "cell": ("floors", "caps"),
    "row_floors": ("floors",),
    "column_floors": ("floors",),
    "row": ("caps",),
    "column": ("caps",),
    "cut": ("caps", "floors"),
}
"""Which cell bounds a shortfall of each kind comes from, besides the matrix's totals (the
other kinds are the totals alone: given ones against the budget or each other)."""


def _kept(scenario: Scenario, plan: Plan, relax: Relaxation, kind: str) -> Diagnosis:
    """The diagnosis of an impossible matrix whose rule is ``hard``: its totals are kept,
    so the cells' floors or caps are what to relax (the first of them not hard itself);
    when nothing else may move, the hard rules conflict and nothing is suggested."""
    held = _hard_note(scenario)
    involved = set(relax.recipients)
    soft = [r for r in scenario.recipients if r.id in involved and not r.hard]
    wide = scenario.hard or ()
    for family in _BOUNDS_AT_FAULT.get(kind, ()):
        bounded = [r.id for r in soft if (r.floor > 0 if family == "floors" else r.cap is not None)]
        if family in wide or not bounded:
            continue
        message = f"{relax.message}; relax the {family} of {', '.join(bounded[:5])}" + (
            f" and {len(bounded) - 5} more" if len(bounded) > 5 else ""
        )
        found = Relaxation(
            constraint=family,
            kind=family.removesuffix("s"),
            amount=relax.amount,
            message=message + held,
            recipients=tuple(bounded[:50]),
        )
        return Diagnosis(summary=f"infeasible: {found.message}", relax=(found,))
    return Diagnosis(
        summary="infeasible: no allocation exists with the hard rules as they are, whatever "
        f"else changes ({'; '.join(_hard_labels(scenario))}): {relax.message}",
        relax=(),
    )


def _known(short: Shortfall | None) -> Shortfall:
    """The shortfall of a matrix without an answer (there always is one)."""
    assert short is not None
    return short


def _margin_method(method: str) -> str:
    """Totals not given are apportioned by the cells' method unless the rule names one."""
    return method


@dataclass(frozen=True)
class Plan:
    """The scenario as a matrix: recipients (in entitlement order) as cells, the row and
    column names in the order they first appear, the totals given."""

    ent: Entitlements
    power: int
    exponent: int
    row_names: tuple[str, ...]
    column_names: tuple[str, ...]
    matrix: Matrix
    given_rows: dict[int, int]
    given_columns: dict[int, int]
    lo_by: tuple[str, ...] = ()
    """What sets each cell's lower bound: ``floor``, or a change_limit rule's label."""
    hi_by: tuple[str, ...] = ()
    """What sets each cell's upper bound: ``cap``, or a change_limit rule's label."""

    @classmethod
    def of(cls, scenario: Scenario, rule: BiproportionalRule) -> Plan:
        ent = entitlements(scenario)
        lo, hi = ent.floor.copy(), ent.cap.copy()
        lo_by, hi_by = ["floor"] * ent.size, ["cap"] * ent.size
        for limit in scenario.rules:  # a change limit is each recipient's floor and cap
            if isinstance(limit, ChangeLimitRule):
                least, most = change_limit.bounds(limit, ent, scenario.budget)
                for i in np.flatnonzero(least > lo).tolist():
                    lo_by[i] = limit.label
                for i in np.flatnonzero(most < hi).tolist():
                    hi_by[i] = limit.label
                lo, hi = np.maximum(lo, least), np.minimum(hi, most)
        exact, exponent = exact_entitlements(ent.weight, ent.score, ent.multiplier)
        recs = [scenario.recipients[j] for j in ent.position.tolist()]
        row_names = _first_seen(r.tags[rule.rows] for r in scenario.recipients)
        column_names = _first_seen(r.tags[rule.columns] for r in scenario.recipients)
        row_at = {name: k for k, name in enumerate(row_names)}
        column_at = {name: k for k, name in enumerate(column_names)}
        matrix = Matrix(
            row=np.array([row_at[r.tags[rule.rows]] for r in recs], dtype=np.int64),
            column=np.array([column_at[r.tags[rule.columns]] for r in recs], dtype=np.int64),
            weight=tuple(exact),
            lo=lo,
            hi=hi,
            row_totals=(),
            column_totals=(),
        )
        return cls(
            ent=ent,
            power=power_of(cell_method(scenario)),
            exponent=exponent,
            row_names=row_names,
            column_names=column_names,
            matrix=matrix,
            given_rows={row_at[k]: v for k, v in rule.row_totals.items()},
            given_columns={column_at[k]: v for k, v in rule.column_totals.items()},
            lo_by=tuple(lo_by),
            hi_by=tuple(hi_by),
        )

    def crossed(self, label: str) -> Relaxation | None:
        """A recipient whose bounds cross (a floor above what its change limit allows, or a
        change limit's least above its cap): no matrix can hold it."""
        lo, hi = self.matrix.lo, self.matrix.hi
        bad = np.flatnonzero(lo > hi).tolist()
        if not bad:
            return None
        parts = [
            f"{self.ent.ids[i]} must get at least {int(lo[i]):,} units ({self.lo_by[i]}) and "
            f"at most {int(hi[i]):,} ({self.hi_by[i]})"
            for i in bad[:5]
        ]
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        amount = int(sum(int(lo[i]) - int(hi[i]) for i in bad))
        return Relaxation(
            constraint=self.hi_by[bad[0]] if self.hi_by[bad[0]] != "cap" else self.lo_by[bad[0]],
            kind="bounds_crossed",
            amount=amount,
            message=f"{label}: " + "; ".join(parts) + more,
            recipients=tuple(self.ent.ids[i] for i in bad[:50]),
        )

    def totals(
        self, budget: int, margins: str
    ) -> tuple[tuple[int, ...], tuple[int, ...]] | Shortfall:
        """Both margins' totals: those given, the rest apportioned from what the budget
        leaves in proportion to the lines' entitlements."""
        out = []
        for side, index, names, given in (
            ("row", self.matrix.row, self.row_names, self.given_rows),
            ("column", self.matrix.column, self.column_names, self.given_columns),
        ):
            weight = [0] * len(names)
            for k, w in zip(index.tolist(), self.matrix.weight, strict=True):
                weight[k] += w
            left = budget - sum(given.values())
            free = [k for k in range(len(names)) if k not in given]
            lines = tuple(range(len(names)))
            rows = lines if side == "row" else ()
            columns = lines if side == "column" else ()
            if left < 0 or (not free and left != 0):
                return Shortfall(f"{side}_totals", rows, columns, budget, sum(given.values()))
            totals = [given.get(k, 0) for k in range(len(names))]
            if free:
                shares = apportion_line([weight[k] for k in free], left, margins)
                if shares is None:
                    kept = tuple(free)
                    return Shortfall(
                        f"{side}_margin",
                        kept if side == "row" else (),
                        kept if side == "column" else (),
                        len(free),
                        left,
                    )
                for k, units in zip(free, shares, strict=True):
                    totals[k] = units
            out.append(tuple(totals))
        return out[0], out[1]

    def _names(self, short: Shortfall) -> tuple[str, str]:
        rows = ", ".join(self.row_names[i] for i in short.rows)
        columns = ", ".join(self.column_names[j] for j in short.columns)
        return rows, columns

    def relaxation(self, short: Shortfall, label: str) -> Relaxation:
        """The shortfall as the diagnosis states it: which totals, how many units."""
        rows, columns = self._names(short)
        kind = short.kind
        if kind in ("row_totals", "column_totals"):
            side = kind.split("_")[0]
            text = (
                f"the {side} totals given sum to {short.hold:,} units but the budget is "
                f"{short.need:,}: give every {side} a total that adds up to the budget, or "
                f"leave some {side}s out to share what is left"
            )
        elif kind in ("row_margin", "column_margin"):
            side = kind.split("_")[0]
            names = rows or columns
            text = (
                f"the budget leaves {short.hold:,} units for the {side}s without a total "
                f"({names}), fewer than the {short.need:,} this method gives one each"
            )
        elif kind == "totals":
            text = (
                f"the row totals sum to {short.hold:,} units and the column totals to "
                f"{short.need:,}: they must agree"
            )
        elif kind == "cell":
            text = (
                f"cell ({rows}, {columns}) must take at least {short.need:,} units (its floor, "
                f"or one unit for a positive entitlement under this method) but can hold at "
                f"most {short.hold:,}"
            )
        elif kind in ("row_floors", "column_floors"):
            side = kind.split("_")[0]
            names = rows or columns
            text = (
                f"{side} {names}: its cells' floors (and, under adams, dean or "
                f"huntington-hill, one unit for each positive entitlement) need "
                f"{short.need:,} units, its total is "
                f"{short.hold:,}"
            )
        elif kind in ("row", "column"):
            names = rows or columns
            text = (
                f"{kind} {names} needs {short.need:,} units; its cells can hold at most "
                f"{short.hold:,} (caps, and nothing for a zero entitlement)"
            )
        else:  # cut
            columns_need, others_hold, floors = short.parts
            others = [n for i, n in enumerate(self.row_names) if i not in short.rows]
            plural = "s" if len(short.rows) > 1 else ""
            text = (
                f"column{'s' if len(short.columns) > 1 else ''} {columns} "
                f"need{'' if len(short.columns) > 1 else 's'} {columns_need:,} units; "
                + (
                    f"rows {', '.join(others)} can hold at most {others_hold:,} of them "
                    "(caps and totals), so "
                    if others
                    else ""
                )
                + f"row{plural} {rows} would need at least {short.need:,} units"
                + (f" with {floors:,} more for floors elsewhere" if floors else "")
                + f", more than {'their' if plural else 'its'} total{plural} of {short.hold:,}"
            )
        text = f"{label}: {text} ({short.amount:,} unit{'' if short.amount == 1 else 's'} short)"
        involved = [
            self.ent.ids[c]
            for c in range(len(self.ent.ids))
            if int(self.matrix.row[c]) in short.rows or int(self.matrix.column[c]) in short.columns
        ]
        return Relaxation(
            constraint=label,
            kind=f"biproportional_{kind}",
            amount=short.amount,
            message=text,
            recipients=tuple(involved[:50]),
        )

    def certificate(self, answer: Apportionment, rule: BiproportionalRule) -> dict[str, Any]:
        """How a reader checks the matrix: divide, round, compare with the totals."""
        rows, columns = answer.row_divisors, answer.column_divisors
        squared = self.power == 2
        ids = self.ent.ids
        return {
            "kind": "biproportional",
            "method": answer.method,
            "rule": "units = round(entitlement / (row divisor x column divisor)), rounded "
            f"{_ROUNDING[answer.method]}, within floor and cap; every row and column sums "
            "to its total",
            "squared": squared,
            "rows": {
                "tag": rule.rows,
                "names": list(self.row_names),
                "totals": list(self.matrix.row_totals),
                "given": [i in self.given_rows for i in range(len(self.row_names))],
                "divisors": [_decimal(v, squared) for v in rows],
            },
            "columns": {
                "tag": rule.columns,
                "names": list(self.column_names),
                "totals": list(self.matrix.column_totals),
                "given": [j in self.given_columns for j in range(len(self.column_names))],
                "divisors": [_decimal(v, squared) for v in columns],
            },
            # the same divisors as exact fractions (Huntington-Hill: their squares)
            "exact": {"rows": [str(v) for v in rows], "columns": [str(v) for v in columns]},
            "ties": [
                {"up": [ids[c] for c in tie.up], "down": [ids[c] for c in tie.down]}
                for tie in answer.ties
            ],
            "transfers": answer.transfers,
        }

    def allocations(
        self, scenario: Scenario, x: IntArray, answer: Apportionment
    ) -> tuple[Allocation, ...]:
        """One allocation per recipient, in the scenario's order; ``binding`` names a floor
        or cap that holds a cell away from its rounded quotient."""
        ent = self.ent
        rounded_q = self._rounded(answer)
        at = np.empty(ent.size, dtype=np.int64)
        at[ent.position] = np.arange(ent.size)
        value, budget = scenario.unit.value, scenario.budget
        out = []
        for rec, i in zip(scenario.recipients, at.tolist(), strict=True):
            units = int(x[i])
            held: tuple[str, ...] = ()
            if units > rounded_q[i] and units == int(self.matrix.lo[i]) and units > 0:
                held = (self.lo_by[i],)
            elif units < rounded_q[i] and units == int(self.matrix.hi[i]):
                held = (self.hi_by[i],)
            out.append(
                Allocation(
                    id=rec.id,
                    name=rec.label,
                    units=units,
                    amount=units * value,
                    quota=float(ent.quota[i]),
                    share=units / budget,
                    entitlement=float(ent.entitlement[i]),
                    score=rec.score,
                    grade=ent.grade[i],
                    binding=held,
                )
            )
        return tuple(out)

    def _rounded(self, answer: Apportionment) -> list[int]:
        """Each cell's quotient rounded without its bounds (floats: display only)."""
        r = np.array([float(v) for v in answer.row_divisors])
        c = np.array([float(v) for v in answer.column_divisors])
        scale = 10.0**self.exponent
        w = np.array([(float(v) / scale) ** self.power for v in self.matrix.weight])
        q = w / (r[self.matrix.row] * c[self.matrix.column])
        return [int(v) for v in rounded(answer.method, q).tolist()]

    def metrics(self, scenario: Scenario, x: IntArray, answer: Apportionment) -> Metrics:
        """The usual measures against the flat quotas, with the biproportional objective
        (the sum over units given of ``log(s(k) / e)``, lower is better)."""
        from optimizer.compile import build_program

        flat = scenario.model_copy(
            update={"objective": Objective(kind="proportional", method="hamilton"), "rules": ()}
        )
        _, _, program = build_program(flat)
        base = metrics(program, x, "proportional")
        return replace(base, objective=round(self._objective(x, answer.method), 9))

    def _objective(self, x: IntArray, method: str) -> float:
        total = 0.0
        for units, w in zip(x.tolist(), self.matrix.weight, strict=True):
            if units <= 0 or w <= 0:
                continue
            counted = units - (1 if signpost(method, 0) == 0 else 0)
            total += _log_signposts(method, units) - counted * self.power * _log(w)
        return total


def _log(value: int) -> float:
    """``log`` of a positive integer of any size."""
    shift = max(value.bit_length() - 1000, 0)
    return math.log(value >> shift) + shift * math.log(2)


def _log_signposts(method: str, units: int) -> float:
    """``sum log s(k)`` over ``k < units`` with ``s(k) > 0``, in closed form."""
    x = float(units)
    if method == "jefferson":
        return math.lgamma(x + 1)
    if method == "webster":
        return math.lgamma(x + 0.5) - math.lgamma(0.5)
    if method == "adams":
        return math.lgamma(x)
    if method == "huntington-hill":
        return math.lgamma(x) + math.lgamma(x + 1)
    # dean: s(k) = 2k(k+1)/(2k+1), k = 1 .. units-1
    odd = math.lgamma(2 * x + 1) - math.lgamma(x + 1) - x * math.log(2)  # log prod (2k+1)
    return (x - 1) * math.log(2) + math.lgamma(x) + math.lgamma(x + 1) - odd


_ROUNDING = {
    "jefferson": "down (s(k) = k + 1)",
    "webster": "at one half (s(k) = k + 1/2)",
    "adams": "up (s(k) = k)",
    "huntington-hill": "at the geometric mean (s(k) = sqrt(k (k + 1)))",
    "dean": "at the harmonic mean (s(k) = 2 k (k + 1) / (2 k + 1))",
}


def _decimal(value: Fraction, squared: bool) -> str:
    """A divisor as a decimal (the square root of the exact square for Huntington-Hill)."""
    if not squared:
        return decimal_text(value)
    ctx = Context(prec=30, rounding=ROUND_FLOOR)
    root = ctx.sqrt(ctx.divide(Decimal(value.numerator), Decimal(value.denominator)))
    return format(root, "f")


def _first_seen(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _versions() -> dict[str, str]:
    from optimizer.solve import _versions as versions

    return versions()
