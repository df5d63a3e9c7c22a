"""Archiving and restoring scenarios and runs: hidden from the default lists, still readable,
runnable and comparable, nothing deleted or otherwise changed."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.api.conftest import scenario_data

Auth = Callable[..., dict[str, str]]


def _ids(answer: dict[str, object]) -> list[object]:
    items = answer["items"]
    assert isinstance(items, list)
    return [item["id"] for item in items]


def test_an_archived_scenario_is_hidden_but_kept(client: TestClient, auth: Auth) -> None:
    kept = client.post("/v1/scenarios", json=scenario_data(), headers=auth()).json()
    test = client.post(
        "/v1/scenarios", json=scenario_data("regions-2025-cut.yaml"), headers=auth()
    ).json()
    run = client.post("/v1/runs", json={"scenario_id": test["id"]}, headers=auth()).json()
    answer = client.post(f"/v1/scenarios/{test['id']}/archive", headers=auth())
    assert answer.status_code == 200, answer.text
    assert answer.json()["archived_at"] is not None
    listed = client.get("/v1/scenarios", headers=auth("committee")).json()
    assert _ids(listed) == [kept["id"]] and listed["total"] == 1
    archived = client.get("/v1/scenarios?archived=true", headers=auth("committee")).json()
    assert _ids(archived) == [test["id"]]
    one = client.get(f"/v1/scenarios/{test['id']}", headers=auth("committee")).json()
    assert one["archived_at"] is not None and one["content_hash"] == test["content_hash"]
    assert one["body"] == test["body"]
    # the run that refers to it keeps it, and it can still be run
    assert client.get(f"/v1/runs/{run['id']}", headers=auth()).json()["scenario_id"] == test["id"]
    again = client.post("/v1/runs", json={"scenario_id": test["id"]}, headers=auth())
    assert again.status_code in (201, 202)
    restored = client.post(f"/v1/scenarios/{test['id']}/restore", headers=auth()).json()
    assert restored["archived_at"] is None
    assert client.get("/v1/scenarios", headers=auth()).json()["total"] == 2


def test_an_archived_run_is_hidden_and_unchanged(client: TestClient, auth: Auth) -> None:
    first = client.post("/v1/runs", json={"scenario": scenario_data()}, headers=auth()).json()
    second = client.post(
        "/v1/runs", json={"scenario": scenario_data(), "overrides": ["budget=1100"]}, headers=auth()
    ).json()
    assert first["status"] == "done"
    answer = client.post(f"/v1/runs/{first['id']}/archive", headers=auth())
    assert answer.status_code == 200, answer.text
    assert answer.json()["archived_at"] is not None and answer.json()["status"] == "done"
    assert _ids(client.get("/v1/runs", headers=auth()).json()) == [second["id"]]
    assert _ids(client.get("/v1/runs?archived=true", headers=auth()).json()) == [first["id"]]
    kept = client.get(f"/v1/runs/{first['id']}", headers=auth()).json()
    assert kept["result"] == first["result"] and kept["finished_at"] == first["finished_at"]
    compared = client.post(
        "/v1/compare", json={"run_ids": [first["id"], second["id"]]}, headers=auth("committee")
    )
    assert compared.status_code == 200
    client.post(f"/v1/runs/{first['id']}/restore", headers=auth())
    assert client.get("/v1/runs", headers=auth()).json()["total"] == 2


def test_archiving_needs_a_planner_and_a_known_id(client: TestClient, auth: Auth) -> None:
    stored = client.post("/v1/scenarios", json=scenario_data(), headers=auth()).json()
    denied = client.post(f"/v1/scenarios/{stored['id']}/archive", headers=auth("committee"))
    assert denied.status_code == 403
    assert client.get("/v1/scenarios", headers=auth()).json()["total"] == 1
    missing = client.post("/v1/scenarios/999/archive", headers=auth())
    assert missing.status_code == 404
    assert missing.json()["detail"] == [{"path": "id", "message": "scenario 999 not found"}]
    assert client.post("/v1/runs/999/restore", headers=auth()).status_code == 404
    assert client.post("/v1/runs/0/archive", headers=auth()).status_code == 422
