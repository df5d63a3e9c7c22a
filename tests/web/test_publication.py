"""The standalone HTML report of a run (``allot report`` and ``/ui/runs/{id}/publication.html``):
one self-contained file (no URL to fetch, no script to run) whose embedded JSON round-trips
and verifies with ``allot verify``, following the report's own instructions; Korean pages
say so; a browser opens it offline."""

from __future__ import annotations

import doctest
import html
import html.parser
import json
import os
import re
import runpy
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from api import inputs, lease, store
from api.db import Database, RunStatus
from api.web import publication
from api.web.publication import embedded_json
from optimizer.cli import app
from optimizer.report_blocks import RESULT_ID, SCENARIO_ID
from tests.api.conftest import SCENARIOS, scenario_data
from tests.web.conftest import Browser, post_runs

SVG_NAMESPACE = "http://www.w3.org/2000/svg"


class _Blocks(html.parser.HTMLParser):
    """The text of every ``<script>`` by id, as a browser's parser reads it."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, str] = {}
        self.types: dict[str, str] = {}
        self.current: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        self.current = named.get("id") if tag == "script" else None
        if self.current:
            self.types[self.current] = named.get("type") or ""

    def handle_endtag(self, tag: str) -> None:
        self.current = None

    def handle_data(self, data: str) -> None:
        if self.current:
            self.found[self.current] = self.found.get(self.current, "") + data


def blocks(page: str) -> tuple[dict[str, str], dict[str, str]]:
    parser = _Blocks()
    parser.feed(page)
    return parser.found, parser.types


def assert_self_contained(page: str) -> None:
    """No asset from anywhere else: no http(s) URL but the SVG namespace name, no src,
    no stylesheet link, no url() or @import in the CSS, no script that runs."""
    urls = re.findall(r"https?://[^\s\"'<>)]*", page, flags=re.IGNORECASE)
    assert set(urls) <= {SVG_NAMESPACE}, urls
    assert not re.search(r"\bsrc\s*=", page, flags=re.IGNORECASE)
    assert not re.search(r"<link\b", page, flags=re.IGNORECASE)
    assert not re.search(r"url\s*\(|@import", page, flags=re.IGNORECASE)
    scripts = re.findall(r"<script\b([^>]*)>", page, flags=re.IGNORECASE)
    assert scripts and all('type="application/json"' in s for s in scripts)


def _solve(runner: CliRunner, tmp_path: Path, scenario: Path) -> Path:
    result = tmp_path / "result.json"
    answer = runner.invoke(app, ["solve", str(scenario), "-f", "json", "-o", str(result)])
    assert answer.exit_code == 0, answer.output
    return result


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_cli_report_is_self_contained_and_verifies_by_its_own_instructions(
    tmp_path: Path, lang: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    scenario = SCENARIOS / "regions-2025.yaml"
    result = _solve(runner, tmp_path, scenario)
    out = tmp_path / "report.html"
    answer = runner.invoke(
        app, ["report", str(result), str(scenario), "--out", str(out), "--lang", lang]
    )
    assert answer.exit_code == 0, answer.output
    page = out.read_bytes().decode("utf-8")  # UTF-8, or this raises
    assert page.startswith("<!DOCTYPE html>")
    assert f'<html lang="{lang}">' in page and '<meta charset="utf-8">' in page
    assert_self_contained(page)
    assert page.count("<svg") == 1 and 'data-recipient="busan"' in page
    assert "부산광역시" in page  # the recipients' Korean names, in either language
    if lang == "ko":
        assert "공개용 배분 보고서" in page and "이 보고서를 검증하는 방법" in page
    else:
        assert "Allocation report for publication" in page
    found, types = blocks(page)
    assert types == {RESULT_ID: "application/json", SCENARIO_ID: "application/json"}
    assert json.loads(found[RESULT_ID]) == json.loads(result.read_text(encoding="utf-8"))
    # the instructions' own Python, run as printed, writes the two files allot verify reads
    code = re.search(r"<pre>(import html\.parser.*?)</pre>", page, flags=re.DOTALL)
    assert code is not None
    script = tmp_path / "extract.py"
    script.write_text(html.unescape(code.group(1)), encoding="utf-8")
    work = tmp_path / "extracted"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(sys, "argv", ["extract.py", str(out)])
    runpy.run_path(str(script), run_name="__main__")
    verified = runner.invoke(app, ["verify", "result.json", "scenario.json"])
    assert verified.exit_code == 0, verified.output
    assert "verified" in verified.output and "FAIL" not in verified.output


def test_the_report_refuses_a_scenario_the_result_is_not_of(tmp_path: Path) -> None:
    runner = CliRunner()
    result = _solve(runner, tmp_path, SCENARIOS / "regions-2025.yaml")
    out = tmp_path / "report.html"
    other = SCENARIOS / "regions-2025-cut.yaml"
    answer = runner.invoke(app, ["report", str(result), str(other), "--out", str(out)])
    assert answer.exit_code == 2 and "not of this scenario" in answer.stderr
    assert not out.exists()
    bad = runner.invoke(app, ["report", str(other), "--out", str(out)])
    assert bad.exit_code == 2 and not out.exists()
    alone = runner.invoke(app, ["report", str(result), "--out", str(out), "--lang", "en"])
    assert alone.exit_code == 0
    page = out.read_text(encoding="utf-8")
    assert SCENARIO_ID not in blocks(page)[0] and "The scenario is not embedded" in page


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(name=st.text(), extra=json_values)
def test_any_text_round_trips_through_the_embedded_json(name: str, extra: Any) -> None:
    """Whatever a scenario's text holds (``</script>``, ``<!--``, quotes), the block's text as
    an HTML parser reads it is JSON that gives the same data back."""
    data = {"name": name, "extra": extra, "tricky": "</script><!--<script>&amp;"}
    page = f'<script type="application/json" id="x">{embedded_json(data)}</script><p>after</p>'
    assert json.loads(blocks(page)[0]["x"]) == data


def test_the_run_page_offers_the_report_and_it_verifies(
    browser: Browser, two_runs: list[int], tmp_path: Path
) -> None:
    run_id = two_runs[0]
    committee = browser("committee", "ko")
    assert f"/ui/runs/{run_id}/publication.html" in committee.get(f"/ui/runs/{run_id}").text
    answer = committee.get(f"/ui/runs/{run_id}/publication.html")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert "attachment" in answer.headers["content-disposition"]
    page = answer.content.decode("utf-8")
    assert '<html lang="ko">' in page and f"#{run_id}" in page
    assert_self_contained(page)
    found, _ = blocks(page)
    (tmp_path / "result.json").write_text(found[RESULT_ID], encoding="utf-8")
    (tmp_path / "scenario.json").write_text(found[SCENARIO_ID], encoding="utf-8")
    verified = CliRunner().invoke(
        app, ["verify", str(tmp_path / "result.json"), str(tmp_path / "scenario.json")]
    )
    assert verified.exit_code == 0, verified.output


def test_a_run_without_a_result_has_no_report(browser: Browser, database: Database) -> None:
    with database.transaction() as session:  # queued and cancelled before any worker looks
        prepared = inputs.prepare(scenario_data(), scenario_id=None, overrides=[])
        run = store.add_run(session, prepared, requested_by="x", status=RunStatus.QUEUED)
        lease.request_cancel(session, run.id, by="x")
        run_id = run.id
    committee = browser("committee")
    answer = committee.get(f"/ui/runs/{run_id}/publication.html")
    assert answer.status_code == 409 and "nothing to publish" in answer.text
    assert committee.get("/ui/runs/999999/publication.html").status_code == 404


def test_a_browser_opens_the_report_offline(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is not installed")
        pytest.skip("Debian's chromium is not installed")
    runner = CliRunner()
    scenario = SCENARIOS / "regions-2025.yaml"
    result = _solve(runner, tmp_path, scenario)
    out = tmp_path / "report.html"
    assert runner.invoke(app, ["report", str(result), str(scenario), "-o", str(out)]).exit_code == 0
    requested: list[str] = []
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = chromium.new_context(offline=True, java_script_enabled=False)
            page = context.new_page()
            page.on("request", lambda request: requested.append(request.url))
            page.goto(out.as_uri())
            assert page.locator("html").get_attribute("lang") == "ko"
            assert "배분 보고서" in page.title()
            assert page.locator("svg.chart rect.bar").count() == 14
            assert page.locator("table.allocation tbody tr").count() == 14
            assert page.locator("#certificate table").count() >= 2
            assert page.locator("svg.chart").bounding_box() is not None
        finally:
            chromium.close()
    assert requested == [out.as_uri()]  # the file itself, nothing else


def test_the_examples_in_the_docstrings_hold() -> None:
    failed, tried = doctest.testmod(publication)
    assert tried > 0 and failed == 0


def test_the_run_page_shows_the_certificate(browser: Browser, api: TestClient) -> None:
    (run_id,) = post_runs(api, scenario_data(), [])
    result = api.get(f"/v1/runs/{run_id}").json()["result"]
    threshold = result["certificate"]["threshold"]
    for lang in ("en", "ko"):
        page = browser("committee", lang).get(f"/ui/runs/{run_id}").text
        assert 'id="certificate"' in page and threshold["low"] in page
        assert result["certificate"]["remainder_order"][0] in page


def test_allot_verify_reads_a_report_itself(tmp_path: Path) -> None:
    runner = CliRunner()
    scenario = SCENARIOS / "regions-2025.yaml"
    result = _solve(runner, tmp_path, scenario)
    out = tmp_path / "report.html"
    assert runner.invoke(app, ["report", str(result), str(scenario), "-o", str(out)]).exit_code == 0
    verified = runner.invoke(app, ["verify", str(out)])
    assert verified.exit_code == 0, verified.output
    assert "the one embedded in" in verified.stdout and "ok   hash" in verified.stdout
    # one unit moved in the published result: the report no longer verifies
    page = out.read_text(encoding="utf-8")
    data = json.loads(blocks(page)[0][RESULT_ID])
    data["allocations"][0]["units"] += 1
    data["allocations"][1]["units"] -= 1
    tampered = tmp_path / "tampered.html"
    tampered.write_text(
        page.replace(blocks(page)[0][RESULT_ID], embedded_json(data)), encoding="utf-8"
    )
    refused = runner.invoke(app, ["verify", str(tampered)])
    assert refused.exit_code == 1 and "FAIL" in refused.stdout
    # without its scenario, only what the result shows is checked
    alone = tmp_path / "alone.html"
    assert runner.invoke(app, ["report", str(result), "-o", str(alone)]).exit_code == 0
    partial = runner.invoke(app, ["verify", str(alone)])
    assert partial.exit_code == 0 and "no scenario given" in partial.stdout
    other = tmp_path / "other.html"
    other.write_text("<html><body>not a report</body></html>", encoding="utf-8")
    wrong = runner.invoke(app, ["verify", str(other)])
    assert wrong.exit_code == 2 and "not an Allot report" in wrong.stderr
