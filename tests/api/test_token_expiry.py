"""Tokens with an expiry and a last-used time, through the API and ``allot token``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from api.db import Database, Token, utcnow
from api.main import create_app
from optimizer import cli
from tests.api.conftest import DatabaseTarget

Auth = Callable[..., dict[str, str]]
runner = CliRunner()


def _expire(database: Database, token_id: int) -> None:
    """Move a token's expiry into the past (as if the days had gone by)."""
    with database.transaction() as session:
        session.execute(
            update(Token)
            .where(Token.id == token_id)
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )


def test_a_token_with_an_expiry_works_until_then(
    client: TestClient, auth: Auth, database: Database
) -> None:
    made = client.post(
        "/v1/tokens",
        json={"role": "committee", "name": "visitor", "expires_in_days": 7},
        headers=auth("admin"),
    )
    assert made.status_code == 201, made.text
    token = made.json()
    expires = dt.datetime.fromisoformat(token["expires_at"])
    created = dt.datetime.fromisoformat(token["created_at"])
    assert dt.timedelta(days=7) - dt.timedelta(seconds=5) < expires - created
    assert expires - created <= dt.timedelta(days=7) + dt.timedelta(seconds=5)
    assert token["last_used_at"] is None
    headers = {"Authorization": f"Bearer {token['token']}"}
    assert client.get("/v1/runs", headers=headers).status_code == 200
    listed = {t["id"]: t for t in client.get("/v1/tokens", headers=auth("admin")).json()}
    assert listed[token["id"]]["last_used_at"] is not None
    assert listed[token["id"]]["expires_at"] == token["expires_at"]
    _expire(database, token["id"])
    answer = client.get("/v1/runs", headers=headers)
    assert answer.status_code == 401
    assert "expired" in answer.json()["detail"][0]["message"]


def test_a_token_without_an_expiry_never_expires(client: TestClient, auth: Auth) -> None:
    made = client.post("/v1/tokens", json={"role": "planner"}, headers=auth("admin")).json()
    assert made["expires_at"] is None


@pytest.mark.parametrize("days", [0, -1, 3651, "7", True])
def test_bad_expiries_are_422(client: TestClient, auth: Auth, days: object) -> None:
    answer = client.post(
        "/v1/tokens", json={"role": "planner", "expires_in_days": days}, headers=auth("admin")
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["path"] == "expires_in_days"


def test_last_used_is_written_at_most_once_a_minute(
    client: TestClient, auth: Auth, database: Database, tokens: dict[str, str]
) -> None:
    client.get("/v1/runs", headers=auth("committee"))
    with database.transaction() as session:
        first = session.query(Token).filter(Token.role == "committee").one().last_used_at
    assert first is not None
    client.get("/v1/runs", headers=auth("committee"))
    with database.transaction() as session:
        row = session.query(Token).filter(Token.role == "committee").one()
        assert row.last_used_at == first  # within the minute: not written again
        session.execute(
            update(Token)
            .where(Token.id == row.id)
            .values(last_used_at=first - dt.timedelta(minutes=2))
        )
    client.get("/v1/runs", headers=auth("committee"))
    with database.transaction() as session:
        later = session.query(Token).filter(Token.role == "committee").one().last_used_at
    assert later is not None and later >= first


def test_the_cli_makes_expiring_tokens_and_lists_both_times(
    target: DatabaseTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in target.env().items():
        monkeypatch.setenv(key, value)
    made = runner.invoke(
        cli.app,
        ["token", "create", "--role", "committee", "--name", "ann", "--expires-in-days", "30"],
    )
    assert made.exit_code == 0, made.output
    secret = made.stdout.splitlines()[-1]
    app = create_app(target.settings(workers=0))
    with TestClient(app) as client:
        assert (
            client.get("/v1/runs", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
        )
    listed = runner.invoke(cli.app, ["token", "list"])
    assert listed.exit_code == 0, listed.output
    header, line = listed.stdout.splitlines()[:2]
    assert "expires" in header and "last used" in header
    in_30_days = (utcnow() + dt.timedelta(days=30)).strftime("%Y-%m-%d")
    today = utcnow().strftime("%Y-%m-%d")
    assert in_30_days in line and line.count(today) == 2  # created and last used today
    assert line.endswith("ann")
    bad = runner.invoke(cli.app, ["token", "create", "--role", "planner", "--expires-in-days", "0"])
    assert bad.exit_code == 2


def test_token_check_says_whether_a_token_works(
    target: DatabaseTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in target.env().items():
        monkeypatch.setenv(key, value)
    made = runner.invoke(cli.app, ["token", "create", "--role", "admin", "--name", "make run"])
    secret = made.stdout.splitlines()[-1]
    good = runner.invoke(cli.app, ["token", "check"], input=secret + "\n")
    assert good.exit_code == 0 and "'make run' with role admin" in good.stdout
    assert runner.invoke(cli.app, ["token", "check"], input="allot_nope\n").exit_code == 1
    assert runner.invoke(cli.app, ["token", "check"], input="\n").exit_code == 1
    assert runner.invoke(cli.app, ["token", "revoke", "1"]).exit_code == 0
    assert runner.invoke(cli.app, ["token", "check"], input=secret + "\n").exit_code == 1
