"""Dean's method (harmonic mean rounding, ``d(k) = k (k + 1) / (k + 1/2)``) for a single
margin, as a divisor method of the engine beside Jefferson, Webster, Adams and
Huntington-Hill: its signposts exactly, hand-worked apportionments, exact decisions at
budgets up to 10**15 checked against its definition through the certificate, the objective's
closed form, and the two-stage rule's ``within``. The independent judges
(``tests/independent``: enumeration and exchanges, every path and backend on random
scenarios, houses 1-60) take Dean from its definition too.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.apportion import apportion
from optimizer.compile import build_program
from optimizer.exact import divisor_of
from optimizer.explain import objective_value
from optimizer.loading import load_scenario
from optimizer.objectives import divisor, divisor_inverse
from optimizer.scenario import Scenario
from optimizer.solve import solve
from optimizer.verify import verify
from tests.hypothesis_profile import examples

ROOT = Path(__file__).resolve().parents[1]


def harmonic(k: int) -> Fraction:
    """The harmonic mean of ``k`` and ``k + 1`` (0 at ``k = 0``), from its definition."""
    return Fraction(0) if k == 0 else 2 / (Fraction(1, k) + Fraction(1, k + 1))


def dean_round(value: Fraction) -> int:
    """``value`` rounded by Dean: the fewest units ``k`` whose signpost ``harmonic(k)``
    reaches it (the signposts increase: bisection, as the budgets are large)."""
    low, high = 0, math.ceil(value) + 1  # harmonic(high) > high - 1 >= value
    while low < high:
        mid = (low + high) // 2
        if harmonic(mid) >= value:
            high = mid
        else:
            low = mid + 1
    return low


def test_the_signposts_are_harmonic_means() -> None:
    for k in range(0, 200):
        num, den = divisor_of("dean", k)
        assert Fraction(num, den) == harmonic(k)
    ks = np.arange(1, 10_000, dtype=np.float64)
    some = [1, 2, 3, 17, 9_998]
    assert divisor("dean", ks)[[k - 1 for k in some]].tolist() == pytest.approx(
        [float(harmonic(k)) for k in some], rel=1e-15
    )
    assert np.allclose(divisor_inverse("dean", divisor("dean", ks)), ks, rtol=1e-12)


# By hand (tests/independent/test_judges.py has the same numbers): votes 59 / 32 / 17,
# 8 seats; one seat each, then a 44.25, 24.58, b 24, a 17.21, b 13.33 (a's next 13.275).
# Textbook four parties, 8 seats: one each, then 75 a, 60 b, 41.7 a, 33.3 b.
BY_HAND = [
    ([59, 32, 17], 8, [4, 3, 1]),
    ([100_000, 80_000, 30_000, 20_000], 8, [3, 3, 1, 1]),
    ([5, 3, 2], 7, [3, 2, 2]),  # one each; 3.75 a, 2.25 b, 2.08 a, 1.5 c
]


@pytest.mark.parametrize(("votes", "seats", "expected"), BY_HAND)
def test_dean_by_hand(votes: list[int], seats: int, expected: list[int]) -> None:
    assert apportion(votes, seats, "dean") == expected
    data = {
        "name": "dean",
        "budget": seats,
        "objective": {"kind": "proportional", "method": "harmonic"},  # the alias
        "recipients": [{"id": f"p{k}", "score": v} for k, v in enumerate(votes)],
    }
    for backend in ("auto", "highs"):
        result = solve(Scenario.from_data(data), backend=backend)
        assert [a.units for a in result.allocations] == expected, backend


def _exact(value: float) -> Fraction:
    return Fraction(repr(value))


@settings(max_examples=examples(40), deadline=None)
@given(
    scores=st.lists(
        st.sampled_from([1.5, 7.25, 10, 33.3, 61.8, 72.6, 90.1, 99.99]), min_size=2, max_size=8
    ),
    power=st.integers(9, 15),
    floors=st.booleans(),
)
def test_exact_at_any_budget_by_the_certificate(
    scores: list[float], power: int, floors: bool
) -> None:
    """At 10**9 to 10**15 units every recipient's units are its entitlement over the
    certificate's divisor rounded by Dean, from the definition (exact fractions), and the
    certificate checks with ``allot verify``."""
    budget = 10**power - 7
    recipients: list[dict[str, Any]] = [
        {
            "id": f"r{k}",
            "score": s,
            "floor": budget // (4 * len(scores)) if floors and k == 0 else 0,
        }
        for k, s in enumerate(scores)
    ]
    data = {
        "name": "dean large",
        "budget": budget,
        "objective": {"kind": "proportional", "method": "dean"},
        "recipients": recipients,
    }
    scenario = Scenario.from_data(data)
    result = solve(scenario)
    assert result.status == "optimal"
    assert sum(a.units for a in result.allocations) == budget
    cert = result.certificate
    assert cert is not None and cert["kind"] == "divisor" and cert["method"] == "dean"
    low, high = (Fraction(cert["exact"][k]) if cert["exact"][k] else None for k in ("low", "high"))
    assert low is not None and high is not None and low <= high
    point = (low + high) / 2
    units = {a.id: a.units for a in result.allocations}
    for rec in recipients:
        want = dean_round(_exact(rec["score"]) / point) if low < high else None
        got = units[rec["id"]]
        if want is not None:
            assert got == max(want, rec["floor"]), rec["id"]
    checks = {c.name: c.ok for c in verify(result.to_dict(), scenario)}
    assert checks["certificate"] is True and checks["optimality"] is True, checks
    assert all(ok is not False for ok in checks.values()), checks


def test_the_objective_sums_the_priorities_in_closed_form() -> None:
    """The sum of priorities q / d(k) over the units given: the closed form (digamma) for
    long runs equals the sum term by term."""
    data = {
        "name": "dean objective",
        "budget": 1_000,
        "objective": {"kind": "proportional", "method": "dean"},
        "recipients": [
            {"id": "a", "score": 70},
            {"id": "b", "score": 20},
            {"id": "c", "score": 10},
        ],
    }
    scenario = Scenario.from_data(data)
    _, _, program = build_program(scenario)
    x = np.array([700, 200, 100], dtype=np.int64)
    q = program.cost.quota
    top = float(q.max())
    by_terms = sum(
        (2 * top + q[i]) + math.fsum(q[i] / float(harmonic(k)) for k in range(1, int(x[i])))
        for i in range(3)
    )
    assert objective_value(program, x, "proportional") == pytest.approx(by_terms, rel=1e-10)


def test_two_stages_may_round_within_each_group_by_dean() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "plan-2023" / "two-stage.yaml")
    rule = scenario.rules[0]
    data = scenario.model_dump(mode="json")
    data["rules"][0]["within"] = "dean"
    changed = Scenario.from_data(data)
    result = solve(changed)
    assert result.status == "optimal" and rule.type == "two_stage"
    first = result.certificate["first"]["units"]  # type: ignore[index]
    by_group: dict[str, list[tuple[float, int]]] = {}
    for rec, a in zip(changed.recipients, result.allocations, strict=True):
        by_group.setdefault(rec.tags["region"], []).append((rec.weight * rec.score, a.units))
    for group, members in by_group.items():
        assert sum(u for _, u in members) == first[group]
        expected = apportion([e for e, _ in members], first[group], "dean")
        assert [u for _, u in members] == expected, group
