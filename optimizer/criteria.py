"""Evaluation scores from weighted criteria.

A scenario may name its evaluation criteria with weights; each recipient then gives a score
per criterion instead of one ``score``, and its ``score`` is the weighted average:

.. code-block:: yaml

    criteria: {performance: 0.4, jobs: 0.25, investment: 0.2, innovation: 0.15}
    recipients:
      - {id: busan-battery, criteria: {performance: 88, jobs: 75, investment: 90, innovation: 70}}

The weights need not add up to 1 (they are normalised); a criterion of weight 0 is read and
kept but not counted (a budget component may share its part by it: ``basis:
criteria.<name>``, e.g. a need score from a recipient file's ``criteria.need`` column), as
long as some criterion weighs more. The composite is rounded to
``COMPOSITE_DIGITS`` decimals, so that ``85`` computed as ``84.99999999999999`` still reaches
a grade band that starts at 85. A recipient of a scenario with criteria may instead give a
``score`` directly (an override, e.g. ``recipients[busan].score=90`` after
``recipients[busan].criteria=``), but not both.

>>> composite({"a": 80, "b": 90}, {"a": 3, "b": 1})
82.5
>>> data = {"criteria": {"a": 3, "b": 1},
...         "recipients": [{"id": "x", "criteria": {"a": 80, "b": 90}}, {"id": "y", "score": 70}]}
>>> out, problems = with_composite_scores(data)
>>> [r["score"] for r in out["recipients"]], problems
([82.5, 70], [])
>>> _, problems = with_composite_scores({"criteria": {"a": 1}, "recipients": [
...     {"id": "x", "criteria": {"b": 2}}]})
>>> for problem in problems:
...     print(problem)
recipients[0].criteria.a: missing score for criterion 'a'
recipients[0].criteria.b: unknown criterion 'b' (criteria: a)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from optimizer.errors import Problem

__all__ = ["COMPOSITE_DIGITS", "composite", "with_composite_scores"]

COMPOSITE_DIGITS = 9
"""Decimals the composite score is rounded to."""

Weights = dict[str, Annotated[float, Field(ge=0, allow_inf_nan=False)]]
Scores = dict[str, Annotated[float, Field(ge=0, allow_inf_nan=False)]]
_PLACEHOLDER = 1.0
"""Stands in for a score that cannot be computed, so that validation reports the real problem
(already found, or found by pydantic) rather than a missing score as well."""


def composite(scores: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """The weighted average of ``scores`` by ``weights`` (every weight's criterion scored)."""
    total = math.fsum(weights.values())
    value = math.fsum(weight * scores[name] for name, weight in weights.items()) / total
    return round(value, COMPOSITE_DIGITS)


def with_composite_scores(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """A copy of raw scenario data whose recipients with ``criteria`` have their composite as
    ``score``, and the problems found: a criterion the block does not name, a criterion a
    recipient does not score, criteria without a block, both a score and criteria. Type
    problems (a weight < 0, a score that is not a number) are left to the schema, which
    reports them at their field paths."""
    out = dict(data)
    recipients = data.get("recipients")
    if not isinstance(recipients, list):
        return out, []
    block = data.get("criteria")
    if block is None and not any(type(r) is not dict or "criteria" in r for r in recipients):
        return out, []  # nothing to compute or report (a firm-level list: no loop per row)
    problems: list[Problem] = []
    weights = _parsed(_adapter(Weights), block)
    if isinstance(block, Mapping) and not block:
        problems.append(Problem("criteria", "must name at least one criterion (name: weight)"))
    usable = weights is not None and any(w > 0 for w in weights.values())
    if weights is not None and block and not usable:
        problems.append(
            Problem("criteria", "some criterion must weigh more than 0 (the score's weights)")
        )
    names = ", ".join(str(k) for k in block) if isinstance(block, Mapping) else ""
    fixed: list[Any] = []
    for index, rec in enumerate(recipients):
        if not isinstance(rec, Mapping):
            fixed.append(rec)
            continue
        where = f"recipients[{index}]"
        given = rec.get("criteria")
        has_score = rec.get("score") is not None
        if block is None:
            if given is not None:
                problems.append(
                    Problem(
                        f"{where}.criteria",
                        "the scenario has no criteria block: add criteria: {name: weight, ...} "
                        "or give a score",
                    )
                )
                if not has_score:
                    rec = {**rec, "score": _PLACEHOLDER}
            fixed.append(rec)
            continue
        if given is None:
            if not has_score:
                problems.append(
                    Problem(
                        f"{where}.criteria",
                        f"required field is missing: a score for each criterion ({names}), "
                        "or one score",
                    )
                )
                rec = {**rec, "score": _PLACEHOLDER}
            fixed.append(rec)
            continue
        if has_score:
            problems.append(
                Problem(
                    f"{where}.score",
                    "is computed from criteria: give a score or criteria scores, not both",
                )
            )
            fixed.append(rec)
            continue
        scores = _parsed(_adapter(Scores), given)
        score = _PLACEHOLDER
        if isinstance(block, Mapping) and block and isinstance(given, Mapping):
            missing = [str(k) for k in block if k not in given]
            unknown = [str(k) for k in given if k not in block]
            problems.extend(
                Problem(f"{where}.criteria.{k}", f"missing score for criterion {k!r}")
                for k in missing
            )
            problems.extend(
                Problem(f"{where}.criteria.{k}", f"unknown criterion {k!r} (criteria: {names})")
                for k in unknown
            )
            if (
                usable
                and weights is not None
                and scores is not None
                and not missing
                and not unknown
            ):
                value = composite(scores, weights)
                if value > 0:
                    score = value
                else:
                    problems.append(
                        Problem(
                            f"{where}.criteria",
                            "the weighted score is 0: at least one criterion needs a score > 0",
                        )
                    )
        fixed.append({**rec, "score": score})
    out["recipients"] = fixed
    return out, problems


@functools.cache
def _adapter(shape: Any) -> TypeAdapter[Any]:
    """The validator of a weights or scores block, built on first use: most scenarios have
    no criteria, and each adapter costs start-up time."""
    return TypeAdapter(shape)


def _parsed(adapter: TypeAdapter[Any], value: Any) -> Any:
    """The value as the schema reads it, or None when the schema will report a problem."""
    if not isinstance(value, Mapping):
        return None
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None
