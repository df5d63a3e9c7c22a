"""The committee's pages in a real browser (Debian's Chromium through Playwright, against a
real ``allot serve``), in Korean and in English: sign-in, runs, one run with its map, compare,
sweep, sensitivity, robustness and the meeting paper; with accessibility checks (every field
labelled, every chart and map named, text contrast at least 4.5:1, the map and the language
switch usable from the keyboard). Screenshots of the Korean pages are kept in
``docs/screenshots/`` when ``ALLOT_UPDATE_DOCS=1``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page

from api.db import Role
from tests.api.conftest import ROOT, scenario_data
from tests.api.test_server import Server
from tests.web.test_browser import VIEWPORT, _local_only, _sign_in, _tokens, chromium, server

__all__ = ["chromium", "server"]  # the fixtures, shared with test_browser

SCREENSHOTS = ROOT / "docs" / "screenshots"

CONTRAST = """
() => {
  function rgb(text) {
    const m = text.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(",").map(Number);
    return p.length > 3 && p[3] === 0 ? null : p.slice(0, 3);
  }
  function lum(c) {
    const [r, g, b] = c.map(v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }
  function background(el) {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c) return c;
    }
    return [255, 255, 255];
  }
  const bad = [];
  const seen = document.querySelectorAll("main *, header *");
  for (const el of seen) {
    if (el.closest("svg")) continue;
    const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "none") continue;
    const fg = rgb(style.color); if (!fg) continue;
    const bg = background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const text = el.textContent.trim().slice(0, 30);
    if (ratio < 4.5) bad.push(el.tagName + "." + el.className + " " + ratio.toFixed(2) + text);
  }
  return bad;
}
"""

UNLABELLED = """
() => Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea, button"))
  .filter(el => !el.hidden && el.getClientRects().length)
  .filter(el => {
    if (el.tagName === "BUTTON") return !el.textContent.trim() && !el.getAttribute("aria-label");
    if (el.getAttribute("aria-label")) return false;
    return !(el.id && document.querySelector('label[for="' + el.id + '"]'));
  })
  .map(el => el.outerHTML.slice(0, 80))
"""


def _accessible(page: Page) -> None:
    """Labels, names, contrast and one h1, on the page as it is."""
    assert page.evaluate(UNLABELLED) == [], page.url
    assert page.evaluate(CONTRAST) == [], page.url
    assert page.locator("h1").count() == 1, page.url
    for chart in page.locator("svg.chart, svg.map").all():
        assert (chart.get_attribute("aria-label") or "").strip(), page.url
    assert page.locator("html").get_attribute("lang") in ("ko", "en")


def _shot(page: Page, tmp_path: Path, name: str) -> None:
    shot = tmp_path / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("ALLOT_UPDATE_DOCS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOTS / f"{name}.png")


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_committee_reads_every_page_in_its_language(
    server: Server, chromium: Browser, tmp_path: Path, lang: str
) -> None:
    committee, planner = _tokens(server, (Role.COMMITTEE, "위원"), (Role.PLANNER, "planner"))
    server.start()
    with httpx.Client(
        base_url=server.base, headers={"Authorization": f"Bearer {planner}"}, timeout=120
    ) as api:
        run_ids = []
        for name in ("regions-2025.yaml", "regions-2025-metro-cap.yaml"):
            stored = api.post("/v1/scenarios", json=scenario_data(name)).json()
            run_ids.append(api.post("/v1/runs", json={"scenario_id": stored["id"]}).json()["id"])
        first, second = run_ids
        scenario_id = api.get(f"/v1/runs/{first}").json()["scenario_id"]
        sweep = api.post(
            "/v1/sweeps", json={"scenario_id": scenario_id, "set": "budget=1000:1400:100"}
        ).json()
        units = {
            a["id"]: a["units"]
            for a in api.get(f"/v1/runs/{first}").json()["result"]["allocations"]
        }

    words = {
        "ko": {
            "login": "로그인",
            "runs": "실행 목록",
            "last": "전년도",
            "map": "지역 지도",
            "compare": "실행 비교",
            "sweep": "변화 분석",
            "sens": "얼마나 달라져야 하나?",
            "robust": "얼마나 확실한가?",
            "paper": "배분을 제약한 규칙",
            "zone": "KST",
            "other": "English",
        },
        "en": {
            "login": "Sign in",
            "runs": "Runs",
            "last": "Last year",
            "map": "Map of the regions",
            "compare": "Runs side by side",
            "sweep": "Sweep",
            "sens": "What would it take?",
            "robust": "How sure is it?",
            "paper": "Rules that held",
            "zone": "KST",
            "other": "한국어",
        },
    }[lang]
    context = chromium.new_context(
        base_url=server.base, viewport=VIEWPORT, locale="ko-KR" if lang == "ko" else "en-US"
    )
    page = context.new_page()
    requests: list[str] = []
    _local_only(page, server.base, requests)

    page.goto("/ui/runs")
    assert words["login"] in page.inner_text("h1")
    _accessible(page)
    _sign_in(page, committee)
    assert page.url.endswith("/ui/runs")
    assert words["runs"] in page.inner_text("h1") and words["zone"] in page.inner_text("main")
    _accessible(page)
    _shot(page, tmp_path, f"runs-{lang}")

    page.goto(f"/ui/runs/{first}")
    assert words["last"] in page.inner_text("table.allocations thead")
    assert words["map"] in page.inner_text("main")
    tiles = page.locator("svg.map g.tile")
    assert tiles.count() == 14
    # the map from the keyboard: tab through the page until a region has focus
    page.locator("p.map-choices a").last.focus()
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('tile')"):
            break
    focused = page.evaluate(
        "[document.activeElement.dataset.region, document.activeElement.getAttribute('aria-label')]"
    )
    region, label = focused
    assert region in units and str(units[region]) in label
    assert page.locator(f'g.tile[data-region="{region}"] .detail').first.is_visible()
    _accessible(page)
    _shot(page, tmp_path, f"run-{lang}")

    page.goto(f"/ui/compare?run={first}&run={second}")
    assert words["compare"] in page.inner_text("h1")
    assert page.locator("svg.map").count() == 1 and page.locator("svg.chart.grouped").count() == 1
    _accessible(page)
    _shot(page, tmp_path, f"compare-{lang}")

    page.goto(f"/ui/sweeps/{sweep['id']}")
    assert words["sweep"] in page.inner_text("h1")
    assert page.locator("svg.chart.lines polyline").count() == 14
    _accessible(page)
    _shot(page, tmp_path, f"sweep-{lang}")

    page.goto(f"/ui/runs/{first}/sensitivity")
    assert words["sens"] in page.inner_text("h1")
    assert page.locator("svg.chart.reach g.reach-row").count() == 14
    _accessible(page)
    _shot(page, tmp_path, f"sensitivity-{lang}")

    page.goto(f"/ui/runs/{first}/robustness?samples=100")
    assert words["robust"] in page.inner_text("h1")
    assert page.locator("svg.chart.ranges g.span").count() == 14
    _accessible(page)
    _shot(page, tmp_path, f"robustness-{lang}")

    page.goto(f"/ui/runs/{first}/report")
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert page.locator("svg.map").is_visible() and words["paper"] in page.inner_text("main")
    pdf = tmp_path / f"report-{lang}.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf.read_bytes()))
    assert pages == 1, f"the meeting paper takes {pages} A4 pages"
    page.emulate_media(media="screen")
    _shot(page, tmp_path, f"report-{lang}")

    page.goto(f"/ui/compare/report?run={first}&run={second}")
    page.emulate_media(media="print")
    assert page.locator("svg.map").is_visible()
    compared = tmp_path / f"compare-report-{lang}.pdf"
    page.pdf(path=str(compared), format="A4", print_background=True)
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", compared.read_bytes()))
    assert pages == 1, f"the comparison paper takes {pages} A4 pages"
    page.emulate_media(media="screen")

    # the language switch, from the keyboard
    page.goto(f"/ui/runs/{first}")
    switch = page.locator("nav.languages a")
    assert switch.inner_text() == words["other"]
    switch.focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == ("en" if lang == "ko" else "ko")
    assert f"/ui/runs/{first}" in page.url
    context.close()
    assert requests and all(url.startswith(server.base + "/") for url in requests)
