"""Korean and English: complete catalogs, the language a page is in, Korean pages with no
English left in them, KST times and 억 원, HTML error pages in the chosen language."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import ClassVar

import pytest
from fastapi.testclient import TestClient

from api.web.catalogs import messages
from api.web.translations import LANGUAGES, read_catalog
from tests.web.conftest import Browser

PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


def test_every_message_in_use_is_translated_in_both_catalogs() -> None:
    used = messages()
    assert len(used) > 150  # the templates and views really were read
    for lang in LANGUAGES:
        catalog = read_catalog(lang)
        for message in used:
            key = message if isinstance(message, str) else message[0]
            entry = catalog.get(key)
            assert entry is not None, f"{lang}: {key!r} is not in the catalog"
            strings = [entry.string] if isinstance(entry.string, str) else list(entry.string or ())
            assert strings and all(strings), f"{lang}: {key!r} has no translation"
            for string in strings:
                assert sorted(PLACEHOLDER.findall(string)) == sorted(PLACEHOLDER.findall(key)), (
                    f"{lang}: {key!r} -> {string!r} changes the placeholders"
                )


def test_the_catalogs_hold_no_message_that_is_not_used() -> None:
    used = {m if isinstance(m, str) else m[0] for m in messages()}
    for lang in LANGUAGES:
        stale = {m.id for m in read_catalog(lang) if m.id and m.id not in used}
        assert not stale, f"{lang}: run python -m api.web.catalogs to drop {stale}"


class _Text(HTMLParser):
    """The visible text of a page, leaving out code, the scenario's YAML, text marked as
    English (the engine's own sentences, lang="en") and the machine-readable attributes;
    plus every aria-label, title and alt."""

    SKIP: ClassVar[frozenset[str]] = frozenset({"pre", "code", "script", "style"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.depth = 0
        self.foreign: list[str] = []  # open elements marked lang="en" (the engine's sentences)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.depth += 1
        if dict(attrs).get("lang") == "en" and tag != "html":
            self.foreign.append(tag)
            self.depth += 1
        for name, value in attrs:
            if name in ("aria-label", "alt", "placeholder") and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.depth:
            self.depth -= 1
        if self.foreign and tag == self.foreign[-1]:
            self.foreign.pop()
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.parts.append(data)


ALLOWED_LATIN = {
    # names and codes that stay as they are in Korean pages
    "Allot",
    "English",
    "YAML",
    "JSON",
    "CSV",
    "Excel",
    "KRW",
    "KST",
    "API",
    "allot",
    "solve",
    "sensitivity",
    "robust",
    "token",
    "create",
    "role",
    "committee",
    "name",
    "you",
    "budget",
    "proportional",
    "hamilton",
    "greedy",
    "auto",
    "highs",
    "milp",
    "partition",
    "search",
    "sha256",
    "metro",
    "most",
    "change_limit",
    "grade_order",
    "kind",
    "path",
    "start",
    "stop",
    "step",
    "illustrative",
    "baseline",
    "share",
    "units",
    "cap",
    "floor",
    "programmes",
}


def _latin_words(html: str, data: set[str]) -> set[str]:
    parser = _Text()
    parser.feed(html)
    text = " ".join(parser.parts)
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    words = set(re.findall(r"[A-Za-z][A-Za-z_\-]{3,}", text))
    return {w for w in words if w not in ALLOWED_LATIN and w.lower() not in ALLOWED_LATIN}


def test_korean_pages_have_no_english_left(
    browser: Browser, api: TestClient, two_runs: list[int]
) -> None:
    client = browser("committee", lang="ko")
    run = api.get(f"/v1/runs/{two_runs[0]}").json()
    data = {
        run["scenario_name"],
        "web-committee",
        "web-planner",
        "committee",
        *(a["id"] for a in run["result"]["allocations"]),
        *(o for r in two_runs for o in api.get(f"/v1/runs/{r}").json()["overrides"]),
        "2025 metro share cap (illustrative)",
        "metro at most 35%",
    }
    sweep = api.post(
        "/v1/sweeps", json={"scenario_id": run["scenario_id"], "set": "budget=1150,1200"}
    )
    assert sweep.status_code == 201, sweep.text
    first, second = two_runs
    pages = [
        "/ui/runs",
        f"/ui/runs/{first}",
        f"/ui/runs/{first}?map=change",
        f"/ui/runs/{first}/report",
        f"/ui/compare?run={first}&run={second}",
        f"/ui/compare/report?run={first}&run={second}",
        "/ui/sweeps",
        f"/ui/sweeps/{sweep.json()['id']}",
        f"/ui/runs/{first}/sensitivity",
        f"/ui/runs/{first}/robustness?samples=20",
        "/ui/scenarios",
        "/ui/runs/999999",
        "/ui/runs/abc",
    ]
    for page in pages:
        answer = client.get(page)
        assert answer.status_code in (200, 404), (page, answer.status_code)
        assert answer.headers["content-type"].startswith("text/html"), page
        assert '<html lang="ko">' in answer.text, page
        left = _latin_words(answer.text, data)
        assert not left, f"{page}: English left in the Korean page: {sorted(left)}"
    login = browser(None, lang="ko").get("/ui/login")
    assert "로그인" in login.text and not _latin_words(login.text, data)


def test_the_language_follows_the_query_then_the_cookie_then_the_browser(
    browser: Browser, two_runs: list[int]
) -> None:
    client = browser("committee", lang="ko")
    page = f"/ui/runs/{two_runs[0]}"
    korean = client.get(page).text
    assert '<html lang="ko">' in korean and "전년도" in korean and "로그아웃" in korean
    assert f'href="{page}?lang=en"' in korean  # the switch keeps the reader on the page

    english = client.get(page + "?lang=en")
    assert '<html lang="en">' in english.text and "Last year" in english.text
    assert english.cookies.get("allot_lang") == "en"
    assert '<html lang="en">' in client.get("/ui/runs").text  # remembered
    assert '<html lang="ko">' in client.get("/ui/runs?lang=ko").text

    assert '<html lang="en">' in browser("committee", lang="en").get(page).text
    plain = browser("committee", lang="fr")
    assert '<html lang="ko">' in plain.get(page).text  # the default is Korean


def test_times_are_in_kst_by_default(
    browser: Browser, api: TestClient, two_runs: list[int]
) -> None:
    created = api.get(f"/v1/runs/{two_runs[0]}").json()["created_at"]
    import datetime as dt
    from zoneinfo import ZoneInfo

    at = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    kst = at.astimezone(ZoneInfo("Asia/Seoul")).strftime("%Y-%m-%d %H:%M KST")
    client = browser("committee", lang="ko")
    assert kst in client.get("/ui/runs").text
    assert kst in client.get(f"/ui/runs/{two_runs[0]}").text


def test_the_zone_is_configurable(
    monkeypatch: pytest.MonkeyPatch, target: object, tokens: dict[str, str]
) -> None:
    from api.main import create_app
    from tests.api.conftest import DatabaseTarget, scenario_data

    assert isinstance(target, DatabaseTarget)
    monkeypatch.setenv("ALLOT_WEB_TIMEZONE", "Europe/Paris")
    app = create_app(target.settings())
    headers = {"Authorization": f"Bearer {tokens['planner']}"}
    with TestClient(app, headers=headers) as api, TestClient(app) as client:
        stored = api.post("/v1/scenarios", json=scenario_data()).json()
        api.post("/v1/runs", json={"scenario_id": stored["id"]})
        client.post("/ui/login", data={"token": tokens["committee"]})
        html = client.get("/ui/runs").text
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d CE[S]?T", html)
    assert "KST" not in html


def test_budgets_in_won_read_in_eok_in_korean(browser: Browser, two_runs: list[int]) -> None:
    korean = browser("committee", lang="ko").get(f"/ui/runs/{two_runs[0]}").text
    assert "1,200 × 100M KRW" in korean and "1,200억 원" in korean
    assert "101억 원" in korean or "96억 원" in korean  # Busan's amount, in 억 원
    english = browser("committee").get(f"/ui/runs/{two_runs[0]}").text
    assert "KRW 120 billion" in english


def test_ui_errors_are_html_pages_in_the_chosen_language(browser: Browser, api: TestClient) -> None:
    korean = browser("committee", lang="ko")
    for page, status in [("/ui/runs/abc", 404), ("/ui/runs/99999", 404), ("/ui/nowhere", 404)]:
        answer = korean.get(page)
        assert answer.status_code == status, page
        assert answer.headers["content-type"].startswith("text/html"), page
        assert "찾을 수 없습니다" in answer.text, page
        assert "로그아웃" in answer.text  # still signed in: the header shows it
    english = browser("committee").get("/ui/runs/abc")
    assert english.status_code == 404 and "Not found" in english.text
    bad_query = browser("committee").get("/ui/runs/1?map=nothing")
    assert bad_query.status_code == 422 and "Invalid input" in bad_query.text
    # the API itself still answers JSON
    assert api.get("/v1/runs/abc").headers["content-type"].startswith("application/json")


def test_an_unexpected_error_on_a_page_is_an_html_page_with_a_reference(
    app: object, tokens: dict[str, str], two_runs: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi import FastAPI

    from api.web import routes

    assert isinstance(app, FastAPI)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(routes, "run_view", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.post("/ui/login", data={"token": tokens["committee"]})
        answer = client.get(f"/ui/runs/{two_runs[0]}", headers={"Accept-Language": "ko"})
        assert answer.status_code == 500
        assert answer.headers["content-type"].startswith("text/html")
        assert "문제가 생겼습니다" in answer.text and "a bug" not in answer.text
        assert re.search(r"참조 번호 [0-9a-f]{12}", answer.text)
        api = client.get("/v1/runs/1", headers={"Authorization": f"Bearer {tokens['planner']}"})
        assert api.headers["content-type"].startswith("application/json")
