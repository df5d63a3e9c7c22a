"""``/v1/runs``: synchronous and queued runs, overrides, infeasible scenarios, what a run
records, and that a finished run never changes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api import lease
from api.db import Database, Role, Run, RunImmutableError, RunStatus
from api.main import create_app
from optimizer.loading import validate_data
from optimizer.overrides import apply_overrides
from optimizer.solve import solve
from tests.api.conftest import (
    DatabaseTarget,
    counts,
    make_token,
    scenario_data,
    scenario_yaml,
    wait_for_run,
)

Auth = Callable[..., dict[str, str]]


def _units(result: dict[str, Any]) -> dict[str, int]:
    return {a["id"]: a["units"] for a in result["allocations"]}


def _direct(data: dict[str, Any], overrides: list[str] | None = None) -> dict[str, Any]:
    if overrides:
        data = apply_overrides(data, overrides)
    result: dict[str, Any] = json.loads(json.dumps(solve(validate_data(data)).to_dict()))
    return result


def _store(client: TestClient, auth: Auth, name: str = "regions-2025.yaml") -> int:
    answer = client.post("/v1/scenarios", json=scenario_data(name), headers=auth())
    assert answer.status_code == 201, answer.text
    ident: int = answer.json()["id"]
    return ident


def test_a_stored_scenario_runs_synchronously_and_records_everything(
    client: TestClient, auth: Auth
) -> None:
    scenario_id = _store(client, auth, "regions-2025-metro-cap.yaml")
    answer = client.post("/v1/runs", json={"scenario_id": scenario_id}, headers=auth())
    assert answer.status_code == 201, answer.text
    run = answer.json()
    expected = _direct(scenario_data("regions-2025-metro-cap.yaml"))
    assert run["status"] == "done" and run["outcome"] == "optimal"
    assert _units(run["result"]) == _units(expected)
    assert run["result"]["metrics"] == expected["metrics"]
    assert run["scenario_hash"] == expected["scenario"]["hash"] == run["result"]["scenario"]["hash"]
    assert run["solver"] == {
        "backend": expected["solver"]["backend"],
        "version": expected["solver"]["version"],
    }
    assert run["requested_by"] == "test-planner"
    assert run["created_at"] <= run["started_at"] <= run["finished_at"]
    assert {"queued_s", "solve_s", "run_s", "total_s"} <= set(run["timings"])
    assert run["scenario_id"] == scenario_id and run["error"] is None
    again = client.get(f"/v1/runs/{run['id']}", headers=auth("committee")).json()
    assert again == run


@pytest.mark.parametrize("as_text", [False, True], ids=["json-object", "yaml-text"])
def test_an_inline_scenario_runs(client: TestClient, auth: Auth, as_text: bool) -> None:
    inline: Any = scenario_yaml().decode() if as_text else scenario_data()
    answer = client.post("/v1/runs", json={"scenario": inline, "note": "inline"}, headers=auth())
    assert answer.status_code == 201, answer.text
    run = answer.json()
    assert run["scenario_id"] is None and run["note"] == "inline"
    assert _units(run["result"]) == _units(_direct(scenario_data()))


def test_overrides_are_applied_before_validation(client: TestClient, auth: Auth) -> None:
    scenario_id = _store(client, auth, "regions-2025-metro-cap.yaml")
    overrides = ["budget=1300", "recipients[busan].floor=120", "rules[2].max_share=0.4"]
    answer = client.post(
        "/v1/runs", json={"scenario_id": scenario_id, "overrides": overrides}, headers=auth()
    )
    assert answer.status_code == 201, answer.text
    run = answer.json()
    assert run["overrides"] == overrides
    assert run["result"]["budget"] == 1300
    expected = _direct(scenario_data("regions-2025-metro-cap.yaml"), overrides)
    assert _units(run["result"]) == _units(expected)
    assert run["scenario_hash"] == expected["scenario"]["hash"]
    assert _units(run["result"])["busan"] >= 120


@pytest.mark.parametrize(
    ("overrides", "path", "words"),
    [
        (["budget"], "overrides[0]", "expected path=value"),
        (["rules[9].max_share=0.3"], "rules[9]", "index out of range"),
        (["recipients[nowhere].floor=3"], "recipients[nowhere]", "no item with id"),
        (["budget.x=3"], "budget", "not a mapping"),
        (["budget=-5"], "budget", "greater than 0"),
        (["budget=[1"], "budget", "malformed YAML"),
    ],
)
def test_bad_overrides_answer_422_at_their_path(
    client: TestClient,
    auth: Auth,
    database: Database,
    overrides: list[str],
    path: str,
    words: str,
) -> None:
    scenario_id = _store(client, auth, "regions-2025-metro-cap.yaml")
    before = counts(database)
    answer = client.post(
        "/v1/runs", json={"scenario_id": scenario_id, "overrides": overrides}, headers=auth()
    )
    assert answer.status_code == 422
    problem = answer.json()["detail"][0]
    assert problem["path"] == path and words in problem["message"], problem
    assert counts(database) == before


@pytest.mark.parametrize(
    ("body", "status", "path"),
    [
        ({}, 422, "scenario"),
        ({"scenario_id": 1, "scenario": {"name": "x"}}, 422, "scenario"),
        ({"scenario_id": 999}, 404, "scenario_id"),
        ({"scenario_id": "abc"}, 422, "scenario_id"),
        ({"scenario": {"name": "x", "budget": 10}}, 422, "recipients"),
        ({"scenario": "name: [", "overrides": []}, 422, ""),
        ({"scenario": {"name": "x"}, "colour": "red"}, 422, "colour"),
        ({"scenario": {"name": "x"}, "overrides": "budget=3"}, 422, "overrides"),
    ],
)
def test_bad_run_requests_store_nothing(
    client: TestClient,
    auth: Auth,
    database: Database,
    body: dict[str, Any],
    status: int,
    path: str,
) -> None:
    _store(client, auth)
    before = counts(database)
    answer = client.post("/v1/runs", json=body, headers=auth())
    assert answer.status_code == status, answer.text
    assert answer.json()["detail"][0]["path"] == path
    assert counts(database) == before


def test_malformed_json_request_answers_422(client: TestClient, auth: Auth) -> None:
    answer = client.post(
        "/v1/runs",
        content=b'{"scenario_id": ',
        headers=auth() | {"Content-Type": "application/json"},
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["message"].startswith("malformed JSON")


def test_an_infeasible_scenario_is_a_201_with_the_diagnosis(client: TestClient, auth: Auth) -> None:
    scenario_id = _store(client, auth, "regions-2025-infeasible.yaml")
    answer = client.post("/v1/runs", json={"scenario_id": scenario_id}, headers=auth())
    assert answer.status_code == 201
    run = answer.json()
    assert run["status"] == "done" and run["outcome"] == "infeasible"
    assert run["result"]["status"] == "infeasible"
    diagnosis = run["result"]["diagnosis"]
    assert diagnosis["relax"] and diagnosis["relax"][0]["constraint"] == "floors"
    assert diagnosis == _direct(scenario_data("regions-2025-infeasible.yaml"))["diagnosis"]


def test_async_runs_answer_202_and_finish_in_the_pool(client: TestClient, auth: Auth) -> None:
    scenario_id = _store(client, auth)
    answer = client.post("/v1/runs?async=true", json={"scenario_id": scenario_id}, headers=auth())
    assert answer.status_code == 202
    run = answer.json()
    assert run["status"] in ("queued", "running", "done")
    assert answer.headers["location"] == f"/v1/runs/{run['id']}"
    finished = wait_for_run(client, run["id"], auth())
    assert finished["status"] == "done"
    assert _units(finished["result"]) == _units(_direct(scenario_data()))


def test_large_problems_are_queued_without_asking(target: DatabaseTarget) -> None:
    app = create_app(target.settings(sync_max_recipients=10))
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {make_token(app.state.database, Role.PLANNER)}"}
        answer = client.post("/v1/runs", json={"scenario": scenario_data()}, headers=headers)
        assert answer.status_code == 202
        assert wait_for_run(client, answer.json()["id"], headers)["outcome"] == "optimal"


def test_runs_are_listed_and_filtered(client: TestClient, auth: Auth) -> None:
    first = _store(client, auth)
    second = _store(client, auth, "regions-2025-infeasible.yaml")
    for scenario_id in (first, second, first):
        client.post("/v1/runs", json={"scenario_id": scenario_id}, headers=auth())
    everything = client.get("/v1/runs", headers=auth("committee")).json()
    assert everything["total"] == 3
    assert [r["id"] for r in everything["items"]] == [3, 2, 1]
    assert "result" not in everything["items"][0]
    of_first = client.get(f"/v1/runs?scenario_id={first}", headers=auth("committee")).json()
    assert [r["id"] for r in of_first["items"]] == [3, 1]
    done = client.get("/v1/runs?status=done&limit=1", headers=auth("committee")).json()
    assert done["total"] == 3 and len(done["items"]) == 1
    assert client.get("/v1/runs?status=nonsense", headers=auth()).status_code == 422
    missing = client.get("/v1/runs/77", headers=auth())
    assert missing.status_code == 404
    assert missing.json() == {"detail": [{"path": "id", "message": "run 77 not found"}]}


def test_finished_runs_cannot_change(client: TestClient, auth: Auth, database: Database) -> None:
    scenario_id = _store(client, auth)
    run = client.post("/v1/runs", json={"scenario_id": scenario_id}, headers=auth()).json()
    for method in ("PUT", "PATCH", "DELETE"):
        answer = client.request(method, f"/v1/runs/{run['id']}", json={}, headers=auth("admin"))
        assert answer.status_code == 405
        assert answer.json()["detail"][0]["message"] == "Method Not Allowed"
    with database.transaction() as session:
        # a worker that does not hold the run's lease writes nothing (api/lease.py)
        assert not lease.finish(session, run["id"], "w1", {"status": "optimal"}, timings={})
        assert not lease.fail(session, run["id"], "w1", "late")
    with pytest.raises(RunImmutableError), database.transaction() as session:
        row = session.get(Run, run["id"])
        assert row is not None
        row.result = {"tampered": True}
        row.status = RunStatus.RUNNING.value
    assert client.get(f"/v1/runs/{run['id']}", headers=auth()).json() == run


def test_a_budget_in_won_runs_through_the_service(
    client: TestClient, auth: Auth, database: Database
) -> None:
    """1.2 x 10^12 units (the baseline at 1 KRW) solve like 1,200; 10^15 + 1 is a 422 at
    its field and stores nothing."""
    data = scenario_data()
    scale = 10**9
    data["budget"] *= scale
    for rec in data["recipients"]:
        for key in ("floor", "cap", "previous"):
            if rec.get(key) is not None:
                rec[key] *= scale
    answer = client.post("/v1/runs", json={"scenario": data}, headers=auth())
    assert answer.status_code == 201, answer.text
    result = answer.json()["result"]
    assert result["status"] == "optimal"
    assert sum(_units(result).values()) == data["budget"]
    assert result["certificate"] is None or result["certificate"]["kind"] in (
        "largest_remainder",
        "divisor",
    )
    before = counts(database)
    data["budget"] = 10**15 + 1
    refused = client.post("/v1/runs", json={"scenario": data}, headers=auth())
    assert refused.status_code == 422
    assert [p["path"] for p in refused.json()["detail"]] == ["budget"]
    assert counts(database) == before
