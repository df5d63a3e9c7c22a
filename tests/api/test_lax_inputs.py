"""Each lax input the planner's-workflow issue listed, tried again through real HTTP (a JSON
body, an inline run, a multipart upload) and through the CLI: every one is a 422 (exit 2)
naming its field, and nothing is stored. Overrides and sweep parameters reach only fields
that exist; malformed or absurdly nested JSON is a 422 on every endpoint, never a 400."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.db import Database
from optimizer.cli import app as cli_app
from tests.api.conftest import counts, scenario_data

Auth = Callable[..., dict[str, str]]
runner = CliRunner()


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        node: Any = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return edit


def _both(edits: list[Callable[[dict[str, Any]], None]]) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        for one in edits:
            one(data)

    return edit


# (what the issue said was accepted, the edit, the field path refused)
LAX = [
    ("budget true", _set(("budget",), True), "budget"),
    ("score true", _set(("recipients", 0, "score"), True), "recipients[0].score"),
    ("budget as text", _set(("budget",), "1200"), "budget"),
    ("1.5 MB name", _set(("name",), "n" * 1_500_000), "name"),
    ("400 KB recipient name", _set(("recipients", 1, "name"), "r" * 400_000), "recipients[1].name"),
    (
        "score 1e300 x weight 1e300",
        _both([_set(("recipients", 0, "score"), 1e300), _set(("recipients", 0, "weight"), 1e300)]),
        "recipients[0].score",
    ),
    ("unit value 1e308", _set(("unit", "value"), 1e308), "unit.value"),
]


def _data(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy(scenario_data())
    edit(data)
    return data


def _refused(answer: Any, path: str) -> None:
    assert answer.status_code == 422, answer.text[:500]
    paths = [p["path"] for p in answer.json()["detail"]]
    assert any(p == path or p.endswith(path) for p in paths), paths


@pytest.mark.parametrize(("what", "edit", "path"), LAX, ids=[case[0] for case in LAX])
def test_each_lax_input_is_refused_by_every_way_in(
    client: TestClient,
    auth: Auth,
    database: Database,
    what: str,
    edit: Callable[[dict[str, Any]], None],
    path: str,
) -> None:
    data = _data(edit)
    before = counts(database)
    _refused(client.post("/v1/scenarios", json=data, headers=auth()), path)
    _refused(client.post("/v1/runs", json={"scenario": data}, headers=auth()), path)
    upload = [("files", ("lax.yaml", yaml.safe_dump(data, allow_unicode=True).encode()))]
    _refused(client.post("/v1/scenarios", files=upload, headers=auth()), path)
    assert counts(database) == before


@pytest.mark.parametrize(("what", "edit", "path"), LAX, ids=[case[0] for case in LAX])
def test_each_lax_input_is_exit_2_in_the_cli(
    tmp_path: Path, what: str, edit: Callable[[dict[str, Any]], None], path: str
) -> None:
    file = tmp_path / "lax.json"
    file.write_text(json.dumps(_data(edit)), "utf-8")
    answer = runner.invoke(cli_app, ["solve", str(file)])
    assert answer.exit_code == 2, answer.output[:300]
    assert f"error: {path}:" in answer.stderr


@pytest.mark.parametrize(
    ("assignment", "path"),
    [
        ("extends=/etc/passwd", "extends"),
        ("extends.name=x", "extends.name"),
        ("nonexistent=3", "nonexistent"),
        ("recipients[busan].bogus=1", "recipients[0].bogus"),
        ("solver.bogus=1", "solver.bogus"),
        ("recipients[nobody].floor=3", "recipients[nobody]"),
        ("budget", "overrides[0]"),
    ],
)
def test_overrides_and_sweep_parameters_reach_only_fields_that_exist(
    client: TestClient, auth: Auth, database: Database, assignment: str, path: str
) -> None:
    stored = client.post("/v1/scenarios", json=scenario_data(), headers=auth()).json()
    before = counts(database)
    run = {"scenario_id": stored["id"], "overrides": [assignment]}
    _refused(client.post("/v1/runs", json=run, headers=auth()), path)
    inline = {"scenario": scenario_data(), "overrides": [assignment]}
    _refused(client.post("/v1/runs", json=inline, headers=auth()), path)
    if "=" in assignment:
        sweep = {"scenario_id": stored["id"], "set": [assignment, "budget=1100,1200"]}
        _refused(client.post("/v1/sweeps", json=sweep, headers=auth()), path)
    assert counts(database) == before


def test_the_cli_refuses_the_same_overrides_with_exit_2(tmp_path: Path) -> None:
    file = tmp_path / "s.json"
    file.write_text(json.dumps(scenario_data()), "utf-8")
    for assignment, path in (("extends=/etc/passwd", "extends"), ("nonexistent=3", "nonexistent")):
        answer = runner.invoke(cli_app, ["sweep", str(file), "--set", assignment])
        assert answer.exit_code == 2 and f"error: {path}:" in answer.stderr, answer.output


DEEP = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 50_000 + "1" + "}" * 50_000
MALFORMED = ['{"name": ', "[1,]", '{"a": 1} trailing', "\ufeff{", '{"a": NaN', DEEP, DEEP_OBJECT]
ENDPOINTS = ["/v1/scenarios", "/v1/runs", "/v1/sweeps", "/v1/compare", "/v1/tokens"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_malformed_or_deeply_nested_json_is_a_422_with_a_path(
    client: TestClient, auth: Auth, database: Database, endpoint: str
) -> None:
    before = counts(database)
    for body in MALFORMED:
        answer = client.post(
            endpoint,
            content=body.encode(),
            headers=auth("admin") | {"Content-Type": "application/json"},
        )
        assert answer.status_code == 422, (endpoint, body[:20], answer.text[:300])
        problems = answer.json()["detail"]
        assert problems and all("path" in p and p["message"] for p in problems)
    nested = {"scenario": json.loads('{"a":' * 900 + "1" + "}" * 900)}
    if endpoint in ("/v1/runs", "/v1/sweeps"):
        request = nested if endpoint == "/v1/runs" else nested | {"set": "budget=1"}
        answer = client.post(endpoint, json=request, headers=auth())
        assert answer.status_code == 422, answer.text[:300]
        assert answer.json()["detail"][0]["path"] != "set", answer.text[:300]
    assert counts(database) == before
