"""The paradox verdicts on the compare and sweep pages, in Korean and English."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.test_paradox_whatif import alabama
from tests.web.conftest import Browser, post_runs


def _cells(page: str) -> list[str]:
    section = page[page.index('id="checks"') :]
    section = section[: section.index("</table>")]
    return re.findall(r'<td class="verdict-([a-z-]+)"><strong>', section)


def test_the_sweep_page_shows_the_verdicts_across_its_points(
    browser: Browser, api: TestClient
) -> None:
    stored = api.post("/v1/scenarios", json=alabama()).json()
    sweep = api.post("/v1/sweeps", json={"scenario_id": stored["id"], "set": "budget=9:12:1"})
    assert sweep.status_code == 201, sweep.text
    sweep_id = sweep.json()["id"]
    english = browser("committee").get(f"/ui/sweeps/{sweep_id}").text
    assert "Paradox checks across the sweep" in english
    assert "budget monotonicity (more budget, nobody loses)" in english
    assert "c gets 2 units with a budget of 10 but 1 with 11" in english
    assert 'class="verdict-fails"' in english
    korean = browser("committee", "ko").get(f"/ui/sweeps/{sweep_id}").text
    assert "변화 분석 전체의 역설 검증" in korean and "예산 단조성" in korean


def test_the_compare_page_shows_each_runs_verdicts(browser: Browser, api: TestClient) -> None:
    ids = post_runs(api, alabama(), ["budget=10"], ["budget=11"])
    checks = [api.get(f"/v1/runs/{i}").json()["result"]["checks"] for i in ids]
    page = browser("committee").get(f"/ui/compare?run={ids[0]}&run={ids[1]}").text
    expected = [c["verdict"].replace(" ", "-") for pair in zip(*checks, strict=True) for c in pair]
    assert _cells(page) == expected
    assert expected[2:4] == ["fails", "holds"]  # budget: 10 -> 11 loses c a unit; 11 -> 12 not
    korean = browser("committee", "ko").get(f"/ui/compare?run={ids[0]}&run={ids[1]}").text
    assert "역설 검증" in korean and _cells(korean) == expected
