"""The scenario form in a real browser (Debian's Chromium, as tests/web/test_browser.py): a
planner picks a variant, its baseline and its spreadsheet in one file field, the scenario is
stored with the hash ``load_scenario`` gives; a wrong spreadsheet shows every problem as a
list on the form. Then the grid sweep's page and its CSV link from the browser."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from playwright.sync_api import Browser

from api.db import Role
from optimizer.loading import load_scenario
from tests.api.conftest import SCENARIOS, scenario_data
from tests.api.test_server import Server
from tests.web.test_browser import VIEWPORT, _sign_in, _tokens, chromium, server

__all__ = ["chromium", "server"]  # the fixtures, used by name

FAMILY = [
    "programmes-2025-future-floor.yaml",
    "programmes-2025-baseline.yaml",
    "programmes-2025.csv",
]


def test_a_planner_uploads_a_family_in_one_field_and_reads_a_grid_sweep(
    server: Server, chromium: Browser, tmp_path: Path
) -> None:
    (planner,) = _tokens(server, (Role.PLANNER, "planner"))
    server.start()
    context = chromium.new_context(base_url=server.base, viewport=VIEWPORT, accept_downloads=True)
    page = context.new_page()
    page.goto("/ui/scenarios?lang=en")
    _sign_in(page, planner)
    page.set_input_files("#files", [str(SCENARIOS / name) for name in FAMILY])
    page.click('form[action="/ui/scenarios"] button[type="submit"]')
    assert "/ui/scenarios?stored=" in page.url, page.content()[:500]
    stored = int(page.url.rsplit("=", 1)[1])
    headers = {"Authorization": f"Bearer {planner}"}
    with httpx.Client(base_url=server.base, headers=headers, timeout=60) as api:
        body = api.get(f"/v1/scenarios/{stored}").json()
        assert body["content_hash"] == load_scenario(SCENARIOS / FAMILY[0]).content_hash

        broken = tmp_path / "programmes-2025.csv"
        lines = (SCENARIOS / "programmes-2025.csv").read_text("utf-8").splitlines()
        cells = lines[3].split(",")
        cells[2] = "heavy"
        lines[3] = ",".join(cells)
        broken.write_text("\n".join(lines), "utf-8")
        page.set_input_files("#files", [str(SCENARIOS / FAMILY[1]), str(broken)])
        page.click('form[action="/ui/scenarios"] button[type="submit"]')
        problems = page.locator("ul.problems li").all_inner_texts()
        assert any("programmes-2025.csv" in p and "row 4" in p for p in problems), problems

        data = api.post("/v1/scenarios", json=scenario_data()).json()
        sets = ["budget=1100,1300", "recipients[jeju].floor=30,50"]
        sweep = api.post("/v1/sweeps", json={"scenario_id": data["id"], "set": sets}).json()
        deadline = time.monotonic() + 120
        while sweep["status"] != "done" and time.monotonic() < deadline:  # 202 when busy
            time.sleep(0.2)
            sweep = api.get(f"/v1/sweeps/{sweep['id']}?results=false").json()
        assert sweep["status"] == "done", sweep["status"]
    page.goto(f"/ui/sweeps/{sweep['id']}")
    heads = page.locator("tr.grid-head th[scope=row]").all_inner_texts()
    assert heads == ["budget", "recipients[jeju].floor"]
    assert page.locator("svg polyline").count() == 0
    with page.expect_download() as download:
        page.click("a.table-csv")
    saved = tmp_path / "sweep.csv"
    download.value.save_as(saved)
    header = saved.read_text("utf-8-sig").splitlines()[0]
    assert header.startswith("Recipient,id,") and "recipients[jeju].floor = 30" in header
    context.close()
