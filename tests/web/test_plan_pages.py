"""The web view takes runs of the plan's structure: the run page of each 2023 variant (a
region x kind matrix, two stages, the grading rules, components) renders with the API's
units, and two variants compare. (The matrix view of a run is the web view's to add.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from optimizer.loading import load_scenario
from tests.web.conftest import Browser, post_runs

FAMILY = Path(__file__).resolve().parents[2] / "scenarios" / "plan-2023"
RECT = re.compile(r'<rect class="bar series-(\d+)" data-recipient="([^"]+)"[^>]*data-units="(\d+)"')


@pytest.mark.parametrize(
    "name",
    [
        "region-kind-matrix.yaml",
        "two-stage.yaml",
        "grade-ladder-2013.yaml",
        "at-most-two-s.yaml",
        "base-and-incentive.yaml",
    ],
)
def test_the_run_page_of_each_variant_shows_its_units(
    browser: Browser, api: TestClient, name: str
) -> None:
    data = load_scenario(FAMILY / name).model_dump(mode="json")
    (run_id,) = post_runs(api, data, [])
    run = api.get(f"/v1/runs/{run_id}").json()
    units = {a["id"]: a["units"] for a in run["result"]["allocations"]}
    page = browser("committee").get(f"/ui/runs/{run_id}")
    assert page.status_code == 200
    bars = {key: int(value) for _, key, value in RECT.findall(page.text)}
    assert bars == units


def test_two_variants_compare(browser: Browser, api: TestClient) -> None:
    ids = [
        post_runs(api, load_scenario(FAMILY / name).model_dump(mode="json"), [])[0]
        for name in ("region-kind-matrix.yaml", "two-stage.yaml")
    ]
    compared = api.post("/v1/compare", json={"run_ids": ids}).json()
    page = browser("committee").get(f"/ui/compare?run={ids[0]}&run={ids[1]}")
    assert page.status_code == 200
    bars = RECT.findall(page.text)
    for recipient in compared["recipients"]:
        for series, units in enumerate(recipient["units"]):
            assert (str(series), recipient["id"], str(units)) in bars
