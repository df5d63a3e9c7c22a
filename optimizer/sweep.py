"""Sweeps: solve a scenario once per value of a parameter, or per point of a grid.

An axis is ``path=start:stop:step`` (``stop`` included, decimal steps exact) or
``path=v1,v2,...``, with the paths of :mod:`optimizer.overrides`; several axes make the grid
of every combination, the first axis varying slowest. Each variant is the scenario data with
the fixed ``overrides`` and the point's assignments applied, validated and solved exactly as
``allot solve`` would solve it alone, so a sweep is the same as solving each variant by hand,
only faster (variants run in parallel, :mod:`optimizer.parallel`).

>>> axis = parse_axis("budget=1000:1200:100")
>>> axis.path, axis.texts, axis.values
('budget', ('1000', '1100', '1200'), (1000, 1100, 1200))
>>> parse_axis("rules[0].min_share=0.2,0.25").values
(0.2, 0.25)
>>> for point in grid([parse_axis("a=1,2"), parse_axis("b=x,y")]):
...     print(point)
(('a', '1'), ('b', 'x'))
(('a', '1'), ('b', 'y'))
(('a', '2'), ('b', 'x'))
(('a', '2'), ('b', 'y'))
"""

from __future__ import annotations

import decimal
import itertools
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from optimizer.errors import InputError, Problem
from optimizer.loading import parse_value, validate_data
from optimizer.overrides import apply_overrides, parse_assignment
from optimizer.paradox import along_verdict, quota_verdict
from optimizer.parallel import Progress, run_tasks
from optimizer.result import Verdict
from optimizer.scenario import Scenario
from optimizer.solve import solve

__all__ = [
    "MAX_VARIANTS",
    "Axis",
    "SweepReport",
    "Variant",
    "VariantResult",
    "grid",
    "parse_axis",
    "run_sweep",
    "solve_summary",
    "sweep_checks",
    "variants",
]

MAX_VARIANTS = 10_000
"""Most variants one sweep may have (all axes multiplied)."""
MAX_REPORTED = 10
"""Invalid variants whose problems are listed before the rest are counted."""

Point = tuple[tuple[str, str], ...]
"""One variant's assignments: (path, value text) per axis."""
_SCORE_PATH = re.compile(r"recipients\[([^\]]+)\]\.score")
"""A swept score: ``recipients[ID].score`` (the population paradox is about it)."""


@dataclass(frozen=True)
class Axis:
    """One swept parameter: its path and the values, as written and as read."""

    path: str
    texts: tuple[str, ...]
    values: tuple[Any, ...]


def parse_axis(spec: str, *, where: str = "set", limit: int = MAX_VARIANTS) -> Axis:
    """``path=start:stop:step`` or ``path=v1,v2,...``; problems are reported at ``where``."""
    try:
        path, _, text = parse_assignment(spec)
    except ValueError as exc:
        raise InputError([Problem(where, f"{spec!r}: {exc}")]) from None
    if not text:
        raise InputError([Problem(where, f"{spec!r}: no values after '='")])
    parts = text.split(":")
    if len(parts) == 3 and "," not in text:
        texts = _range(spec, parts, where, limit)
    elif len(parts) == 1:
        texts = [item.strip() for item in text.split(",")]
        if any(not item for item in texts):
            raise InputError([Problem(where, f"{spec!r}: an empty value in the list")])
    else:
        raise InputError([Problem(where, f"{spec!r}: use path=start:stop:step or path=v1,v2,...")])
    if len(texts) > limit:
        raise InputError(
            [Problem(where, f"{spec!r}: {len(texts)} values; a sweep may have at most {limit}")]
        )
    values = tuple(parse_value(item, where=where) for item in texts)
    return Axis(path=path, texts=tuple(texts), values=values)


def _range(spec: str, parts: Sequence[str], where: str, limit: int) -> list[str]:
    try:
        start, stop, step = (Decimal(p.strip()) for p in parts)
    except decimal.InvalidOperation:
        raise InputError(
            [Problem(where, f"{spec!r}: start:stop:step must be three numbers (1000:2000:100)")]
        ) from None
    if not all(d.is_finite() for d in (start, stop, step)):
        raise InputError([Problem(where, f"{spec!r}: start, stop and step must be finite")])
    if step == 0 or (stop - start) * step < 0:
        raise InputError(
            [Problem(where, f"{spec!r}: step {step} never gets from {start} to {stop}")]
        )
    count = int((stop - start) / step) + 1
    if count > limit:
        raise InputError(
            [Problem(where, f"{spec!r}: {count} values; a sweep may have at most {limit}")]
        )
    return [_number_text(start + i * step) for i in range(count)]


def _number_text(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def grid(axes: Sequence[Axis]) -> Iterator[Point]:
    """Every combination of the axes' values, the first axis varying slowest."""
    return itertools.product(*[[(a.path, t) for t in a.texts] for a in axes])


@dataclass(frozen=True)
class Variant:
    """One point of a sweep and the validated scenario it gives."""

    point: Point
    scenario: Scenario

    @property
    def label(self) -> str:
        """``budget=1000, rules[0].min_share=0.2``."""
        return ", ".join(f"{path}={text}" for path, text in self.point)


def variants(
    data: Mapping[str, Any],
    axes: Sequence[Axis],
    *,
    overrides: Sequence[str] = (),
    where: str = "set",
    limit: int = MAX_VARIANTS,
) -> list[Variant]:
    """Apply and validate every point of the grid; every invalid one is reported (the first
    ``MAX_REPORTED`` in full, the others counted), so nothing is solved when one is wrong."""
    if not axes:
        raise InputError([Problem(where, "give at least one path=values to sweep")])
    count = 1
    for axis in axes:
        count *= len(axis.texts)
    if count > limit:
        raise InputError(
            [Problem(where, f"the grid has {count} variants; a sweep may have at most {limit}")]
        )
    out: list[Variant] = []
    problems: list[Problem] = []
    invalid = 0
    for point in grid(axes):
        assignments = [*overrides, *(f"{path}={text}" for path, text in point)]
        try:
            out.append(Variant(point, validate_data(apply_overrides(data, assignments))))
        except InputError as exc:
            invalid += 1
            if invalid <= MAX_REPORTED:
                shown = ", ".join(f"{path}={text}" for path, text in point)
                problems.extend(Problem(p.path, f"with {shown}: {p.message}") for p in exc.problems)
    if invalid > MAX_REPORTED:
        problems.append(
            Problem(where, f"and {invalid - MAX_REPORTED} more invalid variants (not listed)")
        )
    if problems:
        raise InputError(problems)
    return out


def solve_summary(scenario: Scenario) -> dict[str, Any]:
    """Solve and keep what a sweep reports: the result contract without timings (so that the
    same sweep gives the same output however it was run)."""
    result = solve(scenario).to_dict()
    solver = result["solver"]
    result["solver"] = {key: solver[key] for key in ("backend", "version", "path", "gap")}
    return result


@dataclass(frozen=True)
class VariantResult:
    """A variant's point and its result (:func:`solve_summary`)."""

    point: Point
    values: tuple[Any, ...]
    result: Mapping[str, Any]

    @property
    def label(self) -> str:
        return ", ".join(f"{path}={text}" for path, text in self.point)

    @property
    def values_by_path(self) -> dict[str, Any]:
        return {path: value for (path, _), value in zip(self.point, self.values, strict=True)}


@dataclass(frozen=True)
class SweepReport:
    """Every variant's result, in grid order."""

    parameters: tuple[str, ...]
    results: tuple[VariantResult, ...]

    def recipients(self) -> list[dict[str, Any]]:
        """Per recipient (in the order first met): its units and grade in each variant
        (``None`` where that variant has no allocation or no such recipient)."""
        names: dict[str, str] = {}
        for item in self.results:
            for alloc in item.result["allocations"]:
                names.setdefault(alloc["id"], alloc["name"])
        lookup = [{a["id"]: a for a in item.result["allocations"]} for item in self.results]
        rows = []
        for rid, name in names.items():
            found = [allocations.get(rid) for allocations in lookup]
            rows.append(
                {
                    "id": rid,
                    "name": name,
                    "units": [None if a is None else a["units"] for a in found],
                    "grade": [None if a is None else a["grade"] for a in found],
                }
            )
        return rows

    def point_checks(self) -> list[Verdict]:
        """Each variant's quota verdict (from its allocation alone: no solve)."""
        out = []
        for item in self.results:
            result = item.result
            if result["status"] != "optimal":
                reason = f"the variant has no optimal allocation (status {result['status']})"
                out.append(Verdict("quota", "not applicable", reason))
                continue
            shares = [
                (a["id"], a["units"], a["quota"], tuple(a.get("binding") or ()))
                for a in result["allocations"]
            ]
            out.append(quota_verdict(shares, (result.get("objective") or {}).get("method")))
        return out

    def checks(self) -> list[Verdict]:
        """The verdicts across the sweep's own points (:func:`sweep_checks`)."""
        return sweep_checks(self.parameters, [(item.values, item.result) for item in self.results])

    def to_dict(self) -> dict[str, Any]:
        """The sweep as plain JSON values: parameters, variants (values, status, metrics,
        units per recipient, the quota verdict), the per-recipient table and the verdicts
        across the points (``checks``)."""
        variants_out = []
        for item, verdict in zip(self.results, self.point_checks(), strict=True):
            result = item.result
            variants_out.append(
                {
                    "label": item.label,
                    "values": item.values_by_path,
                    "status": result["status"],
                    "scenario": result["scenario"],
                    "budget": result["budget"],
                    "message": result["message"],
                    "metrics": result["metrics"],
                    "solver": result["solver"],
                    "units": {a["id"]: a["units"] for a in result["allocations"]},
                    "binding": {a["id"]: a["binding"] for a in result["allocations"]},
                    "checks": [asdict(verdict)],
                }
            )
        return {
            "parameters": list(self.parameters),
            "variants": variants_out,
            "recipients": self.recipients(),
            "checks": [asdict(verdict) for verdict in self.checks()],
        }


def sweep_checks(
    parameters: Sequence[str], points: Sequence[tuple[Sequence[Any], Mapping[str, Any]]]
) -> list[Verdict]:
    """Verdicts across a sweep's own points (no solve): budget monotonicity along each swept
    ``budget`` (does anyone get fewer units when the budget grows, every other parameter as
    at that point?) and score monotonicity along each swept ``recipients[ID].score`` (does
    that recipient get fewer units when its score rises?). ``points``: each point's values
    (one per parameter) and its result; points that are not optimal are left out."""
    solved = [(values, result) for values, result in points if result.get("status") == "optimal"]
    ids = [a["id"] for a in solved[0][1]["allocations"]] if solved else []
    out = []
    for index, parameter in enumerate(parameters):
        found = _SCORE_PATH.fullmatch(parameter)
        if parameter == "budget":
            check, what, only = "budget_monotonicity", "budget", None
        elif found is not None:
            key = found[1]
            only = (
                ids[int(key)] if key.isdigit() and key not in ids and int(key) < len(ids) else key
            )
            check, what = "score_monotonicity", f"score of {only}"
        else:
            continue
        lines: dict[str, list[tuple[Any, dict[str, int]]]] = {}
        for values, result in solved:
            if values[index] is None:  # a point whose value is not known
                continue
            others = json.dumps([v for k, v in enumerate(values) if k != index], default=str)
            units = {a["id"]: a["units"] for a in result["allocations"]}
            lines.setdefault(others, []).append((values[index], units))
        ordered = [sorted(line, key=lambda point: point[0]) for line in lines.values()]
        out.append(along_verdict(check, what, ordered, only=only))
    if not out:
        reason = "the sweep varies neither the budget nor a recipient's score"
        out.append(Verdict("budget_monotonicity", "not applicable", reason))
    return out


def run_sweep(
    chosen: Sequence[Variant],
    axes: Sequence[Axis],
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> SweepReport:
    """Solve every variant (in parallel) and collect the results in grid order."""
    results = run_tasks(
        solve_summary,
        [v.scenario for v in chosen],
        jobs=jobs,
        scheduler=scheduler,
        progress=progress,
    )
    value_of = {(a.path, t): v for a in axes for t, v in zip(a.texts, a.values, strict=True)}
    return SweepReport(
        parameters=tuple(a.path for a in axes),
        results=tuple(
            VariantResult(
                point=v.point,
                values=tuple(value_of[pair] for pair in v.point),
                result=result,
            )
            for v, result in zip(chosen, results, strict=True)
        ),
    )
