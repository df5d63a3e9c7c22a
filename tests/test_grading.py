"""The plan's grading: eligibility thresholds, grades by rank with quotas (ties at the
boundary named), additive grade increments (the 2013 ladder, from public reporting: B a
base of 115억 KRW, S +25, A +10, C -10, D -35; that year S 광주·전북, A 부산·경남·전남,
B 대구·울산·충북, C 대전·충남·강원, D 경북·제주)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from optimizer import cli
from optimizer.errors import InputError
from optimizer.result import Status
from optimizer.scenario import Scenario
from optimizer.solve import solve

LADDER_2013 = {"S": 25, "A": 10, "B": 0, "C": -10, "D": -35}
GRADES_2013 = {
    "gwangju": "S",
    "jeonbuk": "S",
    "busan": "A",
    "gyeongnam": "A",
    "jeonnam": "A",
    "daegu": "B",
    "ulsan": "B",
    "chungbuk": "B",
    "daejeon": "C",
    "chungnam": "C",
    "gangwon": "C",
    "gyeongbuk": "D",
    "jeju": "D",
}
# illustrative scores that put each region in its 2013 grade (the scores are not public)
SCORE_OF = {"S": 93.0, "A": 85.0, "B": 75.0, "C": 65.0, "D": 55.0}
BANDS = [
    {"grade": "S", "min_score": 90},
    {"grade": "A", "min_score": 80},
    {"grade": "B", "min_score": 70},
    {"grade": "C", "min_score": 60},
    {"grade": "D", "min_score": 0},
]


def ladder_2013(**extra: Any) -> dict[str, Any]:
    recipients = [
        {"id": rid, "score": SCORE_OF[g] - k * 0.1}
        for k, (rid, g) in enumerate(GRADES_2013.items())
    ]
    return {
        "name": "2013 grade ladder",
        "budget": 1475,
        "unit": {"label": "100M KRW", "value": 100_000_000},
        "recipients": recipients,
        "grades": BANDS,
        "rules": [{"type": "grade_increments", "units": LADDER_2013, "base": "weight"}],
        **extra,
    }


def test_the_2013_ladder_is_a_base_of_115_plus_the_grade_increment() -> None:
    """13 regions, 1,475 units: what the increments leave (1,495) is shared equally, 115
    each, and each region gets 115 plus its grade's increment."""
    result = solve(Scenario.from_data(ladder_2013()))
    assert result.status == Status.OPTIMAL, result.message
    for a in result.allocations:
        grade = GRADES_2013[a.id]
        assert a.grade == grade
        assert a.units == 115 + LADDER_2013[grade]
        assert a.amount == a.units * 100_000_000
        if LADDER_2013[grade]:
            assert f"grade increment {LADDER_2013[grade]:+,}" in a.binding
    assert sum(a.units for a in result.allocations) == 1475
    assert result.metrics is not None and result.metrics.total == 1475


def test_increments_larger_than_the_budget_are_diagnosed() -> None:
    data = ladder_2013(budget=1)
    data["rules"][0]["units"] = {"S": 900, "A": 0, "B": 0, "C": 0, "D": 0}
    result = solve(Scenario.from_data(data))
    assert result.status == Status.INFEASIBLE and result.diagnosis is not None
    (relax,) = result.diagnosis.relax
    assert relax.amount == 1800 and "grade increments add up to 1,800 units" in relax.message


def ranked(scores: list[float], **quota: Any) -> dict[str, Any]:
    return {
        "name": "grades by rank",
        "budget": 1000,
        "recipients": [{"id": f"r{k:02d}", "score": s} for k, s in enumerate(scores)],
        "grades": [
            {"grade": "S", "min_score": 90, "multiplier": 1.3},
            {"grade": "A", "min_score": 80, "multiplier": 1.15},
            {"grade": "B", "min_score": 0},
        ],
        "rules": [{"type": "grade_quota", "grade": "S", "max_count": 2, **quota}],
    }


def grades_of(data: dict[str, Any]) -> tuple[dict[str, str | None], str]:
    result = solve(Scenario.from_data(data))
    assert result.status == Status.OPTIMAL, result.message
    return {a.id: a.grade for a in result.allocations}, result.message


def test_at_most_two_s_by_rank() -> None:
    """Three regions reach S's score; the two best keep it, the third is an A, and its
    entitlement (multiplier 1.15, not 1.3) says so."""
    grades, message = grades_of(ranked([93, 92, 91, 85, 70]))
    assert grades == {"r00": "S", "r01": "S", "r02": "A", "r03": "A", "r04": "B"}
    assert "at most 2 S by rank: r02 (91) falls to A" in message
    by_score = {
        a.id: a for a in solve(Scenario.from_data(ranked([93, 92, 91, 85, 70]))).allocations
    }
    assert by_score["r02"].entitlement == pytest.approx(91 * 1.15)


def test_a_tie_at_the_quota_boundary_is_named_and_not_split() -> None:
    grades, message = grades_of(ranked([93, 91, 91, 85]))
    assert grades == {"r00": "S", "r01": "A", "r02": "A", "r03": "A"}
    assert "tie at the boundary: r01, r02 score 91" in message
    assert "none of them keeps S" in message


def test_at_least_a_count_takes_the_lowest_scores_of_the_better_grades() -> None:
    data = ranked([95, 88, 86, 84, 81, 79])
    data["rules"] = [{"type": "grade_quota", "grade": "B", "min_count": 3}]
    grades, message = grades_of(data)
    assert grades == {"r00": "S", "r01": "A", "r02": "A", "r03": "B", "r04": "B", "r05": "B"}
    assert "at least 3 B: r04 (81), r03 (84) fall to B" in message


def eligible(**extra: Any) -> dict[str, Any]:
    return {
        "name": "eligibility",
        "budget": 300,
        "recipients": [
            {"id": "busan", "score": 80, "floor": 30},
            {"id": "daegu", "score": 70, "floor": 30},
            {"id": "jeju", "score": 58, "floor": 30, "previous": 40},
        ],
        "rules": [{"type": "eligibility", "min_score": 60}],
        **extra,
    }


def test_a_recipient_below_the_threshold_gets_nothing_and_its_floor_lapses() -> None:
    result = solve(Scenario.from_data(eligible()))
    assert result.status == Status.OPTIMAL
    by_id = {a.id: a for a in result.allocations}
    assert by_id["jeju"].units == 0 and by_id["jeju"].quota == 0
    assert by_id["jeju"].binding == ("excluded: score 58 < 60",)
    # the others share the whole budget by their scores: 80 : 70 of 300
    assert (by_id["busan"].units, by_id["daegu"].units) == (160, 140)
    assert "1 excluded below 60 (jeju)" in result.message


@pytest.mark.parametrize(
    ("rules", "path", "words"),
    [
        ([{"type": "eligibility", "min_score": 99}], "rules[0].min_score", "no recipient"),
        ([{"type": "grade_quota", "grade": "S", "max_count": 1}], "rules[0].type", "grades"),
        ([{"type": "grade_increments", "units": {"S": 5}}], "rules[0].type", "grades"),
    ],
)
def test_grading_rules_without_what_they_need_are_input_errors(
    rules: list[dict[str, Any]], path: str, words: str
) -> None:
    with pytest.raises(InputError) as caught:
        Scenario.from_data(eligible(rules=rules))
    assert any(p.path == path and words in p.message for p in caught.value.problems)


def test_unknown_grades_in_quotas_and_increments_are_named() -> None:
    data = ranked([93, 92])
    data["rules"] = [
        {"type": "grade_quota", "grade": "SS", "max_count": 1},
        {"type": "grade_increments", "units": {"Z": 3}},
    ]
    with pytest.raises(InputError) as caught:
        Scenario.from_data(data)
    paths = {p.path for p in caught.value.problems}
    assert {"rules[0].grade", "rules[1].units.Z"} <= paths


def test_the_cli_shows_the_exclusion(tmp_path: Path) -> None:
    path = tmp_path / "eligible.json"
    path.write_text(json.dumps(eligible()), encoding="utf-8")
    outcome = CliRunner().invoke(cli.app, ["solve", str(path), "--format", "json"])
    assert outcome.exit_code == 0, outcome.output
    result = json.loads(outcome.stdout)
    jeju = next(a for a in result["allocations"] if a["id"] == "jeju")
    assert jeju["binding"] == ["excluded: score 58 < 60"] and jeju["units"] == 0
    assert result["scenario"]["hash"] == Scenario.from_data(eligible()).content_hash


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from([70.0, 80.0, 85.0, 90.0, 91.0, 92.5, 95.0]), min_size=1, max_size=9),
    st.integers(0, 4),
)
def test_rank_quotas_hold_never_split_ties_and_follow_the_scores(
    scores: list[float], quota: int
) -> None:
    """At most ``quota`` S; a better score never gets a worse grade; equal scores always get
    the same grade; S only where the score reaches S's threshold."""
    data = ranked(scores)
    data["rules"][0]["max_count"] = quota
    result = solve(Scenario.from_data(data))
    assert result.status == Status.OPTIMAL
    level = {"S": 0, "A": 1, "B": 2}
    grades = [(a.score, level[a.grade or "B"]) for a in result.allocations]
    assert sum(1 for _, g in grades if g == 0) <= quota
    for s1, g1 in grades:
        for s2, g2 in grades:
            if s1 > s2:
                assert g1 <= g2
            if s1 == s2:
                assert g1 == g2
        assert g1 != 0 or s1 >= 90
