"""``allot token create|list|revoke`` and ``allot load-examples`` on the service database."""

from __future__ import annotations

from pathlib import Path

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


def test_load_examples_stores_what_an_http_upload_of_each_stores(env: DatabaseTarget) -> None:
    from api.db import Role
    from optimizer.loading import load_scenario
    from tests.api.conftest import make_token
    from tests.api.test_uploads import EXAMPLES, _files, _named

    for folder in (SCENARIOS, SCENARIOS / "plan-2023"):
        loaded = runner.invoke(cli.app, ["load-examples", str(folder)])
        assert loaded.exit_code == 0, loaded.output
    service = create_app(env.settings())
    with TestClient(service) as client:
        token = make_token(service.state.database, Role.PLANNER)
        headers = {"Authorization": f"Bearer {token}"}
        stored = client.get("/v1/scenarios?limit=100", headers=headers).json()
        assert stored["total"] == len(EXAMPLES)
        by_hash = {item["content_hash"]: item for item in stored["items"]}
        for path in EXAMPLES:
            expected = load_scenario(path)
            assert by_hash[expected.content_hash]["name"] == expected.name
            assert by_hash[expected.content_hash]["created_by"] == "load-examples"
            # the same files uploaded through HTTP are the version already stored
            again = client.post("/v1/scenarios", files=_files(_named(path)), headers=headers)
            assert again.status_code == 200, (path.name, again.text)
            assert again.json()["id"] == by_hash[expected.content_hash]["id"]


def test_load_examples_reports_an_upload_problem_with_its_file(
    env: DatabaseTarget, tmp_path: Path
) -> None:
    (tmp_path / "a.yaml").write_text("name: a\nbudget: 10\nrecipients: {file: a.csv}\n")
    (tmp_path / "a.csv").write_text("id,score\nx,1\ny,true\n")
    (tmp_path / "bb.yaml").write_text("name: b\nbudget: 10\nrecipients: {file: missing.csv}\n")
    answer = runner.invoke(cli.app, ["load-examples", str(tmp_path)])
    assert answer.exit_code == 2
    lines = answer.stderr.splitlines()
    assert any(
        line.startswith(f"error: {tmp_path / 'a.yaml'}:") and "a.csv" in line and "row" in line
        for line in lines
    ), lines
    assert any("bb.yaml" in line and "missing.csv" in line for line in lines), lines


def test_bad_settings_are_one_error_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOT_WORKERS", "many")
    answer = runner.invoke(cli.app, ["token", "list"])
    assert answer.exit_code == 2
    assert answer.stderr.startswith("error: ALLOT_WORKERS:")
