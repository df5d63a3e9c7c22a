"""Start-up: migrations (idempotent, matching the models) and recovery of runs a dead
process left ``queued`` or ``running``."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient

from api import store
from api.db import Base, Database, Role, RunStatus
from api.main import create_app
from api.store import Prepared
from optimizer.loading import validate_data
from tests.api.conftest import DatabaseTarget, make_token, scenario_data


def test_migrations_create_exactly_the_models(target: DatabaseTarget) -> None:
    app = create_app(target.settings())
    database: Database = app.state.database
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert compare_metadata(context, Base.metadata) == []
        assert context.get_current_revision() == "0002"
    database.dispose()


def test_starting_twice_on_one_database_keeps_the_data(target: DatabaseTarget) -> None:
    first = create_app(target.settings())
    token = make_token(first.state.database, Role.PLANNER)
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(first) as client:
        client.post("/v1/scenarios", json=scenario_data(), headers=headers)
    second = create_app(target.settings())
    with TestClient(second) as client:
        listed = client.get("/v1/scenarios", headers=headers).json()
    assert listed["total"] == 1


def test_interrupted_runs_are_marked_failed_at_start_up(target: DatabaseTarget) -> None:
    first = create_app(target.settings())
    database: Database = first.state.database
    prepared = Prepared(scenario=validate_data(scenario_data()), body=scenario_data())
    with database.transaction() as session:
        running = store.add_run(session, prepared, requested_by="x", status=RunStatus.RUNNING)
        queued = store.add_run(session, prepared, requested_by="x", status=RunStatus.QUEUED)
        finished = store.add_run(session, prepared, requested_by="x", status=RunStatus.RUNNING)
        ids = (running.id, queued.id, finished.id)
    with database.transaction() as session:
        store.finish_run(session, ids[2], {"status": "optimal", "allocations": []}, timings={})
    with database.transaction() as session:
        done_before = store.get_run(session, ids[2])
    database.dispose()  # the process "dies" here: no shutdown of its pool

    second = create_app(target.settings())
    with second.state.database.transaction() as session:
        rows = [store.get_run(session, i) for i in ids]
    assert [r.status for r in rows] == ["failed", "failed", "done"]
    assert all(r.error == store.INTERRUPTED for r in rows[:2])
    assert all(r.finished_at is not None for r in rows[:2])
    assert rows[2].result == done_before.result and rows[2].finished_at == done_before.finished_at
    second.state.database.dispose()
