"""Reading scenario files: YAML/JSON, ``extends``, recipient CSV/XLSX files, bad input."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from optimizer import loading
from optimizer.errors import InputError
from optimizer.loading import (
    load_data,
    load_scenario,
    parse_data,
    parse_scenario_text,
    read_recipients,
    validate_data,
)
from optimizer.scenario import Scenario

BASE: dict[str, Any] = {
    "name": "2025 baseline",
    "budget": 1200,
    "unit": {"label": "100M KRW", "value": 100000000},
    "recipients": [
        {
            "id": "busan",
            "name": "Busan",
            "score": 87.5,
            "weight": 1.2,
            "floor": 10,
            "cap": 400,
            "previous": 95,
            "tags": {"type": "main", "stage": "growth"},
        },
        {
            "id": "daegu",
            "name": "Daegu",
            "score": 91,
            "floor": 10,
            "tags": {"type": "future", "stage": "early"},
        },
        {
            "id": "011",
            "name": "Gwangju",
            "score": 78.25,
            "weight": 0.8,
            "previous": 60,
            "tags": {"type": "main", "stage": "early"},
        },
    ],
    "grades": [
        {"grade": "S", "min_score": 90, "multiplier": 1.3},
        {"grade": "A", "min_score": 80, "multiplier": 1.15},
        {"grade": "B", "min_score": 0, "multiplier": 1.0},
    ],
    "objective": {"kind": "proportional", "method": "webster"},
    "rules": [
        {"type": "group", "tag": "type", "value": "future", "min_share": 0.2},
        {"type": "change_limit", "max_decrease": 0.1},
    ],
    "solver": {"backend": "auto", "time_limit_s": 10},
}

CSV_HEADER = "id,name,score,weight,floor,cap,previous,tags.type,tags.stage"
CSV_ROWS = [
    "busan,Busan,87.5,1.2,10,400,95,main,growth",
    "daegu,Daegu,91,,10,,,future,early",
    "011,Gwangju,78.25,0.8,,,60,main,early",
]


def base() -> dict[str, Any]:
    return copy.deepcopy(BASE)


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def write_yaml(path: Path, data: Any) -> Path:
    return write(path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def write_xlsx(path: Path, rows: list[list[Any]], title: str = "Sheet1") -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def load_error(path: Path | str) -> InputError:
    with pytest.raises(InputError) as info:
        load_scenario(path)
    return info.value


def text_error(text: str | bytes, **kwargs: Any) -> InputError:
    with pytest.raises(InputError) as info:
        parse_scenario_text(text, **kwargs)
    return info.value


def paths(error: InputError) -> list[str]:
    return [p.path for p in error.problems]


def lines(error: InputError) -> list[str]:
    return [str(p) for p in error.problems]


def recipient(scenario: Scenario, rid: str) -> Any:
    return next(r for r in scenario.recipients if r.id == rid)


# --------------------------------------------------------------------------- formats and hash


def test_yaml_and_json_give_equal_scenarios_and_hash(tmp_path: Path) -> None:
    from_yaml = load_scenario(write_yaml(tmp_path / "s.yaml", BASE))
    from_yml = load_scenario(write_yaml(tmp_path / "s.yml", BASE))
    from_json = load_scenario(write(tmp_path / "s.json", json.dumps(BASE, indent=2)))
    assert from_yaml == from_json == from_yml
    assert from_yaml.content_hash == from_json.content_hash
    assert from_yaml.budget == 1200
    assert [r.id for r in from_yaml.recipients] == ["busan", "daegu", "011"]
    assert from_yaml.objective.method == "webster"


def test_hash_ignores_key_order_formatting_and_recipient_order(tmp_path: Path) -> None:
    reference = load_scenario(write_yaml(tmp_path / "a.yaml", BASE))
    shuffled = {key: BASE[key] for key in reversed(list(BASE))}
    shuffled["recipients"] = [dict(reversed(list(r.items()))) for r in reversed(BASE["recipients"])]
    flow = yaml.safe_dump(shuffled, default_flow_style=True, width=60)
    other = load_scenario(write(tmp_path / "b.yaml", "# comment\n" + flow))
    compact = load_scenario(write(tmp_path / "c.json", json.dumps(shuffled, separators=(",", ":"))))
    assert [r.id for r in other.recipients] == ["011", "daegu", "busan"]
    assert other.content_hash == reference.content_hash == compact.content_hash


EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "scenarios"


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES_DIR.glob("*.yaml")))
def test_canonical_form_is_the_pydantic_dump(name: str) -> None:
    """The hashed text is written field by field for speed: it must be the compact JSON of
    the canonical form, which holds every recipient field as given (criteria and tags
    included) in id order, so the hash means what it says."""
    scenario = load_scenario(EXAMPLES_DIR / name)
    variants = [scenario]
    first = scenario.recipients[0]
    variants.append(
        scenario.model_copy(
            update={
                "recipients": (
                    first.model_copy(
                        update={"criteria": {"a": 1.0, "b": 2.5}, "tags": {"z": "1", "a": "2"}}
                    ),
                    *scenario.recipients[1:],
                )
            }
        )
    )
    variants.append(
        scenario.model_copy(
            update={
                "recipients": tuple(
                    r.model_copy(update={"name": 'quote " back \\ 한글 \u2028', "cap": None})
                    for r in scenario.recipients
                )
            }
        )
    )
    for each in variants:
        canonical = each.canonical()
        # recipients by id, each with the fields it was given (none dropped or renamed)
        listed = canonical["recipients"]
        assert [r["id"] for r in listed] == sorted(r.id for r in each.recipients)
        for rec, shown in zip(sorted(each.recipients, key=lambda r: r.id), listed, strict=True):
            assert (shown["name"], shown["cap"], shown["tags"]) == (rec.name, rec.cap, rec.tags)
            assert shown.get("criteria") == rec.criteria
        assert "tie_break" not in canonical  # added later: hashed only when set
        # listing order is not content
        reordered = each.model_copy(update={"recipients": tuple(reversed(each.recipients))})
        assert reordered.canonical() == canonical
        assert reordered.canonical_text() == each.canonical_text()
        # the hashed text is the canonical form's compact JSON, written without it
        text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert each.canonical_text() == text


_TEXTS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=8)


@st.composite
def recipient_data(draw: st.DrawFn, index: int) -> dict[str, Any]:
    """Any valid recipient: text with quotes, escapes and non-ASCII, optional fields."""
    rec: dict[str, Any] = {
        "id": f"r{index}-" + draw(st.text('abc"\\é한', max_size=4)),
        "score": draw(st.floats(0.001, 1e6)),
        "weight": draw(st.floats(0.0, 1e3)),
        "floor": draw(st.integers(0, 10)),
        "tags": draw(st.dictionaries(_TEXTS, _TEXTS, max_size=3)),
    }
    for key, value in (
        ("name", _TEXTS),
        ("cap", st.integers(10, 10**12)),
        ("previous", st.floats(0.0, 1e9)),
        ("criteria", st.dictionaries(_TEXTS, st.floats(0.0, 100.0), min_size=1, max_size=3)),
    ):
        if draw(st.booleans()):
            rec[key] = draw(value)
    return rec


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_hashed_text_is_the_compact_json_of_the_canonical_form(data: st.DataObject) -> None:
    recipients = [data.draw(recipient_data(i)) for i in range(data.draw(st.integers(1, 5)))]
    scenario = Scenario.model_validate({"name": "x", "budget": 10, "recipients": recipients})
    canonical = scenario.canonical()
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert scenario.canonical_text() == text


def test_hash_changes_when_a_score_changes(tmp_path: Path) -> None:
    changed = base()
    changed["recipients"][1]["score"] = 91.5
    before = load_scenario(write_yaml(tmp_path / "a.yaml", BASE))
    after = load_scenario(write_yaml(tmp_path / "b.yaml", changed))
    assert before.content_hash != after.content_hash
    assert before != after


def test_text_bodies_are_sniffed_or_told_their_format() -> None:
    as_json = json.dumps(BASE)
    as_yaml = yaml.safe_dump(BASE)
    expected = parse_scenario_text(as_yaml, fmt="yaml")
    assert parse_scenario_text(as_json) == expected
    assert parse_scenario_text(as_json.encode(), fmt="json") == expected
    assert parse_scenario_text(as_yaml.encode()) == expected
    # a YAML flow mapping starts like JSON but is not JSON
    flow = "{name: x, budget: 5, recipients: [{id: a, score: 1}]}"
    assert parse_scenario_text(flow).budget == 5
    with pytest.raises(InputError):
        parse_scenario_text(flow, fmt="json")


def test_yaml_scalars_follow_yaml_1_2() -> None:
    text = (
        "name: x\nbudget: 1e3\nrecipients:\n"
        "  - {id: no, score: 2, tags: {active: yes, since: 2025-01-01}}\n"
        "  - {id: 'off', score: 0x10, floor: 010}\n"
    )
    scenario = parse_scenario_text(text)
    assert scenario.budget == 1000
    assert [r.id for r in scenario.recipients] == ["no", "off"]
    assert scenario.recipients[0].tags == {"active": "yes", "since": "2025-01-01"}
    assert scenario.recipients[1].score == 16
    assert scenario.recipients[1].floor == 10  # decimal, not YAML 1.1 octal 8


def test_unquoted_numeric_id_is_an_error_that_says_to_quote_it() -> None:
    error = text_error("name: x\nbudget: 5\nrecipients:\n  - {id: 011, score: 1}\n")
    assert paths(error) == ["recipients[0].id"]
    assert "got 11" in error.problems[0].message
    assert "quotes" in error.problems[0].message


def test_load_data_returns_the_merged_dict_unvalidated(tmp_path: Path) -> None:
    data = base()
    data["budget"] = -5  # invalid, but load_data does not validate
    write_yaml(tmp_path / "parent.yaml", data)
    write(tmp_path / "child.yaml", "extends: parent.yaml\nname: child\n")
    loaded = load_data(tmp_path / "child.yaml")
    assert loaded["budget"] == -5
    assert loaded["name"] == "child"
    assert "extends" not in loaded
    loaded["budget"] = 900
    assert validate_data(loaded).budget == 900


def test_yaml_aliases_are_copied_so_one_override_changes_one_place() -> None:
    text = (
        "name: x\nbudget: 5\nrecipients:\n"
        "  - {id: a, score: 1, tags: &t {type: main}}\n"
        "  - {id: b, score: 1, tags: *t}\n"
    )
    data = parse_data(text)
    data["recipients"][0]["tags"]["type"] = "future"
    assert data["recipients"][1]["tags"] == {"type": "main"}


# --------------------------------------------------------------------------- extends


def test_extends_overrides_fields_merges_recipients_by_id_and_appends(tmp_path: Path) -> None:
    write_yaml(tmp_path / "base.yaml", BASE)
    write(
        tmp_path / "child.yaml",
        "extends: base.yaml\n"
        "name: 2025 what-if\n"
        "budget: 1500\n"
        "objective: {method: hamilton}\n"
        "rules: [{type: grade_order}]\n"
        "recipients:\n"
        "  - {id: daegu, cap: 300}\n"
        "  - {id: busan, tags: {stage: mature}}\n"
        "  - {id: ulsan, name: Ulsan, score: 70}\n",
    )
    parent = load_scenario(tmp_path / "base.yaml")
    child = load_scenario(tmp_path / "child.yaml")
    assert child.name == "2025 what-if"
    assert child.budget == 1500
    assert child.unit == parent.unit
    assert child.grades == parent.grades
    assert child.objective.kind == "proportional"  # merged mapping keeps the parent's kind
    assert child.objective.method == "hamilton"
    assert [r.type for r in child.rules] == ["grade_order"]  # lists are replaced
    assert [r.id for r in child.recipients] == ["busan", "daegu", "011", "ulsan"]
    daegu, old_daegu = recipient(child, "daegu"), recipient(parent, "daegu")
    assert daegu.cap == 300
    assert daegu.model_copy(update={"cap": None}) == old_daegu
    busan = recipient(child, "busan")
    assert busan.tags == {"type": "main", "stage": "mature"}
    assert busan.model_copy(update={"tags": recipient(parent, "busan").tags}) == recipient(
        parent, "busan"
    )
    assert recipient(child, "011") == recipient(parent, "011")
    assert recipient(child, "ulsan").score == 70


def test_extends_three_level_chain(tmp_path: Path) -> None:
    write_yaml(tmp_path / "c.yaml", BASE)
    write(
        tmp_path / "b.yaml", "extends: c.yaml\nbudget: 1300\nrecipients: [{id: busan, cap: 500}]\n"
    )
    write(tmp_path / "a.yaml", "extends: b.yaml\nname: top\nrecipients: [{id: busan, floor: 20}]\n")
    scenario = load_scenario(tmp_path / "a.yaml")
    assert (scenario.name, scenario.budget) == ("top", 1300)
    busan = recipient(scenario, "busan")
    assert (busan.floor, busan.cap, busan.score) == (20, 500, 87.5)


def test_extends_and_recipient_files_are_relative_to_the_file_naming_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = base()
    data["recipients"] = {"file": "regions.csv"}
    write_yaml(tmp_path / "common" / "base.yaml", data)
    write(tmp_path / "common" / "regions.csv", "\n".join([CSV_HEADER, *CSV_ROWS]) + "\n")
    write(
        tmp_path / "plans" / "2025" / "child.yaml",
        "extends: ../../common/base.yaml\nrecipients: [{id: '011', score: 80}]\n",
    )
    monkeypatch.chdir(tmp_path / "plans")
    scenario = load_scenario("2025/child.yaml")
    assert [r.id for r in scenario.recipients] == ["busan", "daegu", "011"]
    assert recipient(scenario, "011").score == 80
    assert recipient(scenario, "011").previous == 60  # the rest of the row comes from the CSV
    assert recipient(scenario, "busan") == recipient(
        load_scenario(write_yaml(tmp_path / "inline.yaml", BASE)), "busan"
    )


def test_extends_cycle_is_reported_at_extends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "a.yaml", "extends: b.yaml\nname: a\n")
    write(tmp_path / "b.yaml", "extends: a.yaml\nbudget: 5\n")
    write(tmp_path / "self.yaml", "extends: ./self.yaml\nname: s\n")
    monkeypatch.chdir(tmp_path)
    assert lines(load_error("a.yaml")) == ["extends: extends cycle: a.yaml -> b.yaml -> a.yaml"]
    assert lines(load_error("self.yaml")) == ["extends: extends cycle: self.yaml -> self.yaml"]


def test_extends_missing_parent(tmp_path: Path) -> None:
    error = load_error(write(tmp_path / "child.yaml", "extends: nope.yaml\nname: c\n"))
    assert paths(error) == ["extends"]
    assert "file not found" in error.problems[0].message
    assert "nope.yaml" in error.problems[0].message


@pytest.mark.parametrize("value", ["[a.yaml, b.yaml]", "5", "''", "{file: a.yaml}"])
def test_extends_must_be_one_file_name(tmp_path: Path, value: str) -> None:
    error = load_error(write(tmp_path / "child.yaml", f"extends: {value}\nname: c\n"))
    assert paths(error) == ["extends"]


def test_problems_in_a_parent_are_reported_at_extends(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", "name: x\nbudget: [1\n")
    error = load_error(write(tmp_path / "child.yaml", "extends: base.yaml\n"))
    assert paths(error) == ["extends"]
    assert "base.yaml: malformed YAML at line" in error.problems[0].message


def test_text_cannot_refer_to_files_without_a_base_dir(tmp_path: Path) -> None:
    error = text_error("extends: base.yaml\nname: x\nrecipients: {file: r.csv}\n")
    assert sorted(paths(error)) == ["extends", "recipients.file"]
    assert all("not allowed here" in p.message for p in error.problems)
    write_yaml(tmp_path / "base.yaml", BASE)
    scenario = parse_scenario_text("extends: base.yaml\nbudget: 7\n", base_dir=tmp_path)
    assert scenario.budget == 7
    inner = tmp_path / "inner"
    inner.mkdir()
    error = text_error("extends: ../base.yaml\n", base_dir=inner)
    assert paths(error) == ["extends"]
    assert "outside the allowed directory" in error.problems[0].message


# --------------------------------------------------------------------------- recipient files


def scenario_with_file(tmp_path: Path, name: str, **spec: Any) -> Path:
    data = base()
    data["recipients"] = {"file": name, **spec}
    return write_yaml(tmp_path / "scenario.yaml", data)


def test_recipients_from_csv_equal_the_inline_list(tmp_path: Path) -> None:
    write(tmp_path / "regions.csv", "\n".join([CSV_HEADER, *CSV_ROWS]) + "\n")
    from_csv = load_scenario(scenario_with_file(tmp_path, "regions.csv"))
    inline = load_scenario(write_yaml(tmp_path / "inline.yaml", BASE))
    assert from_csv == inline
    assert from_csv.content_hash == inline.content_hash
    raw = load_data(tmp_path / "scenario.yaml")["recipients"]
    assert raw[2]["id"] == "011"  # leading zero kept
    assert raw[0]["floor"] == 10 and type(raw[0]["floor"]) is int
    assert raw[0]["tags"] == {"type": "main", "stage": "growth"}
    assert "weight" not in raw[1]  # empty cell = not given


def test_recipients_from_xlsx_equal_the_inline_list(tmp_path: Path) -> None:
    rows: list[list[Any]] = [
        CSV_HEADER.split(","),
        ["busan", "Busan", 87.5, 1.2, 10, 400, 95, "main", "growth"],
        ["daegu", "Daegu", 91, None, 10.0, None, None, "future", "early"],
        [None] * 9,
        ["011", "Gwangju", 78.25, 0.8, None, None, 60, "main", "early"],
    ]
    write_xlsx(tmp_path / "regions.xlsx", [["ignored"]], title="Notes")
    book = openpyxl.load_workbook(tmp_path / "regions.xlsx")
    sheet = book.create_sheet("2025")
    for row in rows:
        sheet.append(row)
    book.save(tmp_path / "regions.xlsx")
    from_xlsx = load_scenario(scenario_with_file(tmp_path, "regions.xlsx", sheet="2025"))
    inline = load_scenario(write_yaml(tmp_path / "inline.yaml", BASE))
    assert from_xlsx == inline
    assert from_xlsx.content_hash == inline.content_hash
    assert read_recipients(tmp_path / "regions.xlsx", sheet=1)[1]["floor"] == 10


def test_xlsx_numeric_ids_and_tags_become_text(tmp_path: Path) -> None:
    write_xlsx(
        tmp_path / "r.xlsx", [["id", "score", "tags.year"], [11, 3, 2025], ["012", 2, 2024.0]]
    )
    recipients = read_recipients(tmp_path / "r.xlsx")
    assert recipients == [
        {"id": "11", "score": 3, "tags": {"year": "2025"}},
        {"id": "012", "score": 2, "tags": {"year": "2024"}},
    ]


def test_missing_sheet_is_reported_at_recipients_sheet(tmp_path: Path) -> None:
    write_xlsx(tmp_path / "r.xlsx", [["id", "score"], ["a", 1]], title="Data")
    error = load_error(scenario_with_file(tmp_path, "r.xlsx", sheet="2026"))
    assert paths(error) == ["recipients.sheet"]
    assert "'2026'" in error.problems[0].message and "Data" in error.problems[0].message


def test_bad_csv_cell_is_reported_at_the_field(tmp_path: Path) -> None:
    rows = [*CSV_ROWS, "ulsan,Ulsan,abc,,,,,main,early", "jeju,Jeju,1e400,,,,,main,early"]
    write(tmp_path / "regions.csv", "\n".join([CSV_HEADER, *rows]) + "\n")
    error = load_error(scenario_with_file(tmp_path, "regions.csv"))
    assert paths(error) == ["recipients[3].score", "recipients[4].score"]
    assert error.problems[0].message.startswith("must be a number (got 'abc')")
    assert "row 5" in error.problems[0].message
    assert error.problems[1].message.startswith("must be a finite number")


def test_unknown_csv_column_names_the_column_and_the_allowed_ones(tmp_path: Path) -> None:
    write(tmp_path / "regions.csv", "id,score,colour\nbusan,1,red\n")
    error = load_error(scenario_with_file(tmp_path, "regions.csv"))
    assert paths(error) == ["recipients.file"]
    message = error.problems[0].message
    assert "'colour'" in message
    assert "id, name, score, weight, floor, cap, previous, hard, tags.<tag>" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"id,score\n", "no recipients"),
        (b"name,score\nBusan,1\n", "no 'id' column"),
        (b"id,score,score\na,1,2\n", "appears twice"),
        (b"id,score\na,1,2,3\n", "malformed CSV"),
        ("id,score\n부산,1\n".encode("cp949"), "not UTF-8"),
    ],
)
def test_bad_csv_files(tmp_path: Path, content: bytes, expected: str) -> None:
    write(tmp_path / "regions.csv", content)
    error = load_error(scenario_with_file(tmp_path, "regions.csv"))
    assert paths(error) == ["recipients.file"]
    assert expected in error.problems[0].message


def test_bad_recipient_file_references(tmp_path: Path) -> None:
    assert paths(load_error(scenario_with_file(tmp_path, "missing.csv"))) == ["recipients.file"]
    write(tmp_path / "r.txt", "id,score\na,1\n")
    assert paths(load_error(scenario_with_file(tmp_path, "r.txt"))) == ["recipients.file"]
    write(tmp_path / "r.csv", "id,score\na,1\n")
    assert paths(load_error(scenario_with_file(tmp_path, "r.csv", sheet="x"))) == [
        "recipients.sheet"
    ]
    assert paths(load_error(scenario_with_file(tmp_path, "r.csv", fiel="x"))) == ["recipients.fiel"]
    write(tmp_path / "broken.xlsx", b"PK\x03\x04 not really a zip")
    assert paths(load_error(scenario_with_file(tmp_path, "broken.xlsx"))) == ["recipients.file"]


# --------------------------------------------------------------------------- bad input


def test_malformed_yaml_gives_line_and_column(tmp_path: Path) -> None:
    error = load_error(write(tmp_path / "s.yaml", "name: x\nbudget: 5\n  recipients: []\n"))
    assert paths(error) == [""]
    assert "malformed YAML at line 3, column 13" in error.problems[0].message
    assert "s.yaml" in error.problems[0].message


def test_malformed_json_gives_line_and_column(tmp_path: Path) -> None:
    error = load_error(write(tmp_path / "s.json", '{\n  "name": "x",\n  "budget": 5,\n}\n'))
    assert paths(error) == [""]
    assert "malformed JSON at line 4, column 1" in error.problems[0].message


def test_duplicate_keys_are_errors(tmp_path: Path) -> None:
    error = load_error(write(tmp_path / "s.yaml", "name: x\nbudget: 5\nbudget: 6\n"))
    assert paths(error) == [""]
    assert "duplicate key 'budget' at line 3, column 1 (first at line 2)" in str(error)
    error = load_error(write(tmp_path / "s.json", '{"name": "x", "name": "y"}'))
    assert "duplicate key 'name'" in str(error)


def test_yaml_merge_keys_may_be_overridden_without_a_duplicate_error() -> None:
    text = "name: x\nbudget: 5\nrecipients: [{<<: {id: a, score: 1}, score: 2}]\n"
    assert parse_scenario_text(text).recipients[0].score == 2


def scenario_yaml(**changes: Any) -> str:
    data = base()
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return yaml.safe_dump(data, sort_keys=False)


def with_recipient(index: int, **fields: Any) -> list[dict[str, Any]]:
    recipients: list[dict[str, Any]] = base()["recipients"]
    recipients[index].update(fields)
    return recipients


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (scenario_yaml(colour="red"), ["colour: unknown field"]),
        (scenario_yaml(name=None), ["name: required field is missing"]),
        (scenario_yaml(budget=None), ["budget: required field is missing"]),
        (scenario_yaml(recipients=None), ["recipients: required field is missing"]),
        (scenario_yaml(recipients=[]), ["recipients: must list at least one recipient"]),
        (
            scenario_yaml(recipients=with_recipient(1, floor=12, cap=5)),
            ["recipients[1].cap: must be >= floor (12)"],
        ),
        (
            scenario_yaml(recipients=[*BASE["recipients"], {"id": "busan", "score": 1}]),
            ["recipients[3].id: duplicate id 'busan' (also recipients[0])"],
        ),
        (
            scenario_yaml(budget=1.5),
            ["budget: must be a valid integer, got a number with a fractional part (got 1.5)"],
        ),
    ],
)
def test_invalid_fields_are_reported_exactly(text: str, expected: list[str]) -> None:
    assert lines(text_error(text)) == expected


def test_negative_score(tmp_path: Path) -> None:
    error = load_error(
        write(tmp_path / "s.yaml", scenario_yaml(recipients=with_recipient(2, score=-3)))
    )
    assert paths(error) == ["recipients[2].score"]
    assert "greater than 0" in error.problems[0].message


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("s.yaml", "name: x\nbudget: 5\nrecipients: [{id: a, score: .nan}]\n"),
        ("s.json", '{"name": "x", "budget": 5, "recipients": [{"id": "a", "score": NaN}]}'),
    ],
)
def test_nan_score(tmp_path: Path, name: str, text: str) -> None:
    error = load_error(write(tmp_path / name, text))
    assert lines(error) == ["recipients[0].score: must be a finite number (got nan)"]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("s.yaml", "name: x\nbudget: 1e400\nrecipients: [{id: a, score: 1, tags: {t: 1e400}}]\n"),
        (
            "s.json",
            '{"name": "x", "budget": 1e400, '
            '"recipients": [{"id": "a", "score": 1, "tags": {"t": 1e400}}]}',
        ),
    ],
)
def test_numbers_too_large_for_a_float(tmp_path: Path, name: str, text: str) -> None:
    error = load_error(write(tmp_path / name, text))
    assert paths(error) == ["budget", "recipients[0].tags.t"]
    assert all(p.message.startswith("must be a finite number") for p in error.problems)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("s.yaml", bytes(range(256)) * 4, "file is not UTF-8 text"),
        ("s.yaml", "name: x\n".encode("utf-16"), "file is not UTF-8 text"),
        ("s.yaml", b"name: x\x00\n", "file is not UTF-8 text"),
        ("s.yaml", b"", "file is empty"),
        ("s.yaml", b"# only a comment\n", "file is empty"),
        ("s.json", b"  \n", "file is empty"),
        ("s.yaml", b"- name: x\n- budget: 5\n", "must be a mapping of fields (got list)"),
        ("s.json", b'"just text"', "must be a mapping of fields (got str)"),
        ("s.yaml", b"a: &a [*a]\n", "alias refers to a node that contains it"),
        ("s.yaml", b"name: x\n---\nname: y\n", "a second document"),
        ("s.yaml", b"name: !!python/object/apply:os.system [ls]\n", "malformed YAML"),
        ("s.yaml", b"name: x\n\tbudget: 5\n", "tabs"),
        ("s.json", b"[" * 50_000, "nested too deeply"),
        ("s.txt", b"name: x\n", "unsupported file type '.txt'"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    error = load_error(write(tmp_path / name, content))
    assert paths(error) == [""]
    assert expected in error.problems[0].message


def test_a_yaml_file_of_comments_only_is_empty_not_malformed(tmp_path: Path) -> None:
    """The empty document is said as such (it once read "malformed YAML: a tagged value
    cannot be read (...: file is empty)")."""
    error = load_error(write(tmp_path / "s.yaml", b"# only a comment\n\n# another\n"))
    (problem,) = error.problems
    assert problem.message.endswith("s.yaml: file is empty") and "malformed" not in problem.message


def test_missing_file_and_directory(tmp_path: Path) -> None:
    error = load_error(tmp_path / "nope.yaml")
    assert paths(error) == [""]
    assert "file not found" in error.problems[0].message
    (tmp_path / "dir.yaml").mkdir()
    error = load_error(tmp_path / "dir.yaml")
    assert "is a directory" in error.problems[0].message


def test_several_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = (
        "name: several\n"
        "colour: red\n"
        "recipients:\n"
        "  - {id: a, score: -1}\n"
        "  - {id: b, score: 2, floor: 12, cap: 3}\n"
        "  - {id: a, score: 3, weight: -2}\n"
        "grades: [{grade: S, min_score: 90}, {grade: A, min_score: 95}]\n"
    )
    error = load_error(write(tmp_path / "s.yaml", text))
    assert paths(error) == [
        "budget",
        "colour",
        "recipients[0].score",
        "recipients[1].cap",
        "recipients[2].id",
        "recipients[2].weight",
    ]


def test_every_prefix_of_a_valid_file_loads_or_raises_input_error() -> None:
    texts = [yaml.safe_dump(BASE, sort_keys=False), json.dumps(BASE, indent=1)]
    outcomes = {"ok": 0, "error": 0}
    for text in texts:
        for end in range(0, len(text), 7):
            try:
                parse_scenario_text(text[:end].encode())
                outcomes["ok"] += 1
            except InputError as exc:
                assert exc.problems
                outcomes["error"] += 1
    assert outcomes["error"] > 0


# --------------------------------------------------------------------------- JSON by orjson

_JSON_KEYS = st.sampled_from(["a", "b", "id", "c:d", "é"])
_JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e16, 1e19, 9.3e18, 1e300, -0.0, 5e-324]),
    st.text(alphabet=st.sampled_from('ab:"\\é\n\u2028'), max_size=4),
)
_JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(st.tuples(_JSON_KEYS, inner), max_size=4),  # an object: pairs, keys may repeat
    ),
    max_leaves=12,
)


def _json_text(value: Any, draw_colon: bool, spaced: bool) -> str:
    """``value`` as JSON text (a list of pairs is an object, its keys as drawn, repeats
    kept), colons in strings written ``\\u003a`` when ``draw_colon``."""

    def string(text: str) -> str:
        written = json.dumps(text, ensure_ascii=False)
        return written.replace(":", "\\u003a") if draw_colon else written

    gap = " " if spaced else ""
    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        pairs = [f"{string(k)}{gap}:{gap}{_json_text(v, draw_colon, spaced)}" for k, v in value]
        return "{" + f",{gap}".join(pairs) + "}"
    if isinstance(value, list):
        return "[" + f",{gap}".join(_json_text(v, draw_colon, spaced) for v in value) + "]"
    if isinstance(value, str):
        return string(value)
    return json.dumps(value)


def _parsed(text: str) -> tuple[str, str]:
    """What loading makes of a JSON text: the value written back typed, or the message."""
    try:
        value = loading._parse_json(text, "s.json", "")
    except InputError as exc:
        return "error", exc.problems[0].message
    return "value", json.dumps(value)


@given(_JSON_VALUES, st.booleans(), st.booleans())
@example([("a", 1), ("a", ":")], True, False)  # a colon makes up for a key
@example([("k", 2**64)], False, True)
def test_json_read_by_orjson_is_what_the_standard_library_reads(
    value: Any, draw_colon: bool, spaced: bool
) -> None:
    """Every value (integers beyond 64 bits, NaN, negative zero, repeated keys anywhere,
    colons in keys and strings, escaped or not) and every message, as the standard library
    with the duplicate-key hook gives them."""
    text = _json_text(value, draw_colon, spaced)
    fast = _parsed(text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(loading, "_parse_json_fast", lambda text: loading._SLOW)
        assert fast == _parsed(text)


def test_a_repeated_key_deep_in_a_large_json_file_is_found(tmp_path: Path) -> None:
    rows = [f'{{"id": "f{i}", "score": 1, "tags": {{"r": "a"}}}}' for i in range(3000)]
    rows[2500] = '{"id": "f2500", "score": 1, "tags": {"r": "a", "r": "b"}}'
    text = '{"name": "x", "budget": 5, "recipients": [' + ", ".join(rows) + "]}"
    error = load_error(write(tmp_path / "s.json", text))
    assert "duplicate key 'r' in a JSON object" in str(error)
    assert loading._parse_json_fast(text.replace('"r": "b"', '"q": "b"')) is not loading._SLOW
