"""The web view in a real browser: Debian's Chromium (never a downloaded browser) driven by
Playwright against ``allot serve`` on a free port with its own SQLite database.

A committee member, with JavaScript off, signs in, opens a run (the table's numbers are the
API's, the chart has one bar per recipient), downloads its CSV (the API's bytes) and compares
two runs; a planner, with JavaScript on, uploads a scenario and runs it with another budget.
The compare page is saved as a screenshot (``ALLOT_UPDATE_DOCS=1`` also copies it to
``docs/compare.png``, the README's picture).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from api.db import Database, Role
from tests.api.conftest import ROOT, DatabaseTarget, make_token, scenario_data, scenario_yaml
from tests.api.test_server import Server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT: ViewportSize = {"width": 1366, "height": 900}
README_SCREENSHOT = ROOT / "docs" / "compare.png"


@pytest.fixture
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = (
            "Debian's chromium is not installed (make test installs it: apt-get install chromium)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    found = Server(DatabaseTarget("sqlite", tmp_path), tmp_path)
    try:
        yield found
    finally:
        found.stop(kill=True)


def _tokens(server: Server, *wanted: tuple[Role, str]) -> list[str]:
    """Tokens made in the server's database (as ``allot token create`` does), before it starts."""
    database = Database(server.target.url)
    try:
        database.migrate()
        return [make_token(database, role, name) for role, name in wanted]
    finally:
        database.dispose()


def _local_only(page: Page, base: str, seen: list[str]) -> None:
    """Record every request; anything not to the server under test is refused."""

    def check(route: Any) -> None:
        url = route.request.url
        seen.append(url)
        if url.startswith(base + "/"):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", check)


def _sign_in(page: Page, token: str) -> None:
    page.fill("#token", token)
    page.click('form[action="/ui/login"] button[type="submit"]')


def _number(text: str) -> int:
    return int(text.strip().rstrip("*").replace(",", ""))


def test_the_committee_reads_compares_and_downloads_and_a_planner_reruns(
    server: Server, chromium: Browser, tmp_path: Path
) -> None:
    committee, planner = _tokens(
        server, (Role.COMMITTEE, "위원 committee"), (Role.PLANNER, "planner")
    )
    server.start()
    headers = {"Authorization": f"Bearer {planner}"}
    with httpx.Client(base_url=server.base, headers=headers, timeout=60) as api:
        run_ids = []
        for name in ("regions-2025.yaml", "regions-2025-metro-cap.yaml"):
            stored = api.post("/v1/scenarios", json=scenario_data(name)).json()
            run = api.post("/v1/runs", json={"scenario_id": stored["id"]})
            assert run.status_code == 201 and run.json()["outcome"] == "optimal"
            run_ids.append(run.json()["id"])
        first, second = run_ids
        units = {
            a["id"]: a["units"]
            for a in api.get(f"/v1/runs/{first}").json()["result"]["allocations"]
        }
        api_csv = api.get(f"/v1/runs/{first}/allocations?format=csv").text
        compared = api.post("/v1/compare", json={"run_ids": run_ids}).json()

    # ---------------------------------------------------------------- committee, no JavaScript
    context = chromium.new_context(
        base_url=server.base, viewport=VIEWPORT, java_script_enabled=False, accept_downloads=True
    )
    page = context.new_page()
    requests: list[str] = []
    _local_only(page, server.base, requests)

    page.goto("/ui/runs")
    assert page.url.endswith("/ui/login")
    _sign_in(page, "allot_not-a-token")
    assert "That token is not valid" in page.inner_text("main")
    _sign_in(page, committee)
    assert page.url.endswith("/ui/runs")
    assert "위원 committee · committee" in page.inner_text("header")
    assert page.locator('a[href="/ui/scenarios"].button').count() == 0  # no planner actions

    page.click(f'a[href="/ui/runs/{first}"]')
    assert page.url.endswith(f"/ui/runs/{first}")
    rows = page.locator("table.allocations tbody tr")
    shown = {
        rows.nth(i).get_attribute("data-recipient"): _number(
            rows.nth(i).locator("td.units").inner_text()
        )
        for i in range(rows.count())
    }
    assert shown == units
    bars = page.locator("svg.chart rect[data-recipient]")
    assert bars.count() == len(units) == 14
    assert sorted(bars.nth(i).get_attribute("data-recipient") or "" for i in range(14)) == sorted(
        units
    )
    assert page.locator("svg.chart").first.bounding_box() is not None

    with page.expect_download() as download:
        page.click("#download-csv")
    assert download.value.suggested_filename == f"allot-run-{first}.csv"
    assert Path(download.value.path()).read_text(encoding="utf-8") == api_csv

    page.goto("/ui/runs")
    page.check(f'input[name="run"][value="{first}"]')
    page.check(f'input[name="run"][value="{second}"]')
    page.click("button.compare-button")
    assert "/ui/compare?" in page.url
    grouped = page.locator("svg.chart.grouped rect[data-recipient]")
    assert grouped.count() == 2 * 14
    table = page.locator("table.differences tbody tr")
    assert table.count() == len(compared["recipients"])
    for recipient in compared["recipients"]:
        row = page.locator(f'table.differences tr[data-recipient="{recipient["id"]}"]')
        cells = row.locator("td.units")
        assert [_number(cells.nth(i).inner_text()) for i in range(2)] == recipient["units"]
    assert page.locator("td.decrease").count() > 0 and page.locator("td.increase").count() > 0
    assert "held by metro at most 35% in run B" in page.inner_text("section.changes")

    shot = tmp_path / "compare.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("ALLOT_UPDATE_DOCS"):
        README_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, README_SCREENSHOT)

    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert page.locator("svg.chart.grouped").is_visible()
    context.close()
    assert requests and all(url.startswith(server.base + "/") for url in requests)

    # ---------------------------------------------------------------- planner, JavaScript on
    context = chromium.new_context(base_url=server.base, viewport=VIEWPORT)
    page = context.new_page()
    page.goto("/ui/scenarios")
    _sign_in(page, planner)
    assert page.url.endswith("/ui/scenarios")
    upload = tmp_path / "cut.yaml"
    upload.write_bytes(scenario_yaml("regions-2025-cut.yaml"))
    page.set_input_files("#files", str(upload))
    page.click('form[action="/ui/scenarios"] button[type="submit"]')
    assert "/ui/scenarios?stored=" in page.url
    stored = int(page.url.rsplit("=", 1)[1])
    page.fill(f"#budget-{stored}", "1,150")
    page.click(f'form[action="/ui/scenarios/{stored}/run"] button[type="submit"]')
    assert "/ui/runs/" in page.url
    assert "1,150 × 100M KRW" in page.inner_text("dl.facts")
    assert "budget=1150" in page.inner_text("dl.facts")

    page.goto("/ui/runs")
    select_all = page.locator("input.select-all")
    assert select_all.is_visible()  # a convenience that needs JavaScript
    select_all.check()
    assert page.inner_text("button.compare-button") == "Compare 3 runs"
    context.close()
