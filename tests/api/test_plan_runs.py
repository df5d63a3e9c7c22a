"""The plan's structure through the service: a region x kind matrix, two stages and the
grading rules run through ``/v1/runs`` as through ``solve()``; a bad matrix rule is a 422
at its field path and stores nothing; an impossible matrix is a run with its diagnosis."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.db import Database
from optimizer.loading import load_scenario
from optimizer.solve import solve
from tests.api.conftest import counts

Auth = Callable[..., dict[str, str]]
FAMILY = Path(__file__).resolve().parents[2] / "scenarios" / "plan-2023"


def plan(name: str) -> dict[str, Any]:
    data: dict[str, Any] = load_scenario(FAMILY / name).model_dump(mode="json")
    return data


def units(result: dict[str, Any]) -> dict[str, int]:
    return {a["id"]: a["units"] for a in result["allocations"]}


@pytest.mark.parametrize(
    "name",
    [
        "region-kind-matrix.yaml",
        "two-stage.yaml",
        "grade-ladder-2013.yaml",
        "at-most-two-s.yaml",
    ],
)
def test_each_plan_variant_runs_as_it_solves(client: TestClient, auth: Auth, name: str) -> None:
    answer = client.post("/v1/runs", json={"scenario": plan(name)}, headers=auth())
    assert answer.status_code == 201, answer.text
    run = answer.json()
    direct = json.loads(json.dumps(solve(load_scenario(FAMILY / name)).to_dict()))
    assert run["outcome"] == "optimal"
    assert units(run["result"]) == units(direct)
    assert run["result"]["certificate"] == direct["certificate"]
    assert run["result"]["message"] == direct["message"]


def test_a_bad_matrix_rule_is_a_422_at_its_path(
    client: TestClient, auth: Auth, database: Database
) -> None:
    data = plan("region-kind-matrix.yaml")
    data["rules"][0]["column_totals"]["robots"] = 10
    before = counts(database)
    answer = client.post("/v1/runs", json={"scenario": data}, headers=auth())
    assert answer.status_code == 422, answer.text
    paths = [p["path"] for p in answer.json()["detail"]]
    assert "rules[0].column_totals.robots" in paths
    assert counts(database) == before


def test_an_impossible_matrix_is_a_run_with_its_diagnosis(client: TestClient, auth: Auth) -> None:
    data = copy.deepcopy(plan("region-kind-matrix.yaml"))
    data["rules"][0]["column_totals"] = {"main": 2000, "future": 900}
    answer = client.post("/v1/runs", json={"scenario": data}, headers=auth())
    assert answer.status_code == 201, answer.text
    run = answer.json()
    assert run["outcome"] == "infeasible"
    (relax,) = run["result"]["diagnosis"]["relax"]
    assert relax["amount"] == 36 and relax["kind"] == "biproportional_column_totals"
