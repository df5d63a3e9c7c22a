"""Allocations held as columns (:class:`optimizer.result.Allocations`): the same allocations
as the tuple of rows, written to JSON and Parquet byte for byte as the row writers write
them, and the binding rules found a rule at a time equal to those found recipient by
recipient."""

from __future__ import annotations

import csv
import io
import json
import pickle
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from optimizer import cli
from optimizer.columnar import allocations_parquet
from optimizer.compile import build_program
from optimizer.explain import binding
from optimizer.result import Allocation, Allocations, Result, SolverReport, Status
from optimizer.result_json import allocation_rows, result_json
from optimizer.scenario import Scenario
from optimizer.solve import solve

FIELDS = Allocation._fields
COLUMNS = ("id", "name", "grade", "score", "quota", "entitlement", "units", "amount", "share")
TRICKY = ['a"b', "back\\slash", 'x","y', 'q",', "line\nbreak", "\x00\x1f\x7f", "부산", "😀", ""]

_TEXT = st.one_of(st.text(max_size=8), st.sampled_from(TRICKY))
_FLOAT = st.floats(allow_nan=False, allow_infinity=False)
_ROW = st.tuples(
    _TEXT.filter(lambda t: not any(0xD800 <= ord(c) < 0xE000 for c in t)),
    _TEXT,
    st.integers(0, 10**15),
    _FLOAT,
    _FLOAT,
    st.floats(0, 1),
    st.floats(0, 1e30),
    _FLOAT,
    st.one_of(st.none(), st.sampled_from(["S", "A", 'B"', "부"])),
    st.lists(st.sampled_from(["floor", "cap", "band; x", 'q"x', "\\"]), max_size=3).map(tuple),
)


def rows_of(values: list[tuple[Any, ...]]) -> tuple[Allocation, ...]:
    return tuple(map(Allocation._make, values))


def as_arrays(rows: tuple[Allocation, ...]) -> Allocations:
    """The columns as ``solve`` holds them: numbers in numpy arrays."""
    columns: dict[str, Any] = {name: [getattr(a, name) for a in rows] for name in FIELDS}
    columns["units"] = np.array(columns["units"], dtype=np.int64)
    for name in ("amount", "quota", "share", "entitlement", "score"):
        columns[name] = np.array(columns[name], dtype=np.float64)
    return Allocations(columns)


EMPTY = Result(
    status=Status.OPTIMAL,
    scenario="s",
    scenario_hash="sha256:0",
    budget=10,
    unit={"label": "unit", "value": 1.0},
    objective={"kind": "proportional", "method": "hamilton"},
    allocations=(),
    metrics=None,
    solver=SolverReport("greedy", "0", "greedy", 0.0, 0.0, 0.0),
)
HEAD = {"status": "optimal", "scenario": {"name": '"allocations": "?"'}, "allocations": []}


@given(st.lists(_ROW, min_size=1, max_size=6))
def test_the_columns_write_the_json_of_the_rows(values: list[tuple[Any, ...]]) -> None:
    rows = rows_of(values)
    expected = result_json(HEAD, allocation_rows(FIELDS, rows))
    assert result_json(HEAD, Allocations.of(rows)) == expected
    assert result_json(HEAD, as_arrays(rows)) == expected
    assert json.loads(expected)["allocations"] == Allocations.of(rows).dicts()


def test_a_text_orjson_refuses_is_written_as_the_rows_writer_writes_it() -> None:
    """A lone surrogate (orjson refuses it): the whole document falls back to the standard
    library, as the row writer does."""
    row = Allocation("\ud800x", "n", 1, 1e-05, 0.1, 0.5, 2.5e-05, 3.0, None, ("cap",))
    expected = result_json(HEAD, allocation_rows(FIELDS, (row,)))
    assert "\\ud800x" in expected or "\ud800x" in expected
    assert result_json(HEAD, Allocations.of((row,))) == expected


@given(st.lists(_ROW, min_size=0, max_size=6))
def test_the_columns_write_the_parquet_of_the_rows(values: list[tuple[Any, ...]]) -> None:
    rows = rows_of(values)

    def written(allocations: Any) -> bytes:
        result = replace(EMPTY, allocations=allocations)
        return allocations_parquet(result, (*COLUMNS, "binding"))

    expected = _row_parquet(rows)
    assert written(rows) == expected
    assert written(as_arrays(rows)) == expected


def _row_parquet(rows: tuple[Allocation, ...]) -> bytes:
    """The Parquet file written from the rows by pyarrow's own conversion (no columns)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    kinds = {"id": pa.string(), "name": pa.string(), "grade": pa.string(), "units": pa.int64()}
    arrays = [
        pa.array([getattr(a, name) for a in rows], type=kinds.get(name, pa.float64()))
        for name in COLUMNS
    ]
    arrays.append(pa.array([";".join(a.binding) for a in rows], type=pa.string()))
    sink = pa.BufferOutputStream()
    table = pa.Table.from_arrays(arrays, names=[*COLUMNS, "binding"])
    pq.write_table(table, sink)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def test_columns_are_the_sequence_of_their_allocations() -> None:
    rows = rows_of(
        [
            ("a", "A", 3, 30.0, 2.5, 0.3, 1.0, 9.5, "S", ("floor",)),
            ("b", "B", 7, 70.0, 7.5, 0.7, 3.0, 4.0, None, ()),
        ]
    )
    columns = as_arrays(rows)
    assert len(columns) == 2
    assert columns[0] == rows[0] and columns[-1] == rows[-1]
    assert type(columns[0].units) is int and type(columns[0].quota) is float
    with pytest.raises(IndexError):
        columns[2]
    assert columns[0:1] == rows[0:1]
    assert list(columns) == list(rows)
    assert columns == rows and rows == columns and columns != rows[:1]
    assert hash(columns) == hash(rows)
    assert Allocations.of(columns) is columns
    assert columns.column("units") == [3, 7]
    again = pickle.loads(pickle.dumps(columns))
    assert again == rows and again.column("binding") == [("floor",), ()]
    assert columns.dicts() == [{**a._asdict(), "binding": list(a.binding)} for a in rows]
    assert Allocations.of(()) == () and not Allocations.of(())
    with pytest.raises(ValueError, match="different lengths"):
        Allocations({**{name: [] for name in FIELDS}, "id": ["a"]})


def test_a_solved_result_holds_columns_and_its_dict_is_that_of_the_rows() -> None:
    data = {
        "name": "columns",
        "budget": 100,
        "grades": [{"grade": "S", "min_score": 50}, {"grade": "B", "min_score": 0}],
        "recipients": [
            {"id": "b", "score": 60, "floor": 40},
            {"id": "a", "score": 30, "name": "Alpha"},
            {"id": "c", "score": 10},
        ],
    }
    result = solve(Scenario.from_data(data))
    assert isinstance(result.allocations, Allocations)
    as_rows = replace(result, allocations=tuple(result.allocations))
    assert as_rows.to_dict() == result.to_dict()
    assert as_rows == result
    assert [a.id for a in result.allocations] == ["b", "a", "c"]
    assert [a.name for a in result.allocations] == ["b", "Alpha", "c"]
    assert [a.grade for a in result.allocations] == ["S", "B", "B"]
    ungraded = solve(Scenario.from_data({**data, "grades": []}))
    assert [a.grade for a in ungraded.allocations] == [None, None, None]


# --------------------------------------------------------------------------- binding


def binding_by_recipient(x: Any, ent: Any, rules: Any) -> list[tuple[str, ...]]:
    """The rules holding each recipient, found one recipient at a time (the reference)."""
    eps = 1e-9
    out: list[list[str]] = [[] for _ in range(ent.size)]
    q = ent.quota
    for i in range(ent.size):
        if x[i] == rules.lo[i] and x[i] > q[i] + eps:
            out[i].extend(rules.lo_source[i])
        if x[i] == rules.hi[i] and x[i] < q[i] - eps:
            out[i].extend(rules.hi_source[i] or ("cap",))
    for row in rules.sums:
        members = row.index.tolist()
        total = sum(int(x[i]) for i in members)
        group_quota = float(sum(q[i] for i in members))
        up = row.lower is not None and total == row.lower and total > group_quota + eps
        down = row.upper is not None and total == row.upper and total < group_quota - eps
        for i in members:
            if (up and x[i] >= q[i] - eps) or (down and x[i] <= q[i] + eps):
                out[i].append(row.label)
    for order in rules.orders:
        for better, worse in zip(order.levels, order.levels[1:], strict=False):
            ratio = {int(i): x[i] / order.weight[i] for i in (*better, *worse)}
            tie = min(ratio[int(i)] for i in better)
            if abs(tie - max(ratio[int(i)] for i in worse)) > eps:
                continue
            for i in better.tolist():
                if x[i] > q[i] + eps and abs(ratio[i] - tie) <= eps:
                    out[i].append(order.label)
            for i in worse.tolist():
                if x[i] < q[i] - eps and abs(ratio[i] - tie) <= eps:
                    out[i].append(order.label)
    return [tuple(dict.fromkeys(names)) for names in out]


def random_scenario(seed: int) -> Scenario:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 40))
    regions = ["north", "south", "east"]
    recipients = []
    for i in range(n):
        recipient: dict[str, Any] = {
            "id": f"r{i:02d}",
            "score": float(rng.integers(1, 100)),
            "tags": {"region": regions[i if i < 3 else int(rng.integers(0, 3))]},
        }
        if rng.random() < 0.3:
            recipient["floor"] = int(rng.integers(1, 20))
        if rng.random() < 0.3:
            recipient["cap"] = int(rng.integers(20, 60))
        if rng.random() < 0.6:
            recipient["previous"] = float(rng.integers(0, 40))
        recipients.append(recipient)
    rules: list[dict[str, Any]] = [
        {"type": "change_limit", "name": "stability", "max_decrease": 0.2, "max_increase": 0.2},
        {"type": "group", "tag": "region", "value": "north", "min_units": 9 * n, "name": "north"},
        {"type": "group", "tag": "region", "value": "south", "max_units": 8 * n, "name": "south"},
        {"type": "grade_order"},
    ]
    return Scenario.from_data(
        {
            "name": f"random {seed}",
            "budget": 25 * n,
            "grades": [
                {"grade": "S", "min_score": 70, "multiplier": 1.2},
                {"grade": "A", "min_score": 30},
                {"grade": "B", "min_score": 0},
            ],
            "recipients": recipients,
            "rules": rules,
        }
    )


@pytest.mark.parametrize("seed", range(25))
def test_binding_by_arrays_names_what_the_recipient_by_recipient_reference_names(
    seed: int,
) -> None:
    """At the bounds, at random units between them and at the optimum, the same names in
    the same order for every recipient (group totals and grade ties met at the bounds)."""
    scenario = random_scenario(seed)
    ent, rules, _ = build_program(scenario)
    rng = np.random.default_rng(1000 + seed)
    lo, hi = rules.lo, np.minimum(rules.hi, rules.lo + 60)
    trials = [lo, hi, lo + (rng.random(ent.size) * (hi - lo + 1)).astype(np.int64).clip(0)]
    trials[-1] = np.minimum(trials[-1], hi)
    result = solve(scenario, ties=False)
    if result.allocations:
        units = {a.id: a.units for a in result.allocations}
        trials.append(np.array([units[i] for i in ent.ids], dtype=np.int64))
    for row in rules.sums:  # a group exactly at its bound
        x = lo.copy()
        bound = row.lower if row.lower is not None else row.upper
        if bound is not None and len(row.index):
            x[row.index] = 0
            x[row.index[0]] = bound
            trials.append(x)
    for x in trials:
        held = binding(x, ent, rules)
        assert held.per_recipient() == binding_by_recipient(x, ent, rules)
        assert held.labels[0] == () and len(set(held.labels)) == len(held.labels)


_ANY_FLOAT = st.one_of(
    st.floats(), st.sampled_from([2.0**53, -(2.0**53), 2.0**53 + 2, -0.0, 1e300])
)


@given(st.lists(st.tuples(_ROW, _ANY_FLOAT, _ANY_FLOAT), min_size=0, max_size=6))
def test_the_columns_write_the_csv_of_the_rows(values: list[tuple[Any, ...]]) -> None:
    """Whole numbers without ``.0`` (below 2**53), others at full precision, NaN and
    infinities as Python writes them: the numpy column writer cell for cell."""
    rows = tuple(
        Allocation._make(row)._replace(amount=amount, score=score) for row, amount, score in values
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(cli.CSV_COLUMNS)
    for a in rows:
        writer.writerow(map(cli._csv_cell, [getattr(a, name) for name in cli.CSV_COLUMNS]))
    expected = buffer.getvalue()
    assert cli._csv_text(replace(EMPTY, allocations=rows)) == expected
    assert cli._csv_text(replace(EMPTY, allocations=as_arrays(rows))) == expected
