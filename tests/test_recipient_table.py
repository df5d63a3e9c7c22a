"""Recipients as a table (optimizer.recipients): the column checks accept exactly what the
pydantic model accepts, give the same recipients, and word problems as the model does."""

from __future__ import annotations

import hashlib
import json
import math
import pickle
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from optimizer import scenario as scenario_module
from optimizer.errors import InputError
from optimizer.loading import load_data, load_scenario
from optimizer.recipients import RecipientTable, recipient_table
from optimizer.result import Allocation
from optimizer.result_json import allocation_rows, result_json
from optimizer.scenario import MAX_MAGNITUDE, MAX_NAME, Recipient, Scenario, pydantic_problems

_ROWS: TypeAdapter[tuple[Recipient, ...]] = TypeAdapter(tuple[Recipient, ...])

_NUMBER = st.one_of(
    st.integers(-3, 40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 2.5, 1e15, 1e15 + 1, 10**16, 1e300, True, "3", None]),
)
_TEXT = st.one_of(
    st.text(max_size=4),
    st.sampled_from(["", " a", "a ", "x" * 201, "y" * 501, 7, None]),
)
_TAGS = st.one_of(
    st.dictionaries(st.sampled_from(["region", "kind"]), st.sampled_from(["a", "b"]), max_size=2),
    st.dictionaries(
        st.sampled_from(["region", "kind"]),
        st.one_of(st.integers(), st.floats(), st.booleans(), st.text(max_size=3), st.none()),
        max_size=2,
    ),
    st.sampled_from([["a"], "x", {"t": "z" * 201}]),
)
_FIELDS = {
    "id": _TEXT,
    "name": _TEXT,
    "score": _NUMBER,
    "weight": _NUMBER,
    "floor": _NUMBER,
    "cap": _NUMBER,
    "previous": _NUMBER,
    "tags": _TAGS,
    "hard": st.sampled_from([True, False, "yes"]),
    "criteria": st.sampled_from([{"a": 1.0}, {"a": -1}]),
    "other": st.just(1),
}


@st.composite
def raw_rows(draw: st.DrawFn) -> list[Any]:
    """Recipient rows, mostly valid, with every kind of bad value now and then."""
    rows: list[Any] = []
    for k in range(draw(st.integers(1, 6))):
        if draw(st.integers(0, 9)) == 0:
            rows.append(draw(st.sampled_from([None, 3, "r", ["id", "x"]])))
            continue
        row: dict[str, Any] = {"id": f"r{k}", "score": float(k + 1)}
        if draw(st.booleans()):
            row["floor"] = draw(st.integers(0, 5))
            row["cap"] = row["floor"] + draw(st.integers(0, 5))
        for name in draw(st.sets(st.sampled_from(sorted(_FIELDS)), max_size=3)):
            row[name] = draw(_FIELDS[name])
        rows.append(row)
    return rows


def _by_model(rows: list[Any]) -> tuple[tuple[Recipient, ...] | None, set[Any]]:
    try:
        return _ROWS.validate_python(rows), set()
    except ValidationError as exc:
        return None, set(pydantic_problems(exc, ("recipients",)))


@given(raw_rows())
def test_columns_accept_what_the_model_accepts_and_word_the_same_problems(rows: list[Any]) -> None:
    models, expected = _by_model(rows)
    table, problems, _ = recipient_table(rows)
    assert set(problems) == expected
    if models is None:
        assert table is None
    else:
        assert table is not None
        assert table.rows() == models
        assert table == models  # a table equals the tuple of its recipients


def test_limits_agree_with_the_model() -> None:
    from optimizer import recipients

    assert recipients._MAX_MAGNITUDE == MAX_MAGNITUDE
    assert recipients._MAX_NAME == MAX_NAME


def test_a_bad_cell_among_many_is_reported_at_its_path_with_the_models_words() -> None:
    rows: list[dict[str, Any]] = [
        {"id": f"f{i:05d}", "score": 50.0 + i % 7, "floor": 2, "cap": 30, "tags": {"r": "a"}}
        for i in range(5000)
    ]
    rows[812] = {**rows[812], "floor": 12, "cap": 3}
    rows[4000] = {**rows[4000], "score": -1}
    with pytest.raises(InputError) as caught:
        Scenario.from_data({"name": "n", "budget": 100000, "recipients": rows})
    assert [str(p) for p in caught.value.problems] == [
        "recipients[812].cap: must be >= floor (12)",
        "recipients[4000].score: must be greater than 0 (got -1)",
    ]


def test_non_finite_numbers_in_tags_are_still_found() -> None:
    rows = [{"id": "a", "score": 1.0, "tags": {"x": math.inf}}, {"id": "b", "score": 2.0}]
    with pytest.raises(InputError) as caught:
        Scenario.from_data({"name": "n", "budget": 10, "recipients": rows})
    assert [str(p) for p in caught.value.problems] == [
        "recipients[0].tags.x: must be a finite number (got inf)"
    ]


def _scenario() -> Scenario:
    rows = [
        {"id": "b", "name": "Bee", "score": 2.5, "cap": 7, "previous": 3, "tags": {"k": "x"}},
        {"id": "a", "score": 1, "weight": 2, "floor": 1, "hard": True, "tags": {"k": "y"}},
        {"id": "c", "score": 4.0, "tags": {"k": "x", "j": "1"}},
    ]
    return Scenario.from_data({"name": "t", "budget": 12, "recipients": rows})


def test_the_scenario_holds_a_table_that_reads_like_its_recipients() -> None:
    scenario = _scenario()
    table = scenario.recipients
    assert isinstance(table, RecipientTable)
    assert [r.id for r in table] == ["b", "a", "c"]
    assert table[1].hard and table[1].weight == 2.0 and table[1].floor == 1
    assert table[-1].tags == {"k": "x", "j": "1"}
    assert [r.label for r in table[0:2]] == ["Bee", "a"]
    assert table.labels == ["Bee", "a", "c"]
    assert pickle.loads(pickle.dumps(table)) == table
    assert scenario.model_dump(mode="json")["recipients"][0]["name"] == "Bee"


def test_a_table_dumps_as_its_recipients_models_do() -> None:
    table = RecipientTable.of(_scenario().recipients)
    criteria = RecipientTable(**{**table._fields(), "criteria": (None, {"q": 2.0}, None)})
    for each in (table, criteria):
        models = each.rows()
        for mode in ("python", "json"):
            assert each.dicts() == [m.model_dump(mode=mode) for m in models]
            assert [list(d) for d in each.dicts()] == [list(m.model_dump()) for m in models]
    scenario = _scenario()
    dumped = scenario.model_dump(mode="json")["recipients"]
    dumped[0]["tags"]["k"] = "changed"  # a copy: the scenario's tags stay as they are
    assert scenario.recipients[0].tags == {"k": "x"}


def test_canonical_text_of_the_table_is_the_json_of_canonical() -> None:
    scenario = _scenario()
    as_models = scenario.model_copy(
        update={"recipients": RecipientTable.of(scenario.recipients).rows()}
    )
    expected = json.dumps(
        scenario.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert scenario.canonical_text() == expected
    assert as_models.canonical_text() == expected
    assert as_models.content_hash == scenario.content_hash


def test_with_scores_on_a_table_changes_only_the_named_scores() -> None:
    scenario = _scenario()
    changed = scenario.with_scores({"a": 9.0})
    assert [r.score for r in changed.recipients] == [2.5, 9.0, 4.0]
    assert [r.score for r in scenario.recipients] == [2.5, 1.0, 4.0]
    assert changed.content_hash != scenario.content_hash


_STRINGS = st.text(alphabet=st.characters(codec="utf-8"), max_size=8)


@given(
    st.lists(
        st.tuples(
            _STRINGS,
            _STRINGS,
            st.integers(0, 10**15),
            st.floats(allow_nan=False, allow_infinity=False),
            st.floats(allow_nan=False, allow_infinity=False),
            st.floats(0, 1),
            st.floats(0, 1e30),
            st.floats(1e-3, 1e15),
            st.one_of(st.none(), _STRINGS),
            st.lists(_STRINGS, max_size=3).map(tuple),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_result_json_reads_back_as_the_result_one_allocation_per_line(
    allocations: list[tuple[Any, ...]],
) -> None:
    rows = allocation_rows(Allocation._fields, allocations)
    head = {"status": "optimal", "scenario": {"name": '"allocations": "?"'}, "allocations": []}
    text = result_json(head, rows)
    data = json.loads(text)
    assert data["allocations"] == [
        {**dict(zip(Allocation._fields, a, strict=True)), "binding": list(a[-1])}
        for a in allocations
    ]
    assert data["scenario"] == head["scenario"]
    lines = text.splitlines()
    assert sum(line.startswith('    {"id":') for line in lines) == len(allocations)


@pytest.mark.parametrize("zero", [0.0, -0.0])
def test_canonical_text_of_many_recipients_with_repeated_numbers(zero: float) -> None:
    """Past 1,000 recipients each distinct number is written once: the text is still that
    of ``canonical()`` (a negative zero weight included)."""
    rows = [
        {
            "id": f"f{i:04d}",
            "score": 40.0 + (i % 7) / 10,
            "weight": zero if i == 3 else 1.0 + (i % 3) / 4,
            **({"previous": i % 5} if i % 2 else {}),
            "tags": {"region": "abc"[i % 3]},
        }
        for i in range(1500)
    ]
    scenario = Scenario.from_data({"name": "many", "budget": 9000, "recipients": rows})
    expected = json.dumps(
        scenario.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert scenario.canonical_text() == expected
    table = RecipientTable.of(scenario.recipients)
    for size in (1, 7, 1000, 5000):  # read in pieces, the text is the same
        assert "".join(table.canonical_parts(size)) == table.canonical_rows()
    digest = hashlib.sha256(expected.encode("utf-8")).hexdigest()
    assert scenario.content_hash == f"sha256:{digest}"


_TAG_SETS = st.sampled_from(
    [{}, {"r": "a"}, {"r": "b"}, {"k": "x", "r": "a"}, {"r": "a", "k": "x"}, {"r": "é\n"}]
)


@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.text(max_size=3)),  # name
            st.sampled_from([1.0, 2.5, 0.1, 1e15, 7e-300]),  # score
            st.sampled_from([0.0, -0.0, 1.0, 0.25]),  # weight
            st.one_of(st.none(), st.integers(5, 7)),  # cap
            st.one_of(st.none(), st.sampled_from([0, 3, 2.5, -0.0])),  # previous
            _TAG_SETS,
            st.sampled_from([None, None, None, {"q": 2.0}, "hard"]),  # criteria or hard
        ),
        min_size=1,
        max_size=12,
    ),
    st.one_of(st.integers(1, 30), st.integers(1000, 1100)),
    st.booleans(),
    st.sampled_from(["", "é", '"', "\\", "\n", "\u2028", "\x7f", "가 나"]),
)
def test_canonical_text_is_the_json_of_canonical_for_any_columns(
    drawn: list[tuple[Any, ...]], size: int, ascending: bool, inner: str
) -> None:
    """Each column written once per distinct value and joined, or a recipient with criteria
    or hard written on its own: the text and hash are those of ``canonical()``, the drawn
    rows repeated to ``size`` recipients (past 1,000, numbers are written once per distinct
    value), listed in id order or not, ids with characters JSON escapes or not."""
    rows = []
    for i in range(size):
        name, score, weight, cap, previous, tags, extra = drawn[i % len(drawn)]
        rid = f"r{inner}{i if ascending else size - i:05d}"  # (in id order or not)
        row = {"id": rid, "name": name, "score": score, "weight": weight}
        row.update({"floor": 5, "cap": cap, "previous": previous, "tags": tags})
        if extra == "hard":
            row["hard"] = True
        elif extra is not None:
            row["criteria"] = extra
        rows.append(row)
    table, problems, _ = recipient_table(rows)
    assert table is not None and not problems
    scenario = Scenario.from_data(
        {"name": "any", "budget": 10**6, "recipients": [{"id": "x", "score": 1}]}
    )
    scenario = scenario.model_copy(update={"recipients": table})
    expected = json.dumps(
        scenario.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert scenario.canonical_text() == expected
    assert "".join(table.canonical_parts(7)) == table.canonical_rows()
    digest = hashlib.sha256(expected.encode("utf-8")).hexdigest()
    assert scenario.content_hash == f"sha256:{digest}"


def test_a_file_of_bad_rows_lists_the_first_problems_in_order_and_counts_the_rest() -> None:
    rows = [{"id": f"f{i:04d}", "score": 0} for i in range(450)]
    with pytest.raises(InputError) as caught:
        Scenario.from_data({"name": "n", "budget": 10, "recipients": rows})
    problems = caught.value.problems
    assert len(problems) == scenario_module.MAX_PROBLEMS + 1
    assert str(problems[0]) == "recipients[0].score: must be greater than 0 (got 0)"
    assert problems[-2].path == f"recipients[{scenario_module.MAX_PROBLEMS - 1}].score"
    assert (
        str(problems[-1])
        == f"... and {450 - scenario_module.MAX_PROBLEMS} more problems like these"
    )


def _parquet_scenario(folder: Path, columns: dict[str, list[Any]], **head: Any) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), folder / "firms.parquet")
    scenario = {"name": "p", "budget": 60, **head, "recipients": {"file": "firms.parquet"}}
    path = folder / "firms.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    return path


def _by_rows(path: Path) -> Scenario:
    """The scenario as the dict path reads it (load_data: every recipient a dict)."""
    return Scenario.from_data(load_data(path))


def test_a_columnar_file_read_as_columns_is_the_scenario_read_as_rows(tmp_path: Path) -> None:
    path = _parquet_scenario(
        tmp_path,
        {
            "id": ["a", "b", "c", "d"],
            "name": ["Ay", None, "Cy", None],
            "score": [1.5, 2.0, 3.0, 4.0],
            "weight": [None, 2.0, 1.0, None],
            "floor": [1, None, 2, 0],
            "cap": [9, None, None, 30],
            "previous": [3.0, None, 4.0, None],
            "tags.region": ["x", "y", None, "x"],
        },
        rules=[{"type": "group", "tag": "region", "value": "x", "max_units": 40}],
    )
    scenario = load_scenario(path)
    assert isinstance(scenario.recipients, RecipientTable)
    assert scenario == _by_rows(path)
    assert scenario.content_hash == _by_rows(path).content_hash
    assert scenario.recipients[2].tags == {} and scenario.recipients[0].tags == {"region": "x"}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"cap": [9, 1, None]}, "recipients[1].cap: must be >= floor (5)"),
        ({"score": [1.0, -2.0, 3.0]}, "recipients[1].score: must be greater than 0 (got -2.0)"),
        ({"id": ["a", "a", "c"]}, "recipients[1].id: duplicate id 'a' (also recipients[0])"),
        ({"id": ["a", None, "c"]}, "recipients[1].id: required field is missing"),
        ({"id": ["a", " b", "c"]}, "recipients[1].id: must not be empty or start/end with spaces"),
    ],
)
def test_a_columnar_file_read_as_columns_words_problems_as_rows_do(
    tmp_path: Path, change: dict[str, list[Any]], problem: str
) -> None:
    columns: dict[str, list[Any]] = {
        "id": ["a", "b", "c"],
        "score": [1.0, 2.0, 3.0],
        "floor": [0, 5, 0],
        **change,
    }
    path = _parquet_scenario(tmp_path, columns, budget=-1)
    with pytest.raises(InputError) as as_columns:
        load_scenario(path)
    with pytest.raises(InputError) as as_rows:
        _by_rows(path)
    assert as_columns.value.problems == as_rows.value.problems
    assert problem in [str(p) for p in as_columns.value.problems]
    assert "budget: must be greater than 0 (got -1)" in [str(p) for p in as_rows.value.problems]


def test_a_columnar_file_with_a_criteria_block_is_read_row_by_row(tmp_path: Path) -> None:
    path = _parquet_scenario(
        tmp_path, {"id": ["a", "b"], "score": [1.0, None]}, criteria={"growth": 1.0}
    )
    with pytest.raises(InputError) as as_columns:
        load_scenario(path)
    with pytest.raises(InputError) as as_rows:
        _by_rows(path)
    assert as_columns.value.problems == as_rows.value.problems
    assert any("criteria" in p.path for p in as_columns.value.problems)


def test_extends_merges_the_rows_of_a_columnar_parent(tmp_path: Path) -> None:
    parent = _parquet_scenario(tmp_path, {"id": ["a", "b"], "score": [1.0, 2.0]})
    child = tmp_path / "child.json"
    child.write_text(
        json.dumps({"extends": parent.name, "recipients": [{"id": "b", "score": 5.0}]}),
        encoding="utf-8",
    )
    scenario = load_scenario(child)
    assert [r.score for r in scenario.recipients] == [1.0, 5.0]
    assert scenario == _by_rows(child)


def test_a_long_text_column_of_few_values_reads_cell_for_cell(tmp_path: Path) -> None:
    """Past 1,000 rows a repeating text column is read through its distinct values: the
    cells are still each row's own (blank and null cells not given)."""
    regions = [None if i % 11 == 0 else " " if i % 13 == 0 else "abc"[i % 3] for i in range(1500)]
    path = _parquet_scenario(
        tmp_path,
        {
            "id": [f"f{i:04d}" for i in range(1500)],
            "score": [1.0] * 1500,
            "tags.region": regions,
        },
    )
    expected = [{} if r is None or not r.strip() else {"region": r} for r in regions]
    assert [r.tags for r in load_scenario(path).recipients] == expected
    assert [r.get("tags", {}) for r in load_data(path)["recipients"]] == expected


@given(st.lists(st.text("ab\x00éZ가", min_size=1, max_size=3), unique=True, min_size=1, max_size=8))
def test_order_sorts_ids_as_python_sorts_text(ids: list[str]) -> None:
    """The engine's order is the ids' code-point order, whether the table lists them in
    that order already or not."""
    for listed in (ids, sorted(ids)):
        rows = [{"id": f"x{rid}", "score": 1.0} for rid in listed]
        table, problems, _ = recipient_table(rows)
        assert table is not None and not problems
        assert [table.ids[i] for i in table.order()] == sorted(table.ids)
