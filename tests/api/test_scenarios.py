"""``/v1/scenarios``: storing YAML and JSON bodies as versions, reading them back, and every
way a posted scenario can be wrong."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from api.db import Database, Role
from api.main import create_app
from optimizer.loading import load_scenario, parse_scenario_text
from tests.api.conftest import (
    SCENARIOS,
    DatabaseTarget,
    counts,
    make_token,
    scenario_data,
    scenario_yaml,
)

Auth = Callable[..., dict[str, str]]
YAML = {"Content-Type": "application/yaml"}


def test_a_yaml_scenario_is_stored_with_its_hash_and_version_1(
    client: TestClient, auth: Auth
) -> None:
    answer = client.post("/v1/scenarios", content=scenario_yaml(), headers=auth() | YAML)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    expected = load_scenario(SCENARIOS / "regions-2025.yaml")
    assert body["version"] == 1
    assert body["name"] == expected.name
    assert body["content_hash"] == expected.content_hash
    assert body["recipients"] == 14
    assert body["created_by"] == "test-planner"
    assert [r["id"] for r in body["body"]["recipients"]] == [r.id for r in expected.recipients]


def test_a_json_scenario_is_stored(client: TestClient, auth: Auth) -> None:
    answer = client.post("/v1/scenarios", json=scenario_data(), headers=auth())
    assert answer.status_code == 201
    assert (
        answer.json()["content_hash"] == load_scenario(SCENARIOS / "regions-2025.yaml").content_hash
    )


def test_the_format_is_sniffed_without_a_content_type(client: TestClient, auth: Auth) -> None:
    headers = auth() | {"Content-Type": "text/plain"}
    answer = client.post("/v1/scenarios", content=scenario_yaml(), headers=headers)
    assert answer.status_code == 201


def test_posting_a_name_again_makes_version_2_and_keeps_version_1(
    client: TestClient, auth: Auth
) -> None:
    first = client.post("/v1/scenarios", json=scenario_data(), headers=auth()).json()
    changed = scenario_data()
    changed["budget"] = 1300
    second = client.post("/v1/scenarios", json=changed, headers=auth()).json()
    assert (first["version"], second["version"]) == (1, 2)
    assert second["name"] == first["name"] and second["id"] != first["id"]
    again = client.get(f"/v1/scenarios/{first['id']}", headers=auth("committee")).json()
    assert again["body"]["budget"] == 1200
    assert again["content_hash"] == first["content_hash"] != second["content_hash"]
    listed = client.get("/v1/scenarios", params={"name": first["name"]}, headers=auth()).json()
    assert [item["version"] for item in listed["items"]] == [2, 1]
    assert listed["total"] == 2


def test_the_list_is_newest_first_and_paged(client: TestClient, auth: Auth) -> None:
    for name in ("regions-2025.yaml", "regions-2025-cut.yaml", "regions-2025-metro-cap.yaml"):
        client.post("/v1/scenarios", json=scenario_data(name), headers=auth())
    page = client.get("/v1/scenarios?limit=2&offset=1", headers=auth("committee")).json()
    assert page["total"] == 3 and page["limit"] == 2 and page["offset"] == 1
    assert [item["id"] for item in page["items"]] == [2, 1]
    assert "body" not in page["items"][0]


def test_yaml_download_round_trips_to_the_same_hash(client: TestClient, auth: Auth) -> None:
    stored = client.post("/v1/scenarios", json=scenario_data(), headers=auth()).json()
    answer = client.get(f"/v1/scenarios/{stored['id']}?format=yaml", headers=auth("committee"))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/yaml")
    assert "null" not in answer.text
    assert parse_scenario_text(answer.text).content_hash == stored["content_hash"]
    again = client.post("/v1/scenarios", content=answer.content, headers=auth() | YAML)
    assert again.status_code == 200  # the same as the latest version: that version back
    assert again.json()["id"] == stored["id"] and again.json()["version"] == 1


@pytest.mark.parametrize("ident", ["999", "0", "-1", "abc", str(2**40)])
def test_unknown_or_invalid_ids(client: TestClient, auth: Auth, ident: str) -> None:
    answer = client.get(f"/v1/scenarios/{ident}", headers=auth("committee"))
    assert answer.status_code == (404 if ident == "999" else 422)
    detail = answer.json()["detail"]
    assert detail and all(set(p) == {"path", "message"} for p in detail)
    if ident == "999":
        assert detail == [{"path": "id", "message": "scenario 999 not found"}]


BAD_BODIES = [
    pytest.param(b"name: [unclosed", YAML, "", "malformed YAML", id="malformed-yaml"),
    pytest.param(
        b'{"name": "x", "budget": ',
        {"Content-Type": "application/json"},
        "",
        "malformed JSON",
        id="malformed-json",
    ),
    pytest.param(b"", YAML, "", "empty", id="empty"),
    pytest.param(b"- a\n- b\n", YAML, "", "mapping", id="not-a-mapping"),
    pytest.param(b"\xff\xfe\x00", YAML, "", "UTF", id="not-utf8"),
    pytest.param(
        b"name: x\nextends: base.yaml\nbudget: 10\nrecipients: [{id: a, score: 1}]\n",
        YAML,
        "extends",
        "cannot refer to files",
        id="extends",
    ),
    pytest.param(
        b"name: x\nbudget: 10\nrecipients: {file: r.csv}\n",
        YAML,
        "recipients.file",
        "cannot refer to files",
        id="recipient-file",
    ),
]


@pytest.mark.parametrize(("raw", "headers", "path", "words"), BAD_BODIES)
def test_unreadable_bodies_answer_422_with_the_problem_list(
    client: TestClient,
    auth: Auth,
    database: Database,
    raw: bytes,
    headers: dict[str, str],
    path: str,
    words: str,
) -> None:
    before = counts(database)
    answer = client.post("/v1/scenarios", content=raw, headers=auth() | headers)
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert detail[0]["path"] == path
    assert words in detail[0]["message"]
    assert "Traceback" not in answer.text
    assert counts(database) == before


def test_every_schema_problem_is_reported_with_its_field_path(
    client: TestClient, auth: Auth, database: Database
) -> None:
    before = counts(database)
    body = (
        "name: bad\nbudget: -5\n"
        "recipients:\n"
        "  - {id: a, score: 10, floor: 5, cap: 2}\n"
        "  - {id: a, score: 0}\n"
        "rules: [{type: nonsense}]\n"
    )
    answer = client.post("/v1/scenarios", content=body, headers=auth() | YAML)
    assert answer.status_code == 422
    problems = {(p["path"], p["message"]) for p in answer.json()["detail"]}
    paths = {path for path, _ in problems}
    assert {"budget", "recipients[0].cap", "recipients[1].id", "recipients[1].score"} <= paths
    assert ("recipients[0].cap", "must be >= floor (5)") in problems
    assert any(path == "rules[0].type" for path in paths)
    assert counts(database) == before


@pytest.mark.parametrize(
    ("grade_order", "backend", "status"),
    [
        (False, "auto", 201),  # auto solves it greedily: HiGHS is not needed
        (False, "highs", 422),
        (True, "auto", 422),  # grade_order: auto would need HiGHS
        (True, "cbc", 201),
    ],
)
def test_a_missing_backend_is_refused_only_where_the_run_needs_it(
    client: TestClient,
    auth: Auth,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    grade_order: bool,
    backend: str,
    status: int,
) -> None:
    """With HiGHS missing, a scenario is refused exactly when its backend choice needs it."""
    from optimizer import solvers
    from optimizer.errors import SolverUnavailable

    real = solvers.backend

    def without_highs(name: str) -> solvers.Backend:
        if name == "highs":
            raise SolverUnavailable("backend 'highs' is not available here")
        return real(name)

    monkeypatch.setattr(solvers, "backend", without_highs)
    data = scenario_data("regions-2025.yaml")
    data["solver"] = {"backend": backend}
    rules = [rule for rule in data["rules"] if rule["type"] != "grade_order"]
    data["rules"] = [*rules, {"type": "grade_order"}] if grade_order else rules
    before = counts(database)
    answer = client.post("/v1/scenarios", json=data, headers=auth())
    assert answer.status_code == status, answer.text
    if status == 422:
        assert answer.json()["detail"] == [
            {"path": "solver.backend", "message": "backend 'highs' is not available here"}
        ]
        assert counts(database) == before


def test_a_backend_that_cannot_handle_the_rules_is_refused(client: TestClient, auth: Auth) -> None:
    data = scenario_data("regions-2025-metro-cap.yaml")
    data["solver"] = {"backend": "greedy"}
    answer = client.post("/v1/scenarios", json=data, headers=auth())
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["path"] == "solver.backend"


def _in_two_chunks(raw: bytes) -> Iterator[bytes]:
    """A body sent chunked, without a Content-Length."""
    yield raw[:600]
    yield raw[600:]


def test_oversized_bodies_answer_413(target: DatabaseTarget) -> None:
    app = create_app(target.settings(max_body_bytes=1000))
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {make_token(app.state.database, Role.PLANNER)}"}
        before = counts(app.state.database)
        big = scenario_yaml()
        assert len(big) > 1000
        declared = client.post("/v1/scenarios", content=big, headers=headers | YAML)
        assert declared.status_code == 413
        assert declared.json()["detail"][0]["message"].startswith("request body too large")
        streamed = client.post("/v1/scenarios", content=_in_two_chunks(big), headers=headers | YAML)
        assert streamed.status_code == 413
        run = json.dumps({"scenario": scenario_data()}).encode()
        as_json = headers | {"Content-Type": "application/json"}
        assert client.post("/v1/runs", content=run, headers=as_json).status_code == 413
        chunked = client.post("/v1/runs", content=_in_two_chunks(run), headers=as_json)
        assert chunked.status_code == 413
        assert counts(app.state.database) == before
