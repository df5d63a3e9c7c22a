"""The real thing: ``allot serve`` in a subprocess on a free port, spoken to over HTTP.

* a scenario is stored and run synchronously and asynchronously; the server is killed
  (SIGKILL) during a slow asynchronous run, restarted, and that run is taken again once its
  lease expired and ends ``done`` (attempt 2), while every finished run is unchanged;
* 200 runs posted from 16 threads are each stored exactly once.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import DatabaseTarget, scenario_data, scenario_yaml

ALLOT = str(Path(sys.executable).with_name("allot"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """One ``allot serve`` process at a time, on a database that outlives it."""

    def __init__(self, target: DatabaseTarget, workdir: Path) -> None:
        self.target = target
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.base = ""
        self.log = workdir / "server.log"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALLOT_")}
        return env | self.target.env() | extra

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [ALLOT, *args], env=self.env(), cwd=self.workdir, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self, *args: str, **extra: str) -> None:
        """``allot serve`` (``args`` default: ``--workers 2``) with ``extra`` environment."""
        port = _free_port()
        self.base = f"http://127.0.0.1:{port}"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [ALLOT, "serve", "--port", str(port), *(args or ("--workers", "2"))],
                env=self.env(**extra),
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError("server exited:\n" + self.log.read_text())
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("server did not start:\n" + self.log.read_text())

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.process = None


@pytest.fixture
def server(target: DatabaseTarget, tmp_path: Path) -> Iterator[Server]:
    found = Server(target, tmp_path)
    try:
        yield found
    finally:
        found.stop(kill=True)


def _wait(client: httpx.Client, run_id: int, states: tuple[str, ...]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        body: dict[str, Any] = client.get(f"/v1/runs/{run_id}").json()
        if body["status"] in states:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


@pytest.mark.parametrize("target", ["sqlite"], indirect=True)
def test_a_killed_server_leaves_no_run_hanging(server: Server) -> None:
    token = server.cli("token", "create", "--role", "planner", "--name", "e2e").splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}

    server.start()
    with httpx.Client(base_url=server.base, headers=headers, timeout=60) as client:
        stored = client.post(
            "/v1/scenarios", content=scenario_yaml(), headers={"Content-Type": "application/yaml"}
        )
        assert stored.status_code == 201, stored.text
        scenario_id = stored.json()["id"]
        sync = client.post("/v1/runs", json={"scenario_id": scenario_id})
        assert sync.status_code == 201 and sync.json()["outcome"] == "optimal"
        queued = client.post("/v1/runs?async=true", json={"scenario_id": scenario_id})
        assert queued.status_code == 202
        finished = {
            run["id"]: run
            for run in (sync.json(), _wait(client, queued.json()["id"], ("done", "failed")))
        }
        assert all(run["status"] == "done" for run in finished.values())
    server.stop()

    server.start(ALLOT_JOB_DELAY_S="120", ALLOT_RUN_LEASE_S="2")
    with httpx.Client(base_url=server.base, headers=headers, timeout=60) as client:
        slow = client.post("/v1/runs?async=true", json={"scenario_id": scenario_id})
        assert slow.status_code == 202
        slow_id = slow.json()["id"]
        assert _wait(client, slow_id, ("running",))["started_at"] is not None
    server.stop(kill=True)

    server.start(ALLOT_RUN_LEASE_S="2")
    with httpx.Client(base_url=server.base, headers=headers, timeout=60) as client:
        after = _wait(client, slow_id, ("done", "failed"))
        assert after["status"] == "done" and after["attempts"] == 2, after
        assert (
            after["result"]["allocations"] == finished[sync.json()["id"]]["result"]["allocations"]
        )
        for run_id, before in finished.items():
            assert client.get(f"/v1/runs/{run_id}").json() == before
        listed = client.get("/v1/runs").json()
        assert listed["total"] == 3
    server.stop()


def test_concurrent_posts_store_every_run_exactly_once(server: Server) -> None:
    token = server.cli("token", "create", "--role", "planner").splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    server.start()
    requests = 200
    with httpx.Client(base_url=server.base, headers=headers, timeout=120) as client:
        bounds_only = scenario_data() | {"rules": []}  # the exact greedy: storage is the point
        scenario_id = client.post("/v1/scenarios", json=bounds_only).json()["id"]

        def post(index: int) -> tuple[int, int, str]:
            body = {"scenario_id": scenario_id, "note": f"client-{index}"}
            answer = client.post("/v1/runs", json=body)
            return answer.status_code, answer.json().get("id", -1), body["note"]

        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(post, range(requests)))
        assert [status for status, _, _ in answers] == [201] * requests
        ids = [run_id for _, run_id, _ in answers]
        assert len(set(ids)) == requests

        listed = client.get("/v1/runs", params={"limit": 500}).json()
        assert listed["total"] == requests
        stored = listed["items"]
        assert sorted(run["id"] for run in stored) == sorted(ids)
        assert sorted(run["note"] for run in stored) == sorted(
            f"client-{i}" for i in range(requests)
        )
        assert {run["status"] for run in stored} == {"done"}
        assert {run["scenario_hash"] for run in stored} == {stored[0]["scenario_hash"]}
    server.stop()
