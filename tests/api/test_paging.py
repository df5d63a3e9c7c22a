"""Cursor paging of the lists (``GET /v1/scenarios``, ``/v1/runs``, ``/v1/sweeps``): the
pages of ``next_cursor`` give every item once, newest first, even when items are added
between pages; offset paging keeps working; a cursor that the list did not give is a 422
at ``cursor``. The runs list names each run's stored scenario version."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from api import paging
from optimizer.errors import InputError
from tests.api.conftest import scenario_data

Auth = Callable[..., dict[str, str]]


def _store(client: TestClient, auth: Auth, name: str, budget: int = 1200) -> dict[str, Any]:
    data = scenario_data() | {"name": name, "budget": budget}
    answer = client.post("/v1/scenarios", json=data, headers=auth())
    assert answer.status_code == 201, answer.text
    stored: dict[str, Any] = answer.json()
    return stored


def _walk(client: TestClient, auth: Auth, path: str, limit: int) -> tuple[list[int], int]:
    """Every id the cursor pages give, and how many pages there were."""
    ids: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        answer = client.get(path, params=params, headers=auth("committee"))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages += 1
        ids += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        assert (cursor is None) == (len(ids) == body["total"])
        if cursor is None:
            return ids, pages


def test_the_cursor_pages_give_every_scenario_once_newest_first(
    client: TestClient, auth: Auth
) -> None:
    stored = [_store(client, auth, f"scenario {i}")["id"] for i in range(5)]
    ids, pages = _walk(client, auth, "/v1/scenarios", limit=2)
    assert ids == sorted(stored, reverse=True) and pages == 3
    first = client.get("/v1/scenarios?limit=2", headers=auth()).json()
    newer = _store(client, auth, "stored between the pages")["id"]
    second = client.get(
        "/v1/scenarios", params={"limit": 2, "cursor": first["next_cursor"]}, headers=auth()
    ).json()
    assert [i["id"] for i in second["items"]] == sorted(stored, reverse=True)[2:4]
    shifted = client.get("/v1/scenarios?limit=2&offset=2", headers=auth()).json()
    assert [i["id"] for i in shifted["items"]] == sorted(stored, reverse=True)[1:3]
    assert newer not in [i["id"] for i in second["items"]] and second["total"] == 6
    every = client.get("/v1/scenarios?limit=50", headers=auth()).json()
    assert every["next_cursor"] is None and len(every["items"]) == 6


def test_the_runs_list_pages_by_cursor_and_names_the_scenario_version(
    client: TestClient, auth: Auth
) -> None:
    first = _store(client, auth, "versioned", budget=1200)
    second = _store(client, auth, "versioned", budget=1300)
    assert (first["version"], second["version"]) == (1, 2)
    run_ids = []
    for scenario in (first, second, first):
        answer = client.post("/v1/runs", json={"scenario_id": scenario["id"]}, headers=auth())
        run_ids.append(answer.json()["id"])
    inline = client.post("/v1/runs", json={"scenario": scenario_data()}, headers=auth()).json()
    run_ids.append(inline["id"])
    ids, _ = _walk(client, auth, "/v1/runs", limit=3)
    assert ids == sorted(run_ids, reverse=True)
    listed = {r["id"]: r for r in client.get("/v1/runs", headers=auth()).json()["items"]}
    assert [listed[i]["scenario_version"] for i in run_ids] == [1, 2, 1, None]
    assert [listed[i]["budget"] for i in run_ids[:3]] == [1200, 1300, 1200]
    for key in ("status", "sweep_id", "created_at", "started_at", "finished_at", "timings"):
        assert key in listed[run_ids[0]]
    one = client.get(f"/v1/runs/{run_ids[1]}", headers=auth()).json()
    assert one["scenario_version"] == 2


def test_the_sweeps_list_pages_by_cursor(client: TestClient, auth: Auth) -> None:
    stored = _store(client, auth, "swept")
    sweep_ids = []
    for spec in ("budget=1100", "budget=1200", "budget=1300"):
        body = {"scenario_id": stored["id"], "set": spec}
        sweep_ids.append(client.post("/v1/sweeps", json=body, headers=auth()).json()["id"])
    ids, pages = _walk(client, auth, "/v1/sweeps", limit=1)
    assert ids == sorted(sweep_ids, reverse=True) and pages == 3


@pytest.mark.parametrize("path", ["/v1/scenarios", "/v1/runs", "/v1/sweeps"])
def test_a_cursor_the_list_did_not_give_is_a_422_at_cursor(
    client: TestClient, auth: Auth, path: str
) -> None:
    other = paging.encode("tokens" if path != "/v1/runs" else "sweeps", 5)
    cases: list[dict[str, str | int]] = [
        {"cursor": "not a cursor"},
        {"cursor": other},
        {"cursor": paging.encode(path.rsplit("/", 1)[1], 5), "offset": 3},
        {"cursor": paging.encode(path.rsplit("/", 1)[1], 0)},
        {"cursor": "x" * 101},
        {"cursor": "\u00e9\u00e9"},
    ]
    for params in cases:
        answer = client.get(path, params=params, headers=auth())
        assert answer.status_code == 422, (params, answer.text)
        assert answer.json()["detail"][0]["path"].endswith("cursor"), answer.text


@given(st.text(max_size=60))
def test_decoding_any_text_gives_an_id_in_range_or_an_input_error(text: str) -> None:
    try:
        found = paging.decode("runs", text)
    except InputError as exc:
        assert [p.path for p in exc.problems] == ["cursor"]
    else:
        assert 1 <= found <= 2**31 - 1 and paging.encode("runs", found).rstrip("=") != ""


@given(st.integers(min_value=1, max_value=2**31 - 1), st.sampled_from(["runs", "sweeps"]))
def test_every_cursor_decodes_to_its_id(last_id: int, kind: str) -> None:
    assert paging.decode(kind, paging.encode(kind, last_id)) == last_id
