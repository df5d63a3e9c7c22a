"""Expected results of the example scenarios (``scenarios/expected/*.json``), derived by
the judge, not by Allot.

Each file records the allocation, how it was derived and the objective's exact value.
``python -m tests.independent.expected`` writes them again; the tests derive them afresh
and compare, and hold Allot and the README's tables to them.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

from optimizer.loading import load_data
from tests.independent import exchange
from tests.independent.instance import Instance, read

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
EXPECTED = SCENARIOS / "expected"


def expected_path(scenario: Path) -> Path:
    return EXPECTED / f"{scenario.stem}.json"


def l1(inst: Instance, x: tuple[int, ...]) -> Fraction:
    """``sum |x_i - q_i|``, exactly (every example uses Hamilton)."""
    return sum((abs(v - q) for v, q in zip(x, inst.quota, strict=True)), Fraction(0))


def derive(scenario: Path) -> dict[str, Any]:
    """The expected result of one example scenario, with its derivation in words."""
    data = load_data(scenario)
    inst = read(data)
    x = exchange.optimum(inst)
    out: dict[str, Any] = {"scenario": scenario.name}
    if x is None:
        floors = sum(inst.lo)
        out["status"] = "infeasible"
        out["derivation"] = (
            f"by hand: the floors add up to {floors:,} units, more than the budget of "
            f"{inst.budget:,}, so no allocation exists"
            if floors > inst.budget
            else "the exchange judge finds no allocation within the bounds and groups"
        )
        return out
    assert inst.kind == "hamilton", "the derivation below is written for Hamilton"
    value = l1(inst, x)
    steps = [
        "tests/independent/exchange.py: from an allowed start, single-unit exchanges on "
        "the exact documented keys (sum |x - q|, then sum (x - q)^2, then rank . x) until "
        "every exchange makes it strictly worse: the unique optimum (M-convex set: bounds, "
        "budget and disjoint groups)"
    ]
    if inst.grade_order:
        steps.append(
            "grade_order holds at that optimum without it, so it is the optimum with it "
            "(the best of a larger set, and allowed)"
        )
    out["status"] = "optimal"
    out["derivation"] = "; ".join(steps)
    out["objective"] = {
        "sum |x - q|": f"{value.numerator}/{value.denominator}",
        "decimal": f"{float(value):.9f}",
    }
    out["units"] = dict(zip(inst.ids, x, strict=True))
    return out


def stored(scenario: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(expected_path(scenario).read_text(encoding="utf-8"))
    return result


def examples() -> list[Path]:
    """Every example scenario file."""
    return sorted(SCENARIOS.glob("*.yaml"))


def main() -> None:
    EXPECTED.mkdir(exist_ok=True)
    for scenario in examples():
        text = json.dumps(derive(scenario), indent=2, ensure_ascii=False) + "\n"
        expected_path(scenario).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
