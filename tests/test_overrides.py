"""``path=value`` overrides: the path syntax, YAML values, and errors at the path."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimizer.errors import InputError
from optimizer.overrides import Selector, apply_overrides, parse_path

DATA: dict[str, Any] = {
    "name": "s",
    "budget": 100,
    "recipients": [{"id": "a", "score": 1}, {"id": "011", "score": 2}],
    "rules": [{"type": "group", "tag": "k", "value": "x", "min_share": 0.2}],
}


def test_paths_parse_into_keys_indices_and_id_selectors() -> None:
    assert parse_path("rules[0].min_share") == ("rules", 0, "min_share")
    assert parse_path("recipients[busan].tags.kind") == (
        "recipients",
        Selector("busan"),
        "tags",
        "kind",
    )
    assert parse_path(" budget ") == ("budget",)


@pytest.mark.parametrize("bad", ["", ".a", "a.", "a[", "a[]", "a..b", "[0]", "a]b"])
def test_malformed_paths_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_path(bad)


def test_values_are_read_as_yaml_and_the_input_is_not_changed() -> None:
    out = apply_overrides(
        DATA,
        [
            "budget=1200",
            "rules[0].min_share=0.3",
            "recipients[011].floor=5",
            "recipients[0].tags={kind: metro}",
            "objective.method=webster",
            "name=no",
            "recipients[a].cap=",
            "rules[1]={type: grade_order}",
        ],
    )
    assert out["budget"] == 1200 and isinstance(out["budget"], int)
    assert out["rules"][0]["min_share"] == 0.3
    assert out["recipients"][1]["floor"] == 5
    assert out["recipients"][0]["tags"] == {"kind": "metro"}
    assert out["objective"] == {"method": "webster"}
    assert out["name"] == "no"
    assert out["recipients"][0]["cap"] is None
    assert out["rules"][1] == {"type": "grade_order"}
    assert DATA["budget"] == 100 and len(DATA["rules"]) == 1
    assert "objective" not in DATA and "floor" not in DATA["recipients"][1]


def test_every_bad_assignment_is_reported_at_its_path() -> None:
    with pytest.raises(InputError) as caught:
        apply_overrides(
            DATA,
            [
                "budget",
                "rules[5].min_share=0.1",
                "recipients[zz].floor=1",
                "budget.x=1",
                "rules.x=1",
                "budget=[1",
            ],
        )
    problems = [(p.path, p.message) for p in caught.value.problems]
    assert [path for path, _ in problems] == [
        "overrides[0]",
        "rules[5]",
        "recipients[zz]",
        "budget",
        "rules",
        "budget",
    ]
    assert problems[1][1] == "index out of range (items: 0 to 0)"
    assert "no item with id 'zz'" in problems[2][1]
    assert "is a number, not a mapping" in problems[3][1]
    assert "not a mapping" in problems[4][1]
    assert "malformed YAML" in problems[5][1]


def test_the_label_names_malformed_assignments() -> None:
    with pytest.raises(InputError) as caught:
        apply_overrides(DATA, ["x"], label="--set")
    assert caught.value.problems[0].path == "--set[0]"


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_integers_round_trip(value: int) -> None:
    assert apply_overrides(DATA, [f"budget={value}"])["budget"] == value
