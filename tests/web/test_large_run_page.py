"""A run of many recipients on its page: the table and the chart list the first (largest)
:data:`api.web.views.SHOWN_ROWS`, say how many more there are, and keep the totals over
all of them; the downloads still hold every recipient."""

from __future__ import annotations

import csv
import io
import re

from fastapi.testclient import TestClient

from api.web.views import SHOWN_ROWS
from benchmarks.instances import InstanceSpec, generate
from tests.web.conftest import Browser

ROW = re.compile(r'<tr data-recipient="([^"]+)">')
BAR = re.compile(r'<rect class="bar series-0" data-recipient="([^"]+)"[^>]*data-units="(\d+)"')


def test_a_run_of_840_programmes_lists_the_first_200(browser: Browser, api: TestClient) -> None:
    data = generate(InstanceSpec(840, "hamilton", "groups"))
    answer = api.post("/v1/runs", json={"scenario": data})
    assert answer.status_code == 201, answer.text
    run = answer.json()
    allocations = run["result"]["allocations"]
    assert len(allocations) == 840 > SHOWN_ROWS

    html = browser("committee").get(f"/ui/runs/{run['id']}").text
    table = html.split('<table class="allocations">', 1)[1].split("</table>", 1)[0]
    assert ROW.findall(table) == [a["id"] for a in allocations[:SHOWN_ROWS]]
    assert f"The first {SHOWN_ROWS} of 840 recipients" in html
    total = sum(a["units"] for a in allocations)
    assert f'<td class="num">{total:,}</td>' in table  # the totals are over all 840

    bars = {key: int(value) for key, value in BAR.findall(html)}
    largest = sorted(allocations, key=lambda a: (-a["units"], a["name"], a["id"]))[:SHOWN_ROWS]
    assert bars == {a["id"]: a["units"] for a in largest}
    assert f"The {SHOWN_ROWS} largest of 840 recipients." in html
    assert "# ... 640 more recipients, not shown here" in html  # the scenario's YAML

    korean = browser("committee", lang="ko").get(f"/ui/runs/{run['id']}").text
    assert f"전체 840개 대상 중 처음 {SHOWN_ROWS}개입니다" in korean

    rows = list(
        csv.reader(
            io.StringIO(
                api.get(f"/v1/runs/{run['id']}/allocations?format=csv").text.removeprefix("\ufeff")
            )
        )
    )
    assert len(rows) == 841  # the download lists every one


def test_a_small_run_lists_every_recipient(browser: Browser, api: TestClient) -> None:
    data = generate(InstanceSpec(14, "hamilton", "bounds"))
    run = api.post("/v1/runs", json={"scenario": data}).json()
    html = browser("committee").get(f"/ui/runs/{run['id']}").text
    assert len(ROW.findall(html.split('<table class="allocations">', 1)[1])) >= 14
    assert "recipients; the totals are over all of them" not in html
    assert "more recipients, not shown here" not in html
