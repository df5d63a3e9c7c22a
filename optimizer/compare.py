"""Side-by-side comparison of two or more results (``Result.to_dict`` contracts).

The first result is the baseline: every recipient's units in each run, the difference from
the baseline in units and percent, its grade in each run, the metrics of each run, which
rules bound in which run and each run's paradox verdicts (``checks``, as the result carries
them: empty when they were not computed). Used by ``POST /v1/compare`` and the CLI's ``compare``.

>>> def result(units):
...     allocations = [
...         {"id": k, "name": k.title(), "units": u, "grade": "A", "binding": b}
...         for k, (u, b) in units.items()
...     ]
...     return {"status": "optimal", "scenario": {"name": "s", "hash": "h"},
...             "allocations": allocations, "metrics": {"total": 10}}
>>> out = compare([result({"a": (8, []), "b": (2, [])}),
...                result({"a": (6, ["cap"]), "b": (4, ["metro cap"])})])
>>> first = out["recipients"][0]
>>> first["units"], first["diff_units"], first["diff_pct"]
([8, 6], [0, -2], [0.0, -25.0])
>>> out["rules"]
[{'rule': 'metro cap', 'bound': [False, True]}]
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from optimizer.errors import InputError, Problem
from optimizer.loading import load_scenario
from optimizer.paradox import paradox_checks
from optimizer.solve import solve

__all__ = ["BOUND_NAMES", "compare", "is_result", "load_result", "run_labels"]

BOUND_NAMES = frozenset({"floor", "cap"})
"""Entries of ``binding`` that are a recipient's own bounds rather than a rule."""


def compare(
    results: Sequence[Mapping[str, Any]], *, labels: Sequence[str] | None = None
) -> dict[str, Any]:
    """Compare results against the first; ``labels`` name the runs (default ``run 1``...)."""
    if len(results) < 2:
        raise InputError(
            [Problem("runs", f"compare needs two or more results (got {len(results)})")]
        )
    if labels is None:
        labels = [f"run {i + 1}" for i in range(len(results))]
    if len(labels) != len(results):
        raise InputError([Problem("labels", "one label per result")])
    problems = [
        Problem(f"runs[{i}]", "is not a result (no allocations list)")
        for i, r in enumerate(results)
        if not isinstance(r, Mapping) or not isinstance(r.get("allocations"), list | tuple)
    ]
    if problems:
        raise InputError(problems)

    count = len(results)
    by_run: list[dict[str, Mapping[str, Any]]] = [
        {str(a["id"]): a for a in r["allocations"]} for r in results
    ]
    order: dict[str, str] = {}
    for allocations in by_run:
        for rid, alloc in allocations.items():
            order.setdefault(rid, str(alloc.get("name") or rid))

    rules: dict[str, list[bool]] = {}
    recipients = []
    for rid, name in order.items():
        units: list[int | None] = []
        grades: list[str | None] = []
        binding: list[list[str] | None] = []
        for run, allocations in enumerate(by_run):
            found = allocations.get(rid)
            if found is None:
                units.append(None)
                grades.append(None)
                binding.append(None)
                continue
            units.append(int(found["units"]))
            grades.append(found.get("grade"))
            held = [str(b) for b in found.get("binding") or ()]
            binding.append(held)
            for label in held:
                if label not in BOUND_NAMES:
                    rules.setdefault(label, [False] * count)[run] = True
        base = units[0]
        diff_units = [None if u is None or base is None else u - base for u in units]
        diff_pct = [None if d is None or not base else 100.0 * d / base for d in diff_units]
        recipients.append(
            {
                "id": rid,
                "name": name,
                "units": units,
                "diff_units": diff_units,
                "diff_pct": diff_pct,
                "grade": grades,
                "binding": binding,
            }
        )

    runs = [
        {
            "label": label,
            "status": r.get("status"),
            "scenario": r.get("scenario"),
            "budget": r.get("budget"),
            "objective": r.get("objective"),
            "metrics": r.get("metrics"),
            "solver": _solver_summary(r.get("solver")),
            "total_units": sum(int(a["units"]) for a in r["allocations"]),
            "checks": list(r.get("checks") or ()),
        }
        for label, r in zip(labels, results, strict=True)
    ]
    return {
        "baseline": labels[0],
        "runs": runs,
        "recipients": recipients,
        "rules": [{"rule": rule, "bound": bound} for rule, bound in rules.items()],
    }


def _solver_summary(solver: Any) -> dict[str, Any] | None:
    if not isinstance(solver, Mapping):
        return None
    return {key: solver.get(key) for key in ("backend", "version", "path", "seconds", "gap")}


def is_result(data: Any) -> bool:
    """Does parsed JSON look like a saved result (``allot solve --format json``) rather than
    a scenario?"""
    return (
        isinstance(data, Mapping)
        and isinstance(data.get("allocations"), list)
        and isinstance(data.get("scenario"), Mapping)
        and "status" in data
    )


def load_result(path: str | os.PathLike[str], *, checks: bool = True) -> dict[str, Any]:
    """A result for ``path``: a saved result JSON file as it is, or a scenario file (YAML or
    JSON) loaded and solved, with its paradox verdicts unless ``checks`` is False (as
    ``allot solve`` gives them). Raises :class:`InputError` at the file's name."""
    file = Path(path)
    shown = os.fspath(path)
    if file.suffix.lower() == ".json":
        try:
            data = json.loads(file.read_bytes())
        except FileNotFoundError:
            raise InputError([Problem(shown, "file not found")]) from None
        except (OSError, ValueError):
            data = None  # not readable JSON: loading the scenario reports why
        if is_result(data):
            return _checked_result(data, shown)
    try:
        scenario = load_scenario(file)
    except InputError as exc:
        raise InputError(
            [Problem(shown + (f": {p.path}" if p.path else ""), p.message) for p in exc.problems]
        ) from None
    result = solve(scenario)
    if checks:
        again = functools.partial(solve, ties=False)
        result = replace(result, checks=paradox_checks(scenario, result, again))
    return result.to_dict()


def _checked_result(data: Mapping[str, Any], shown: str) -> dict[str, Any]:
    problems = []
    for index, alloc in enumerate(data["allocations"]):
        where = f"{shown}: allocations[{index}]"
        if not isinstance(alloc, Mapping) or not isinstance(alloc.get("id"), str):
            problems.append(Problem(where, "needs an id (text)"))
        elif isinstance(alloc.get("units"), bool) or not isinstance(alloc.get("units"), int):
            problems.append(Problem(f"{where}.units", "must be a whole number"))
    if problems:
        raise InputError(problems)
    return dict(data)


def run_labels(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    """Short labels for runs read from files: the file names without suffix, numbered when
    two are the same."""
    stems = [Path(p).stem or os.fspath(p) for p in paths]
    out = []
    for index, stem in enumerate(stems):
        repeats = stems[:index].count(stem)
        out.append(stem if repeats == 0 and stems.count(stem) == 1 else f"{stem} ({repeats + 1})")
    return out
