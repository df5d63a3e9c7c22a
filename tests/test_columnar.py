"""Columnar recipient files (Parquet, Arrow IPC, Feather) read as the CSV of the same rows,
and ``allot solve --format parquet`` written as columns."""

from __future__ import annotations

import csv
import io
import json
import pickle
import random
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from optimizer import cli, columnar
from optimizer.errors import InputError, Problem
from optimizer.loading import load_data, load_scenario, read_recipients
from optimizer.recipients import RecipientTable
from optimizer.scenario import Scenario
from optimizer.solve import solve

COLUMNS = ("id", "name", "score", "weight", "floor", "cap", "tags.type", "criteria.growth")
TYPES = {
    "id": pa.string(),
    "name": pa.string(),
    "score": pa.float64(),
    "weight": pa.float64(),
    "floor": pa.int64(),
    "cap": pa.int64(),
    "tags.type": pa.string(),
    "criteria.growth": pa.float64(),
}
SUFFIXES = (".parquet", ".arrow", ".feather")


def firm_rows(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Firms with leading-zero ids, Korean names, missing cells and two groups."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for i in range(count):
        rows.append(
            {
                "id": f"{i:06d}",
                "name": f"기업 {i}",
                "score": round(rng.uniform(40, 100), 2),
                "weight": None if i % 3 else round(rng.uniform(0.5, 2), 3),
                "floor": None if i % 4 else 1,
                "cap": None if i % 5 else 40,
                "tags.type": "future" if i % 7 == 0 else "main",
                "criteria.growth": None,
            }
        )
    return rows


def write_csv(path: Path, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def arrow_table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pa.Table:
    arrays = [pa.array([r.get(c) for r in rows], TYPES.get(c, pa.string())) for c in columns]
    return pa.Table.from_arrays(arrays, names=list(columns))


def write_columnar(path: Path, table: pa.Table) -> Path:
    if path.suffix == ".parquet":
        pq.write_table(table, path)
    elif path.suffix == ".feather":
        feather.write_feather(table, path)
    else:
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
    return path


def scenario_file(tmp_path: Path, recipients_file: str, name: str = "scenario.yaml") -> Path:
    data = {
        "name": "firms",
        "budget": 2000,
        "recipients": {"file": recipients_file},
        "rules": [{"type": "group", "tag": "type", "value": "future", "min_share": 0.2}],
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[Problem]:
    """The problems of loading the scenario, the directory left out of the file names."""
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    prefix = f"{path.parent}/"
    return [Problem(p.path, p.message.replace(prefix, "")) for p in caught.value.problems]


# --------------------------------------------------------------------------- reading


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_columnar_file_gives_the_scenario_and_allocation_of_the_csv(
    tmp_path: Path, suffix: str
) -> None:
    rows = firm_rows(300)
    write_csv(tmp_path / "firms.csv", rows, COLUMNS)
    write_columnar(tmp_path / f"firms{suffix}", arrow_table(rows, COLUMNS))
    from_csv = load_scenario(scenario_file(tmp_path, "firms.csv", "csv.yaml"))
    from_columns = load_scenario(scenario_file(tmp_path, f"firms{suffix}", "columns.yaml"))
    assert from_columns == from_csv
    assert from_columns.content_hash == from_csv.content_hash
    assert from_columns.recipients[0].id == "000000"  # text ids keep leading zeros
    assert from_columns.recipients[1].name == "기업 1"
    a, b = solve(from_csv), solve(from_columns)
    assert a.status.has_allocation
    assert [(x.id, x.units) for x in a.allocations] == [(x.id, x.units) for x in b.allocations]


def test_columnar_cells_become_what_the_csv_reader_gives(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([11, 12, None, 13], pa.int32()),  # numeric ids become text
            "score": pa.array([1.5, 2.0, None, float("nan")], pa.float32()),
            "floor": pa.array([1.0, None, None, 2.0]),  # whole floats become ints
            "cap": pa.array([None, None, None, None], pa.null()),
            "tags.year": pa.array([2025, 2024, None, None], pa.int16()),
            "name": pa.array(["가", "  ", None, "b"]).dictionary_encode(),
            "weight": pa.array(["1.25", "3", None, None]),  # numbers as text
        }
    )
    write_columnar(tmp_path / "r.parquet", table)
    assert read_recipients(tmp_path / "r.parquet") == [
        {
            "id": "11",
            "score": 1.5,
            "floor": 1,
            "tags": {"year": "2025"},
            "name": "가",
            "weight": 1.25,
        },
        {"id": "12", "score": 2.0, "tags": {"year": "2024"}, "weight": 3},
        {"id": "13", "floor": 2, "name": "b"},  # the blank row is skipped; NaN is blank
    ]
    assert type(read_recipients(tmp_path / "r.parquet")[2]["floor"]) is int


def test_arrow_stream_format_is_read_too(tmp_path: Path) -> None:
    table = arrow_table(firm_rows(5), COLUMNS)
    with (
        pa.OSFile(str(tmp_path / "r.arrow"), "wb") as sink,
        pa.ipc.new_stream(sink, table.schema) as writer,
    ):
        writer.write_table(table)
    assert [r["id"] for r in read_recipients(tmp_path / "r.arrow")] == [
        f"{i:06d}" for i in range(5)
    ]


def test_pandas_index_columns_are_not_recipient_columns(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"id": ["a", "b"], "score": [1, 2]}, index=[10, 20])
    frame.to_parquet(tmp_path / "r.parquet")
    assert read_recipients(tmp_path / "r.parquet") == [
        {"id": "a", "score": 1},
        {"id": "b", "score": 2},
    ]


# --------------------------------------------------------------------------- bad files


def as_csv_problems(problems: list[Problem], name: str) -> list[tuple[str, str]]:
    """The problems with the file name replaced by the CSV's and columnar rows (counted from
    1) shifted to CSV rows (the header is row 1)."""
    import re

    out = []
    for p in problems:
        message = p.message.replace(name, "firms.csv")
        message = re.sub(r"row (\d+)", lambda m: f"row {int(m.group(1)) + 1}", message)
        out.append((p.path, message))
    return out


BadCase = Callable[[list[dict[str, Any]]], tuple[list[dict[str, Any]], tuple[str, ...]]]


def _unknown_column(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    return [{**r, "colour": "red"} for r in rows], (*COLUMNS, "colour")


def _no_id_no_score(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    return rows, ("name", "weight", "tags.type")


def _cap_below_floor(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    rows = [dict(r) for r in rows]
    rows[812].update(floor=12, cap=3)
    rows[40].update(floor=5, cap=1)
    return rows, COLUMNS


def _bad_numbers(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
    rows = [dict(r) for r in rows]
    for r in rows:
        r["previous"] = str(r["floor"] or "")
    rows[3]["previous"] = "abc"
    rows[700]["previous"] = "1,5"
    return rows, (*COLUMNS, "previous")


@pytest.mark.parametrize("case", [_unknown_column, _no_id_no_score, _cap_below_floor, _bad_numbers])
@pytest.mark.parametrize("suffix", [".parquet", ".arrow"])
def test_bad_columnar_files_give_the_problems_of_the_csv(
    tmp_path: Path, case: BadCase, suffix: str
) -> None:
    rows, columns = case(firm_rows(900))
    write_csv(tmp_path / "firms.csv", rows, columns)
    write_columnar(tmp_path / f"firms{suffix}", arrow_table(rows, columns))
    from_csv = problems_of(scenario_file(tmp_path, "firms.csv", "csv.yaml"))
    from_columns = problems_of(scenario_file(tmp_path, f"firms{suffix}", "columns.yaml"))
    assert from_csv  # the case is bad
    assert as_csv_problems(from_columns, f"firms{suffix}") == [
        (p.path, p.message) for p in from_csv
    ]


def test_cap_below_floor_names_the_recipient_in_the_file(tmp_path: Path) -> None:
    rows, columns = _cap_below_floor(firm_rows(900))
    write_columnar(tmp_path / "firms.parquet", arrow_table(rows, columns))
    problems = problems_of(scenario_file(tmp_path, "firms.parquet"))
    assert [p.path for p in problems] == ["recipients[40].cap", "recipients[812].cap"]


def test_bad_cells_are_reported_in_row_order_with_the_row_index(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": ["a", None, "b", "c"],
            "score": pa.array([1.0, None, float("inf"), 2.0]),
            "weight": pa.array([None, None, "x", "true"], pa.string()),
            "cap": pa.array([True, None, False, True]),
        }
    )
    write_columnar(tmp_path / "r.parquet", table)
    problems = problems_of(scenario_file(tmp_path, "r.parquet"))
    assert [(p.path, p.message) for p in problems] == [
        ("recipients[0].cap", "must be a number (got True) in r.parquet row 1"),
        ("recipients[1].score", "must be a finite number (got inf) in r.parquet row 3"),
        ("recipients[1].weight", "must be a number (got 'x') in r.parquet row 3"),
        ("recipients[1].cap", "must be a number (got False) in r.parquet row 3"),
        ("recipients[2].weight", "must be a number (got 'true') in r.parquet row 4"),
        ("recipients[2].cap", "must be a number (got True) in r.parquet row 4"),
    ]


@pytest.mark.parametrize(
    ("suffix", "kind"), [(".parquet", "Parquet"), (".arrow", "Arrow IPC"), (".feather", "Feather")]
)
def test_damaged_columnar_file_is_an_input_problem(tmp_path: Path, suffix: str, kind: str) -> None:
    (tmp_path / f"r{suffix}").write_bytes(b"id,score\na,1\n")
    problems = problems_of(scenario_file(tmp_path, f"r{suffix}"))
    assert [p.path for p in problems] == ["recipients.file"]
    assert problems[0].message.startswith(f"r{suffix} is not a readable {kind} file (")


def test_empty_columnar_files(tmp_path: Path) -> None:
    write_columnar(
        tmp_path / "none.parquet",
        pa.table({"id": pa.array([], pa.string()), "score": pa.array([], pa.float64())}),
    )
    write_columnar(tmp_path / "blank.parquet", pa.table({"id": [None, " "], "score": [None, None]}))
    for name in ("none.parquet", "blank.parquet"):
        problems = problems_of(scenario_file(tmp_path, name))
        assert [(p.path, p.message) for p in problems] == [
            ("recipients.file", f"{name} has columns but no recipients")
        ]


def test_load_data_keeps_the_file_reference_relative_to_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    write_columnar(tmp_path / "data" / "firms.parquet", arrow_table(firm_rows(3), COLUMNS))
    data = load_data(scenario_file(tmp_path, "data/firms.parquet"))
    assert [r["id"] for r in data["recipients"]] == ["000000", "000001", "000002"]


# --------------------------------------------------------------------------- writing


def cli_run(*args: str | Path) -> Any:
    return CliRunner().invoke(cli.app, [str(a) for a in args])


@pytest.mark.parametrize("scenario", [Path("scenarios/regions-2025.yaml"), None])
def test_solve_writes_parquet_columns_equal_to_the_json_result(
    tmp_path: Path, scenario: Path | None
) -> None:
    if scenario is None:  # 300 firms from Parquet, with a group rule
        write_columnar(tmp_path / "firms.parquet", arrow_table(firm_rows(300), COLUMNS))
        scenario = scenario_file(tmp_path, "firms.parquet")
    as_json = cli_run("solve", scenario, "--format", "json", "--no-checks")
    assert as_json.exit_code == 0, as_json.output
    expected = json.loads(as_json.stdout)["allocations"]
    out = tmp_path / "x.parquet"
    written = cli_run("solve", scenario, "--format", "parquet", "--out", out, "--no-checks")
    assert written.exit_code == 0, written.output
    assert f"wrote parquet output to {out}" in written.stderr
    table = pq.read_table(out)
    assert table.column_names == list(cli.CSV_COLUMNS)
    assert table.schema.field("units").type == pa.int64()
    assert table.schema.field("amount").type == pa.float64()
    rows = table.to_pylist()
    assert len(rows) == len(expected) > 0
    for row, allocation in zip(rows, expected, strict=True):
        for name in cli.CSV_COLUMNS:
            want = allocation[name]
            if name == "binding":
                want = ";".join(want)
            assert row[name] == want, (name, row, allocation)
    if scenario.name == "regions-2025.yaml":
        assert any(row["binding"] for row in rows) and all(row["grade"] for row in rows)


def test_csv_and_parquet_carry_the_same_columns_and_values(tmp_path: Path) -> None:
    scenario = Path("scenarios/regions-2025.yaml")
    as_csv = cli_run("solve", scenario, "--format", "csv", "--no-checks")
    assert as_csv.exit_code == 0, as_csv.output
    csv_rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert (
        cli_run(
            "solve", scenario, "-f", "parquet", "-o", tmp_path / "x.parquet", "--no-checks"
        ).exit_code
        == 0
    )
    parquet_rows = pq.read_table(tmp_path / "x.parquet").to_pylist()
    assert list(csv_rows[0]) == list(parquet_rows[0]) == list(cli.CSV_COLUMNS)
    for text_row, typed in zip(csv_rows, parquet_rows, strict=True):
        assert text_row["id"] == typed["id"] and int(text_row["units"]) == typed["units"]
        assert float(text_row["entitlement"]) == typed["entitlement"]
        assert text_row["binding"] == typed["binding"]


def test_parquet_needs_an_out_file(tmp_path: Path) -> None:
    answer = cli_run("solve", "scenarios/regions-2025.yaml", "--format", "parquet")
    assert answer.exit_code == 2
    assert answer.stdout == ""
    assert "--out: --format parquet writes a file: give --out FILE.parquet" in answer.stderr


# --------------------------------------------------------------------------- benchmark


def test_the_columnar_benchmark_runs_its_pipelines_and_checks_the_answer(tmp_path: Path) -> None:
    from benchmarks import columnar

    rows = columnar.measure(300, 1, tmp_path)
    assert [r.pipeline.split(":")[0].split(",")[0] for r in rows] == [
        "floor",
        *["allot solve"] * 5,  # the paradox-check run; then the two gated ones with the pool
        "floor",  # single-threaded, and the two gated runs against it
        *["allot solve"] * 2,
    ]
    assert rows[0].ratio == 1.0 and all(r.cpu_s > 0 and r.ratio is not None for r in rows)
    gated = [r for r in rows if r.gate is not None]
    assert [r.pipeline for r in gated] == [
        r.pipeline for r in rows[1:4] if "checks)" not in r.pipeline
    ]
    single = rows[6]
    assert single.pipeline.endswith("OpenBLAS single-threaded") and single.reference is None
    for row, again in zip(gated, rows[7:], strict=True):
        assert again.pipeline == f"{row.pipeline}, against it" and again.gate is None
        assert again.reference == single.pipeline and again.cpu_s == row.cpu_s
        assert again.ratio == round(row.cpu_s / single.cpu_s, 2)
    assert all(r.reference == rows[0].pipeline for r in rows[4:6])
    floor = pq.read_table(tmp_path / "floor.parquet")
    allot = pq.read_table(tmp_path / "out.parquet")
    assert floor.num_rows == allot.num_rows == 300
    assert floor.num_columns == allot.num_columns == len(cli.CSV_COLUMNS)
    # the check compares the Parquet run with the JSON run, and fails when they differ
    table = allot.to_pydict()
    table["units"][0] += 1
    pq.write_table(pa.table(table), tmp_path / "out.parquet")
    with pytest.raises(SystemExit, match="CHECK FAILED"):
        columnar.same_answer(tmp_path / "out.parquet", tmp_path / "out.json")


def test_the_columnar_gates_fail_only_where_enforced_and_on_the_million_rows_memory() -> None:
    from benchmarks.columnar import (
        GATES,
        MILLION_PEAK_MB,
        Row,
        enforced_failures,
        failures,
        markdown,
    )

    json_gate, parquet_gate = GATES["json"], GATES["parquet"]
    held = Row("allot solve, JSON", 1.0, 1.0, json_gate, json_gate, 100.0, True)
    over = Row("allot solve, JSON", 1.0, 1.0, json_gate + 0.01, json_gate, 100.0, True)
    reported = Row("allot solve, Parquet", 1.0, 1.0, parquet_gate + 1, parquet_gate, 1.0, False)
    heavy = Row("million", 9.0, 9.0, 2.0, GATES["million"], MILLION_PEAK_MB + 1, True)
    assert held.held is True and over.held is False and reported.held is False
    assert failures([held]) == [] and enforced_failures([held, reported]) == []
    assert failures([reported]) == [
        f"allot solve, Parquet: {parquet_gate + 1:.2f} x its reference, "
        f"over the gate {parquet_gate:g}"
    ]
    assert enforced_failures([over]) == [
        f"allot solve, JSON: {json_gate + 0.01:.2f} x its reference, over the gate {json_gate:g}"
    ]
    assert failures([heavy]) == [f"million: peak {MILLION_PEAK_MB + 1:,.0f} MB, over 2,048"]
    table = markdown([held, reported], 10)
    assert "holds" in table and "FAILS (not enforced)" in table


def test_a_gate_measured_again_keeps_each_sides_best() -> None:
    """``best_of``: each pipeline keeps its lower CPU time and the larger peak, and a ratio
    divides the best by its reference's best (not by the reference of the same run)."""
    from benchmarks.columnar import GATES, Row, best_of, enforced_failures

    gate = GATES["parquet"]

    def run(floor: float, allot: float, peak: float) -> list[Row]:
        reference = Row("floor", floor, floor, 1.0, None, 100.0)
        return [
            reference,
            Row("allot", allot, allot, round(allot / floor, 2), gate, peak, True, "floor"),
        ]

    noisy = run(0.40, 1.40, 300.0)  # 3.5x: over the gate
    quiet_floor = run(0.30, 1.50, 200.0)  # the floor's best, Allot's worst
    merged = best_of(noisy, quiet_floor)
    assert [r.cpu_s for r in merged] == [0.30, 1.40]
    assert merged[1].ratio == round(1.40 / 0.30, 2) and merged[1].peak_mb == 300.0
    assert enforced_failures(merged)  # 4.67x: still over
    merged = best_of(merged, run(0.35, 0.80, 250.0))
    assert merged[1].ratio == round(0.80 / 0.30, 2) and not enforced_failures(merged)


def test_an_infeasible_run_writes_an_empty_table_and_exits_1(tmp_path: Path) -> None:
    out = tmp_path / "x.parquet"
    answer = cli_run("solve", "scenarios/regions-2025-infeasible.yaml", "-f", "parquet", "-o", out)
    assert answer.exit_code == 1
    assert "infeasible: sum of floors is 1,260 > budget 1,200" in answer.stderr
    table = pq.read_table(out)
    assert table.num_rows == 0 and table.column_names == list(cli.CSV_COLUMNS)


def test_feather_version_1_files_are_read_too(tmp_path: Path) -> None:
    table = arrow_table(firm_rows(4), COLUMNS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pyarrow deprecates writing v1
        feather.write_feather(table, tmp_path / "r.feather", version=1)
    assert [r["id"] for r in read_recipients(tmp_path / "r.feather")] == [
        f"{i:06d}" for i in range(4)
    ]


def test_a_parquet_file_too_large_once_decompressed_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from optimizer import columnar

    table = arrow_table(firm_rows(2000), COLUMNS)
    write_columnar(tmp_path / "firms.parquet", table)
    assert len(load_scenario(scenario_file(tmp_path, "firms.parquet")).recipients) == 2000
    monkeypatch.setattr(columnar, "MAX_DECODED_BYTES", 10_000)
    problems = problems_of(scenario_file(tmp_path, "firms.parquet"))
    assert [p.path for p in problems] == ["recipients.file"]
    assert problems[0].message.startswith("firms.parquet is too large once decompressed (")
    assert problems[0].message.endswith("bytes; at most 10,000)")


def _without_rules(tmp_path: Path, recipients_file: str) -> tuple[Path, dict[str, Any]]:
    """A scenario file naming ``recipients_file``, and its data with the file's rows read as
    dicts (what validation sees when an ``extends`` merges rows)."""
    data = {"name": "firms", "budget": 2000, "recipients": {"file": recipients_file}}
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path, {**data, "recipients": read_recipients(tmp_path / recipients_file)}


def test_columns_read_as_arrays_give_the_scenario_of_the_dicts(tmp_path: Path) -> None:
    """A file without criteria or hard columns is validated as columns (numbers as arrays,
    tags as columns): the same recipients, dumps, tags (their keys in the same order) and
    hash as its rows read as dicts, with blanks, a blank row, gaps in tags, whole floats and
    a negative zero."""
    table = pa.table(
        {
            "id": ["b", "a", None, "c", "d"],
            "score": pa.array([1.5, 2.0, None, 3.0, 7.0]),
            "weight": pa.array([None, 0.5, None, -0.0, 1.0]),
            "floor": pa.array([1.0, None, None, 2.0, 0.0]),  # whole floats
            "cap": pa.array([None, 9, None, 5, 3], pa.int16()),
            "previous": pa.array([2.5, None, None, 4.0, None], pa.float32()),
            "tags.region": ["x", "y", None, None, "x"],
            "tags.kind": pa.array(["k", None, None, "m", "k"]).dictionary_encode(),
            "tags.size": ["s", "s", None, "s", "s"],
        }
    )
    write_columnar(tmp_path / "r.parquet", table)
    path, data = _without_rules(tmp_path, "r.parquet")
    from_columns, from_dicts = load_scenario(path), Scenario.from_data(data)
    table_read = from_columns.recipients
    assert isinstance(table_read, RecipientTable)
    assert table_read.tag_column("kind") == ["k", None, "m", "k"]
    assert table_read.tag_column("other") == [None] * 4
    assert table_read.labels == ["b", "a", "c", "d"]  # (no names: the ids)
    assert from_columns.content_hash == from_dicts.content_hash
    assert from_columns.canonical_text() == from_dicts.canonical_text()
    assert table_read.row(2) == from_dicts.recipients[2]
    assert from_columns.model_dump() == from_dicts.model_dump()
    assert [list(t) for t in table_read.tags] == [list(r.tags) for r in from_dicts.recipients]
    assert [list(t) for t in table_read.tags] == [
        ["size", "region", "kind"],
        ["size", "region"],
        ["size", "kind"],
        ["size", "region", "kind"],
    ]
    assert from_columns == from_dicts
    assert pickle.loads(pickle.dumps(table_read)) == from_dicts.recipients


def test_bad_rows_among_columns_read_as_arrays_are_worded_by_the_model(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": ["a", " b", "c", "d"],
            "score": pa.array([1.0, 2.0, 0.0, 1.0]),
            "floor": pa.array([1.5, 1.0, 1.0, 3.0]),
            "cap": pa.array([None, 4, 3, 2], pa.int64()),
            "tags.t": ["x", "y", "z" * 201, "w"],
        }
    )
    write_columnar(tmp_path / "r.parquet", table)
    path, data = _without_rules(tmp_path, "r.parquet")
    problems = problems_of(path)
    with pytest.raises(InputError) as caught:
        Scenario.from_data(data)
    assert problems == list(caught.value.problems)
    assert [p.path for p in problems] == [
        "recipients[0].floor",
        "recipients[1].id",
        "recipients[2].score",
        "recipients[2].tags.t",
        "recipients[3].cap",
    ]


def _blank_by_compute(array: pa.Array) -> list[bool]:
    """Blank cells as Arrow's compute functions find them (null, NaN, only white space)."""
    import pyarrow.compute as pc

    blank = pc.is_null(array, nan_is_null=True)
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        empty = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(array)), 0)
        blank = pc.or_kleene(blank, pc.and_kleene(empty, pc.is_valid(array)))
    return [bool(b) for b in blank.to_pylist()]


@given(
    st.lists(
        st.one_of(st.none(), st.text(alphabet=st.sampled_from(" \t\u3000\xa0\x1c가a\u2028"))),
        max_size=12,
    ),
    st.sampled_from([pa.string(), pa.large_string()]),
    st.integers(0, 3),
)
def test_blank_text_cells_read_from_buffers_are_those_arrow_finds(
    cells: list[str | None], kind: pa.DataType, offset: int
) -> None:
    array = pa.array(cells, kind).slice(min(offset, len(cells)))
    assert columnar._blank_mask(array).tolist() == _blank_by_compute(array)


@given(
    st.lists(st.one_of(st.none(), st.integers(-(2**31), 2**31)), max_size=12),
    st.sampled_from([pa.int8(), pa.uint16(), pa.int32(), pa.uint64(), pa.float32(), pa.float64()]),
    st.integers(0, 3),
    st.booleans(),
)
def test_number_cells_read_from_buffers_are_those_arrow_reads(
    cells: list[Any], kind: pa.DataType, offset: int, nan: bool
) -> None:
    """Blanks (nulls, NaN) and values of integer and float columns read from their buffers,
    as Arrow's cast reads them."""
    import pyarrow.compute as pc

    if pa.types.is_integer(kind):
        bits = kind.bit_width
        low = -(2 ** (bits - 1)) if pa.types.is_signed_integer(kind) else 0
        cells = [None if c is None else low + c % 2**bits for c in cells]
    else:
        cells = [
            None if c is None else float("nan") if nan and c % 3 == 0 else (c % 2**20) / 4
            for c in cells
        ]
    array = pa.array(cells, kind).slice(min(offset, len(cells)))
    blank = columnar._blank_mask(array)
    assert blank.tolist() == _blank_by_compute(array)
    numbers = columnar._numbers_of(array)
    assert numbers is not None
    expected = pc.cast(array, pa.float64(), safe=False).to_pylist()
    assert [v for v, b in zip(numbers.tolist(), blank, strict=True) if not b] == [
        v for v, b in zip(expected, blank, strict=True) if not b
    ]


def test_every_character_is_blank_or_not_as_arrow_trims_it() -> None:
    """A text of characters other than printable ASCII is looked at by ``str.strip``: it
    finds white space where Arrow's Unicode trim does, for every character."""
    characters = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    texts = pa.array([*characters, " \u3000\t", "\xa0가", "", None])
    assert columnar._blank_mask(texts).tolist() == _blank_by_compute(texts)


@given(
    st.lists(st.one_of(st.none(), st.sampled_from(["a", " ", "가", "", "\u3000", "b c"]))),
    st.sampled_from([pa.int8(), pa.int32(), pa.uint16()]),
    st.integers(0, 3),
)
def test_a_tag_read_as_a_dictionary_is_the_tag_decoded(
    cells: list[str | None], index: pa.DataType, offset: int
) -> None:
    """Blank cells and texts of a tag column read as a dictionary (each distinct text once)
    are those of the column decoded."""
    encoded = pa.array(cells, pa.string()).dictionary_encode()
    array = pa.DictionaryArray.from_arrays(encoded.indices.cast(index), encoded.dictionary)
    array = array.slice(min(offset, len(cells)))
    decoded = array.dictionary_decode()
    blank = columnar._blank_mask(decoded)
    assert columnar._blank_mask(array).tolist() == blank.tolist()
    assert columnar._text_values(array, blank) == columnar._text_values(decoded, blank)
