"""Small random scenarios as plain data, for the property tests against the enumeration.

Coarse grids of scores and weights make the hard cases likely: equal quotas, equal ratios
under ``grade_order``, group bounds and change limits that bind, infeasible rule sets.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

KINDS = (
    "hamilton",
    "jefferson",
    "webster",
    "huntington-hill",
    "adams",
    "dean",
    "weighted",
    "maxmin",
)
GRADES = [
    {"grade": "S", "min_score": 70, "multiplier": 1.3},
    {"grade": "A", "min_score": 40, "multiplier": 1.1},
    {"grade": "B", "min_score": 0, "multiplier": 1.0},
]


def objective(kind: str) -> dict[str, str]:
    if kind in ("weighted", "maxmin"):
        return {"kind": kind}
    return {"kind": "proportional", "method": kind}


@st.composite
def scenarios(
    draw: st.DrawFn,
    *,
    kinds: tuple[str, ...] = KINDS,
    max_recipients: int = 5,
    max_budget: int = 14,
    grade_order: bool | None = None,
) -> dict[str, Any]:
    """A small scenario (it may be infeasible) with any of the rules (``grade_order``:
    True always, None sometimes)."""
    n = draw(st.integers(2, max_recipients))
    budget = draw(st.integers(1, max_budget))
    ids = draw(st.permutations(["a", "b", "c", "d", "e", "f"]))[:n]
    recipients = []
    for rid in ids:
        floor = draw(st.integers(0, max(budget // n, 0)))
        rec: dict[str, Any] = {
            "id": rid,
            "score": draw(st.sampled_from([10, 30, 50, 50, 60, 72.5, 80, 99])),
            "weight": draw(st.sampled_from([0.0, 0.5, 0.7, 1.0, 1.0, 1.5, 2.0])),
            "floor": floor,
            "tags": {
                "kind": draw(st.sampled_from(["p", "q"])),
                "band": draw(st.sampled_from(["x", "y"])),
            },
        }
        if draw(st.booleans()):
            rec["cap"] = draw(st.integers(floor, budget))
        if draw(st.booleans()):
            rec["previous"] = draw(st.integers(0, 2 * budget // n + 1))
        recipients.append(rec)
    if all(r["weight"] == 0 for r in recipients):
        recipients[0]["weight"] = 1.0
    data: dict[str, Any] = {
        "name": "random",
        "budget": budget,
        "recipients": recipients,
        "objective": objective(draw(st.sampled_from(kinds))),
    }
    graded = grade_order or draw(st.booleans())
    if graded:
        data["grades"] = GRADES
    rules: list[dict[str, Any]] = []
    for number in range(draw(st.integers(0, 2))):
        tag = draw(st.sampled_from(["kind", "band"]))
        held = sorted({r["tags"][tag] for r in recipients})
        rule: dict[str, Any] = {
            "type": "group",
            "name": f"group {number}",
            "tag": tag,
            "value": draw(st.sampled_from(held)),
        }
        if draw(st.booleans()):
            rule["min_units"] = draw(st.integers(0, budget // 2))
        if draw(st.booleans()):
            rule["max_share"] = draw(st.sampled_from([0.25, 0.35, 0.5, 0.6, 0.8]))
        if len(rule) == 4:
            rule["max_units"] = draw(st.integers(budget // 3, budget))
        rules.append(rule)
    if grade_order or (graded and draw(st.booleans())):
        rules.append({"type": "grade_order"})
    if any("previous" in r for r in recipients) and draw(st.booleans()):
        rules.append(
            {
                "type": "change_limit",
                "max_decrease": draw(st.sampled_from([0.1, 0.25, 0.5])),
                "max_increase": draw(st.sampled_from([0.2, 0.3, 0.5, 1.0])),
            }
        )
    draw(st.randoms()).shuffle(rules)
    data["rules"] = rules
    return data
