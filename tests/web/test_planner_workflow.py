"""The planner's workflow in the web view: several files uploaded at once in the scenario
form (the API's upload parser: a scenario with the spreadsheet and baseline it names, or a
spreadsheet alone), problems listed with their paths, a grid sweep's page and downloads in
both languages, and the sweep and comparison pages linking to their CSV/Excel."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.db import Database
from optimizer.loading import load_scenario
from optimizer.solve import solve
from tests.api.conftest import SCENARIOS, counts, scenario_data, wait_for_run
from tests.api.test_uploads import EXAMPLES, _named
from tests.web.conftest import Browser, csrf_of

Files = list[tuple[str, tuple[str, bytes, str]]]


def _files(*names: str) -> Files:
    return [
        ("files", (Path(name).name, (SCENARIOS / name).read_bytes(), "application/octet-stream"))
        for name in names
    ]


def _upload(client: TestClient, files: Files, **fields: str) -> tuple[int, str]:
    csrf = csrf_of(client, "/ui/scenarios")
    answer = client.post("/ui/scenarios", data={"csrf": csrf, **fields}, files=files)
    return answer.status_code, answer.headers.get("location", "") or answer.text


def test_a_variant_with_its_baseline_and_spreadsheet_uploads_in_one_form(
    browser: Browser, api: TestClient
) -> None:
    client = browser("planner")
    names = (
        "programmes-2025-future-floor.yaml",
        "programmes-2025-baseline.yaml",
        "programmes-2025.csv",
    )
    status, location = _upload(client, _files(*names))
    assert status == 303, location
    scenario_id = int(location.rsplit("=", 1)[1])
    stored = api.get(f"/v1/scenarios/{scenario_id}").json()
    expected = load_scenario(SCENARIOS / names[0])
    assert stored["content_hash"] == expected.content_hash and stored["recipients"] == 60
    assert stored["name"] == expected.name
    page = client.get(location).text
    assert f'data-scenario="{scenario_id}" class="just-stored"' in page


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_uploads_in_the_form_and_runs_as_solve_does(
    browser: Browser, api: TestClient, path: Path
) -> None:
    client = browser("planner")
    files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in _named(path)]
    status, location = _upload(client, files)
    assert status == 303, location
    scenario_id = int(location.rsplit("=", 1)[1])
    expected = load_scenario(path)
    assert api.get(f"/v1/scenarios/{scenario_id}").json()["content_hash"] == expected.content_hash
    csrf = csrf_of(client, "/ui/scenarios")
    started = client.post(f"/ui/scenarios/{scenario_id}/run", data={"csrf": csrf})
    assert started.status_code == 303, started.text
    run = wait_for_run(api, int(started.headers["location"].rsplit("/", 1)[1]), {}, timeout=120)
    direct = solve(expected).to_dict()
    assert run["outcome"] == direct["status"]
    assert _units(run["result"]) == _units(direct)


def _units(result: dict[str, Any]) -> dict[str, int]:
    return {a["id"]: a["units"] for a in result["allocations"]}


def test_a_spreadsheet_alone_takes_its_name_and_budget_from_the_form(
    browser: Browser, api: TestClient
) -> None:
    client = browser("planner", lang="ko")
    status, location = _upload(
        client, _files("plan-2023/programmes-2023.csv"), name="CSV only", budget="1,500"
    )
    assert status == 303, location
    stored = api.get(f"/v1/scenarios/{int(location.rsplit('=', 1)[1])}").json()
    assert stored["name"] == "CSV only" and stored["body"]["budget"] == 1500
    rows = (SCENARIOS / "plan-2023/programmes-2023.csv").read_text("utf-8").strip().splitlines()
    assert stored["recipients"] == len(rows) - 1
    first = dict(zip(rows[0].split(","), rows[1].split(","), strict=True))
    assert stored["body"]["recipients"][0]["score"] == float(first["score"])


def test_upload_problems_are_listed_with_their_paths_and_nothing_is_stored(
    browser: Browser, database: Database
) -> None:
    client = browser("planner")
    before = counts(database)
    status, html = _upload(client, _files("programmes-2025-baseline.yaml"))
    assert status == 422
    problems = re.findall(r"<li>([^<]*)</li>", html.split('class="problems"', 1)[1])
    assert any("recipients" in p and "programmes-2025.csv" in p for p in problems), problems

    bad_csv = (SCENARIOS / "programmes-2025.csv").read_text("utf-8").splitlines()
    cells = bad_csv[3].split(",")
    cells[2] = "heavy"  # the weight column of the third programme
    bad_csv[3] = ",".join(cells)
    files = _files("programmes-2025-baseline.yaml")
    files.append(("files", ("programmes-2025.csv", "\n".join(bad_csv).encode(), "text/csv")))
    status, html = _upload(client, files)
    assert status == 422
    listed = html.split('class="problems"', 1)[1].split("</ul>", 1)[0]
    assert "programmes-2025.csv" in listed and "row 4" in listed and "weight" in listed

    status, html = _upload(client, _files("plan-2023/programmes-2023.csv"), name="no budget")
    assert status == 422 and "budget" in html.split('class="problems"', 1)[1]

    status, html = _upload(client, _files("regions-2025.yaml"), budget="1300")
    assert status == 422 and "budget: form fields apply only to a spreadsheet" in html
    assert counts(database) == before


def test_the_form_offers_several_files_in_both_languages(browser: Browser) -> None:
    english = browser("planner").get("/ui/scenarios").text
    korean = browser("planner", lang="ko").get("/ui/scenarios").text
    for html in (english, korean):
        assert re.search(r'<input id="files" name="files" type="file" multiple', html)
        assert 'name="name"' in html and 'name="budget"' in html
    assert "For a spreadsheet uploaded alone" in english
    assert "For a spreadsheet uploaded alone" not in korean


def _grid(api: TestClient) -> dict[str, object]:
    stored = api.post("/v1/scenarios", json=scenario_data()).json()
    sets = ["budget=1100,1300", "recipients[jeju].floor=30,50"]
    answer = api.post("/v1/sweeps", json={"scenario_id": stored["id"], "set": sets})
    assert answer.status_code == 201, answer.text
    found: dict[str, object] = answer.json()
    return found


def test_a_grid_sweeps_page_heads_its_table_with_a_row_per_parameter(
    browser: Browser, api: TestClient
) -> None:
    sweep = _grid(api)
    runs = sweep["runs"]
    assert isinstance(runs, list)
    for lang in ("en", "ko"):
        html = browser("committee", lang=lang).get(f"/ui/sweeps/{sweep['id']}").text
        heads = re.findall(r'<tr class="grid-head"><th scope="row"><code>([^<]+)</code>', html)
        assert heads == ["budget", "recipients[jeju].floor"]
        rows = re.findall(r'<tr class="grid-head">(.*?)</tr>', html, re.S)
        assert re.findall(r'class="num">([\d,]+)</th>', rows[0]) == [
            "1,100",
            "1,100",
            "1,300",
            "1,300",
        ]
        links = re.findall(r'<a href="/ui/runs/(\d+)"[^>]*>(\d+)</a>', rows[1])
        assert links == [
            (str(r["id"]), v) for r, v in zip(runs, ["30", "50", "30", "50"], strict=True)
        ]
        assert "<polyline" not in html  # a grid is not a line over one axis
        cells = re.compile(r'<tr data-recipient="([a-z]+)"><th scope="row">[^<]+</th>(.*?)</tr>')
        table = {rid: re.findall(r">([\d,]+)</td>", row) for rid, row in cells.findall(html)}
        for index, run in enumerate(runs):
            for a in run["result"]["allocations"]:
                assert int(table[a["id"]][index].replace(",", "")) == a["units"]
        assert f'href="/ui/sweeps/{sweep["id"]}/table.csv"' in html
    korean = browser("committee", lang="ko").get(f"/ui/sweeps/{sweep['id']}").text
    assert "Parameter 1" not in korean and "A grid has no line chart" not in korean

    english = browser("committee")
    answer = english.get(f"/ui/sweeps/{sweep['id']}/table.csv")
    assert answer.content.startswith(b"\xef\xbb\xbf")
    rows_csv = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows_csv[0][:3] == ["Recipient", "id", "budget = 1,100, recipients[jeju].floor = 30"]
    assert sum(int(row[5]) for row in rows_csv[1:]) == 1300
    book = load_workbook(
        io.BytesIO(
            browser("committee", lang="ko").get(f"/ui/sweeps/{sweep['id']}/table.xlsx").content
        )
    )
    sheet = book.worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "배분 대상" and len(values[0]) == 6
    assert sum(int(v[2]) for v in values[1:]) == 1100 and sheet.cell(2, 3).number_format == "#,##0"


def test_the_comparison_page_links_its_csv_and_excel(browser: Browser, api: TestClient) -> None:
    sweep = _grid(api)
    runs = sweep["runs"]
    assert isinstance(runs, list)
    query = f"run={runs[0]['id']}&run={runs[3]['id']}"
    client = browser("committee", lang="ko")
    html = client.get(f"/ui/compare?{query}").text
    links = re.findall(r'href="/ui/compare/table\.(csv|xlsx)\?([^"]+)"', html)
    assert [kind for kind, _ in links] == ["csv", "xlsx"], links
    assert all(f"run={runs[0]['id']}" in q and f"run={runs[3]['id']}" in q for _, q in links)
    answer = client.get(f"/ui/compare/table.xlsx?{query}")
    assert answer.status_code == 200
    values = list(
        load_workbook(io.BytesIO(answer.content)).worksheets[0].iter_rows(values_only=True)
    )
    assert values[0][0] == "배분 대상"
    units = {a["id"]: a["units"] for a in runs[3]["result"]["allocations"]}
    assert {row[1]: row[3] for row in values[1:]} == units


def test_a_planner_starts_a_grid_sweep_from_a_runs_page(browser: Browser, api: TestClient) -> None:
    stored = api.post("/v1/scenarios", json=scenario_data()).json()
    run = api.post("/v1/runs", json={"scenario_id": stored["id"], "overrides": ["budget=1250"]})
    page = f"/ui/runs/{run.json()['id']}"
    planner = browser("planner", lang="ko")
    html = planner.get(page).text
    assert 'id="sweep-set-2" name="set"' in html and "두 번째 매개변수" in html
    sets = ["budget=1100,1300", "recipients[jeju].floor=30,50"]
    answer = planner.post(f"{page}/sweep", data={"set": sets, "csrf": csrf_of(planner, page)})
    assert answer.status_code == 303, answer.text
    sweep = api.get(answer.headers["location"].replace("/ui/", "/v1/")).json()
    assert sweep["parameters"] == ["budget", "recipients[jeju].floor"]
    assert sweep["overrides"] == []  # the run's budget=1250 gives way to the swept budget
    assert sweep["values"] == [[1100, 30], [1100, 50], [1300, 30], [1300, 50]]
    one = planner.post(
        f"{page}/sweep",
        data={"set": ["recipients[jeju].floor=30,40", ""], "csrf": csrf_of(planner, page)},
    )
    single = api.get(one.headers["location"].replace("/ui/", "/v1/")).json()
    assert single["parameters"] == ["recipients[jeju].floor"] and single["overrides"] == [
        "budget=1250"
    ]
    bad = planner.post(
        f"{page}/sweep",
        data={"set": ["budget=1100", "budget=1200"], "csrf": csrf_of(planner, page)},
    )
    assert bad.status_code == 422 and "already swept" in bad.text
