"""Allocation downloads (JSON, CSV, XLSX, Parquet), comparisons and sweeps: each equals what the
library gives for the same scenarios solved directly."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.db import Database, Role
from api.main import create_app
from optimizer import cli
from optimizer.compare import compare
from optimizer.loading import validate_data
from optimizer.overrides import apply_overrides
from optimizer.solve import solve
from tests.api.conftest import (
    SCENARIOS,
    DatabaseTarget,
    counts,
    make_token,
    scenario_data,
    wait_for_run,
)

Auth = Callable[..., dict[str, str]]


def _direct(data: dict[str, Any], overrides: list[str] | None = None) -> dict[str, Any]:
    if overrides:
        data = apply_overrides(data, overrides)
    result: dict[str, Any] = json.loads(json.dumps(solve(validate_data(data)).to_dict()))
    return result


def _units(result: dict[str, Any]) -> dict[str, int]:
    return {a["id"]: a["units"] for a in result["allocations"]}


def _run(client: TestClient, auth: Auth, name: str, overrides: list[str] | None = None) -> Any:
    stored = client.post("/v1/scenarios", json=scenario_data(name), headers=auth()).json()
    body = {"scenario_id": stored["id"], "overrides": overrides or []}
    answer = client.post("/v1/runs", json=body, headers=auth())
    assert answer.status_code == 201, answer.text
    return answer.json()


# --------------------------------------------------------------------------- downloads


def test_allocations_as_json_csv_and_xlsx_agree(client: TestClient, auth: Auth) -> None:
    run = _run(client, auth, "regions-2025-metro-cap.yaml")
    expected = _units(run["result"])
    base = f"/v1/runs/{run['id']}/allocations"
    as_json = client.get(base, headers=auth("committee"))
    assert as_json.status_code == 200
    assert as_json.json()["allocations"] == run["result"]["allocations"]
    assert _units(as_json.json()) == expected

    as_csv = client.get(f"{base}?format=csv", headers=auth("committee"))
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in as_csv.headers["content-disposition"]
    assert as_csv.content.startswith("\ufeff".encode())  # a BOM: Excel reads it as UTF-8
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8").removeprefix("\ufeff"))))
    assert {r["id"]: int(r["units"]) for r in rows} == expected
    assert [r["id"] for r in rows] == [a["id"] for a in run["result"]["allocations"]]
    metro = next(r for r in rows if r["id"] == "busan")
    assert metro["binding"] == "metro at most 35%"

    as_xlsx = client.get(f"{base}?format=xlsx", headers=auth("committee"))
    assert as_xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(as_xlsx.content))
    sheet = book["allocations"]
    assert sheet.freeze_panes == "A2"
    header = [c.value for c in sheet[1]]
    assert header[:7] == ["id", "name", "grade", "score", "quota", "entitlement", "units"]
    units_col = header.index("units")
    table = {row[0].value: row[units_col].value for row in sheet.iter_rows(min_row=2)}
    assert table == expected
    assert sheet.cell(row=2, column=units_col + 1).number_format == "#,##0"
    assert sheet.cell(row=2, column=header.index("share") + 1).number_format == "0.00%"
    info = {row[0].value: row[1].value for row in book["run"].iter_rows()}
    assert info["run"] == run["id"] and info["outcome"] == "optimal"


def test_allocations_as_parquet_match_the_cli(
    client: TestClient, auth: Auth, tmp_path: Path
) -> None:
    """The service's Parquet download holds the run's allocations, typed as the CLI's
    ``allot solve -f parquet`` writes them for the same scenario."""
    import pyarrow.parquet as pq

    run = _run(client, auth, "regions-2025-metro-cap.yaml")
    answer = client.get(
        f"/v1/runs/{run['id']}/allocations?format=parquet", headers=auth("committee")
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/vnd.apache.parquet"
    assert 'filename="allot-run-' in answer.headers["content-disposition"]
    served = pq.read_table(io.BytesIO(answer.content))
    allocations = run["result"]["allocations"]
    assert served.column("id").to_pylist() == [a["id"] for a in allocations]
    assert served.column("units").to_pylist() == [a["units"] for a in allocations]
    assert served.column("share").to_pylist() == [a["share"] for a in allocations]
    busan = served.column("id").to_pylist().index("busan")
    assert served.column("binding").to_pylist()[busan] == "metro at most 35%"

    out = tmp_path / "cli.parquet"
    scenario = str(SCENARIOS / "regions-2025-metro-cap.yaml")
    outcome = CliRunner().invoke(cli.app, ["solve", scenario, "-f", "parquet", "-o", str(out)])
    assert outcome.exit_code == 0, outcome.output
    written = pq.read_table(out)
    assert served.schema.names == written.schema.names
    assert served.schema.types == written.schema.types
    assert served.column("units").to_pylist() == written.column("units").to_pylist()
    assert served.column("grade").to_pylist() == written.column("grade").to_pylist()


def test_allocations_of_a_run_without_one_are_409(client: TestClient, auth: Auth) -> None:
    run = _run(client, auth, "regions-2025-infeasible.yaml")
    answer = client.get(f"/v1/runs/{run['id']}/allocations?format=csv", headers=auth())
    assert answer.status_code == 409
    assert "no allocation" in answer.json()["detail"][0]["message"]
    assert client.get("/v1/runs/42/allocations", headers=auth()).status_code == 404
    assert (
        client.get(f"/v1/runs/{run['id']}/allocations?format=pdf", headers=auth()).status_code
        == 422
    )


def test_allocations_of_a_queued_run_are_409(target: DatabaseTarget) -> None:
    app = create_app(target.settings(job_delay_s=1.0, workers=1))
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {make_token(app.state.database, Role.PLANNER)}"}
        run = client.post(
            "/v1/runs?async=true", json={"scenario": scenario_data()}, headers=headers
        ).json()
        answer = client.get(f"/v1/runs/{run['id']}/allocations", headers=headers)
        assert answer.status_code == 409
        assert "once it is done" in answer.json()["detail"][0]["message"]
        assert wait_for_run(client, run["id"], headers)["status"] == "done"


# --------------------------------------------------------------------------- compare


def test_compare_equals_the_library_on_direct_solves(client: TestClient, auth: Auth) -> None:
    base = _run(client, auth, "regions-2025.yaml")
    capped = _run(client, auth, "regions-2025-metro-cap.yaml")
    cut = _run(client, auth, "regions-2025-cut.yaml")
    answer = client.post(
        "/v1/compare",
        json={"run_ids": [base["id"], capped["id"], cut["id"]]},
        headers=auth("committee"),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    direct = [
        _direct(scenario_data(n))
        for n in ("regions-2025.yaml", "regions-2025-metro-cap.yaml", "regions-2025-cut.yaml")
    ]
    labels = [f"run {r['id']}" for r in (base, capped, cut)]
    expected = compare(direct, labels=labels)
    for entry, run in zip(expected["runs"], (base, capped, cut), strict=True):
        entry["run_id"] = run["id"]
        entry["solver"]["seconds"] = None
        assert entry["checks"] == []  # a direct solve without checks: the runs carry theirs
        entry["checks"] = run["result"]["checks"]
        assert [c["check"] for c in entry["checks"]] == [
            "quota",
            "budget_monotonicity",
            "score_monotonicity",
        ]
    for entry in body["runs"]:
        entry["solver"]["seconds"] = None
    assert body == expected
    busan = next(r for r in body["recipients"] if r["id"] == "busan")
    units = [_units(d)["busan"] for d in direct]
    assert busan["units"] == units
    assert busan["diff_units"] == [0, units[1] - units[0], units[2] - units[0]]
    assert busan["diff_pct"][1] == pytest.approx(100 * (units[1] - units[0]) / units[0])
    assert {"rule": "metro at most 35%", "bound": [False, True, False]} in body["rules"]
    assert [r["metrics"] for r in body["runs"]] == [d["metrics"] for d in direct]


@pytest.mark.parametrize(
    ("run_ids", "status", "path"),
    [([1], 422, "run_ids"), ([1, 99], 404, "run_ids[1]"), ([1, "x"], 422, "run_ids[1]")],
)
def test_compare_errors(
    client: TestClient, auth: Auth, run_ids: list[Any], status: int, path: str
) -> None:
    _run(client, auth, "regions-2025.yaml")
    answer = client.post("/v1/compare", json={"run_ids": run_ids}, headers=auth("committee"))
    assert answer.status_code == status
    assert answer.json()["detail"][0]["path"] == path


# --------------------------------------------------------------------------- sweeps


def test_a_budget_sweep_equals_solving_each_budget(client: TestClient, auth: Auth) -> None:
    stored = client.post(
        "/v1/scenarios", json=scenario_data("regions-2025-metro-cap.yaml"), headers=auth()
    ).json()
    answer = client.post(
        "/v1/sweeps",
        json={"scenario_id": stored["id"], "set": "budget=1100:1400:100", "note": "budgets"},
        headers=auth(),
    )
    assert answer.status_code == 201, answer.text
    sweep = answer.json()
    assert sweep["status"] == "done"
    assert sweep["parameter"] == "budget" and sweep["values"] == [1100, 1200, 1300, 1400]
    assert [r["sweep_value"] for r in sweep["runs"]] == [1100, 1200, 1300, 1400]
    for run, budget in zip(sweep["runs"], sweep["values"], strict=True):
        expected = _direct(scenario_data("regions-2025-metro-cap.yaml"), [f"budget={budget}"])
        assert run["sweep_id"] == sweep["id"] and run["status"] == "done"
        assert run["overrides"] == [f"budget={budget}"]
        assert _units(run["result"]) == _units(expected)
        assert run["scenario_hash"] == expected["scenario"]["hash"]
    again = client.get(f"/v1/sweeps/{sweep['id']}", headers=auth("committee")).json()
    assert again == sweep
    listed = client.get(f"/v1/runs?sweep_id={sweep['id']}", headers=auth()).json()
    assert listed["total"] == 4


def test_a_list_sweep_of_a_rule_with_base_overrides(client: TestClient, auth: Auth) -> None:
    body = {
        "scenario": scenario_data("regions-2025-metro-cap.yaml"),
        "overrides": ["budget=1300"],
        "set": "rules[2].max_share=0.33,0.35,0.5",
    }
    sweep = client.post("/v1/sweeps", json=body, headers=auth()).json()
    assert sweep["values"] == [0.33, 0.35, 0.5]
    assert [r["outcome"] for r in sweep["runs"]] == ["infeasible", "optimal", "optimal"]
    for run, share in zip(sweep["runs"], sweep["values"], strict=True):
        overrides = ["budget=1300", f"rules[2].max_share={share}"]
        expected = _direct(scenario_data("regions-2025-metro-cap.yaml"), overrides)
        assert run["overrides"] == overrides
        assert run["outcome"] == expected["status"]
        assert _units(run["result"]) == _units(expected)


def test_an_async_sweep_answers_202(client: TestClient, auth: Auth) -> None:
    body = {"scenario": scenario_data(), "set": "budget=1000,1200"}
    answer = client.post("/v1/sweeps?async=true", json=body, headers=auth())
    assert answer.status_code == 202
    sweep_id = answer.json()["id"]
    assert answer.headers["location"] == f"/v1/sweeps/{sweep_id}"
    for run in answer.json()["runs"]:
        wait_for_run(client, run["id"], auth())
    assert client.get(f"/v1/sweeps/{sweep_id}", headers=auth()).json()["status"] == "done"


@pytest.mark.parametrize(
    ("spec", "path", "words"),
    [
        ("budget", "set", "expected path=value"),
        ("budget=", "set", "no values"),
        ("budget=1:2", "set", "start:stop:step"),
        ("budget=a:b:c", "set", "three numbers"),
        ("budget=10:1:1", "set", "never gets"),
        ("budget=1:100000:1", "set", "at most 200"),
        ("budget=1000,,1200", "set", "empty value"),
        ("budget=1000,-5", "budget", "with budget=-5: "),
        ("rules[7].max_share=0.1,0.2", "rules[7]", "index out of range"),
    ],
)
def test_bad_sweeps_store_nothing(
    client: TestClient, auth: Auth, database: Database, spec: str, path: str, words: str
) -> None:
    before = counts(database)
    body = {"scenario": scenario_data(), "set": spec}
    answer = client.post("/v1/sweeps", json=body, headers=auth())
    assert answer.status_code == 422, answer.text
    problem = answer.json()["detail"][0]
    assert problem["path"] == path and words in problem["message"], problem
    assert counts(database) == before
    assert client.get("/v1/sweeps/1", headers=auth()).status_code == 404
