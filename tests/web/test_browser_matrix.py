"""The plan's matrix page in a real browser (Debian's Chromium through Playwright, against a
real ``allot serve``), in Korean and in English: from the run page's link to the region x kind
matrix, whose cells add up to the shown row and column totals and equal the API's units, with
the heat colouring (darker for more units, readable contrast) and the accessibility checks of
the committee's other pages; then the two-stage matrix with another column tag chosen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from api.db import Role
from optimizer.loading import load_scenario
from tests.api.test_server import Server
from tests.web.test_browser import (
    VIEWPORT,
    _local_only,
    _number,
    _sign_in,
    _tokens,
    chromium,
    server,
)
from tests.web.test_browser_committee import _accessible, _shot

__all__ = ["chromium", "server"]  # the fixtures, shared with test_browser

FAMILY = Path(__file__).resolve().parents[2] / "scenarios" / "plan-2023"


def _units(api: httpx.Client, name: str) -> tuple[int, dict[str, dict[str, Any]], dict[str, Any]]:
    data = load_scenario(FAMILY / name).model_dump(mode="json")
    stored = api.post("/v1/scenarios", json=data).json()
    run_id = api.post("/v1/runs", json={"scenario_id": stored["id"]}).json()["id"]
    result = api.get(f"/v1/runs/{run_id}").json()["result"]
    return run_id, {r["id"]: r for r in data["recipients"]}, result


def _cells(page: Page) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for cell in page.locator("table.matrix tbody td[data-units]").all():
        row = cell.locator("xpath=..").get_attribute("data-row") or ""
        found[row, cell.get_attribute("data-column") or ""] = _number(cell.inner_text())
    return found


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_matrix_page_adds_up_in_the_browser(
    server: Server, chromium: Browser, tmp_path: Path, lang: str
) -> None:
    committee, planner = _tokens(server, (Role.COMMITTEE, "위원"), (Role.PLANNER, "planner"))
    server.start()
    with httpx.Client(
        base_url=server.base, headers={"Authorization": f"Bearer {planner}"}, timeout=120
    ) as api:
        matrix_run, recipients, result = _units(api, "region-kind-matrix.yaml")
        stages_run, stage_recipients, stages = _units(api, "two-stage.yaml")

    context = chromium.new_context(
        base_url=server.base, viewport=VIEWPORT, locale="ko-KR" if lang == "ko" else "en-US"
    )
    page = context.new_page()
    requests: list[str] = []
    _local_only(page, server.base, requests)
    page.goto("/ui/runs")
    _sign_in(page, committee)

    page.goto(f"/ui/runs/{matrix_run}")
    page.click("#matrix-link")
    assert page.url.endswith(f"/ui/runs/{matrix_run}/matrix")
    assert ("계획의 행렬" if lang == "ko" else "The plan's matrix") in page.inner_text("h1")
    expected: dict[tuple[str, str], int] = {}
    for a in result["allocations"]:
        tags = recipients[a["id"]]["tags"]
        key = (tags["region"], tags["kind"])
        expected[key] = expected.get(key, 0) + a["units"]
    cells = _cells(page)
    assert cells == expected
    cert = result["certificate"]
    for name, total in zip(cert["rows"]["names"], cert["rows"]["totals"], strict=True):
        row = page.locator(f'table.matrix tbody tr[data-row="{name}"]')
        assert _number(row.locator("td.total").inner_text()) == total
        assert sum(v for (r, _), v in cells.items() if r == name) == total
    for name, total in zip(cert["columns"]["names"], cert["columns"]["totals"], strict=True):
        foot = page.locator(f'tfoot td.total[data-column="{name}"]')
        assert _number(foot.inner_text()) == total
        assert sum(v for (_, c), v in cells.items() if c == name) == total
    # the heat colouring: the largest cell is darker than the smallest
    top = max(cells, key=lambda k: cells[k])
    low = min(cells, key=lambda k: cells[k])

    def lightness(key: tuple[str, str]) -> int:
        cell = page.locator(f'tr[data-row="{key[0]}"] td[data-column="{key[1]}"]')
        colour = cell.evaluate("e => getComputedStyle(e).backgroundColor")
        return sum(int(v) for v in colour[colour.index("(") + 1 : -1].split(",")[:3])

    assert lightness(top) < lightness(low)
    _accessible(page)
    _shot(page, tmp_path, f"matrix-{lang}")
    page.click("#heat-toggle")
    page.wait_for_url("**/matrix?heat=false")
    assert "heat" not in (page.locator("table.matrix").get_attribute("class") or "")

    page.goto(f"/ui/runs/{stages_run}/matrix")
    page.select_option("#matrix-columns", "industry")
    page.click('form[action$="/matrix"] button[type="submit"]')
    page.wait_for_url("**/matrix?columns=industry")
    first = stages["certificate"]["first"]["units"]
    rows = page.locator("table.matrix tbody tr")
    assert [r.get_attribute("data-row") for r in rows.all()] == list(first)
    expected = {}
    for a in stages["allocations"]:
        tags = stage_recipients[a["id"]]["tags"]
        key = (tags["region"], tags["industry"])
        expected[key] = expected.get(key, 0) + a["units"]
    assert _cells(page) == expected
    _accessible(page)
    assert all(url.startswith(server.base + "/") for url in requests)
    context.close()
