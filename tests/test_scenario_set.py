"""The example scenario set (``scenarios/``), ``extends`` chains, and evaluation scores from
weighted criteria."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from optimizer.errors import InputError
from optimizer.loading import load_data, load_scenario, read_recipients, validate_data
from optimizer.overrides import apply_overrides
from optimizer.result import Status
from optimizer.scenario import Scenario
from optimizer.solve import solve

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
# the 14 regions with their English and Korean names (the plan's reference list)
REGIONS = Path(__file__).resolve().parent / "data" / "regions.csv"
REGION_IDS = [
    "busan",
    "daegu",
    "gwangju",
    "daejeon",
    "ulsan",
    "sejong",
    "gangwon",
    "chungbuk",
    "chungnam",
    "jeonbuk",
    "jeonnam",
    "gyeongbuk",
    "gyeongnam",
    "jeju",
]
PROGRAMMES = SCENARIOS / "programmes-2025-baseline.yaml"


def write_yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the set


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_solves_or_gives_its_documented_diagnosis(path: Path) -> None:
    result = solve(load_scenario(path))
    text = path.read_text(encoding="utf-8")
    assert "ILLUSTRATIVE NUMBERS ONLY" in text
    if path.name == "regions-2025-infeasible.yaml":
        # the diagnosis shown in README.md
        assert result.status == Status.INFEASIBLE
        assert result.diagnosis is not None
        assert result.diagnosis.summary == (
            "infeasible: sum of floors is 1,260 > budget 1,200: lower floors by 60 units in "
            "total (jeju, jeonbuk, sejong)"
        )
        assert [(r.kind, r.amount) for r in result.diagnosis.relax] == [("floor", 60)]
    else:
        assert result.status == Status.OPTIMAL, result.message
        assert sum(a.units for a in result.allocations) == result.budget


def test_region_level_files_hold_the_14_regions_with_their_names() -> None:
    with REGIONS.open(encoding="utf-8") as handle:
        official = {row["id"]: row["name_ko"] for row in csv.DictReader(handle)}
    scenario = load_scenario(SCENARIOS / "regions-2025.yaml")
    assert [r.id for r in scenario.recipients] == REGION_IDS
    assert {r.id: r.name for r in scenario.recipients} == official
    assert {g.grade for g in scenario.grades} == {"S", "A", "B", "C"}


def test_programme_file_is_60_programmes_41_main_19_future_in_every_region() -> None:
    scenario = load_scenario(PROGRAMMES)
    recipients = scenario.recipients
    assert len(recipients) == 60
    types = [r.tags["type"] for r in recipients]
    assert types.count("main") == 41 and types.count("future") == 19
    per_region = {rid: [r for r in recipients if r.tags["region"] == rid] for rid in REGION_IDS}
    assert set(r.tags["region"] for r in recipients) == set(REGION_IDS)
    # each region runs a subset of programmes, never all of them, mostly main industries
    assert all(2 <= len(items) <= 6 for items in per_region.values())
    assert all(r.id == f"{r.tags['region']}-{r.tags['industry']}" for r in recipients)
    # scores are composites of the criteria kept in the CSV
    assert scenario.criteria is not None and set(scenario.criteria) == {
        "performance",
        "jobs",
        "investment",
        "innovation",
    }
    assert all(r.criteria is not None for r in recipients)


def test_variants_extend_their_baseline_and_change_only_what_they_are_about() -> None:
    def raw(name: str) -> dict[str, Any]:
        loaded = yaml.safe_load((SCENARIOS / name).read_text(encoding="utf-8"))
        assert isinstance(loaded, dict)
        return loaded

    expected = {
        "regions-2025-cut.yaml": ("regions-2025.yaml", {"name", "budget"}),
        "regions-2025-metro-cap.yaml": ("regions-2025.yaml", {"name", "rules"}),
        "regions-2025-infeasible.yaml": ("regions-2025.yaml", {"name", "rules", "recipients"}),
        "programmes-2025-future-floor.yaml": ("programmes-2025-baseline.yaml", {"name", "rules"}),
        "programmes-2025-stability.yaml": ("programmes-2025-baseline.yaml", {"name", "rules"}),
    }
    for name, (parent, changed) in expected.items():
        data = raw(name)
        assert data.pop("extends") == parent
        assert set(data) == changed, name
        child, base = load_data(SCENARIOS / name), load_data(SCENARIOS / parent)
        assert {k for k in child.keys() | base.keys() if child.get(k) != base.get(k)} <= changed


def test_future_floor_binds_and_gives_future_programmes_a_third() -> None:
    base = solve(load_scenario(PROGRAMMES))
    floor = solve(load_scenario(SCENARIOS / "programmes-2025-future-floor.yaml"))

    def future_units(result: Any) -> int:
        future = {r.id for r in load_scenario(PROGRAMMES).recipients if r.tags["type"] == "future"}
        return sum(a.units for a in result.allocations if a.id in future)

    assert future_units(base) < 500 <= future_units(floor)
    assert any("future at least 1/3" in a.binding for a in floor.allocations)


def test_stricter_stability_keeps_every_programme_within_5_and_10_percent() -> None:
    scenario = load_scenario(SCENARIOS / "programmes-2025-stability.yaml")
    result = solve(scenario)
    previous = {r.id: r.previous for r in scenario.recipients}
    for a in result.allocations:
        before = previous[a.id]
        assert before is not None
        assert before * 0.95 - 1 < a.units < before * 1.10 + 1


# --------------------------------------------------------------------------- extends


def test_an_extends_chain_merges_and_overrides_one_recipient(tmp_path: Path) -> None:
    write_yaml(
        tmp_path / "base.yaml",
        {
            "name": "base",
            "budget": 100,
            "recipients": [
                {"id": "a", "score": 80, "floor": 5, "tags": {"type": "main"}},
                {"id": "b", "score": 70, "floor": 5, "tags": {"type": "future"}},
                {"id": "c", "score": 60},
            ],
            "solver": {"backend": "auto", "time_limit_s": 10},
        },
    )
    (tmp_path / "variants").mkdir()
    write_yaml(
        tmp_path / "variants" / "middle.yaml",
        {"extends": "../base.yaml", "name": "middle", "recipients": [{"id": "b", "cap": 20}]},
    )
    write_yaml(
        tmp_path / "variants" / "leaf.yaml",
        {
            "extends": "middle.yaml",
            "name": "leaf",
            "budget": 90,
            "solver": {"time_limit_s": 5},
            "recipients": [{"id": "a", "score": 95, "tags": {"stage": "growth"}}, {"id": "d"}],
        },
    )
    data = load_data(tmp_path / "variants" / "leaf.yaml")
    assert data["name"] == "leaf" and data["budget"] == 90
    assert data["solver"] == {"backend": "auto", "time_limit_s": 5}
    a, b, c, d = data["recipients"]
    # one field of one recipient changed, the rest of it kept; tags deep-merged
    assert a == {"id": "a", "score": 95, "floor": 5, "tags": {"type": "main", "stage": "growth"}}
    assert b == {"id": "b", "score": 70, "floor": 5, "tags": {"type": "future"}, "cap": 20}
    assert c == {"id": "c", "score": 60}
    assert d == {"id": "d"}
    with pytest.raises(InputError) as caught:
        validate_data(data)
    assert [str(p) for p in caught.value.problems] == [
        "recipients[3].score: required field is missing"
    ]
    data["recipients"][3]["score"] = 10
    result = solve(validate_data(data))
    assert result.status == Status.OPTIMAL and sum(a.units for a in result.allocations) == 90


def test_a_variant_of_the_programme_file_can_override_one_programme(tmp_path: Path) -> None:
    (tmp_path / "child.yaml").write_text(
        "extends: " + str(PROGRAMMES) + "\n"
        "name: one programme changed\n"
        "recipients:\n"
        "  - {id: jeju-green-hydrogen, criteria: {performance: 95}}\n",
        encoding="utf-8",
    )
    base = load_scenario(PROGRAMMES)
    child = load_scenario(tmp_path / "child.yaml")
    changed = [
        (old, new) for old, new in zip(base.recipients, child.recipients, strict=True) if old != new
    ]
    assert [old.id for old, _ in changed] == ["jeju-green-hydrogen"]
    ((old, new),) = changed
    assert old.criteria is not None and new.criteria is not None
    # one criterion of one programme changed; its other criteria, tags and bounds kept
    assert {k: v for k, v in new.criteria.items() if old.criteria[k] != v} == {"performance": 95}
    assert new.model_copy(update={"criteria": old.criteria, "score": old.score}) == old
    assert new.score == pytest.approx(old.score + 0.4 * (95 - old.criteria["performance"]))
    before = {a.id: a.units for a in solve(base).allocations}
    after = {a.id: a.units for a in solve(child).allocations}
    assert after["jeju-green-hydrogen"] > before["jeju-green-hydrogen"]


# --------------------------------------------------------------------------- criteria


def criteria_scenario(**recipient_criteria: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "criteria",
        "budget": 100,
        "criteria": {"performance": 0.5, "jobs": 0.3, "future": 0.2},
        "grades": [
            {"grade": "A", "min_score": 85, "multiplier": 1.2},
            {"grade": "B", "min_score": 0},
        ],
        "recipients": [
            {"id": rid, "criteria": scores} for rid, scores in recipient_criteria.items()
        ],
    }


def test_the_score_is_the_weighted_average_of_the_criteria() -> None:
    scenario = validate_data(
        criteria_scenario(
            a={"performance": 90, "jobs": 80, "future": 80},
            b={"performance": 80, "jobs": 90, "future": 90},
            c={"performance": 70, "jobs": 70, "future": 100},
        )
    )
    scores = {r.id: r.score for r in scenario.recipients}
    assert scores == {"a": 85.0, "b": 85.0, "c": 76.0}
    # 85 exactly (0.5*90 + 0.3*80 + 0.2*80 is 84.99999999999999 in floating point) is grade A
    result = solve(scenario)
    assert {a.id: (a.score, a.grade) for a in result.allocations} == {
        "a": (85.0, "A"),
        "b": (85.0, "A"),
        "c": (76.0, "B"),
    }


def test_weights_need_not_add_up_to_one() -> None:
    data = criteria_scenario(a={"performance": 90, "jobs": 60, "future": 30})
    data["criteria"] = {"performance": 5, "jobs": 3, "future": 2}
    assert validate_data(data).recipients[0].score == 69.0


def test_the_normalised_form_validates_again_and_follows_a_changed_criterion() -> None:
    scenario = validate_data(criteria_scenario(a={"performance": 90, "jobs": 80, "future": 80}))
    body = scenario.model_dump(mode="json")
    assert "score" not in body["recipients"][0]  # computed, so not stored
    again = validate_data(body)
    assert again == scenario and again.content_hash == scenario.content_hash
    changed = validate_data(apply_overrides(body, ["recipients[a].criteria.performance=100"]))
    assert changed.recipients[0].score == 90.0
    reweighted = validate_data(apply_overrides(body, ["criteria.jobs=0.8"]))
    assert reweighted.recipients[0].score == pytest.approx((45 + 64 + 16) / 1.5)
    assert changed.content_hash != scenario.content_hash != reweighted.content_hash


def test_scenarios_without_criteria_keep_their_hash_and_normalised_form() -> None:
    scenario = load_scenario(SCENARIOS / "regions-2025.yaml")
    # the hash shown in README.md, from before criteria existed
    assert scenario.content_hash == (
        "sha256:a338fd2caf752c6bb671d4623dcee1d7c5997ddc24689682d3f3c7fa0d4959c2"
    )
    body = scenario.model_dump(mode="json")
    assert "criteria" not in body and all("criteria" not in r for r in body["recipients"])


def test_a_recipient_may_give_a_score_directly_instead_of_criteria() -> None:
    data = criteria_scenario(a={"performance": 90, "jobs": 80, "future": 80})
    data["recipients"].append({"id": "b", "score": 70})
    assert [r.score for r in validate_data(data).recipients] == [85.0, 70.0]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["recipients"][0]["criteria"].update(growth=5),
            [
                "recipients[0].criteria.growth: unknown criterion 'growth' (criteria: performance, "
                "jobs, future)"
            ],
        ),
        (
            lambda d: d["recipients"][1]["criteria"].pop("jobs"),
            ["recipients[1].criteria.jobs: missing score for criterion 'jobs'"],
        ),
        (  # a weight of 0 keeps a criterion out of the score (a component's basis)
            lambda d: d["criteria"].update(jobs=0, future=-1),
            ["criteria.future: must be greater than or equal to 0 (got -1)"],
        ),
        (
            lambda d: d["criteria"].update({k: 0 for k in d["criteria"]}),
            ["criteria: some criterion must weigh more than 0 (the score's weights)"],
        ),
        (
            lambda d: d["criteria"].clear(),
            ["criteria: must name at least one criterion (name: weight)"],
        ),
        (
            lambda d: d["recipients"][0].update(score=80),
            [
                "recipients[0].score: is computed from criteria: give a score or criteria scores, "
                "not both"
            ],
        ),
        (
            lambda d: d["recipients"][1].pop("criteria"),
            [
                "recipients[1].criteria: required field is missing: a score for each criterion "
                "(performance, jobs, future), or one score"
            ],
        ),
        (
            lambda d: d.pop("criteria"),
            [
                f"recipients[{i}].criteria: the scenario has no criteria block: add criteria: "
                "{name: weight, ...} or give a score"
                for i in (0, 1)
            ],
        ),
        (
            lambda d: d["recipients"][0]["criteria"].update(jobs="high", future=-3),
            [
                "recipients[0].criteria.future: must be greater than or equal to 0 (got -3)",
                "recipients[0].criteria.jobs: must be a valid number, unable to parse string as "
                "a number (got 'high')",
            ],
        ),
        (
            lambda d: d["criteria"].update({"a.b": 1}),
            [
                "criteria: criterion name 'a.b' must be non-empty text without spaces at the ends "
                "and without '.', '[', ']' or '='",
                "recipients[0].criteria.a.b: missing score for criterion 'a.b'",
                "recipients[1].criteria.a.b: missing score for criterion 'a.b'",
            ],
        ),
    ],
    ids=[
        "unknown",
        "missing",
        "weights",
        "all-zero",
        "empty",
        "both",
        "neither",
        "no-block",
        "bad-scores",
        "bad-name",
    ],
)
def test_criteria_problems_are_reported_with_their_field_paths(
    change: Any, expected: list[str]
) -> None:
    data = criteria_scenario(
        a={"performance": 90, "jobs": 80, "future": 80},
        b={"performance": 80, "jobs": 90, "future": 90},
    )
    change(data)
    with pytest.raises(InputError) as caught:
        Scenario.from_data(data)
    assert [str(p) for p in caught.value.problems] == expected


def test_criteria_come_from_csv_columns(tmp_path: Path) -> None:
    (tmp_path / "scores.csv").write_text(
        "id,name,criteria.performance,criteria.jobs,criteria.future,tags.type\n"
        "a,Alpha,90,80,80,main\n"
        "b,Beta,80,90,,future\n"
        "c,Gamma,70,lots,100,main\n",
        encoding="utf-8",
    )
    data = criteria_scenario()
    data["recipients"] = {"file": "scores.csv"}
    write_yaml(tmp_path / "s.yaml", data)
    with pytest.raises(InputError) as caught:
        load_scenario(tmp_path / "s.yaml")
    assert [str(p) for p in caught.value.problems] == [
        f"recipients[2].criteria.jobs: must be a number (got 'lots') in {tmp_path}/scores.csv row 4"
    ]
    text = (tmp_path / "scores.csv").read_text(encoding="utf-8").replace("lots", "70")
    (tmp_path / "scores.csv").write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_scenario(tmp_path / "s.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "recipients[1].criteria.future: missing score for criterion 'future'"
    ]
    (tmp_path / "scores.csv").write_text(text.replace(",,future", ",90,future"), encoding="utf-8")
    assert read_recipients(tmp_path / "scores.csv")[1] == {
        "id": "b",
        "name": "Beta",
        "criteria": {"performance": 80, "jobs": 90, "future": 90},
        "tags": {"type": "future"},
    }
    scenario = load_scenario(tmp_path / "s.yaml")
    assert [(r.id, r.score, r.tags) for r in scenario.recipients] == [
        ("a", 85.0, {"type": "main"}),
        ("b", 85.0, {"type": "future"}),
        ("c", 76.0, {"type": "main"}),
    ]


def test_the_programme_scores_match_their_csv_criteria() -> None:
    scenario = load_scenario(PROGRAMMES)
    assert scenario.criteria is not None
    weights = scenario.criteria
    with (SCENARIOS / "programmes-2025.csv").open(encoding="utf-8") as handle:
        for row, rec in zip(csv.DictReader(handle), scenario.recipients, strict=True):
            expected = sum(w * float(row[f"criteria.{k}"]) for k, w in weights.items())
            assert rec.id == row["id"]
            assert rec.score == pytest.approx(expected / sum(weights.values()), abs=1e-9)


def test_solve_shows_the_composite_score_and_the_weights() -> None:
    result = solve(load_scenario(PROGRAMMES)).to_dict()
    json.dumps(result)  # plain JSON values
    first = result["allocations"][0]
    assert first["id"] == "busan-marine-mobility"
    assert first["score"] == pytest.approx(0.4 * 62.6 + 0.25 * 59.2 + 0.2 * 55.7 + 0.15 * 50)
