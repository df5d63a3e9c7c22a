"""``allot token create|list|revoke`` and ``allot load-examples`` on the service database."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.main import create_app
from optimizer import cli
from tests.api.conftest import SCENARIOS, DatabaseTarget

runner = CliRunner()


@pytest.fixture
def env(target: DatabaseTarget, monkeypatch: pytest.MonkeyPatch) -> DatabaseTarget:
    for key, value in target.env().items():
        monkeypatch.setenv(key, value)
    return target


def test_token_create_prints_the_token_last_and_it_works(env: DatabaseTarget) -> None:
    made = runner.invoke(cli.app, ["token", "create", "--role", "committee", "--name", "ann"])
    assert made.exit_code == 0, made.output
    token = made.stdout.splitlines()[-1]
    assert token.startswith("allot_") and " " not in token
    with TestClient(create_app(env.settings())) as client:
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/v1/runs", headers=headers).status_code == 200
        assert client.post("/v1/runs", json={}, headers=headers).status_code == 403

    listed = runner.invoke(cli.app, ["token", "list"])
    assert listed.exit_code == 0
    assert "committee" in listed.stdout and "ann" in listed.stdout and token not in listed.stdout

    revoked = runner.invoke(cli.app, ["token", "revoke", "1"])
    assert revoked.exit_code == 0 and "revoked token 1" in revoked.stdout
    with TestClient(create_app(env.settings())) as client:
        assert client.get("/v1/runs", headers=headers).status_code == 401
    assert runner.invoke(cli.app, ["token", "revoke", "9"]).exit_code == 2


def test_token_create_refuses_an_unknown_role(env: DatabaseTarget) -> None:
    assert runner.invoke(cli.app, ["token", "create", "--role", "king"]).exit_code == 2


def test_load_examples_is_idempotent(env: DatabaseTarget) -> None:
    first = runner.invoke(cli.app, ["load-examples", str(SCENARIOS)])
    assert first.exit_code == 0, first.output
    files = sorted(SCENARIOS.glob("*.yaml"))
    assert sum(line.startswith("stored ") for line in first.stdout.splitlines()) == len(files)
    assert first.stdout.splitlines()[0].startswith("stored regions-2025.yaml: scenario 1")
    second = runner.invoke(cli.app, ["load-examples", str(SCENARIOS)])
    assert second.exit_code == 0
    assert [line.split(":")[0] for line in second.stdout.splitlines()] == [
        line.split(":")[0].replace("stored", "skipped") for line in first.stdout.splitlines()
    ]


def test_bad_settings_are_one_error_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOT_WORKERS", "many")
    answer = runner.invoke(cli.app, ["token", "list"])
    assert answer.exit_code == 2
    assert answer.stderr.startswith("error: ALLOT_WORKERS:")
