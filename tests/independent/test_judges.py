"""The judges themselves: textbook results by hand, and the two judges against each other.

Nothing from ``optimizer`` here: if these fail, the judge is wrong, not the engine.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings

from tests.hypothesis_profile import examples
from tests.independent import enumeration, exchange
from tests.independent.generate import objective, scenarios
from tests.independent.instance import read

# The D'Hondt and Sainte-Laguë textbook example (four parties, 8 seats; e.g. the worked
# examples on those methods' Wikipedia pages): 100,000 / 80,000 / 30,000 / 20,000 votes.
VOTES = {"a": 100_000, "b": 80_000, "c": 30_000, "d": 20_000}
SEATS = 8
# By hand (quotients in thousands of votes). Hamilton: quotas 8 v / 230,000 = 3.478,
# 2.783, 1.043, 0.696; whole parts 3, 2, 1, 0; the two largest remainders, .783 (b) and
# .696 (d), take the last two seats. Jefferson, v / (k + 1): 100 a, 80 b, 50 a, 40 b, 33.3 a,
# 30 c, 26.7 b, 25 a. Webster, v / (k + 1/2), in proportion v / 1, v / 3, v / 5: 100 a,
# 80 b, 33.3 a, 30 c, 26.7 b, 20 a, 20 d, 16 b. Adams, v / k: one seat each first, then
# 100 a, 80 b, 50 a, 40 b. Huntington-Hill, v / sqrt(k (k + 1)): one each, then 70.7 a,
# 56.6 b, 40.8 a, 32.7 b (c's next is 21.2, d's 14.1).
TEXTBOOK = {
    "hamilton": {"a": 3, "b": 3, "c": 1, "d": 1},
    "jefferson": {"a": 4, "b": 3, "c": 1, "d": 0},
    "webster": {"a": 3, "b": 3, "c": 1, "d": 1},
    "adams": {"a": 3, "b": 3, "c": 1, "d": 1},
    "huntington-hill": {"a": 3, "b": 3, "c": 1, "d": 1},
    # Dean, v / (2 k (k + 1) / (2 k + 1)): one each, then 75 a, 60 b, 41.7 a, 33.3 b (c's
    # next is 22.5, d's 15)
    "dean": {"a": 3, "b": 3, "c": 1, "d": 1},
}


def textbook(method: str, seats: int = SEATS) -> dict[str, Any]:
    return {
        "name": "textbook",
        "budget": seats,
        "recipients": [{"id": k, "score": v} for k, v in VOTES.items()],
        "objective": objective(method),
    }


@pytest.mark.parametrize("method", sorted(TEXTBOOK))
def test_enumeration_gives_the_textbook_apportionment(method: str) -> None:
    assert enumeration.allocate(textbook(method)) == TEXTBOOK[method]


@pytest.mark.parametrize("method", sorted(TEXTBOOK))
def test_exchanges_give_the_textbook_apportionment(method: str) -> None:
    assert exchange.allocate(textbook(method)) == TEXTBOOK[method]


# Dean (the harmonic mean d(k) = 2 k (k + 1) / (2 k + 1): 0, 4/3, 12/5, 24/7, 40/9) where it
# differs from its neighbours, by hand: votes 59 / 32 / 17, 8 seats. One seat each first
# (d(0) = 0), then v / d(k): a 44.25, 24.58, 17.21, 13.275; b 24, 13.33, 9.33; c 12.75, 7.08;
# the five best are 44.25 a, 24.58 a, 24 b, 17.21 a, 13.33 b: a 4, b 3, c 1. Huntington-Hill
# (v / sqrt(k (k + 1))) puts a's 13.19 above b's 13.06: a 5, b 2, c 1; Adams (v / k) takes
# 59 a, 32 b, 29.5 a, 19.67 a, 17 c: a 4, b 2, c 2.
DEAN_VOTES = {"a": 59, "b": 32, "c": 17}
DEAN_BY_HAND = {
    "dean": {"a": 4, "b": 3, "c": 1},
    "huntington-hill": {"a": 5, "b": 2, "c": 1},
    "adams": {"a": 4, "b": 2, "c": 2},
}


@pytest.mark.parametrize("method", sorted(DEAN_BY_HAND))
def test_both_judges_give_dean_by_hand(method: str) -> None:
    data = {
        "name": "dean",
        "budget": 8,
        "recipients": [{"id": k, "score": v} for k, v in DEAN_VOTES.items()],
        "objective": objective(method),
    }
    assert enumeration.allocate(data) == DEAN_BY_HAND[method]
    assert exchange.allocate(data) == DEAN_BY_HAND[method]


def test_hamilton_alabama_paradox_by_hand() -> None:
    """The Alabama paradox (Hamilton is not house monotone): entitlements 6, 6, 2 get
    4, 4, 2 of 10 seats (quotas 4.29, 4.29, 1.43: z's remainder .43 is the largest) but
    5, 5, 1 of 11 (quotas 4.71, 4.71, 1.57: x's and y's .71 beat z's .57)."""
    data = {
        "name": "alabama",
        "budget": 10,
        "recipients": [{"id": "x", "score": 6}, {"id": "y", "score": 6}, {"id": "z", "score": 2}],
    }
    assert enumeration.allocate(data) == {"x": 4, "y": 4, "z": 2}
    assert enumeration.allocate({**data, "budget": 11}) == {"x": 5, "y": 5, "z": 1}


def test_weighted_fills_the_largest_entitlement_first() -> None:
    """``weighted`` maximises sum e x: the best recipient to its cap, then the next."""
    data = {
        "name": "weighted",
        "budget": 10,
        "objective": {"kind": "weighted"},
        "recipients": [
            {"id": "a", "score": 90, "cap": 4},
            {"id": "b", "score": 80, "cap": 5},
            {"id": "c", "score": 70},
        ],
    }
    assert enumeration.allocate(data) == {"a": 4, "b": 5, "c": 1}


def test_maxmin_raises_the_smallest_ratio_first() -> None:
    """Quotas 4.5, 3, 1.5 of 9 units. ``a``'s cap holds its ratio to 3 / 4.5 = 2/3, so the
    largest smallest ratio is 2/3: b at least 2, c at least 1. The last 3 units go by the
    Hamilton keys k - q: b's 3rd (-1), c's 2nd (-0.5), b's 4th (0); c's 3rd (0.5) waits."""
    data = {
        "name": "maxmin",
        "budget": 9,
        "objective": {"kind": "maxmin"},
        "recipients": [
            {"id": "a", "score": 45, "cap": 3},
            {"id": "b", "score": 30},
            {"id": "c", "score": 15},
        ],
    }
    assert enumeration.allocate(data) == {"a": 3, "b": 4, "c": 2}


def test_grade_order_is_checked_over_every_pair_of_grades() -> None:
    """With the middle grade empty, S = 1 and B = 5 still breaks grade_order."""
    data = {
        "name": "gap",
        "budget": 6,
        "grades": [
            {"grade": "S", "min_score": 90, "multiplier": 1.0},
            {"grade": "A", "min_score": 80, "multiplier": 1.0},
            {"grade": "B", "min_score": 0, "multiplier": 1.0},
        ],
        "recipients": [{"id": "s", "score": 95}, {"id": "b", "score": 50}],
        "rules": [{"type": "grade_order"}],
    }
    inst = read(data)
    assert inst.grade_order_violations((1, 5))
    assert not inst.grade_order_violations((3, 3))


@settings(max_examples=examples(60), deadline=None)
@given(scenarios(max_budget=12))
def test_the_two_judges_agree_where_both_apply(data: dict[str, Any]) -> None:
    """Enumeration (any rules) and exchanges (disjoint groups; grade_order only where it
    holds without it) are different arguments: they must give the same optimum."""
    inst = read(data)
    try:
        by_exchange = exchange.optimum(inst)
    except exchange.Undecided:
        return
    _, found = enumeration.optima(inst)
    assert (by_exchange is None) == (not found)
    if found:
        assert [by_exchange] == found
