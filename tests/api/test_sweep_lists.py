"""Sweeps and comparisons out of the service: the sweeps list (paged, by name and status), a
sweep's summary table and its CSV/XLSX, comparisons as CSV/XLSX, a run with the scenario it
ran, and a runs list without sweep items."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import openpyxl
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.db import Database, Role, Run
from api.main import create_app
from optimizer.compare import compare
from optimizer.loading import validate_data
from optimizer.overrides import apply_overrides
from optimizer.solve import solve
from tests.api.conftest import DatabaseTarget, make_token, scenario_data, wait_for_run

Auth = Callable[..., dict[str, str]]
BOM = "\ufeff"


def _direct(name: str, overrides: list[str]) -> dict[str, Any]:
    data = apply_overrides(scenario_data(name), overrides)
    result: dict[str, Any] = json.loads(json.dumps(solve(validate_data(data)).to_dict()))
    return result


def _sweep(client: TestClient, auth: Auth, name: str, spec: str) -> dict[str, Any]:
    stored = client.post("/v1/scenarios", json=scenario_data(name), headers=auth()).json()
    answer = client.post(
        "/v1/sweeps", json={"scenario_id": stored["id"], "set": spec}, headers=auth()
    )
    assert answer.status_code in (201, 202), answer.text
    sweep: dict[str, Any] = answer.json()
    for run in sweep["runs"]:
        wait_for_run(client, run["id"], auth(), timeout=120)
    again: dict[str, Any] = client.get(f"/v1/sweeps/{sweep['id']}", headers=auth()).json()
    return again


def _csv(answer: Any) -> list[list[str]]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith(BOM.encode())  # Excel reads Hangul as UTF-8
    return list(csv.reader(io.StringIO(answer.content.decode("utf-8").removeprefix(BOM))))


def test_a_sweeps_summary_table_is_values_by_units(client: TestClient, auth: Auth) -> None:
    sweep = _sweep(client, auth, "regions-2025-metro-cap.yaml", "budget=1100,1300")
    table = sweep["summary"]
    assert table["parameter"] == "budget"
    expected = [_direct("regions-2025-metro-cap.yaml", [f"budget={b}"]) for b in (1100, 1300)]
    ids = [a["id"] for a in expected[0]["allocations"]]
    assert [r["id"] for r in table["recipients"]] == ids
    assert table["recipients"][0]["name"] == expected[0]["allocations"][0]["name"]
    for row, budget, result in zip(table["rows"], (1100, 1300), expected, strict=True):
        assert row["value"] == budget and row["status"] == "done" and row["outcome"] == "optimal"
        assert row["units"] == [a["units"] for a in result["allocations"]]
        assert row["total"] == budget
        assert row["objective"] == result["metrics"]["objective"]
    light = client.get(f"/v1/sweeps/{sweep['id']}?results=false", headers=auth()).json()
    assert all(run["result"] is None for run in light["runs"])
    assert light["summary"] == table

    rows = _csv(client.get(f"/v1/sweeps/{sweep['id']}?format=csv", headers=auth("committee")))
    header = rows[0]
    assert header[:6] == ["budget", "run", "status", "outcome", "objective", "total units"]
    assert header[6] == f"{expected[0]['allocations'][0]['name']} ({ids[0]})"
    assert [row[0] for row in rows[1:]] == ["1100", "1300"]
    assert rows[1][6:] == [str(a["units"]) for a in expected[0]["allocations"]]

    answer = client.get(f"/v1/sweeps/{sweep['id']}?format=xlsx", headers=auth("committee"))
    assert answer.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    sheet = book["sweep"]
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == header
    assert values[2][0] == 1300 and list(values[2][6:]) == [
        a["units"] for a in expected[1]["allocations"]
    ]
    assert sheet.cell(row=2, column=7).number_format == "#,##0"
    about = dict(book["about"].iter_rows(values_only=True))
    assert about["set"] == "budget=1100,1300"


def test_an_infeasible_point_has_no_units_in_the_table(client: TestClient, auth: Auth) -> None:
    sweep = _sweep(client, auth, "regions-2025-metro-cap.yaml", "rules[2].max_share=0.2,0.5")
    first, second = sweep["summary"]["rows"]
    assert first["outcome"] == "infeasible" and set(first["units"]) == {None}
    assert first["total"] is None and second["total"] == 1200
    rows = _csv(client.get(f"/v1/sweeps/{sweep['id']}?format=csv", headers=auth()))
    assert rows[1][5:] == [""] * (len(rows[0]) - 5)


def test_the_sweeps_list_is_paged_and_filtered(
    client: TestClient, auth: Auth, database: Database
) -> None:
    base = _sweep(client, auth, "regions-2025.yaml", "budget=1100,1200")
    cut = _sweep(client, auth, "regions-2025-cut.yaml", "budget=900,1000,1100")
    every = client.get("/v1/sweeps", headers=auth("committee")).json()
    assert every["total"] == 2 and [s["id"] for s in every["items"]] == [cut["id"], base["id"]]
    first = every["items"][1]
    assert first["status"] == "done" and first["parameter"] == "budget"
    assert first["runs"] == {"queued": 0, "running": 0, "done": 2, "failed": 0, "cancelled": 0}
    assert "summary" not in first
    page = client.get("/v1/sweeps?limit=1&offset=1", headers=auth()).json()
    assert [s["id"] for s in page["items"]] == [base["id"]] and page["total"] == 2
    named = client.get("/v1/sweeps", params={"name": "CUT 10%"}, headers=auth()).json()
    assert [s["id"] for s in named["items"]] == [cut["id"]]
    # one failed run makes the cut sweep "failed" (set past the ORM's guard on final runs)
    with database.transaction() as session:
        session.execute(update(Run).where(Run.id == cut["runs"][0]["id"]).values(status="failed"))
    failed = client.get("/v1/sweeps?status=failed", headers=auth()).json()
    assert [s["id"] for s in failed["items"]] == [cut["id"]]
    assert failed["items"][0]["runs"]["failed"] == 1
    assert client.get(f"/v1/sweeps/{cut['id']}", headers=auth()).json()["status"] == "failed"
    done = client.get("/v1/sweeps?status=done", headers=auth()).json()
    assert [s["id"] for s in done["items"]] == [base["id"]]
    bad = client.get("/v1/sweeps?status=finished", headers=auth())
    assert bad.status_code == 422 and bad.json()["detail"][0]["path"].endswith("status")


def test_a_comparison_downloads_as_csv_and_xlsx(client: TestClient, auth: Auth) -> None:
    sweep = _sweep(client, auth, "regions-2025.yaml", "budget=1100,1300")
    run_ids = [run["id"] for run in sweep["runs"]]
    body = {"run_ids": run_ids}
    results = [_direct("regions-2025.yaml", [f"budget={b}"]) for b in (1100, 1300)]
    expected = compare(results, labels=[f"run {i}" for i in run_ids])
    rows = _csv(client.post("/v1/compare?format=csv", json=body, headers=auth("committee")))
    header = rows[0]
    assert header[:4] == ["id", "name", f"units run {run_ids[0]}", f"units run {run_ids[1]}"]
    by_id = {row[0]: row for row in rows[1:]}
    for recipient in expected["recipients"]:
        row = by_id[recipient["id"]]
        assert row[1] == recipient["name"]  # Hangul, readable once the BOM is honoured
        assert [int(row[2]), int(row[3])] == recipient["units"]
        assert int(row[4]) == recipient["diff_units"][1]
    answer = client.post("/v1/compare?format=xlsx", json=body, headers=auth("committee"))
    assert answer.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    table = list(book["comparison"].iter_rows(values_only=True))
    assert list(table[0]) == header
    assert {r[0]: [r[2], r[3]] for r in table[1:]} == {
        r["id"]: r["units"] for r in expected["recipients"]
    }


def test_a_run_returns_the_scenario_it_ran_checked_by_hash(
    client: TestClient, auth: Auth, database: Database
) -> None:
    inline = scenario_data("regions-2025-cut.yaml")
    answer = client.post(
        "/v1/runs", json={"scenario": inline, "overrides": ["budget=1000"]}, headers=auth()
    )
    assert answer.status_code in (201, 202), answer.text
    run_id = answer.json()["id"]
    plain = client.get(f"/v1/runs/{run_id}", headers=auth()).json()
    assert "scenario" not in plain and "scenario_verified" not in plain
    full = client.get(f"/v1/runs/{run_id}?include=scenario", headers=auth("committee")).json()
    assert full["scenario"]["budget"] == 1000
    assert validate_data(full["scenario"]).content_hash == full["scenario_hash"]
    assert full["scenario_verified"] is True
    changed = dict(full["scenario"], budget=999)
    with database.transaction() as session:  # a body changed behind the service's back
        session.execute(update(Run).where(Run.id == run_id).values(scenario_body=changed))
    tampered = client.get(f"/v1/runs/{run_id}?include=scenario", headers=auth()).json()
    assert tampered["scenario"]["budget"] == 999 and tampered["scenario_verified"] is False
    bad = client.get(f"/v1/runs/{run_id}?include=everything", headers=auth())
    assert bad.status_code == 422


def test_the_runs_list_can_hide_sweep_items(client: TestClient, auth: Auth) -> None:
    sweep = _sweep(client, auth, "regions-2025.yaml", "budget=1100,1200,1300")
    single = client.post(
        "/v1/runs", json={"scenario": scenario_data("regions-2025.yaml")}, headers=auth()
    ).json()
    every = client.get("/v1/runs", headers=auth()).json()
    assert every["total"] == 4
    alone = client.get("/v1/runs?sweep_items=false", headers=auth()).json()
    assert alone["total"] == 1 and [r["id"] for r in alone["items"]] == [single["id"]]
    assert all(r["sweep_id"] == sweep["id"] for r in every["items"] if r["id"] != single["id"])
    # each listed run says the budget it allocated and its result's objective
    objectives = {row["run_id"]: row["objective"] for row in sweep["summary"]["rows"]}
    listed = {r["id"]: r for r in every["items"]}
    for run in sweep["runs"]:
        assert listed[run["id"]]["budget"] == run["sweep_value"]
        assert listed[run["id"]]["objective"] == objectives[run["id"]] is not None
    assert listed[single["id"]]["budget"] == 1200


def test_queued_and_running_sweeps_are_listed_as_such(target: DatabaseTarget) -> None:
    app = create_app(target.settings(workers=0))  # no worker: runs stay where they are put
    with TestClient(app) as client:
        database: Database = app.state.database
        headers = {"Authorization": f"Bearer {make_token(database, Role.PLANNER)}"}
        body = {"scenario": scenario_data(), "set": "budget=1000,1100"}
        first = client.post("/v1/sweeps?async=true", json=body, headers=headers).json()
        second = client.post("/v1/sweeps?async=true", json=body, headers=headers).json()
        with database.transaction() as session:
            run_id = second["runs"][0]["id"]
            session.execute(update(Run).where(Run.id == run_id).values(status="running"))
        for status, sweep in (("queued", first), ("running", second)):
            listed = client.get(f"/v1/sweeps?status={status}", headers=headers).json()
            assert [s["id"] for s in listed["items"]] == [sweep["id"]]
            one = client.get(f"/v1/sweeps/{sweep['id']}", headers=headers).json()
            assert one["status"] == status
            assert [row["status"] for row in one["summary"]["rows"]] == [
                run["status"] for run in one["runs"]
            ]


def test_allocation_csv_amounts_are_exact_integers(client: TestClient, auth: Auth) -> None:
    value = 834_713_546_730_001  # units x value passes 2**53: a float would lose the last digits
    data = dict(scenario_data(), unit={"label": "won", "value": value})
    answer = client.post("/v1/runs", json={"scenario": data}, headers=auth())
    assert answer.status_code in (201, 202), answer.text
    run = wait_for_run(client, answer.json()["id"], auth())
    units = {a["id"]: a["units"] for a in run["result"]["allocations"]}
    base = f"/v1/runs/{run['id']}/allocations?format=csv"
    rows = _csv(client.get(base, headers=auth("committee")))
    amount_at = rows[0].index("amount")
    assert {row[0]: int(row[amount_at]) for row in rows[1:]} == {
        rid: u * value for rid, u in units.items()
    }
    assert all("e+" not in row[amount_at] for row in rows[1:])
