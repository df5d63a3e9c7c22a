"""What the pages show equals what the API answers: units, charts, downloads, comparisons."""

from __future__ import annotations

import doctest
import io
import re
from types import ModuleType

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.web import charts, formatting, routes, sessions, tilemap, translations, views
from api.web.charts import BarItem, GroupItem, bar_chart, grouped_bar_chart
from api.web.translations import Translator
from api.web.views import CompareCell, change_sentence
from tests.web.conftest import Browser

RECT = re.compile(r'<rect class="bar series-(\d+)" data-recipient="([^"]+)"[^>]*data-units="(\d+)"')
UNITS_CELL = re.compile(
    r'<tr data-recipient="([^"]+)">.*?<td class="num units">([\d,]+)</td>', re.S
)


@pytest.mark.parametrize(
    "module", [charts, formatting, routes, sessions, tilemap, translations, views]
)
def test_the_examples_in_the_docstrings_hold(module: ModuleType) -> None:
    failed, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failed == 0


def test_the_run_page_shows_the_apis_units_in_the_chart_and_table(
    browser: Browser, api: TestClient, two_runs: list[int]
) -> None:
    run = api.get(f"/v1/runs/{two_runs[0]}").json()
    units = {a["id"]: a["units"] for a in run["result"]["allocations"]}
    html = browser("committee").get(f"/ui/runs/{two_runs[0]}").text

    bars = RECT.findall(html)
    assert len(bars) == len(units) == 14
    assert {key: int(value) for _, key, value in bars} == units
    assert [int(v) for _, _, v in bars] == sorted(units.values(), reverse=True)
    assert {key: int(text.replace(",", "")) for key, text in UNITS_CELL.findall(html)} == units

    assert run["scenario_hash"] in html
    assert "부산광역시" in html and "name: 2025 metro share cap (illustrative)" in html
    assert "1,200 × 100M KRW" in html  # budget with separators and the unit label
    assert "metro at most 35%" in html and "change_limit" in html
    assert "Gini of units" in html and "Loosemore-Hanby" in html
    for fmt in ("csv", "xlsx", "json"):
        assert f"/ui/runs/{two_runs[0]}/download.{fmt}" in html


def test_downloads_are_the_apis_exports(
    browser: Browser, api: TestClient, two_runs: list[int]
) -> None:
    client = browser("committee")
    run_id = two_runs[1]
    csv = client.get(f"/ui/runs/{run_id}/download.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    assert csv.text == api.get(f"/v1/runs/{run_id}/allocations?format=csv").text

    xlsx = client.get(f"/ui/runs/{run_id}/download.xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content))["allocations"]
    assert sum(row[6] for row in sheet.iter_rows(min_row=2, values_only=True)) == 1100

    whole = client.get(f"/ui/runs/{run_id}/download.json")
    assert "attachment" in whole.headers["content-disposition"]
    assert whole.json() == api.get(f"/v1/runs/{run_id}").json()


def test_the_compare_page_shows_changes_coloured_and_in_words(
    browser: Browser, api: TestClient, two_runs: list[int]
) -> None:
    compared = api.post("/v1/compare", json={"run_ids": two_runs}).json()
    html = browser("committee").get(f"/ui/compare?run={two_runs[1]}&run={two_runs[0]}").text

    bars = RECT.findall(html)
    assert len(bars) == 2 * 14
    for recipient in compared["recipients"]:
        for series, units in enumerate(recipient["units"]):
            assert (str(series), recipient["id"], str(units)) in bars
    assert 'class="num decrease"' in html  # a smaller budget: most go down
    assert "held by change_limit in run B" in html
    busan = next(r for r in compared["recipients"] if r["id"] == "busan")
    assert f"{busan['units'][1]}" in html
    assert "Gallagher" in html and '1,100 <span class="unit">× 100M KRW' in html


def test_the_baseline_can_be_chosen(browser: Browser, two_runs: list[int]) -> None:
    client = browser("committee")
    first, second = two_runs
    default = client.get(f"/ui/compare?run={second}&run={first}").text
    chosen = client.get(f"/ui/compare?run={first}&run={second}&baseline={second}").text
    assert 'class="num decrease"' in default and 'class="num increase"' not in default
    assert 'class="num increase"' in chosen and 'class="num decrease"' not in chosen


def test_the_runs_list_filters_by_scenario(
    browser: Browser, api: TestClient, two_runs: list[int]
) -> None:
    other = api.post(
        "/v1/runs",
        json={
            "scenario": {
                "name": "inline",
                "budget": 10,
                "recipients": [{"id": "a", "score": 1}, {"id": "b", "score": 2}],
            }
        },
    ).json()["id"]
    client = browser("committee")
    everything = client.get("/ui/runs").text
    assert all(f'data-run="{i}"' in everything for i in [*two_runs, other])
    scenario_id = api.get(f"/v1/runs/{two_runs[0]}").json()["scenario_id"]
    one = client.get(f"/ui/runs?scenario={scenario_id}").text
    assert all(f'data-run="{i}"' in one for i in two_runs)
    assert f'data-run="{other}"' not in one
    assert "2025 metro share cap (illustrative) (v1)" in one


# --------------------------------------------------------------------------- pure parts


def test_a_bar_chart_has_one_bar_per_recipient_longest_first() -> None:
    items = [
        BarItem(f"r{i}", f"지역 {i}", units, marker=units + 0.5)
        for i, units in enumerate([5, 40, 0, 17])
    ]
    chart = bar_chart(items)
    assert [bar.key for bar in chart.bars] == ["r1", "r3", "r0", "r2"]
    assert chart.bars[-1].width == 0
    widths = [bar.width for bar in chart.bars]
    assert widths[0] / widths[1] == pytest.approx(40 / 17)
    assert all(bar.x + bar.width <= chart.plot_right for bar in chart.bars)
    assert chart.ticks[-1].x == pytest.approx(chart.plot_right)


def test_a_grouped_chart_skips_runs_without_the_recipient() -> None:
    chart = grouped_bar_chart(
        [GroupItem("a", "A", (3, None, 5)), GroupItem("b", "B", (1, 2, 3))],
        series=("run A", "run B", "run C"),
    )
    assert [(bar.key, bar.series) for bar in chart.bars] == [
        ("a", 0),
        ("a", 2),
        ("b", 0),
        ("b", 1),
        ("b", 2),
    ]


@pytest.mark.parametrize(
    ("cell", "sentence"),
    [
        (
            CompareCell(138, -12, -8.0, "B", ("change_limit",)),
            "강원: -12 units (-8.0%), held by change_limit in run B",
        ),
        (CompareCell(160, 10, 6.67, "A", ()), "강원: +10 units (+6.7%) in run B"),
        (CompareCell(None, None, None, None, ()), "강원: not in run B"),
        (CompareCell(7, None, None, "A", ()), "강원: 7 units in run B, not in run A"),
    ],
)
def test_large_changes_read_as_one_sentence(cell: CompareCell, sentence: str) -> None:
    assert change_sentence("강원", cell, "B", Translator("en")) == sentence


def test_a_change_sentence_reads_naturally_in_korean() -> None:
    cell = CompareCell(138, -12, -8.0, "B", ("change_limit",))
    assert (
        change_sentence("강원", cell, "B", Translator("ko"))
        == "강원: 실행 B에서 -12단위 (-8.0%), change_limit에 묶임"
    )


def test_an_infeasible_run_shows_its_diagnosis_and_no_downloads(
    browser: Browser, api: TestClient, two_runs: list[int]
) -> None:
    scenario_id = api.get(f"/v1/runs/{two_runs[0]}").json()["scenario_id"]
    body = {"scenario_id": scenario_id, "overrides": ["budget=1080"]}
    run = api.post("/v1/runs", json=body).json()
    assert run["outcome"] == "infeasible"
    client = browser("committee")
    html = client.get(f"/ui/runs/{run['id']}").text
    assert "No allocation satisfies every rule" in html
    assert "grade_order cannot hold" in html
    assert "download.csv" not in html and "<rect" not in html
    listed = client.get("/ui/runs").text
    box = rf'value="{run["id"]}"[^>]*\s+aria-label="compare run {run["id"]}" disabled'
    assert re.search(box, listed), "an infeasible run cannot be ticked for comparison"
    assert client.get(f"/ui/runs/{run['id']}/download.csv").status_code == 409
