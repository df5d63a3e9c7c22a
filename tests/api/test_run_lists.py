"""Run lists read a run's budget, unit and objective from the database's JSON functions,
never loading the scenario and result themselves (20 MB each at 100,000 recipients), and
show the same values as the run's own page."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import inspect

from api import store
from api.db import Database
from tests.api.conftest import scenario_data, wait_for_run

Auth = Callable[..., dict[str, str]]


def test_a_list_shows_what_the_run_shows_without_loading_it(
    client: TestClient, auth: Auth, database: Database
) -> None:
    won = scenario_data("regions-2025.yaml")
    won["unit"] = {"label": "KRW", "value": 1}
    won["budget"] = 286_400_000_000_000  # past 2^32 and 2^47: the JSON number stays exact
    ids = []
    for data in (scenario_data("regions-2025-metro-cap.yaml"), won):
        answer = client.post("/v1/runs", json={"scenario": data}, headers=auth())
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    infeasible = client.post(
        "/v1/runs", json={"scenario": scenario_data("regions-2025-infeasible.yaml")}, headers=auth()
    )
    ids.append(infeasible.json()["id"])

    listed = {item["id"]: item for item in client.get("/v1/runs", headers=auth()).json()["items"]}
    for run_id in ids:
        run = client.get(f"/v1/runs/{run_id}", headers=auth()).json()
        assert listed[run_id]["budget"] == run["budget"]
        assert listed[run_id]["objective"] == run["objective"]
    assert listed[ids[1]]["budget"] == 286_400_000_000_000
    assert listed[ids[0]]["objective"] is not None and listed[ids[2]]["objective"] is None

    with database.transaction() as session:
        rows, _ = store.list_runs(
            session, status=None, scenario_id=None, sweep_id=None, limit=10, offset=0
        )
        for row in rows:
            assert {"scenario_body", "result"} <= inspect(row).unloaded
        summaries = {row.id: row.summary() for row in rows}
    with database.transaction() as session:
        for run_id in ids:
            full = store.get_run(session, run_id)
            assert summaries[run_id] == full.summary()
    assert summaries[ids[1]][1] == {"label": "KRW", "value": 1}


def test_listed_objectives_are_the_runs_own_to_the_last_digit(
    client: TestClient, auth: Auth
) -> None:
    """The objective a list reads from the JSON text is the run's own float, every digit
    (a double parsed by the database may differ from Python's in the last one)."""
    stored = client.post(
        "/v1/scenarios", json=scenario_data("regions-2025-metro-cap.yaml"), headers=auth()
    ).json()
    answer = client.post(
        "/v1/sweeps",
        json={"scenario_id": stored["id"], "set": "budget=1050:1350:15"},
        headers=auth(),
    )
    assert answer.status_code == 201, answer.text
    runs = {r["id"]: wait_for_run(client, r["id"], auth()) for r in answer.json()["runs"]}
    listed = client.get("/v1/runs?limit=100", headers=auth()).json()["items"]
    assert sorted(item["id"] for item in listed) == sorted(runs) and len(runs) == 21
    compared = 0
    for item in listed:
        result = runs[item["id"]]["result"] or {}
        objective = (result.get("metrics") or {}).get("objective")
        assert repr(item["objective"]) == repr(objective)
        compared += objective is not None
    assert compared >= 15  # the feasible budgets (the highest are over the caps)
