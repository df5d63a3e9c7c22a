"""Adopted runs and the audit log: who created, ran, cancelled, archived, restored and adopted
what and when, written with the action (a failed request leaves no entry and changes
nothing), never changed afterwards (no route for it; database triggers refuse it), and an
adopted run frozen with its scenario version."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable

from api import inputs, lease, store
from api.db import AuditEntry, Database, Role, Run, RunStatus, StoredScenario
from api.main import create_app
from api.web import routes as web_routes
from tests.api.conftest import DatabaseTarget, counts, make_token, scenario_data

Auth = Callable[..., dict[str, str]]


def _entries(database: Database) -> list[tuple[str, str, str, int]]:
    with database.transaction() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(r.actor, r.action, r.subject_kind, r.subject_id) for r in rows]


def _snapshot(database: Database) -> dict[str, Any]:
    """Everything a failed request must leave alone: row counts, the audit log, the runs."""
    with database.transaction() as session:
        runs = [
            (r.id, r.status, r.archived_at, r.adopted_at, r.adopted_by, r.adoption_note)
            for r in session.scalars(select(Run).order_by(Run.id))
        ]
        scenarios = [
            (s.id, s.archived_at)
            for s in session.scalars(select(StoredScenario).order_by(StoredScenario.id))
        ]
        audit = session.scalar(select(func.count()).select_from(AuditEntry))
    return {"counts": counts(database), "runs": runs, "scenarios": scenarios, "audit": audit}


def _stored_run(client: TestClient, auth: Auth, name: str = "regions-2025.yaml") -> dict[str, Any]:
    stored = client.post("/v1/scenarios", json=scenario_data(name), headers=auth())
    assert stored.status_code == 201, stored.text
    run = client.post("/v1/runs", json={"scenario_id": stored.json()["id"]}, headers=auth())
    assert run.status_code == 201, run.text
    body: dict[str, Any] = run.json()
    assert body["status"] == "done"
    return body


def _until_final(client: TestClient, run_id: int, headers: dict[str, str]) -> None:
    """Wait until a cancelled run's worker has stopped it (a poll, not a timing assertion)."""
    for _ in range(600):
        if client.get(f"/v1/runs/{run_id}", headers=headers).json()["status"] == "cancelled":
            return
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} was not cancelled")


def test_every_action_is_recorded_with_who_and_what(
    client: TestClient, auth: Auth, database: Database
) -> None:
    run = _stored_run(client, auth)
    scenario_id = run["scenario_id"]
    assert client.post(f"/v1/runs/{run['id']}/archive", headers=auth()).status_code == 200
    assert client.post(f"/v1/runs/{run['id']}/restore", headers=auth("admin")).status_code == 200
    sweep = client.post(
        "/v1/sweeps", json={"scenario_id": scenario_id, "set": "budget=1100,1200"}, headers=auth()
    ).json()
    adopted = client.post(
        f"/v1/runs/{run['id']}/adopt", json={"note": "위원회 의결 제3호"}, headers=auth("committee")
    )
    assert adopted.status_code == 201, adopted.text
    entries = _entries(database)
    planner, committee, admin = "test-planner", "test-committee", "test-admin"
    sweep_runs = [r["id"] for r in sweep["runs"]]
    assert entries[:4] == [
        (planner, "created", "scenario", scenario_id),
        (planner, "ran", "run", run["id"]),
        (planner, "archived", "run", run["id"]),
        (admin, "restored", "run", run["id"]),
    ]
    assert entries[4] == (planner, "created", "sweep", sweep["id"])
    assert entries[5:7] == [(planner, "ran", "run", rid) for rid in sweep_runs]
    assert entries[7:] == [(committee, "adopted", "run", run["id"])]

    listed = client.get("/v1/audit", headers=auth("admin")).json()
    assert listed["total"] == len(entries) == 8
    assert listed["items"][0]["action"] == "adopted"  # newest first
    assert listed["items"][0]["detail"]["note"] == "위원회 의결 제3호"
    assert listed["items"][0]["detail"]["scenario_hash"] == run["scenario_hash"]
    of_run = client.get(
        f"/v1/audit?subject_kind=run&subject_id={run['id']}", headers=auth("admin")
    ).json()
    assert [i["action"] for i in of_run["items"]] == ["adopted", "restored", "archived", "ran"]
    by_admin = client.get(f"/v1/audit?actor={admin}", headers=auth("admin")).json()
    assert [(i["action"], i["subject_id"]) for i in by_admin["items"]] == [("restored", run["id"])]
    ran = client.get("/v1/audit?action=ran&limit=2&offset=1", headers=auth("admin")).json()
    assert ran["total"] == 3 and [i["subject_id"] for i in ran["items"]] == [
        sweep_runs[0],
        run["id"],
    ]
    first = client.get("/v1/audit?limit=3", headers=auth("admin")).json()
    rest = client.get(f"/v1/audit?cursor={first['next_cursor']}", headers=auth("admin")).json()
    ids = [i["id"] for i in first["items"] + rest["items"]]
    assert ids == [i["id"] for i in listed["items"]] and rest["next_cursor"] is None
    assert first["total"] == rest["total"] == 8
    mixed = client.get(f"/v1/audit?cursor={first['next_cursor']}&offset=1", headers=auth("admin"))
    assert mixed.status_code == 422 and mixed.json()["detail"][0]["path"] == "cursor"
    of_sweep = client.get(
        f"/v1/audit?subject_kind=sweep&subject_id={sweep['id']}", headers=auth("admin")
    ).json()
    assert of_sweep["items"][0]["detail"]["set"] == "budget=1100,1200"


def test_a_cancel_is_recorded(target: DatabaseTarget) -> None:
    """With a worker whose solves wait a minute, the run is queued or running when it is
    cancelled: the cancel is recorded, by whom."""
    app = create_app(target.settings(workers=1, job_delay_s=60))
    database: Database = app.state.database
    planner = {"Authorization": f"Bearer {make_token(database, Role.PLANNER, 'p')}"}
    admin = {"Authorization": f"Bearer {make_token(database, Role.ADMIN, 'a')}"}
    with TestClient(app) as client:
        run = client.post(
            "/v1/runs?async=true", json={"scenario": scenario_data()}, headers=planner
        )
        run_id = run.json()["id"]
        answer = client.post(f"/v1/runs/{run_id}/cancel", headers=admin)
        assert answer.status_code == 200, answer.text
        assert _entries(database) == [
            ("p", "ran", "run", run_id),
            ("a", "cancelled", "run", run_id),
        ]
        _until_final(client, run_id, admin)
        refused = client.post(f"/v1/runs/{run_id}/cancel", headers=admin)
        assert refused.status_code == 409
        assert len(_entries(database)) == 2


def test_the_audit_log_is_for_admins(client: TestClient, auth: Auth) -> None:
    assert client.get("/v1/audit").status_code == 401
    for role in ("committee", "planner"):
        assert client.get("/v1/audit", headers=auth(role)).status_code == 403
    bad = client.get("/v1/audit?action=deleted&subject_kind=token", headers=auth("admin"))
    assert bad.status_code == 422
    paths = {p["path"] for p in bad.json()["detail"]}
    assert paths == {"action", "subject_kind"}


def test_no_route_changes_the_audit_log(app: FastAPI) -> None:
    """The app's only audit route reads, and no route (API or web view) deletes, replaces
    or patches a scenario, run, sweep or audit entry."""
    routes = [
        (path, method.upper()) for path, item in app.openapi()["paths"].items() for method in item
    ]
    routes += [
        (route.path, method)
        for route in web_routes.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    ]
    assert len(routes) > 40
    assert [m for p, m in routes if "audit" in p] == ["GET"]
    changing = [
        p
        for p, m in routes
        if m in ("DELETE", "PUT", "PATCH")
        and any(word in p for word in ("scenario", "run", "sweep", "audit"))
    ]
    assert changing == []


def test_the_database_refuses_changing_the_audit_log_or_an_adopted_run(
    client: TestClient, auth: Auth, database: Database
) -> None:
    run = _stored_run(client, auth)
    client.post(f"/v1/runs/{run['id']}/adopt", json={"note": "adopted"}, headers=auth("admin"))
    attempts: list[Executable] = [
        update(AuditEntry).values(actor="someone else"),
        delete(AuditEntry),
        update(Run).where(Run.id == run["id"]).values(archived_at=func.now()),
        update(Run).where(Run.id == run["id"]).values(adoption_note="changed"),
        delete(Run).where(Run.id == run["id"]),
        update(StoredScenario)
        .where(StoredScenario.id == run["scenario_id"])
        .values(archived_at=func.now()),
        delete(StoredScenario).where(StoredScenario.id == run["scenario_id"]),
    ]
    if database.backend == "postgresql":
        attempts.append(text("TRUNCATE audit_log"))
    before = _snapshot(database)
    for statement in attempts:
        with pytest.raises(DBAPIError), database.transaction() as session:
            session.execute(statement)
    assert _snapshot(database) == before
    # a run nobody adopted is not held by the triggers (its final-state guard is the app's)
    other = client.post("/v1/runs", json={"scenario": scenario_data()}, headers=auth()).json()
    with database.transaction() as session:
        session.execute(update(Run).where(Run.id == other["id"]).values(note="fine"))


def test_adopting_freezes_the_run_and_its_scenario_version(
    client: TestClient, auth: Auth, database: Database
) -> None:
    run = _stored_run(client, auth)
    rid, sid = run["id"], run["scenario_id"]
    answer = client.post(
        f"/v1/runs/{rid}/adopt", json={"note": " 2026 안 채택 "}, headers=auth("committee")
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["adopted_by"] == "test-committee" and body["adoption_note"] == "2026 안 채택"
    assert body["adopted_at"] is not None
    shown = client.get(f"/v1/runs/{rid}", headers=auth("committee")).json()
    assert shown["adopted_at"] == body["adopted_at"] and shown["result"] == run["result"]
    # the same adoption again: 200, nothing recorded
    before = _snapshot(database)
    again = client.post(
        f"/v1/runs/{rid}/adopt", json={"note": "2026 안 채택"}, headers=auth("committee")
    )
    assert again.status_code == 200 and again.json()["adopted_at"] == body["adopted_at"]
    assert _snapshot(database) == before
    refused = [
        client.post(f"/v1/runs/{rid}/adopt", json={"note": "another"}, headers=auth("committee")),
        client.post(f"/v1/runs/{rid}/adopt", json={"note": "2026 안 채택"}, headers=auth("admin")),
        client.post(f"/v1/runs/{rid}/archive", headers=auth()),
        client.post(f"/v1/runs/{rid}/restore", headers=auth("admin")),
        client.post(f"/v1/runs/{rid}/cancel", headers=auth()),
        client.post(f"/v1/scenarios/{sid}/archive", headers=auth()),
        client.post(f"/v1/scenarios/{sid}/restore", headers=auth()),
    ]
    assert [r.status_code for r in refused] == [409] * len(refused)
    assert "frozen" in refused[2].json()["detail"][0]["message"]
    assert "frozen" in refused[5].json()["detail"][0]["message"]
    assert _snapshot(database) == before
    # a new version of the scenario and new runs can still be made
    changed = scenario_data() | {"budget": 1100}
    assert client.post("/v1/scenarios", json=changed, headers=auth()).status_code == 201
    assert client.post("/v1/runs", json={"scenario_id": sid}, headers=auth()).status_code == 201


def test_a_failed_adoption_records_nothing_and_changes_nothing(
    client: TestClient, auth: Auth, database: Database
) -> None:
    run = _stored_run(client, auth)
    infeasible = client.post(
        "/v1/runs", json={"scenario": scenario_data("regions-2025-infeasible.yaml")}, headers=auth()
    ).json()
    assert infeasible["outcome"] == "infeasible"
    with database.transaction() as session:  # queued and cancelled before any worker looks
        prepared = inputs.prepare(scenario_data(), scenario_id=None, overrides=[])
        queued = store.add_run(session, prepared, requested_by="x", status=RunStatus.QUEUED)
        lease.request_cancel(session, queued.id, by="x")
        cancelled_id = queued.id
    archived = client.post("/v1/runs", json={"scenario": scenario_data()}, headers=auth()).json()
    client.post(f"/v1/runs/{archived['id']}/archive", headers=auth())
    before = _snapshot(database)
    cases = [
        (run["id"], {"note": "ok"}, "planner", 403),  # planners prepare, the committee adopts
        (run["id"], {}, "committee", 422),
        (run["id"], {"note": "   "}, "committee", 422),
        (run["id"], {"note": "x" * 2001}, "committee", 422),
        (run["id"], {"note": "ok", "by": "me"}, "committee", 422),
        (infeasible["id"], {"note": "ok"}, "committee", 409),
        (cancelled_id, {"note": "ok"}, "committee", 409),
        (archived["id"], {"note": "ok"}, "committee", 409),
        (999_999, {"note": "ok"}, "committee", 404),
    ]
    for run_id, body, role, status in cases:
        answer = client.post(f"/v1/runs/{run_id}/adopt", json=body, headers=auth(role))
        assert answer.status_code == status, (run_id, body, answer.text)
        assert answer.json()["detail"][0]["message"]
    assert client.post(f"/v1/runs/{run['id']}/adopt", json={"note": "ok"}).status_code == 401
    assert _snapshot(database) == before
    # an archived scenario version: restore it first
    client.post(f"/v1/scenarios/{run['scenario_id']}/archive", headers=auth())
    before = _snapshot(database)
    answer = client.post(f"/v1/runs/{run['id']}/adopt", json={"note": "ok"}, headers=auth("admin"))
    assert answer.status_code == 409 and "archived" in answer.json()["detail"][0]["message"]
    assert _snapshot(database) == before


def test_failed_requests_write_no_audit_entry(
    client: TestClient, auth: Auth, database: Database
) -> None:
    run = _stored_run(client, auth)
    before = _snapshot(database)
    failing = [
        client.post("/v1/scenarios", json={"name": "x", "budget": -1}, headers=auth()),
        client.post("/v1/runs", json={"scenario_id": 999_999}, headers=auth()),
        client.post("/v1/runs", json={"scenario": {"name": "x"}}, headers=auth()),
        client.post(
            "/v1/sweeps",
            json={"scenario_id": run["scenario_id"], "set": "budget=-5,10"},
            headers=auth(),
        ),
        client.post(f"/v1/runs/{run['id']}/cancel", headers=auth()),  # already done: 409
        client.post("/v1/runs/999999/archive", headers=auth()),
        client.post("/v1/scenarios/999999/archive", headers=auth()),
        client.post(f"/v1/runs/{run['id']}/archive", headers=auth("committee")),  # 403
    ]
    assert all(400 <= r.status_code < 500 for r in failing), [r.status_code for r in failing]
    assert _snapshot(database) == before


def test_two_adoptions_at_once_one_wins(client: TestClient, auth: Auth, database: Database) -> None:
    """Two committee members adopt the same run at the same moment with different notes:
    exactly one adoption is stored and recorded, the other is a 409."""
    run = _stored_run(client, auth)
    barrier = threading.Barrier(2)

    def adopt(note: str, role: str) -> int:
        barrier.wait()
        answer = client.post(f"/v1/runs/{run['id']}/adopt", json={"note": note}, headers=auth(role))
        return answer.status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(adopt, ["first", "second"], ["committee", "admin"]))
    assert statuses == [201, 409]
    adopted = [e for e in _entries(database) if e[1] == "adopted"]
    assert len(adopted) == 1
    stored = client.get(f"/v1/runs/{run['id']}", headers=auth()).json()
    assert stored["adopted_by"] == adopted[0][0]
