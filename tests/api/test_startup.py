"""Start-up: migrations (idempotent, matching the models); starting never changes runs
(another process may be executing them; see tests/api/test_workers.py for what happens to
the runs of a process that died)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient

from api import lease, store
from api.db import Base, Database, Role, RunStatus
from api.main import create_app
from api.schemas import run_detail
from api.store import Prepared
from optimizer.loading import validate_data
from tests.api.conftest import DatabaseTarget, make_token, scenario_data


def test_migrations_create_exactly_the_models(target: DatabaseTarget) -> None:
    app = create_app(target.settings())
    database: Database = app.state.database
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert compare_metadata(context, Base.metadata) == []
        assert context.get_current_revision() == "0007"
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


def test_starting_leaves_queued_and_running_runs_alone(target: DatabaseTarget) -> None:
    first = create_app(target.settings(workers=0))
    database: Database = first.state.database
    prepared = Prepared(scenario=validate_data(scenario_data()), body=scenario_data())
    with database.transaction() as session:
        ids = [
            store.add_run(session, prepared, requested_by="x", status=RunStatus.QUEUED).id
            for _ in range(2)
        ]
    with database.transaction() as session:
        taken = lease.claim(session, "another-process", lease_s=600)
    assert taken is not None and taken.run_id == ids[0]
    with database.transaction() as session:
        before = [run_detail(store.get_run(session, i)) for i in ids]
    database.dispose()

    second = create_app(target.settings(workers=0))  # no worker: only start-up could act
    with TestClient(second), second.state.database.transaction() as session:
        after = [run_detail(store.get_run(session, i)) for i in ids]
    assert [r.status for r in after] == ["running", "queued"]
    assert after == before
