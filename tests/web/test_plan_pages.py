"""The web view takes runs of the plan's structure: the run page of each 2023 variant (a
region x kind matrix, two stages, the grading rules, components) renders with the API's
units, and two variants compare. (The matrix view of a run is the web view's to add.)"""

from __future__ import annotations

import csv
import io
import math
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.web import matrix as matrix_module
from optimizer.loading import load_scenario
from tests.web.conftest import Browser, post_runs
from tests.web.test_language import _latin_words

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


@pytest.mark.parametrize(
    "names",
    [
        ("region-kind-matrix.yaml", "two-stage.yaml"),
        ("base-and-incentive.yaml", "at-most-two-s.yaml"),
    ],
    ids=["matrix-stages", "components-quota"],
)
def test_variants_compare(browser: Browser, api: TestClient, names: tuple[str, ...]) -> None:
    """A matrix and two stages (programmes); components and grades by rank (the 14
    regions) side by side: the API's comparison and the compare page give the same units."""
    ids = [
        post_runs(api, load_scenario(FAMILY / name).model_dump(mode="json"), [])[0]
        for name in names
    ]
    compared = api.post("/v1/compare", json={"run_ids": ids}).json()
    assert [r["status"] for r in compared["runs"]] == ["optimal"] * len(ids)
    page = browser("committee").get("/ui/compare?" + "&".join(f"run={i}" for i in ids))
    assert page.status_code == 200
    bars = RECT.findall(page.text)
    for recipient in compared["recipients"]:
        for series, units in enumerate(recipient["units"]):
            assert (str(series), recipient["id"], str(units)) in bars


# --------------------------------------------------------------------------- the matrix page

CELL = re.compile(
    r'<tr data-row="([^"]+)">(.*?)</tr>',
    re.S,
)
UNITS = re.compile(r'data-column="([^"]*)" data-units="(\d+)"')
ROW_TOTAL = re.compile(r'<td class="num total" data-total="(\d+)">')
DIVISOR = re.compile(r'data-divisor="([^"]*)"')
COLUMN_FOOT = re.compile(r'<td class="num total" data-column="([^"]*)" data-total="(\d+)">')
COLUMN_DIVISOR = re.compile(r'<td class="num divisor" data-column="([^"]*)" data-divisor="([^"]*)"')


def _matrix(text: str) -> tuple[dict[tuple[str, str], int], dict[str, int], dict[str, str]]:
    """The page's cells by (row, column), row totals and row divisors."""
    cells: dict[tuple[str, str], int] = {}
    totals: dict[str, int] = {}
    divisors: dict[str, str] = {}
    for row, body in CELL.findall(text):
        for column, units in UNITS.findall(body):
            cells[row, column] = int(units)
        (total,) = ROW_TOTAL.findall(body)
        totals[row] = int(total)
        divisors[row] = DIVISOR.findall(body)[-1]
    return cells, totals, divisors


def _run(api: TestClient, name: str) -> tuple[int, dict[str, Any], dict[str, Any]]:
    data = load_scenario(FAMILY / name).model_dump(mode="json")
    (run_id,) = post_runs(api, data, [])
    return run_id, data, api.get(f"/v1/runs/{run_id}").json()["result"]


def _by_cell(
    data: dict[str, Any], result: dict[str, Any], rows: str, columns: str
) -> dict[tuple[str, str], int]:
    units = {a["id"]: a["units"] for a in result["allocations"]}
    cells: dict[tuple[str, str], int] = {}
    for rec in data["recipients"]:
        key = (rec["tags"][rows], rec["tags"][columns])
        cells[key] = cells.get(key, 0) + units[rec["id"]]
    return cells


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_matrix_page_of_a_biproportional_run_shows_cells_totals_and_divisors(
    browser: Browser, api: TestClient, lang: str
) -> None:
    run_id, data, result = _run(api, "region-kind-matrix.yaml")
    cert = result["certificate"]
    client = browser("committee", lang)
    run_page = client.get(f"/ui/runs/{run_id}")
    assert f'href="/ui/runs/{run_id}/matrix"' in run_page.text
    page = client.get(f"/ui/runs/{run_id}/matrix")
    assert page.status_code == 200
    assert ("The plan's matrix" if lang == "en" else "계획의 행렬") in page.text
    cells, totals, divisors = _matrix(page.text)
    assert cells == _by_cell(data, result, "region", "kind")
    rows, columns = cert["rows"], cert["columns"]
    assert totals == dict(zip(rows["names"], rows["totals"], strict=True))
    assert divisors == dict(zip(rows["names"], rows["divisors"], strict=True))
    assert dict(COLUMN_FOOT.findall(page.text)) == {
        c: str(t) for c, t in zip(columns["names"], columns["totals"], strict=True)
    }
    assert dict(COLUMN_DIVISOR.findall(page.text)) == dict(
        zip(columns["names"], columns["divisors"], strict=True)
    )
    assert sum(cells.values()) == data["budget"]
    # the certificate holds: every programme is its entitlement over both divisors, rounded
    # at one half (Webster), exactly
    row_d = {n: Fraction(d) for n, d in divisors.items()}
    column_d = {n: Fraction(d) for n, d in COLUMN_DIVISOR.findall(page.text)}
    units = {a["id"]: a["units"] for a in result["allocations"]}
    for rec in data["recipients"]:
        e = Fraction(str(rec["weight"])) * Fraction(str(rec["score"]))
        q = e / (row_d[rec["tags"]["region"]] * column_d[rec["tags"]["kind"]])
        assert units[rec["id"]] == math.floor(q + Fraction(1, 2)), rec["id"]
    # coloured by units, the largest cell darkest; colours can be turned off
    top = max(cells.values())
    assert 'class="num heat-5" data-column' in page.text and str(top) in page.text
    assert 'class="matrix heat"' in page.text
    plain = client.get(f"/ui/runs/{run_id}/matrix?heat=false")
    assert 'class="matrix"' in plain.text and _matrix(plain.text)[0] == cells
    if lang == "ko":  # the tags, the method and the certificate (marked English) aside
        names = {data["name"], "region", "kind", "main", "future", "webster", "committee"}
        assert not _latin_words(page.text, {*names, *(f"web-{r}" for r in ("committee",))})


def test_the_matrix_of_two_stages_is_groups_by_a_programme_tag(
    browser: Browser, api: TestClient
) -> None:
    run_id, data, result = _run(api, "two-stage.yaml")
    first = result["certificate"]["first"]["units"]
    client = browser("committee")
    assert f'href="/ui/runs/{run_id}/matrix"' in client.get(f"/ui/runs/{run_id}").text
    page = client.get(f"/ui/runs/{run_id}/matrix")
    assert page.status_code == 200
    cells, totals, divisors = _matrix(page.text)
    assert totals == first  # the rows are the first stage's units, in its order
    assert list(totals) == list(first)
    assert cells == _by_cell(data, result, "region", "kind")
    within = result["certificate"]["within"]
    for region, shown in divisors.items():  # the second stage's divisor range, as printed
        low = within[region]["divisor"]["low"]
        assert shown.startswith(f"{float(low):.7g}"), (region, shown)
    by_industry = client.get(f"/ui/runs/{run_id}/matrix?columns=industry")
    assert _matrix(by_industry.text)[0] == _by_cell(data, result, "region", "industry")
    table = client.get(f"/ui/runs/{run_id}/matrix.csv?columns=kind")
    assert table.status_code == 200
    lines = table.content.decode("utf-8-sig").splitlines()
    assert lines[0].split(",")[:3] == ["region", "main", "future"]
    total_line = next(line for line in lines if line.startswith("Total,"))
    assert total_line.split(",")[3] == str(data["budget"])


def test_a_run_without_a_matrix_has_no_matrix_page(browser: Browser, api: TestClient) -> None:
    run_id, _, _ = _run(api, "grade-ladder-2013.yaml")
    client = browser("committee")
    assert "/matrix" not in client.get(f"/ui/runs/{run_id}").text
    page = client.get(f"/ui/runs/{run_id}/matrix")
    assert page.status_code == 409
    assert "has no matrix" in page.text
    assert client.get(f"/ui/runs/{run_id}/matrix.xlsx").status_code == 409


def test_component_parts_are_columns_of_the_downloads(browser: Browser, api: TestClient) -> None:
    """The service's CSV and Excel and the web view's table carry a column per component;
    each row's parts add up to its units."""
    run_id, _, result = _run(api, "base-and-incentive.yaml")
    parts = [(f"component.{c['name']}", c["split"]) for c in result["certificate"]["components"]]
    units = {a["id"]: a["units"] for a in result["allocations"]}
    answer = api.get(f"/v1/runs/{run_id}/allocations?format=csv")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert list(rows[0])[-len(parts) :] == [name for name, _ in parts]
    for row in rows:
        got = [int(row[name]) for name, _ in parts]
        assert got == [split[row["id"]] for _, split in parts]
        assert sum(got) == units[row["id"]] == int(row["units"])
    book = load_workbook(io.BytesIO(api.get(f"/v1/runs/{run_id}/allocations?format=xlsx").content))
    sheet = book["allocations"]
    header = [c.value for c in sheet[1]]
    assert header[-len(parts) :] == [name for name, _ in parts]
    for line in sheet.iter_rows(min_row=2, values_only=True):
        record = dict(zip(header, line, strict=True))
        assert [record[name] for name, _ in parts] == [s[record["id"]] for _, s in parts]
    table = browser("committee").get(f"/ui/runs/{run_id}/table.csv")
    web = list(csv.reader(io.StringIO(table.content.decode("utf-8-sig"))))
    width = len(parts)
    for line in web[1:]:
        assert sum(int(v) for v in line[-width:]) == units[line[1]]


def test_the_run_page_names_each_parts_own_method(browser: Browser, api: TestClient) -> None:
    data = load_scenario(FAMILY / "base-and-incentive.yaml").model_dump(mode="json")
    data["rules"][0]["parts"][0]["method"] = "hamilton"
    data["rules"][0]["parts"][1]["method"] = "webster"
    (run_id,) = post_runs(api, data, [])
    page = browser("committee").get(f"/ui/runs/{run_id}")
    assert "base (by weight, hamilton)" in page.text
    assert "incentive (by evaluation, webster)" in page.text


def test_an_infeasible_matrix_run_says_it_has_no_allocation(
    browser: Browser, api: TestClient
) -> None:
    data = load_scenario(FAMILY / "region-kind-matrix.yaml").model_dump(mode="json")
    data["rules"][0]["column_totals"] = {"main": 2000, "future": 900}  # 36 over the budget
    (run_id,) = post_runs(api, data, [])
    assert api.get(f"/v1/runs/{run_id}").json()["result"]["status"] == "infeasible"
    client = browser("committee")
    assert f"/ui/runs/{run_id}/matrix" not in client.get(f"/ui/runs/{run_id}").text
    page = client.get(f"/ui/runs/{run_id}/matrix")
    assert page.status_code == 409 and "has no allocation (see its diagnosis)" in page.text
    korean = browser("committee", "ko").get(f"/ui/runs/{run_id}/matrix")
    assert korean.status_code == 409 and "배분 결과가 없으므로" in korean.text


def test_a_matrix_too_large_to_draw_is_offered_as_a_download(
    browser: Browser, api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id, data, _ = _run(api, "region-kind-matrix.yaml")
    monkeypatch.setattr(matrix_module, "MAX_DRAWN", 27)  # 14 x 2 = 28 cells
    client = browser("committee")
    page = client.get(f"/ui/runs/{run_id}/matrix")
    assert page.status_code == 200
    assert "14 rows and 2 columns are too many cells to draw here" in page.text
    assert 'id="matrix"' not in page.text
    table = client.get(f"/ui/runs/{run_id}/matrix.csv")
    lines = list(csv.reader(io.StringIO(table.content.decode("utf-8-sig"))))
    cells = {(line[0], k): int(line[k]) for line in lines[1:15] for k in (1, 2)}
    assert sum(cells.values()) == data["budget"]
