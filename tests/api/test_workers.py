"""Runs executed by workers sharing the database, with real processes: ``allot serve`` and
``allot worker`` subprocesses on one database, killed (SIGKILL), stopped (SIGSTOP) and
resumed; and the queue's rules (claims, expired leases, attempts, cancellation) directly.

* two servers on one database: neither changes the other's runs; a port in use is one line;
* ``kill -9`` of a worker mid-run: a new worker finishes every run, none lost or duplicated,
  each equal to solving its scenario directly;
* a worker that is only slow comes back after its lease expired: its result is refused;
* cancelling a queued and a running run; a capped time limit is noted on the run;
* 200 concurrent posts executed by 3 workers (on PostgreSQL when configured, as in CI).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api import lease, store
from api.db import Database, Role, Run, RunStatus
from api.main import create_app
from api.store import Prepared
from optimizer.loading import validate_data
from optimizer.overrides import apply_overrides
from optimizer.solve import solve
from tests.api.conftest import DATABASES, DatabaseTarget, make_token, scenario_data
from tests.api.test_server import ALLOT, Server

Headers = dict[str, str]


# --------------------------------------------------------------------------- processes


class Workers:
    """``allot worker`` processes on the database of ``server``, stopped at the end."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str, name: str, **env: str) -> subprocess.Popen[bytes]:
        log = self.server.workdir / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [ALLOT, "worker", *args],
                env=self.server.env(**env),
                cwd=self.server.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
                process.kill()
            process.wait()


@pytest.fixture
def server(target: DatabaseTarget, tmp_path: Path) -> Iterator[Server]:
    found = Server(target, tmp_path)
    try:
        yield found
    finally:
        found.stop(kill=True)


@pytest.fixture
def workers(server: Server) -> Iterator[Workers]:
    found = Workers(server)
    try:
        yield found
    finally:
        found.stop_all()


def _tokens(server: Server) -> tuple[Headers, Headers]:
    """Planner and admin headers (tokens made with the CLI on the server's database)."""
    made = [
        server.cli("token", "create", "--role", role, "--name", role).splitlines()[-1]
        for role in ("planner", "admin")
    ]
    return ({"Authorization": f"Bearer {made[0]}"}, {"Authorization": f"Bearer {made[1]}"})


def _until(check: Callable[[], Any], *, timeout: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _runs(client: httpx.Client, ids: list[int]) -> list[dict[str, Any]]:
    return [client.get(f"/v1/runs/{i}").json() for i in ids]


def _all_final(client: httpx.Client, ids: list[int]) -> list[dict[str, Any]] | None:
    runs = _runs(client, ids)
    return runs if all(r["status"] in ("done", "failed", "cancelled") for r in runs) else None


def _live_workers(client: httpx.Client, admin: Headers, count: int) -> list[dict[str, Any]]:
    def check() -> list[dict[str, Any]] | None:
        items = client.get("/v1/workers", headers=admin).json()["items"]
        live = [w for w in items if w["live"]]
        return live if len(live) >= count else None

    found: list[dict[str, Any]] = _until(check, what=f"{count} live worker(s)")
    return found


def _units(result: dict[str, Any]) -> list[tuple[str, int]]:
    return [(a["id"], a["units"]) for a in result["allocations"]]


def _direct(overrides: list[str]) -> list[tuple[str, int]]:
    """The allocation of the example with ``overrides``, solved here, sequentially."""
    return _units(solve(validate_data(apply_overrides(scenario_data(), overrides))).to_dict())


# --------------------------------------------------------------------------- safe to start twice


def test_a_second_server_leaves_the_first_servers_runs_alone(
    server: Server, target: DatabaseTarget, tmp_path: Path
) -> None:
    planner, admin = _tokens(server)
    server.start("--workers", "1", ALLOT_JOB_DELAY_S="1")
    (tmp_path / "second").mkdir()
    second = Server(target, tmp_path / "second")
    try:
        with httpx.Client(base_url=server.base, headers=planner, timeout=60) as client:
            ids = [
                client.post(
                    "/v1/runs?async=true",
                    json={"scenario": scenario_data(), "overrides": [f"budget={1000 + 50 * i}"]},
                ).json()["id"]
                for i in range(4)
            ]
            _until(
                lambda: any(r["status"] == "running" for r in _runs(client, ids)),
                what="a running run",
            )
            second.start("--workers", "1")
            port = server.base.rsplit(":", 1)[1]
            third = subprocess.run(
                [ALLOT, "serve", "--port", port],
                env=server.env(PYTHONWARNINGS="ignore"),  # only what allot itself says
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert third.returncode != 0
            assert third.stderr.strip().splitlines() == [
                f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
            ]
            assert len(_live_workers(client, admin, 2)) == 2
            runs = _until(lambda: _all_final(client, ids), what="every run final")
        assert [r["status"] for r in runs] == ["done"] * 4
        assert [r["attempts"] for r in runs] == [1] * 4  # nobody's run was taken from them
        for index, run in enumerate(runs):
            assert _units(run["result"]) == _direct([f"budget={1000 + 50 * index}"])
    finally:
        second.stop(kill=True)


# --------------------------------------------------------------------------- kill -9


def test_after_kill_9_of_a_worker_a_new_worker_finishes_every_run(
    server: Server, workers: Workers
) -> None:
    planner, admin = _tokens(server)
    server.start("--workers", "0", ALLOT_RUN_LEASE_S="3")
    lease_env = {"ALLOT_RUN_LEASE_S": "3"}
    doomed = workers.start("--concurrency", "2", name="doomed", ALLOT_JOB_DELAY_S="30", **lease_env)
    budgets = [f"budget={1000 + 40 * i}" for i in range(6)]
    with httpx.Client(base_url=server.base, headers=planner, timeout=60) as client:
        _live_workers(client, admin, 1)
        sweep = client.post(  # sweep items are runs like any other: the first three
            "/v1/sweeps?async=true",
            json={"scenario": scenario_data(), "set": "budget=1000:1080:40"},
        ).json()
        ids = [run["id"] for run in sweep["runs"]] + [
            client.post(
                "/v1/runs?async=true", json={"scenario": scenario_data(), "overrides": [b]}
            ).json()["id"]
            for b in budgets[3:]
        ]
        _until(
            lambda: len([r for r in _runs(client, ids) if r["status"] == "running"]) == 2,
            what="both slots busy",
        )
        running = [r["id"] for r in _runs(client, ids) if r["status"] == "running"]
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait()
        workers.start("--concurrency", "2", name="rescuer", **lease_env)
        runs = _until(lambda: _all_final(client, ids), what="every run final")
        listed = client.get("/v1/runs", params={"limit": 500}).json()
        assert client.get(f"/v1/sweeps/{sweep['id']}").json()["status"] == "done"
    assert [r["status"] for r in runs] == ["done"] * len(ids)
    assert listed["total"] == len(ids)  # none lost, none duplicated
    assert sorted(r["id"] for r in listed["items"]) == sorted(ids)
    assert {r["id"]: r["attempts"] for r in runs} == {i: 2 if i in running else 1 for i in ids}
    for run, budget in zip(runs, budgets, strict=True):
        assert _units(run["result"]) == _direct([budget])
        if run["id"] in running:
            assert run["notes"] == ["attempt 2: the worker of the previous one stopped"]


# --------------------------------------------------------------------------- slow, not dead


def test_a_slow_worker_whose_lease_expired_has_its_late_result_refused(
    server: Server, workers: Workers
) -> None:
    planner, admin = _tokens(server)
    server.start("--workers", "0", ALLOT_RUN_LEASE_S="1")
    slow = workers.start(
        "--concurrency", "1", name="slow", ALLOT_JOB_DELAY_S="2", ALLOT_RUN_LEASE_S="1"
    )
    with httpx.Client(base_url=server.base, headers=planner, timeout=60) as client:
        _live_workers(client, admin, 1)
        run_id = client.post("/v1/runs?async=true", json={"scenario": scenario_data()}).json()["id"]
        log = server.workdir / "slow.log"
        _until(lambda: f"run {run_id}: attempt 1, solve process" in log.read_text(), what="solve")
        os.kill(slow.pid, signal.SIGSTOP)  # alive, but no heartbeat: its lease expires
        workers.start("--concurrency", "1", name="quick", ALLOT_RUN_LEASE_S="1")
        finished = _until(lambda: _all_final(client, [run_id]), what="the run final")[0]
        assert finished["status"] == "done" and finished["attempts"] == 2
        time.sleep(3)  # the slow worker's solve process finishes its run meanwhile
        os.kill(slow.pid, signal.SIGCONT)
        refused = re.compile(rf"run {run_id}: (late result refused|lease lost)")
        _until(lambda: refused.search(log.read_text()), what="the refusal")
        time.sleep(1)  # anything it would still write, it would have written by now
        assert client.get(f"/v1/runs/{run_id}").json() == finished


# --------------------------------------------------------------------------- cancellation


def test_cancel_a_queued_and_a_running_run(target: DatabaseTarget) -> None:
    app = create_app(target.settings(workers=1, job_delay_s=60))
    database: Database = app.state.database
    owner = {"Authorization": f"Bearer {make_token(database, Role.PLANNER, 'owner')}"}
    other = {"Authorization": f"Bearer {make_token(database, Role.PLANNER, 'other')}"}
    admin = {"Authorization": f"Bearer {make_token(database, Role.ADMIN, 'boss')}"}
    committee = {"Authorization": f"Bearer {make_token(database, Role.COMMITTEE, 'c')}"}
    with TestClient(app) as client:

        def post() -> int:
            answer = client.post(
                "/v1/runs?async=true", json={"scenario": scenario_data()}, headers=owner
            )
            assert answer.status_code == 202
            run_id: int = answer.json()["id"]
            return run_id

        running, queued = post(), post()
        _until(
            lambda: client.get(f"/v1/runs/{running}", headers=owner).json()["status"] == "running",
            what="running",
        )
        listed = client.get("/v1/workers", headers=admin).json()
        assert [w["runs"] for w in listed["items"] if w["live"]] == [[running]]
        assert client.get("/v1/workers", headers=committee).status_code == 403

        assert client.post(f"/v1/runs/{queued}/cancel", headers=committee).status_code == 403
        refused = client.post(f"/v1/runs/{queued}/cancel", headers=other)
        assert refused.status_code == 403 and "owner" in refused.json()["detail"][0]["message"]
        cancelled = client.post(f"/v1/runs/{queued}/cancel", headers=owner).json()
        assert (cancelled["status"], cancelled["cancelled_by"]) == ("cancelled", "owner")
        assert cancelled["finished_at"] is not None and cancelled["result"] is None

        asked = client.post(f"/v1/runs/{running}/cancel", headers=admin).json()
        assert (asked["status"], asked["cancel_requested"]) == ("running", True)
        assert asked["cancelled_by"] == "boss"
        stopped = _until(
            lambda: _final_run(client, running, owner), timeout=30, what="the running run"
        )
        assert stopped["status"] == "cancelled" and stopped["result"] is None
        again = client.post(f"/v1/runs/{running}/cancel", headers=owner)
        assert again.status_code == 409
        assert client.post("/v1/runs/999/cancel", headers=owner).status_code == 404
    with database.transaction() as session:
        assert session.scalar(select(Run.lease_owner).where(Run.id == queued)) is None


def _final_run(client: TestClient, run_id: int, headers: Headers) -> dict[str, Any] | None:
    body: dict[str, Any] = client.get(f"/v1/runs/{run_id}", headers=headers).json()
    return body if body["status"] in ("done", "failed", "cancelled") else None


def test_a_time_limit_over_the_service_maximum_is_capped_and_noted(
    target: DatabaseTarget,
) -> None:
    app = create_app(target.settings(workers=1, run_max_time_s=60))
    headers = {"Authorization": f"Bearer {make_token(app.state.database, Role.PLANNER)}"}
    data = scenario_data() | {"solver": {"backend": "auto", "time_limit_s": 86_400}}
    with TestClient(app) as client:
        run = client.post("/v1/runs", json={"scenario": data}, headers=headers).json()
    assert run["status"] == "done"
    assert run["notes"] == [
        "solver.time_limit_s 86,400 s capped at the service's maximum of 60 s per run "
        "(ALLOT_RUN_MAX_TIME_S)"
    ]


# --------------------------------------------------------------------------- the queue's rules


def _queued(database: Database, count: int) -> list[int]:
    prepared = Prepared(scenario=validate_data(scenario_data()), body=scenario_data())
    with database.transaction() as session:
        return [
            store.add_run(session, prepared, requested_by="x", status=RunStatus.QUEUED).id
            for _ in range(count)
        ]


def test_a_run_is_claimed_once_and_written_only_by_its_lease_holder(database: Database) -> None:
    first, second = _queued(database, 2)
    with database.transaction() as session:
        a = lease.claim(session, "a", lease_s=60)
        b = lease.claim(session, "b", lease_s=60)
        nothing = lease.claim(session, "c", lease_s=60)
    assert (a and a.run_id, b and b.run_id, nothing) == (first, second, None)
    with database.transaction() as session:
        assert not lease.finish(session, first, "b", {"status": "optimal"}, timings={})
        assert not lease.fail(session, first, "b", "not mine")
        assert lease.finish(session, first, "a", {"status": "optimal"}, timings={})
        assert not lease.finish(session, first, "a", {"status": "optimal"}, timings={})
        assert not lease.release(session, first, "a")
        row = store.get_run(session, first)
        assert (row.status, row.outcome, row.attempts) == ("done", "optimal", 1)


def test_expired_leases_requeue_then_fail_after_three_attempts(database: Database) -> None:
    (run_id,) = _queued(database, 1)
    for attempt in range(1, lease.MAX_ATTEMPTS + 1):
        with database.transaction() as session:
            claimed = lease.claim(session, f"worker-{attempt}", lease_s=-1)  # expired at once
        assert claimed is not None and claimed.attempt == attempt
        with database.transaction() as session:
            expired = lease.requeue_expired(session, lease_s=5)
        if attempt < lease.MAX_ATTEMPTS:
            assert expired == lease.Expired(queued=[run_id], failed=[], cancelled=[])
        else:
            assert expired == lease.Expired(queued=[], failed=[run_id], cancelled=[])
        with database.transaction() as session:  # a late writer is refused
            assert not lease.finish(session, run_id, f"worker-{attempt}", {}, timings={})
    with database.transaction() as session:
        row = store.get_run(session, run_id)
        assert (row.status, row.attempts, row.error) == ("failed", 3, lease.lost_reason(5))


def test_a_live_lease_is_left_alone_and_an_expired_cancelled_run_ends_cancelled(
    database: Database,
) -> None:
    live, dead = _queued(database, 2)
    with database.transaction() as session:
        assert lease.claim(session, "alive", lease_s=600) is not None
        assert lease.claim(session, "dead", lease_s=-1) is not None
        lease.request_cancel(session, dead, by="planner")
    with database.transaction() as session:
        expired = lease.requeue_expired(session, lease_s=600)
    assert expired == lease.Expired(queued=[], failed=[], cancelled=[dead])
    with database.transaction() as session:
        assert store.get_run(session, live).status == RunStatus.RUNNING
        assert lease.renew(session, "alive", [live, dead], lease_s=600) == 1
        assert lease.renew(session, "dead", [live, dead], lease_s=600) == 0
        assert lease.renew(session, "alive", [], lease_s=600) == 0


# --------------------------------------------------------------------------- 200 posts, 3 workers


@pytest.mark.parametrize("target", DATABASES[-1:], indirect=True)  # PostgreSQL when configured
def test_200_concurrent_posts_executed_by_3_workers(
    server: Server, workers: Workers, target: DatabaseTarget
) -> None:
    planner, admin = _tokens(server)
    server.start("--workers", "0")
    for index in range(3):
        workers.start("--concurrency", "1", name=f"worker-{index}")
    requests = 200
    with httpx.Client(base_url=server.base, headers=planner, timeout=120) as client:
        ids_of_workers = {w["id"] for w in _live_workers(client, admin, 3)}
        bounds_only = scenario_data() | {"rules": []}
        scenario_id = client.post("/v1/scenarios", json=bounds_only).json()["id"]

        def post(index: int) -> tuple[int, int]:
            body = {"scenario_id": scenario_id, "note": f"client-{index}"}
            answer = client.post("/v1/runs", json=body)
            return answer.status_code, answer.json().get("id", -1)

        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(post, range(requests)))
        listed = client.get("/v1/runs", params={"limit": 500}).json()
    assert [status for status, _ in answers] == [201] * requests
    assert len({run_id for _, run_id in answers}) == requests
    assert listed["total"] == requests
    assert {run["status"] for run in listed["items"]} == {"done"}
    assert sorted(run["note"] for run in listed["items"]) == sorted(
        f"client-{i}" for i in range(requests)
    )
    database = Database(target.url, schema=target.schema)
    try:
        with database.transaction() as session:
            rows = session.execute(select(Run.lease_owner, Run.attempts)).all()
    finally:
        database.dispose()
    assert {attempts for _, attempts in rows} == {1}
    assert {owner for owner, _ in rows} == ids_of_workers  # the work fanned out to all three


def test_an_app_started_twice_executes_runs_each_time(target: DatabaseTarget) -> None:
    app = create_app(target.settings(workers=1))
    headers = {"Authorization": f"Bearer {make_token(app.state.database, Role.PLANNER)}"}
    for _ in range(2):
        with TestClient(app) as client:
            run = client.post("/v1/runs", json={"scenario": scenario_data()}, headers=headers)
            assert run.status_code == 201 and run.json()["status"] == "done"
            assert client.get("/readyz").json()["workers"] == 1


def test_a_solve_past_the_service_limit_is_stopped(
    target: DatabaseTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The testing delay stands for a solve that ignores its time limit."""
    monkeypatch.setattr("api.worker.GRACE_S", 0.5)
    app = create_app(target.settings(workers=1, run_max_time_s=0.5, job_delay_s=30))
    headers = {"Authorization": f"Bearer {make_token(app.state.database, Role.PLANNER)}"}
    with TestClient(app) as client:
        run = client.post("/v1/runs", json={"scenario": scenario_data()}, headers=headers).json()
    assert (run["status"], run["result"]) == ("failed", None)
    assert run["error"] == (
        "stopped: still solving 0.5 s after the service's limit of 0.5 s per run "
        "(ALLOT_RUN_MAX_TIME_S)"
    )


def test_a_run_whose_slot_failed_is_queued_again_when_its_lease_expires(
    target: DatabaseTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The heartbeat renews only the runs being solved: a run a slot dropped on an error
    expires and is taken again, instead of staying ``running`` for ever."""
    from api.solve_process import SolveProcess

    send = SolveProcess.send
    failures = iter([RuntimeError("the solve process could not start")])

    def flaky(self: SolveProcess, request: Any) -> None:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        send(self, request)

    monkeypatch.setattr(SolveProcess, "send", flaky)
    app = create_app(target.settings(workers=1, run_lease_s=1))
    headers = {"Authorization": f"Bearer {make_token(app.state.database, Role.PLANNER)}"}
    with TestClient(app) as client:
        run = client.post("/v1/runs", json={"scenario": scenario_data()}, headers=headers).json()
    assert (run["status"], run["attempts"]) == ("done", 2)
    assert _units(run["result"]) == _direct([])


@pytest.mark.parametrize("target", [d for d in DATABASES if d == "postgresql"], indirect=True)
def test_on_postgresql_a_queued_run_wakes_an_idle_worker_at_once(
    server: Server, workers: Workers
) -> None:
    """A worker polling only once a minute still takes a new run at once: the API server's
    ``NOTIFY`` wakes it (a synchronous post waits 10 s, else it would be a 202)."""
    planner, admin = _tokens(server)
    server.start("--workers", "0", ALLOT_SYNC_WAIT_S="10")
    workers.start("--concurrency", "1", name="sleepy", ALLOT_WORKER_POLL_S="60")
    with httpx.Client(base_url=server.base, headers=planner, timeout=60) as client:
        _live_workers(client, admin, 1)
        time.sleep(1)  # its first look at the queue is over: it now waits for a wake-up
        answer = client.post("/v1/runs", json={"scenario": scenario_data()})
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "done"
