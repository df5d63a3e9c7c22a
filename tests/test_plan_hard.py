"""``hard: true`` on the plan's rules, as on every other rule: the diagnosis never suggests
relaxing a hard one. A hard biproportional rule keeps its totals (the law fixes them): an
impossible matrix is then the floors or caps to relax, or, when those are hard too, a
conflict of hard rules with nothing suggested. Stage rules (``first.rules``) and a change
limit beside two stages are ordinary rules of their stage and keep their ``hard``. A rule
without ``hard`` keeps its content hash."""

from __future__ import annotations

from typing import Any

from optimizer.result import Status
from optimizer.scenario import Scenario
from optimizer.solve import solve
from tests.test_biproportional import regions_kinds
from tests.test_stages import two_stage

LABEL = "biproportional region x kind"


def diagnosis(data: dict[str, Any]) -> Any:
    result = solve(Scenario.from_data(data))
    assert result.status == Status.INFEASIBLE and result.diagnosis is not None
    return result.diagnosis


def capped_row(**rule: Any) -> dict[str, Any]:
    """busan's total 50, its cells capped at 20 and 25: 5 units short."""
    data = regions_kinds(row_totals={"busan": 50}, **rule)
    data["recipients"][0]["cap"] = 20
    data["recipients"][1]["cap"] = 25
    return data


def test_a_soft_matrix_suggests_its_totals_a_hard_one_the_caps() -> None:
    (soft,) = diagnosis(capped_row()).relax
    assert soft.constraint == LABEL
    found = diagnosis(capped_row(hard=True))
    (relax,) = found.relax
    assert relax.constraint == "caps" and relax.amount == 5
    assert relax.recipients == ("busan-main", "busan-future")
    assert "row busan needs 50 units; its cells can hold at most 45" in relax.message
    assert f"(hard, kept as they are: {LABEL})" in found.summary


def test_hard_totals_against_the_budget_are_a_conflict_with_nothing_suggested() -> None:
    data = regions_kinds(column_totals={"main": 70, "future": 40}, hard=True)
    found = diagnosis(data)
    assert found.relax == ()
    assert found.summary.startswith(
        f"infeasible: no allocation exists with the hard rules as they are, whatever else "
        f"changes ({LABEL}): "
    )
    assert "column totals given sum to 110 units but the budget is 100" in found.summary


def test_hard_totals_and_hard_caps_conflict() -> None:
    data = capped_row(hard=True)
    data["recipients"][0]["hard"] = True
    data["recipients"][1]["hard"] = True
    found = diagnosis(data)
    assert found.relax == ()
    assert "the floors and caps of busan-main, busan-future" in found.summary
    wide = capped_row(hard=True)
    wide["hard"] = ["caps"]
    assert diagnosis(wide).relax == ()


def test_hard_is_kept_out_of_the_hash_unless_set() -> None:
    plain = Scenario.from_data(regions_kinds())
    assert Scenario.from_data(regions_kinds(hard=False)).content_hash == plain.content_hash
    marked = Scenario.from_data(regions_kinds(hard=True))
    assert marked.content_hash != plain.content_hash
    assert marked.model_dump(mode="json")["rules"][0]["hard"] is True
    assert "hard" not in plain.model_dump(mode="json")["rules"][0]


def test_a_hard_first_stage_rule_is_never_suggested() -> None:
    """The metro group's cap (270 of 300) with jeju capped at 20: 10 units short. Soft, the
    group is suggested; hard, jeju's cap is."""
    data = two_stage()
    for group in data["rules"][0]["first"]["recipients"]:
        if group["id"] == "jeju":
            group["cap"] = 20
    (soft,) = diagnosis(data).relax
    assert soft.constraint == "group kind=metro"
    data["rules"][0]["first"]["rules"][0]["hard"] = True
    found = diagnosis(data)
    assert found.summary.startswith("first stage (region): ")
    assert all(r.constraint != "group kind=metro" for r in found.relax)
    assert [r.constraint for r in found.relax] == ["caps"]


def test_a_hard_change_limit_beside_two_stages_is_never_suggested() -> None:
    """jeju's 40 units; jeju-a last had 40 and may lose at most 10%, jeju-b has a floor of
    10: 36 + 10 > 40."""
    data = two_stage(rules=[])
    data["recipients"][3]["previous"] = 40
    data["recipients"][4]["floor"] = 10
    rule = {"type": "change_limit", "max_decrease": 0.1}
    data["rules"].append(rule)
    first = solve(Scenario.from_data({"name": "f", "budget": 300, **data["rules"][0]["first"]}))
    assert {a.id: a.units for a in first.allocations}["jeju"] < 46
    (soft,) = diagnosis(data).relax
    assert soft.constraint == "change_limit" and soft.amount == 6
    data["rules"][1] = {**rule, "hard": True}
    found = diagnosis(data)
    assert found.summary.startswith("second stage in jeju (40 units): infeasible: ")
    ((constraint, amount, who),) = [(r.constraint, r.amount, r.recipients) for r in found.relax]
    assert (constraint, amount, who) == ("floors", 6, ("jeju-b",))
    assert "(hard, kept as they are: change_limit)" in found.summary
