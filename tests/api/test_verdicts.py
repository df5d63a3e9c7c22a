"""Paradox verdicts in the service's compare and sweep answers: each compared run's own
checks, and budget / score monotonicity across a sweep's points (as ``allot sweep``)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from optimizer.sweep import parse_axis, run_sweep, variants
from tests.api.conftest import scenario_data
from tests.test_paradox_whatif import alabama

Auth = Callable[..., dict[str, str]]


def test_a_sweep_answers_the_verdicts_across_its_points(client: TestClient, auth: Auth) -> None:
    answer = client.post(
        "/v1/sweeps", json={"scenario": alabama(), "set": "budget=9:12:1"}, headers=auth()
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    axes = [parse_axis("budget=9:12:1")]
    expected = run_sweep(variants(alabama(), axes), axes, jobs=1).to_dict()["checks"]
    assert body["checks"] == expected
    assert body["checks"][0]["verdict"] == "fails" and "c gets 2" in body["checks"][0]["detail"]
    again = client.get(f"/v1/sweeps/{body['id']}?results=false", headers=auth("committee"))
    assert again.json()["checks"] == expected  # from the stored results, not the answer's
    grid = client.post(
        "/v1/sweeps",
        json={
            "scenario": alabama("jefferson"),
            "set": ["recipients[c].score=1,2,3", "budget=10,11"],
        },
        headers=auth(),
    ).json()
    assert [c["check"] for c in grid["checks"]] == ["score_monotonicity", "budget_monotonicity"]
    assert all(c["verdict"] == "holds" for c in grid["checks"])


def test_compare_answers_each_runs_verdicts(client: TestClient, auth: Auth) -> None:
    first = client.post("/v1/runs", json={"scenario": scenario_data()}, headers=auth()).json()
    other = client.post(
        "/v1/runs", json={"scenario": alabama() | {"budget": 11}}, headers=auth()
    ).json()
    answer = client.post(
        "/v1/compare", json={"run_ids": [first["id"], other["id"]]}, headers=auth("committee")
    )
    assert answer.status_code == 200, answer.text
    runs = answer.json()["runs"]
    assert runs[0]["checks"] == first["result"]["checks"]
    assert runs[1]["checks"] == other["result"]["checks"]
    budget = next(c for c in runs[1]["checks"] if c["check"] == "budget_monotonicity")
    assert budget["verdict"] == "holds"  # 11 -> 12 units: nobody loses (10 -> 11 does)
