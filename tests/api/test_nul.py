"""Text the database cannot store (a NUL character, an unpaired surrogate) is a 422 with the
field path wherever it comes in (JSON and YAML bodies, a scenario sent as text, query
parameters, form fields, uploaded files), the same on SQLite and PostgreSQL, and nothing is
stored. Ordinary text with backslashes and Korean still goes through."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from api.db import Database
from tests.api.conftest import counts, scenario_data

Auth = Callable[..., dict[str, str]]


def _problems(answer: Any) -> list[tuple[str, str]]:
    assert answer.status_code == 422, answer.text
    return [(p["path"], p["message"]) for p in answer.json()["detail"]]


NUL = "contains a NUL character (U+0000), which cannot be stored"


def _with_names(first: str, second: str) -> dict[str, Any]:
    data = scenario_data()
    data["name"] = first
    data["recipients"][1]["name"] = second
    return data


def test_nul_in_json_bodies_is_a_422_at_each_field(
    client: TestClient, auth: Auth, database: Database
) -> None:
    before = counts(database)
    stored = client.post("/v1/scenarios", json=_with_names("a\x00b", "부산\x00"), headers=auth())
    assert _problems(stored) == [("name", NUL), ("recipients[1].name", NUL)]
    run = client.post(
        "/v1/runs",
        json={"scenario": _with_names("ok", "x\x00"), "note": "n\x00", "overrides": ["a\x00"]},
        headers=auth(),
    )
    assert _problems(run) == [
        ("scenario.recipients[1].name", NUL),
        ("note", NUL),
        ("overrides[0]", NUL),
    ]
    sweep = client.post(
        "/v1/sweeps", json={"scenario": scenario_data(), "set": "budget=1\x00"}, headers=auth()
    )
    assert _problems(sweep) == [("set", NUL)]
    token = client.post(
        "/v1/tokens", json={"role": "planner", "name": "\x00"}, headers=auth("admin")
    )
    assert _problems(token) == [("name", NUL)]
    assert counts(database) == before


def test_nul_in_yaml_and_in_a_scenario_sent_as_text(
    client: TestClient, auth: Auth, database: Database
) -> None:
    before = counts(database)
    text = yaml.safe_dump(scenario_data(), allow_unicode=True, sort_keys=False)
    escaped = text.replace("name: 2025 baseline (illustrative)", 'name: "2025\\0 baseline"')
    assert escaped != text
    body = client.post(
        "/v1/scenarios",
        content=escaped.encode(),
        headers=auth() | {"Content-Type": "application/yaml"},
    )
    assert _problems(body) == [("name", NUL)]
    as_text = client.post("/v1/runs", json={"scenario": escaped}, headers=auth())
    assert _problems(as_text) == [("scenario.name", NUL)]
    assert counts(database) == before


def test_nul_in_a_key_and_an_unpaired_surrogate(
    client: TestClient, auth: Auth, database: Database
) -> None:
    before = counts(database)
    data = scenario_data()
    data["recipients"][0]["tags"] = {"kind\x00": "metro"}
    keyed = client.post("/v1/scenarios", json=data, headers=auth())
    assert _problems(keyed) == [("recipients[0].tags.kind\\u0000", "the key " + NUL)]
    raw = json.dumps(_with_names("ok", "x")).replace('"x"', '"\\ud800"')
    surrogate = client.post(
        "/v1/scenarios",
        content=raw.encode(),
        headers=auth() | {"Content-Type": "application/json"},
    )
    assert _problems(surrogate) == [
        ("recipients[1].name", "contains an unpaired surrogate (U+D800), which is not Unicode text")
    ]
    assert counts(database) == before


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/scenarios?name=a%00b", "name"),
        ("/v1/runs?status=done%00", "status"),
        ("/ui/runs?lang=ko%00", "lang"),
    ],
)
def test_nul_in_a_query_parameter(client: TestClient, auth: Auth, path: str, field: str) -> None:
    assert _problems(client.get(path, headers=auth())) == [(field, NUL)]


def test_nul_in_a_form_field_and_an_uploaded_file(client: TestClient, database: Database) -> None:
    before = counts(database)
    login = client.post("/ui/login", data={"token": "allot_\x00"})
    assert _problems(login) == [("token", NUL)]
    upload = client.post(
        "/ui/scenarios",
        files={"file": ("s.yaml", b'name: "x\\0"\nbudget: 10\n', "application/yaml")},
        data={"csrf": "x"},
    )
    assert _problems(upload) == [("file.name", NUL)]
    assert counts(database) == before


def test_backslashes_and_korean_are_stored_as_sent(client: TestClient, auth: Auth) -> None:
    data = _with_names("C:\\plans\\2025 \\0 (not a NUL)", "부산광역시 \\u0000")
    stored = client.post("/v1/scenarios", json=data, headers=auth())
    assert stored.status_code == 201, stored.text
    body = client.get(f"/v1/scenarios/{stored.json()['id']}", headers=auth()).json()
    assert body["name"] == "C:\\plans\\2025 \\0 (not a NUL)"
    assert body["body"]["recipients"][1]["name"] == "부산광역시 \\u0000"
    listed = client.get("/v1/scenarios", params={"name": data["name"]}, headers=auth())
    assert listed.json()["total"] == 1
