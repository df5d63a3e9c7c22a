"""Sweeps over a grid of several parameters through the service: the same grid as ``allot
sweep --set a=... --set b=...`` (first parameter varying slowest), each point solved as
``allot solve`` would solve it, a summary table and CSV/XLSX with a column per parameter, and
a bounded grid size (a clear 422, nothing stored)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from api.db import Database, Sweep
from optimizer.cli import app as cli_app
from optimizer.loading import validate_data
from optimizer.overrides import apply_overrides
from optimizer.solve import solve
from optimizer.sweep import grid, parse_axis
from tests.api.conftest import SCENARIOS, counts, scenario_data, wait_for_run

Auth = Callable[..., dict[str, str]]
BOM = "\ufeff"
runner = CliRunner()
SETS = ["budget=1100,1300", "recipients[jeju].floor=30:50:20"]


def _direct(overrides: list[str]) -> dict[str, Any]:
    data = apply_overrides(scenario_data(), overrides)
    result: dict[str, Any] = json.loads(json.dumps(solve(validate_data(data)).to_dict()))
    return result


def _grid_sweep(client: TestClient, auth: Auth, sets: list[str]) -> dict[str, Any]:
    stored = client.post("/v1/scenarios", json=scenario_data(), headers=auth()).json()
    answer = client.post(
        "/v1/sweeps", json={"scenario_id": stored["id"], "set": sets}, headers=auth()
    )
    assert answer.status_code in (201, 202), answer.text
    sweep: dict[str, Any] = answer.json()
    for run in sweep["runs"]:
        wait_for_run(client, run["id"], auth(), timeout=120)
    again: dict[str, Any] = client.get(f"/v1/sweeps/{sweep['id']}", headers=auth()).json()
    return again


def test_a_grid_sweep_runs_every_point_as_the_cli_grid(client: TestClient, auth: Auth) -> None:
    sweep = _grid_sweep(client, auth, SETS)
    points = list(grid([parse_axis(spec) for spec in SETS]))
    assert len(points) == 4 and len(sweep["runs"]) == 4
    assert sweep["parameters"] == ["budget", "recipients[jeju].floor"]
    assert sweep["parameter"] == "budget × recipients[jeju].floor"
    assert [axis["values"] for axis in sweep["axes"]] == [[1100, 1300], [30, 50]]
    assert [axis["set"] for axis in sweep["axes"]] == SETS
    assert sweep["values"] == [[1100, 30], [1100, 50], [1300, 30], [1300, 50]]
    table = sweep["summary"]
    assert table["parameters"] == sweep["parameters"]
    for run, row, point in zip(sweep["runs"], table["rows"], points, strict=True):
        overrides = [f"{path}={text}" for path, text in point]
        expected = _direct(overrides)
        assert run["overrides"] == overrides and run["sweep_value"] == row["values"]
        assert row["values"] == [int(text) for _, text in point]
        assert run["result"]["allocations"] == expected["allocations"]
        assert row["units"] == [a["units"] for a in expected["allocations"]]
        assert row["total"] == row["values"][0]
    jeju = [r["id"] for r in table["recipients"]].index("jeju")
    assert [row["units"][jeju] >= row["values"][1] for row in table["rows"]] == [True] * 4
    listed = client.get("/v1/sweeps", headers=auth("committee")).json()["items"]
    assert listed[0]["parameters"] == sweep["parameters"]


def test_the_api_grid_is_the_cli_grid(client: TestClient, auth: Auth) -> None:
    """``allot sweep --set ... --set ... -f json`` on the file and the API's sweep of the same
    stored scenario: the same points in the same order, the same units and scenario hashes."""
    answer = runner.invoke(
        cli_app,
        [
            "sweep",
            str(SCENARIOS / "regions-2025.yaml"),
            *(f"--set={s}" for s in SETS),
            "-f",
            "json",
        ],
    )
    assert answer.exit_code == 0, answer.output
    cli = json.loads(answer.stdout)
    sweep = _grid_sweep(client, auth, SETS)
    assert cli["parameters"] == sweep["parameters"]
    assert [list(v["values"].values()) for v in cli["variants"]] == sweep["values"]
    for variant, run in zip(cli["variants"], sweep["runs"], strict=True):
        assert variant["units"] == {a["id"]: a["units"] for a in run["result"]["allocations"]}
        assert variant["scenario"]["hash"] == run["scenario_hash"]


def test_a_grid_sweep_downloads_with_a_column_per_parameter(client: TestClient, auth: Auth) -> None:
    sweep = _grid_sweep(client, auth, SETS)
    answer = client.get(f"/v1/sweeps/{sweep['id']}?format=csv", headers=auth("committee"))
    assert answer.status_code == 200 and answer.content.startswith(BOM.encode())
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8").removeprefix(BOM))))
    assert rows[0][:3] == ["budget", "recipients[jeju].floor", "run"]
    assert [row[:2] for row in rows[1:]] == [
        ["1100", "30"],
        ["1100", "50"],
        ["1300", "30"],
        ["1300", "50"],
    ]
    assert rows[1][2] == str(sweep["runs"][0]["id"]) and rows[1][3] == "done"
    answer = client.get(f"/v1/sweeps/{sweep['id']}?format=xlsx", headers=auth("committee"))
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    values = list(book["sweep"].iter_rows(values_only=True))
    assert list(values[0][:3]) == ["budget", "recipients[jeju].floor", "run"]
    assert [tuple(row[:2]) for row in values[1:]] == [
        (1100, 30),
        (1100, 50),
        (1300, 30),
        (1300, 50),
    ]
    about = dict(book["about"].iter_rows(values_only=True))
    assert about["set"] == "; ".join(SETS)


def test_a_one_item_list_is_the_one_parameter_sweep(client: TestClient, auth: Auth) -> None:
    sweep = _grid_sweep(client, auth, ["budget=1100,1200"])
    assert sweep["parameter"] == "budget" and sweep["spec"] == "budget=1100,1200"
    assert sweep["values"] == [1100, 1200]
    assert [run["sweep_value"] for run in sweep["runs"]] == [1100, 1200]
    assert [row["values"] for row in sweep["summary"]["rows"]] == [[1100], [1200]]


@pytest.mark.parametrize(
    ("sets", "path", "words"),
    [
        (["budget=1000:1100:1", "recipients[jeju].floor=30,31"], "set", "202 variants"),
        (["budget=1000:2000:1"], "set[0]", "1001 values"),
        (["budget=1100,1200", "budget=1300"], "set[1]", "already swept"),
        (["budget=1100", "nonexistent=3"], "nonexistent", "unknown field"),
        (["budget=1100", "extends=/etc/passwd"], "extends", "cannot be"),
        (["budget=1100", "recipients[nobody].floor=3"], "recipients[nobody]", "no item"),
        (["budget=1100", "recipients[jeju].floor=1:2"], "set[1]", "start:stop:step"),
        ([], "set", "give 1 to 6"),
        (["budget=1"] * 7, "set", "(got 7)"),
        ([3], "set", "must be path=values"),
        (["x" * 10_001], "set", "longer than"),
    ],
)
def test_a_bad_grid_is_refused_with_its_path(
    client: TestClient,
    auth: Auth,
    database: Database,
    sets: list[str],
    path: str,
    words: str,
) -> None:
    stored = client.post("/v1/scenarios", json=scenario_data(), headers=auth()).json()
    before = counts(database)
    answer = client.post(
        "/v1/sweeps", json={"scenario_id": stored["id"], "set": sets}, headers=auth()
    )
    assert answer.status_code == 422, answer.text
    problems = answer.json()["detail"]
    assert any(p["path"].endswith(path) and words in p["message"] for p in problems), problems
    assert counts(database) == before


def test_a_sweep_stored_before_grids_reads_as_one_parameter(
    client: TestClient, auth: Auth, database: Database
) -> None:
    sweep = _grid_sweep(client, auth, ["budget=1100,1200"])
    with database.transaction() as session:  # as migration 0006 leaves an older sweep
        session.execute(update(Sweep).where(Sweep.id == sweep["id"]).values(axes=None))
    again = client.get(f"/v1/sweeps/{sweep['id']}", headers=auth()).json()
    assert again["parameters"] == ["budget"]
    assert again["axes"] == [
        {"parameter": "budget", "set": "budget=1100,1200", "values": [1100, 1200]}
    ]
    assert [row["values"] for row in again["summary"]["rows"]] == [[1100], [1200]]
    answer = client.get(f"/v1/sweeps/{sweep['id']}?format=csv", headers=auth())
    assert answer.content.decode("utf-8-sig").splitlines()[0].startswith("budget,run,status")
