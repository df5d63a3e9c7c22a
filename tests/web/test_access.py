"""Who may see and do what in the web view: sessions, roles, CSRF and escaping."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import auth
from api.db import Database
from api.main import create_app
from api.web.sessions import COOKIE, SESSION_SECONDS, Sessions, load_key
from tests.api.conftest import DatabaseTarget, counts, scenario_data, scenario_yaml
from tests.web.conftest import Browser, csrf_of, post_runs

PAGES = ["/ui", "/ui/runs", "/ui/runs/1", "/ui/compare?run=1&run=2", "/ui/scenarios"]
DOWNLOADS = ["/ui/runs/1/download.csv", "/ui/runs/1/download.xlsx", "/ui/runs/1/download.json"]
PLANNER_POSTS = ["/ui/scenarios", "/ui/scenarios/1/run", "/ui/runs/1/rerun"]


def _token_id(database: Database, secret: str) -> int:
    with database.transaction() as session:
        principal = auth.authenticate(session, secret)
    assert principal is not None
    return principal.token_id


def _refused(answer: Any) -> bool:
    """A redirect to the sign-in page (``answer``: a TestClient response)."""
    return bool(answer.status_code == 303 and answer.headers["location"].startswith("/ui/login"))


@pytest.mark.parametrize("path", PAGES + DOWNLOADS)
def test_every_page_without_a_session_redirects_to_sign_in(browser: Browser, path: str) -> None:
    answer = browser(None).get(path)
    assert _refused(answer)


@pytest.mark.parametrize("path", [*PLANNER_POSTS, "/ui/logout"])
def test_posts_without_a_session_redirect_to_sign_in_and_change_nothing(
    browser: Browser, database: Database, path: str
) -> None:
    before = counts(database)
    assert _refused(browser(None).post(path, data={"budget": "1000", "csrf": "x"}))
    assert counts(database) == before


def test_sign_in_returns_to_the_page_asked_for(browser: Browser, tokens: dict[str, str]) -> None:
    client = browser(None)
    asked = client.get("/ui/runs/7?x=1")
    assert asked.headers["location"] == "/ui/login?next=%2Fui%2Fruns%2F7%3Fx%3D1"
    login = client.get(asked.headers["location"])
    assert 'name="next" value="/ui/runs/7?x=1"' in login.text
    answer = client.post("/ui/login", data={"token": tokens["committee"], "next": "/ui/runs/7?x=1"})
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/runs/7?x=1"


@pytest.mark.parametrize("elsewhere", ["https://evil.example/", "//evil.example/ui", "/v1/tokens"])
def test_sign_in_never_sends_anyone_elsewhere(
    browser: Browser, tokens: dict[str, str], elsewhere: str
) -> None:
    data = {"token": tokens["committee"], "next": elsewhere}
    answer = browser(None).post("/ui/login", data=data)
    assert answer.headers["location"] == "/ui/runs"


@pytest.mark.parametrize("token", ["nonsense", "allot_" + "x" * 43, "", " "])
def test_a_bad_token_shows_the_sign_in_page_with_an_error(browser: Browser, token: str) -> None:
    answer = browser(None).post("/ui/login", data={"token": token})
    assert answer.status_code == 401
    assert "That token is not valid" in answer.text
    assert "set-cookie" not in answer.headers
    assert 'action="/ui/login"' in answer.text


def test_the_session_cookie_is_http_only_lax_signed_and_holds_no_token(
    browser: Browser, tokens: dict[str, str], database: Database
) -> None:
    client = browser(None)
    answer = client.post("/ui/login", data={"token": tokens["committee"]})
    header = answer.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")}
    assert {"httponly", "path", "max-age"} <= attributes
    assert "samesite=lax" in header.lower() and "path=/ui" in header.lower()
    assert f"max-age={SESSION_SECONDS}" in header.lower()
    value = client.cookies[COOKIE]
    assert tokens["committee"] not in value and tokens["committee"] not in header
    assert value.split(".")[0] == str(_token_id(database, tokens["committee"]))
    assert tokens["committee"] not in answer.headers["location"]


def test_signing_out_ends_the_session(browser: Browser) -> None:
    client = browser("committee")
    csrf = csrf_of(client)
    answer = client.post("/ui/logout", data={"csrf": csrf})
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/login"
    assert _refused(client.get("/ui/runs"))


def test_a_forged_cookie_is_refused(
    browser: Browser, tokens: dict[str, str], database: Database
) -> None:
    committee = browser("committee")
    good = committee.cookies[COOKIE]
    token_id, expires, nonce, signature = good.split(".")
    admin_id = _token_id(database, tokens["admin"])
    forgeries = [
        f"{admin_id}.{expires}.{nonce}.{signature}",  # someone else's token id
        f"{token_id}.{int(expires) + 10**6}.{nonce}.{signature}",  # a later expiry
        f"{token_id}.{expires}.{nonce}.{'0' * 64}",  # a made-up signature
        Sessions(b"another server's key!!").issue(admin_id),  # signed with another key
        f"{token_id}.{expires}.{nonce}",
        "garbage",
        tokens["admin"],  # the raw token is not a session
    ]
    for forged in forgeries:
        client = browser(None)
        client.cookies.set(COOKIE, forged, path="/ui")
        answer = client.get("/ui/runs")
        assert _refused(answer), forged
        assert COOKIE in answer.headers.get("set-cookie", ""), "a bad cookie is dropped"


def test_an_expired_cookie_is_refused(
    browser: Browser, tokens: dict[str, str], database: Database
) -> None:
    sessions = Sessions(load_key(database))
    token_id = _token_id(database, tokens["planner"])
    client = browser(None)
    client.cookies.set(COOKIE, sessions.issue(token_id, now=time.time() - 60), path="/ui")
    assert client.get("/ui/runs").status_code == 200  # issued a minute ago: fine
    expired = sessions.issue(token_id, now=time.time() - SESSION_SECONDS - 1)
    client.cookies.set(COOKIE, expired, path="/ui")
    assert _refused(client.get("/ui/runs"))


def test_the_session_key_survives_a_restart(app: FastAPI, target: DatabaseTarget) -> None:
    again = create_app(target.settings())
    cookie = app.state.web_sessions.issue(1)
    assert again.state.web_sessions.read(cookie) is not None
    again.state.database.dispose()


def test_a_revoked_token_ends_its_session(
    browser: Browser, tokens: dict[str, str], database: Database
) -> None:
    client = browser("committee")
    assert client.get("/ui/runs").status_code == 200
    with database.transaction() as session:
        auth.revoke_token(session, _token_id(database, tokens["committee"]))
    assert _refused(client.get("/ui/runs"))
    again = browser(None).post("/ui/login", data={"token": tokens["committee"]})
    assert again.status_code == 401


def test_committee_members_see_no_planner_forms_and_get_403_on_them(
    browser: Browser, two_runs: list[int], database: Database
) -> None:
    client = browser("committee")
    for page in ("/ui/runs", "/ui/scenarios", f"/ui/runs/{two_runs[0]}"):
        html = client.get(page).text
        assert 'action="/ui/scenarios"' not in html and '/run"' not in html
        assert "/rerun" not in html and "Upload" not in html
    csrf = csrf_of(client)
    before = counts(database)
    upload = client.post(
        "/ui/scenarios",
        data={"csrf": csrf},
        files={"files": ("s.yaml", scenario_yaml(), "application/yaml")},
    )
    run = client.post("/ui/scenarios/1/run", data={"csrf": csrf, "budget": "1300"})
    rerun = client.post(f"/ui/runs/{two_runs[0]}/rerun", data={"csrf": csrf, "budget": "1300"})
    for answer in (upload, run, rerun):
        assert answer.status_code == 403
        assert "This needs the planner role" in answer.text
    assert counts(database) == before


@pytest.mark.parametrize("path", PLANNER_POSTS)
def test_a_post_without_the_sessions_csrf_token_is_403(
    browser: Browser, two_runs: list[int], database: Database, path: str
) -> None:
    planner = browser("planner")
    other_session = csrf_of(browser("planner"))  # the same person, another sign-in
    before = counts(database)
    for data in ({}, {"csrf": ""}, {"csrf": "x" * 64}, {"csrf": other_session}):
        files = {"file": ("s.yaml", scenario_yaml(), "application/yaml")}
        answer = planner.post(path, data=data | {"budget": "1300"}, files=files)
        assert answer.status_code == 403, data
        assert "not valid any more" in answer.text
    assert counts(database) == before


def test_a_planner_uploads_runs_and_reruns_with_a_changed_budget(
    browser: Browser, api: TestClient
) -> None:
    client = browser("planner")
    csrf = csrf_of(client, "/ui/scenarios")
    uploaded = client.post(
        "/ui/scenarios",
        data={"csrf": csrf},
        files={"files": ("regions.yaml", scenario_yaml(), "application/octet-stream")},
    )
    assert uploaded.status_code == 303
    scenario_id = int(uploaded.headers["location"].rsplit("=", 1)[1])
    assert "Stored scenario" in client.get(uploaded.headers["location"]).text

    same = client.post(f"/ui/scenarios/{scenario_id}/run", data={"csrf": csrf, "budget": "1200"})
    assert same.status_code == 303
    first = api.get(f"/v1/runs/{same.headers['location'].rsplit('/', 1)[1]}").json()
    assert first["overrides"] == [] and first["outcome"] == "optimal"

    more = client.post(f"/ui/scenarios/{scenario_id}/run", data={"csrf": csrf, "budget": "1,300"})
    second = api.get(f"/v1/runs/{more.headers['location'].rsplit('/', 1)[1]}").json()
    assert second["overrides"] == ["budget=1300"] and second["result"]["budget"] == 1300

    again = client.post(f"/ui/runs/{second['id']}/rerun", data={"csrf": csrf, "budget": "1250"})
    third = api.get(f"/v1/runs/{again.headers['location'].rsplit('/', 1)[1]}").json()
    assert third["scenario_id"] == scenario_id
    assert third["overrides"] == ["budget=1250"]
    assert third["note"] == f"re-run of run {second['id']} with budget=1250"
    assert sum(a["units"] for a in third["result"]["allocations"]) == 1250

    bad = client.post(f"/ui/scenarios/{scenario_id}/run", data={"csrf": csrf, "budget": "lots"})
    assert bad.status_code == 422 and "whole number" in bad.text


def test_an_invalid_upload_lists_every_problem_and_stores_nothing(
    browser: Browser, database: Database
) -> None:
    client = browser("planner")
    csrf = csrf_of(client, "/ui/scenarios")
    before = counts(database)
    text = b"name: bad\nbudget: 100\nrecipients:\n  - {id: a, score: 10, floor: 5, cap: 2}\n"
    text += b"  - {id: a, score: 3}\n"
    answer = client.post(
        "/ui/scenarios", data={"csrf": csrf}, files={"files": ("bad.yaml", text, "text/plain")}
    )
    assert answer.status_code == 422
    assert "recipients[0].cap: must be &gt;= floor (5)" in answer.text
    assert "recipients[1].id: duplicate id" in answer.text
    assert counts(database) == before


HOSTILE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_every_scenario_string_is_shown_as_text(browser: Browser, api: TestClient) -> None:
    data = scenario_data("regions-2025-metro-cap.yaml")
    data["name"] = f"{HOSTILE} scenario"
    data["unit"]["label"] = HOSTILE
    data["recipients"][0]["name"] = HOSTILE
    data["recipients"][1]["name"] = f'"><img src=x onerror=alert(1)> {HOSTILE}'
    data["rules"][2]["name"] = HOSTILE  # the metro group rule: it binds
    run_ids = post_runs(api, data, [], ["budget=1100"])
    client = browser("planner")
    pages = [
        "/ui/runs",
        "/ui/scenarios",
        f"/ui/runs/{run_ids[0]}",
        f"/ui/compare?run={run_ids[0]}&run={run_ids[1]}",
        f"/ui/runs/{run_ids[0]}/report",
        f"/ui/runs/{run_ids[0]}?map=change",
        f"/ui/compare/report?run={run_ids[0]}&run={run_ids[1]}",
        f"/ui/runs/{run_ids[0]}/sensitivity",
        f"/ui/runs/{run_ids[0]}/robustness?samples=5",
    ]
    for page in pages:
        for lang in ("en", "ko"):
            html = client.get(page, headers={"Accept-Language": lang}).text
            assert "<script>alert(1)" not in html, page
            assert "<img src=x" not in html, page
            assert ESCAPED in html, page
    for page in pages[:4]:
        html = client.get(page).text
        assert "<script>alert(1)" not in html, page
        assert "<img src=x" not in html, page
        assert ESCAPED in html, page
    run_page = client.get(f"/ui/runs/{run_ids[0]}").text
    assert f"<strong>{ESCAPED}</strong>" in run_page  # the rule, bound
    assert run_page.count(ESCAPED) >= 5


def test_pages_are_private_and_load_nothing_from_elsewhere(
    browser: Browser, two_runs: list[int]
) -> None:
    client = browser("committee")
    for page in ("/ui/runs", f"/ui/runs/{two_runs[0]}", "/ui/login"):
        answer = client.get(page) if page != "/ui/login" else browser(None).get(page)
        assert answer.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        assert "http://" not in answer.text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in answer.text
    assert client.get("/ui/static/style.css").status_code == 200
    assert client.get("/ui/static/allot.js").status_code == 200


def test_the_web_view_is_not_part_of_the_api_schema(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/ui")]


def test_unknown_runs_and_short_comparisons_are_pages_not_json(
    browser: Browser, two_runs: list[int]
) -> None:
    client = browser("committee")
    missing = client.get("/ui/runs/999")
    assert missing.status_code == 404 and "run 999 not found" in missing.text
    assert missing.headers["content-type"].startswith("text/html")
    one = client.get(f"/ui/compare?run={two_runs[0]}")
    assert one.status_code == 400 and "Pick two or more runs" in one.text
    assert client.get("/ui/runs/999/download.csv").status_code == 404
