"""What the committee reads: the map of the regions, last year's units, what held whom in
words, the what-if pages (their figures are the optimizer's), the meeting papers, and the
defects of the first version (infeasible runs in a comparison, rounded thresholds, failed runs,
queue time)."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.db import Database, Run, RunStatus
from api.web.views import CompareCell, exact_percent, shown_percent
from optimizer.loading import validate_data
from optimizer.robust import RobustReport, robustness
from optimizer.sensitivity import SensitivityReport, sensitivity
from tests.api.conftest import scenario_data
from tests.test_thresholds import graded
from tests.web.conftest import Browser, csrf_of, post_runs

TILE = re.compile(
    r'<g class="tile" tabindex="0" role="img" aria-label="([^"]+)" '
    r'data-region="([a-z]+)" data-value="([^"]*)"'
)


def _tiles(html: str) -> dict[str, tuple[str, str]]:
    return {region: (label, value) for label, region, value in TILE.findall(html)}


def test_the_run_page_maps_the_14_regions_by_units_share_and_change(
    browser: Browser, api: TestClient, two_runs: list[int]
) -> None:
    run = api.get(f"/v1/runs/{two_runs[0]}").json()
    units = {a["id"]: a["units"] for a in run["result"]["allocations"]}
    shares = {a["id"]: a["share"] for a in run["result"]["allocations"]}
    previous = {
        r["id"]: r["previous"] for r in scenario_data("regions-2025-metro-cap.yaml")["recipients"]
    }
    client = browser("committee", lang="ko")

    tiles = _tiles(client.get(f"/ui/runs/{two_runs[0]}").text)
    assert len(tiles) == 14
    assert {k: float(v) for k, (_, v) in tiles.items()} == {k: float(u) for k, u in units.items()}
    label = tiles["busan"][0]
    assert label.startswith("부산: ") and f"{units['busan']} 단위" in label
    assert f"전년도 {previous['busan']:g}" in label

    shared = _tiles(client.get(f"/ui/runs/{two_runs[0]}?map=share").text)
    assert {k: float(v) for k, (_, v) in shared.items()} == pytest.approx(shares)

    changed = _tiles(client.get(f"/ui/runs/{two_runs[0]}?map=change").text)
    expected = {k: 100 * (units[k] - previous[k]) / previous[k] for k in units}
    assert {k: float(v) for k, (_, v) in changed.items()} == pytest.approx(expected)


def test_programmes_are_mapped_by_their_region_tag(browser: Browser, api: TestClient) -> None:
    (run_id,) = post_runs(api, scenario_data("programmes-2025-baseline.yaml"), [])
    run = api.get(f"/v1/runs/{run_id}").json()
    regions: dict[str, int] = {}
    body = {r["id"]: r for r in run["scenario"]["recipients"]} if "scenario" in run else None
    recipients = body or {
        r["id"]: r for r in scenario_data("programmes-2025-baseline.yaml")["recipients"]
    }
    for a in run["result"]["allocations"]:
        region = recipients[a["id"]]["tags"]["region"]
        regions[region] = regions.get(region, 0) + a["units"]
    html = browser("committee").get(f"/ui/runs/{run_id}").text
    tiles = _tiles(html)
    assert {k: float(v) for k, (_, v) in tiles.items() if v} == {
        k: float(v) for k, v in regions.items()
    }
    table = re.findall(
        r'<tr data-region="([a-z]+)"><th scope="row">[^<]+</th>'
        r'.*?<td class="num units">([\d,]+)</td>',
        html,
    )
    assert {k: int(v.replace(",", "")) for k, v in table} == regions


def test_a_scenario_that_is_not_regions_has_no_map(browser: Browser, api: TestClient) -> None:
    inline = {
        "name": "firms",
        "budget": 10,
        "recipients": [{"id": "a", "score": 1}, {"id": "b", "score": 2}],
    }
    run_id = api.post("/v1/runs", json={"scenario": inline}).json()["id"]
    html = browser("committee").get(f"/ui/runs/{run_id}").text
    assert 'class="tile"' not in html and "data-recipient" in html


def test_last_years_units_and_the_change_are_beside_this_years(
    browser: Browser, api: TestClient, two_runs: list[int]
) -> None:
    run = api.get(f"/v1/runs/{two_runs[0]}").json()
    previous = {
        r["id"]: r["previous"] for r in scenario_data("regions-2025-metro-cap.yaml")["recipients"]
    }
    html = browser("committee").get(f"/ui/runs/{two_runs[0]}").text
    row = re.compile(
        r'<tr data-recipient="([a-z]+)">.*?<td class="num previous">([\d.,]+)</td>\s*'
        r'<td class="num units">([\d,]+)</td>\s*<td class="num (\w+)">([^<]+)</td>',
        re.S,
    )
    found = {rid: (float(p), int(u), d, c) for rid, p, u, d, c in row.findall(html)}
    assert len(found) == 14
    for a in run["result"]["allocations"]:
        prev, units, direction, change = found[a["id"]]
        assert prev == previous[a["id"]] and units == a["units"]
        diff = a["units"] - previous[a["id"]]
        assert change.strip() == (f"+{diff:g}" if diff > 0 else f"{diff:g}")
        assert direction == ("increase" if diff > 0 else "decrease" if diff < 0 else "same")
    # Chungnam is held by the stability rule, said in words with the change it is held at
    chungnam = next(a for a in run["result"]["allocations"] if a["id"] == "chungnam")
    assert "change_limit" in chungnam["binding"]
    pct = 100 * (chungnam["units"] - previous["chungnam"]) / previous["chungnam"]
    assert f"held at {pct:+.1f}% against last year by the stability rule (change_limit)" in html


def test_every_metric_has_a_plain_line_in_both_languages(
    browser: Browser, two_runs: list[int]
) -> None:
    english = browser("committee").get(f"/ui/runs/{two_runs[0]}").text
    assert "Distance from fair shares (Loosemore-Hanby)" in english
    assert "0 means everyone got the same" in english
    korean = browser("committee", lang="ko").get(f"/ui/runs/{two_runs[0]}").text
    assert "공정 몫과의 거리 (갤러거 지수)" in korean and "0이면" not in korean
    assert korean.count('class="small plain"') == english.count('class="small plain"') >= 8


# --------------------------------------------------------------------------- what-if


def test_a_sweep_page_draws_a_line_per_recipient_with_the_apis_units(
    browser: Browser, api: TestClient, two_runs: list[int]
) -> None:
    scenario_id = api.get(f"/v1/runs/{two_runs[0]}").json()["scenario_id"]
    sweep = api.post(
        "/v1/sweeps", json={"scenario_id": scenario_id, "set": "budget=1100:1300:100"}
    ).json()
    html = browser("committee", lang="ko").get(f"/ui/sweeps/{sweep['id']}").text
    assert html.count("<polyline") == 14
    cells = re.compile(r'<tr data-recipient="([a-z]+)"><th scope="row">[^<]+</th>(.*?)</tr>', re.S)
    table = {rid: re.findall(r">([\d,]+)</td>", row) for rid, row in cells.findall(html)}
    for index, run in enumerate(sweep["runs"]):
        for a in run["result"]["allocations"]:
            assert int(table[a["id"]][index].replace(",", "")) == a["units"]
    changed = sum(1 for rid in table for i in range(1, 3) if table[rid][i] != table[rid][i - 1])
    assert html.count('class="changed"') == changed > 0
    assert "단위 (대상마다 선 하나)" in html or "대상마다 선 하나" in html
    listed = browser("committee").get("/ui/sweeps").text
    assert f'href="/ui/sweeps/{sweep["id"]}"' in listed and "budget=1100:1300:100" in listed


def test_a_planner_starts_a_sweep_from_a_run_and_a_committee_member_cannot(
    browser: Browser, two_runs: list[int]
) -> None:
    planner = browser("planner")
    page = f"/ui/runs/{two_runs[0]}"
    answer = planner.post(
        f"{page}/sweep", data={"set": "budget=1150,1250", "csrf": csrf_of(planner, page)}
    )
    assert answer.status_code == 303 and answer.headers["location"].startswith("/ui/sweeps/")
    assert "Sweep a parameter" in planner.get(page).text
    committee = browser("committee")
    assert "Sweep a parameter" not in committee.get(page).text
    refused = committee.post(
        f"{page}/sweep", data={"set": "budget=1150", "csrf": csrf_of(committee, page)}
    )
    assert refused.status_code == 403
    bad = planner.post(f"{page}/sweep", data={"set": "budget=", "csrf": csrf_of(planner, page)})
    assert bad.status_code == 422 and "set" in bad.text


def test_the_sensitivity_page_gives_the_optimizers_thresholds(
    browser: Browser, api: TestClient, two_runs: list[int]
) -> None:
    run = api.get(f"/v1/runs/{two_runs[0]}").json()
    report = sensitivity(validate_data(scenario_data("regions-2025-metro-cap.yaml")), jobs=1)
    assert isinstance(report, SensitivityReport)
    html = browser("committee").get(f"/ui/runs/{run['id']}/sensitivity").text
    rows = dict(
        re.findall(r'<tr data-recipient="([a-z]+)">.*?<td class="up-text">([^<]+)</td>', html, re.S)
    )
    assert len(rows) == 14 and html.count('class="reach-row"') == 14
    for threshold in report.recipients:
        if threshold.up is None:
            assert rows[threshold.id] == "no change within reach"
        else:
            assert rows[threshold.id].startswith(f"{threshold.up.delta:+g} points → ")
            assert f"→ {threshold.up.units} units" in rows[threshold.id]


def test_the_robustness_page_gives_the_optimizers_ranges(
    browser: Browser, two_runs: list[int]
) -> None:
    report = robustness(
        validate_data(scenario_data("regions-2025-metro-cap.yaml")),
        noise=1.5,
        samples=40,
        seed=3,
        jobs=1,
    )
    assert isinstance(report, RobustReport)
    html = (
        browser("committee")
        .get(f"/ui/runs/{two_runs[0]}/robustness?noise=1.5&samples=40&seed=3")
        .text
    )
    rows = re.findall(r'<tr data-recipient="([a-z]+)">(.*?)</tr>', html, re.S)
    figures = {rid: re.findall(r'<td class="num">([\d,.%]+)</td>', row) for rid, row in rows}
    for spread in report.recipients:
        low, p5, median, p95, high = (int(v) for v in figures[spread.id][1:6])
        assert (low, p5, median, p95, high) == (
            spread.min,
            spread.p5,
            spread.median,
            spread.p95,
            spread.max,
        )
    assert html.count('class="span"') == 14
    assert "40 of 40 samples solved" in html


def test_what_if_pages_say_why_without_an_allocation(
    browser: Browser, api: TestClient, two_runs: list[int]
) -> None:
    scenario_id = api.get(f"/v1/runs/{two_runs[0]}").json()["scenario_id"]
    run = api.post("/v1/runs", json={"scenario_id": scenario_id, "overrides": ["budget=1080"]})
    infeasible = run.json()["id"]
    client = browser("committee")
    assert "nothing can move" in client.get(f"/ui/runs/{infeasible}/sensitivity").text
    assert "nothing to shake" in client.get(f"/ui/runs/{infeasible}/robustness").text


# --------------------------------------------------------------------------- meeting papers


def test_a_run_and_a_comparison_print_as_meeting_papers(
    browser: Browser, api: TestClient, two_runs: list[int]
) -> None:
    run = api.get(f"/v1/runs/{two_runs[0]}").json()
    client = browser("committee", lang="ko")
    paper = client.get(f"/ui/runs/{two_runs[0]}/report").text
    assert 'class="paper"' in paper and len(_tiles(paper)) == 14
    assert paper.count('<tr data-recipient="') == 14
    assert run["scenario_hash"] in paper and "allot solve" in paper
    assert "배분을 제약한 규칙" in paper and "change_limit" in paper
    compared = client.get(f"/ui/compare/report?run={two_runs[0]}&run={two_runs[1]}").text
    assert 'class="paper"' in compared and len(_tiles(compared)) == 14
    for run_id in two_runs:
        assert api.get(f"/v1/runs/{run_id}").json()["scenario_hash"] in compared
    css = client.get("/ui/static/style.css").text
    assert "@page { size: A4" in css and ".paper .report-grid" in css


# --------------------------------------------------------------------------- defects


def test_an_infeasible_run_in_a_comparison_is_shown_with_its_diagnosis(
    browser: Browser, api: TestClient, two_runs: list[int]
) -> None:
    scenario_id = api.get(f"/v1/runs/{two_runs[0]}").json()["scenario_id"]
    bad = api.post(
        "/v1/runs", json={"scenario_id": scenario_id, "overrides": ["budget=1080"]}
    ).json()
    assert bad["outcome"] == "infeasible"
    ids = [bad["id"], *two_runs]  # the infeasible one is the oldest... made the baseline
    html = (
        browser("committee")
        .get("/ui/compare?" + "&".join(f"run={i}" for i in ids) + f"&baseline={bad['id']}")
        .text
    )
    assert "not in run" not in html
    assert "Runs without an allocation" in html and "grade_order cannot hold" in html
    assert html.count('<tr data-recipient="') == 14  # the two feasible runs, compared
    alone = browser("committee").get(f"/ui/compare?run={bad['id']}&run={two_runs[0]}").text
    assert "nothing to compare" in alone and "not in run" not in alone


def test_the_large_change_threshold_is_on_exact_values() -> None:
    below = CompareCell(192, -10, exact_percent(-10, 202), "B", ())
    assert not below.large and below.pct_text == "-4.95%"
    at = CompareCell(190, -10, exact_percent(-10, 200), "B", ())
    assert at.large and at.pct_text == "-5.0%"
    assert shown_percent(Fraction(-4999, 1000)) == "-4.999%"
    assert shown_percent(Fraction(5049, 1000)) == "+5.0%"


def test_a_failed_run_says_what_failed(
    browser: Browser, database: Database, two_runs: list[int]
) -> None:
    with database.transaction() as session:
        session.execute(  # as a worker's lease.fail leaves a run
            update(Run)
            .where(Run.id == two_runs[1])
            .values(status=RunStatus.FAILED.value, error="SolverError: HiGHS stopped")
        )
    html = browser("committee").get(f"/ui/runs/{two_runs[1]}").text
    assert "This run failed" in html and "SolverError: HiGHS stopped" in html
    assert "Did not hold anyone back" not in html
    what_if = browser("committee").get(f"/ui/runs/{two_runs[1]}/sensitivity")
    assert what_if.status_code == 409 and "nothing to analyse" in what_if.text


def test_a_cancelled_run_says_so_in_both_languages(
    browser: Browser, database: Database, two_runs: list[int]
) -> None:
    with database.transaction() as session:
        session.execute(
            update(Run).where(Run.id == two_runs[1]).values(status=RunStatus.CANCELLED.value)
        )
    english = browser("committee", lang="en").get(f"/ui/runs/{two_runs[1]}").text
    assert "This run was cancelled before it finished" in english
    korean = browser("committee", lang="ko").get(f"/ui/runs/{two_runs[1]}").text
    assert "이 실행은 끝나기 전에 취소되어" in korean
    assert "취소됨" in browser("committee", lang="ko").get("/ui/runs").text


def test_the_runs_list_shows_solve_time_and_queue_time_apart(
    browser: Browser, api: TestClient, two_runs: list[int]
) -> None:
    timings = api.get(f"/v1/runs/{two_runs[0]}").json().get("timings") or {}
    html = browser("committee").get("/ui/runs").text
    assert "Solve time" in html and "In the queue" in html
    row = re.search(rf'<tr data-run="{two_runs[0]}">(.*?)</tr>', html, re.S)
    assert row
    solve = re.search(r'class="num nowrap solve-time">([^<]+)<', row.group(1))
    queue = re.search(r'class="num nowrap queue-time">([^<]+)<', row.group(1))
    assert solve and queue
    if timings.get("solve_s") is not None:
        assert solve.group(1) == f"{timings['solve_s']:.2f} s"


def test_each_page_downloads_what_it_shows_with_headers_in_the_readers_language(
    browser: Browser, api: TestClient, two_runs: list[int]
) -> None:
    import csv
    import io

    from openpyxl import load_workbook

    run = api.get(f"/v1/runs/{two_runs[0]}").json()
    units = {a["id"]: a["units"] for a in run["result"]["allocations"]}
    korean = browser("committee", lang="ko")
    page = korean.get(f"/ui/runs/{two_runs[0]}").text
    assert f"/ui/runs/{two_runs[0]}/table.csv" in page

    answer = korean.get(f"/ui/runs/{two_runs[0]}/table.csv")
    assert answer.status_code == 200 and answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0][:7] == ["배분 대상", "id", "등급", "점수", "비례 몫", "전년도", "배분 단위"]
    assert {r[1]: int(r[6]) for r in rows[1:]} == units

    english = browser("committee")
    book = load_workbook(io.BytesIO(english.get(f"/ui/runs/{two_runs[0]}/table.xlsx").content))
    sheet = book.active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][6] == "Units" and {v[1]: v[6] for v in values[1:]} == units

    compared = english.get(f"/ui/compare/table.csv?run={two_runs[0]}&run={two_runs[1]}")
    table = list(csv.reader(io.StringIO(compared.content.decode("utf-8-sig"))))
    assert table[0][:5] == ["Recipient", "id", "Run A Units", "Run B Units", "Run B Change"]
    assert len(table) == 15

    scenario_id = run["scenario_id"]
    sweep = api.post("/v1/sweeps", json={"scenario_id": scenario_id, "set": "budget=1100,1200"})
    swept = english.get(f"/ui/sweeps/{sweep.json()['id']}/table.xlsx")
    sheet = load_workbook(io.BytesIO(swept.content)).active
    assert sheet is not None
    rows_x = list(sheet.iter_rows(values_only=True))
    assert rows_x[0][2:] == ("budget=1,100", "budget=1,200")
    assert sum(int(r[2]) for r in rows_x[1:]) == 1100

    for what in ("sensitivity", "robustness"):
        found = english.get(f"/ui/runs/{two_runs[0]}/{what}.csv?samples=10")
        assert found.status_code == 200, what
        assert len(found.content.decode("utf-8-sig").strip().splitlines()) == 15


def test_a_scenario_scored_by_criteria_shows_each_recipients_components(
    browser: Browser, api: TestClient
) -> None:
    data = scenario_data("programmes-2025-baseline.yaml")
    (run_id,) = post_runs(api, data, [])
    run = api.get(f"/v1/runs/{run_id}").json()
    weights = data["criteria"]
    html = browser("committee", lang="ko").get(f"/ui/runs/{run_id}").text
    assert "평가 점수 구성" in html and "성과 <span" in html and "일자리 <span" in html
    section = html.split('<table class="components">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<tr data-recipient="([^"]+)"><th scope="row">[^<]+</th>(.*?)</tr>', section)
    assert len(rows) == len(run["result"]["allocations"])
    recipients = {r["id"]: r for r in data["recipients"]}
    for rid, cells in rows[:5]:
        values = [
            float(v.replace(",", "")) for v in re.findall(r'<td class="num">([\d.,]+)</td>', cells)
        ]
        scores = recipients[rid]["criteria"]
        assert values[: len(weights)] == [float(scores[k]) for k in weights]
        composite = sum(scores[k] * w for k, w in weights.items()) / sum(weights.values())
        assert values[len(weights)] == pytest.approx(composite, abs=1e-6)


@pytest.mark.parametrize("name", ["base-and-incentive.yaml", "two-stage.yaml"])
def test_a_plan_in_components_or_two_stages_shows_its_breakdown(
    browser: Browser, api: TestClient, name: str
) -> None:
    from pathlib import Path

    from optimizer.loading import load_scenario

    family = Path(__file__).resolve().parents[2] / "scenarios" / "plan-2023"
    data = load_scenario(family / name).model_dump(mode="json")
    (run_id,) = post_runs(api, data, [])
    result = api.get(f"/v1/runs/{run_id}").json()["result"]
    certificate = result["certificate"]
    html = browser("committee", lang="ko").get(f"/ui/runs/{run_id}").text
    section = html.split('<table class="breakdown">', 1)[1].split("</table>", 1)[0]
    rows = dict(re.findall(r'<tr data-part="([^"]+)">(.*?)</tr>', section))
    cells = {
        k: [int(v.replace(",", "")) for v in re.findall(r">([\d,]+)</td>", row)]
        for k, row in rows.items()
    }
    if certificate["kind"] == "components":
        assert "예산 구성별 배분" in html
        units = {a["id"]: a["units"] for a in result["allocations"]}
        assert set(cells) == set(units)
        for rid, values in cells.items():
            parts = [c["split"][rid] for c in certificate["components"]]
            assert values == [*parts, units[rid]] and sum(parts) == units[rid]
    else:
        assert "2단계 배분" in html
        assert {k: v[0] for k, v in cells.items()} == certificate["first"]["units"]


# --------------------------------------------------------------------------- decisions


def test_ties_and_overrides_show_on_the_run_page_in_both_languages(
    browser: Browser, api: TestClient
) -> None:
    data = {
        "name": "three equal and a lock",
        "budget": 9,
        "recipients": [{"id": rid, "score": 1} for rid in ("a", "b", "c", "d")],
        "overrides": [{"id": "d", "units": 4, "reason": "pending audit", "author": "committee"}],
    }
    (run_id,) = post_runs(api, data, [])
    result = api.get(f"/v1/runs/{run_id}").json()["result"]
    (tie,) = result["ties"]  # 5 units for a, b, c owed 5/3 each: two get a second
    (override,) = result["overrides"]
    english = browser("committee", lang="en").get(f"/ui/runs/{run_id}").text
    assert "Decisions and checks" in english
    given, passed = ", ".join(tie["given"]), ", ".join(tie["passed"])
    assert f"{given} got 2 tied unit(s) before {passed}" in english
    alone = override["method_units"]
    assert f"d: 4 units by override (the method alone: {alone})" in english
    assert "pending audit" in english
    korean = browser("committee", lang="ko").get(f"/ui/runs/{run_id}").text
    assert "결정 사항과 검증" in korean
    assert f"동점 단위 2개를 {passed} 대신 {given}이(가) 받음" in korean
    assert f"d: 위원회 결정으로 4 단위 (배분 방법만으로는 {alone})" in korean
    # the worker checks every run (not sweep items) for paradoxes, and the page says so
    assert [c["check"] for c in result["checks"]] == [
        "quota",
        "budget_monotonicity",
        "score_monotonicity",
    ]
    assert "budget monotonicity (more budget, nobody loses)" in english
    assert "예산 단조성 (예산이 늘면 아무도 줄지 않음)" in korean
    scenario_id = api.get(f"/v1/runs/{run_id}").json()["scenario_id"]
    sweep = api.post("/v1/sweeps", json={"scenario_id": scenario_id, "set": "budget=9,10"})
    assert sweep.status_code in (200, 201, 202), sweep.text
    items = api.get(f"/v1/sweeps/{sweep.json()['id']}").json()["runs"]
    done = [api.get(f"/v1/runs/{item['id']}").json() for item in items]
    assert len(done) == 2 and all(r["result"]["checks"] == [] for r in done)


def test_a_run_stopped_by_its_time_limit_says_so_without_an_allocation(
    browser: Browser, api: TestClient
) -> None:
    """A threshold search past the run's time limit: the run is done, its outcome
    ``time_limit``, no allocation, and both languages' pages give the solver's sentence."""
    data = graded([{"type": "grade_order"}]) | {"solver": {"backend": "auto", "time_limit_s": 1e-9}}
    (run_id,) = post_runs(api, data, [])
    run = api.get(f"/v1/runs/{run_id}").json()
    assert (run["status"], run["outcome"]) == ("done", "time_limit")
    result = run["result"]
    assert result["status"] == "time_limit" and not result["allocations"]
    assert result["message"].startswith("time limit: the threshold search opened 0 nodes")
    for lang, heading in (("en", "No allocation: time limit"), ("ko", "배분 결과 없음: 시간 초과")):
        page = browser("committee", lang=lang).get(f"/ui/runs/{run_id}")
        assert page.status_code == 200
        assert heading in page.text
        assert "time limit: the threshold search opened 0 nodes" in page.text
        assert '<tr data-recipient="' not in page.text


def test_a_run_not_proven_optimal_says_so_with_its_allocation(
    browser: Browser, api: TestClient, database: Database
) -> None:
    """A run that ends ``feasible`` (a threshold search that gave up where the MILP could
    not take over, as a worker stores it): the page shows the allocation, and above it in
    both languages that it is not proven optimal, with the solver's sentence. An optimal
    run's page has no such notice."""
    (run_id,) = post_runs(api, graded([{"type": "grade_order"}]), [])
    result = api.get(f"/v1/runs/{run_id}").json()["result"]
    assert result["status"] == "optimal" and result["allocations"]
    optimal = browser("committee").get(f"/ui/runs/{run_id}").text
    assert 'id="not-proven"' not in optimal and "Not proven optimal" not in optimal
    said = "not proven optimal: the exact search over grade thresholds opened 9,523 nodes"
    stored = {**result, "status": "feasible", "message": said}
    with database.transaction() as session:
        session.execute(
            update(Run).where(Run.id == run_id).values(outcome="feasible", result=stored)
        )
    for lang, heading in (("en", "Not proven optimal"), ("ko", "최적임이 증명되지 않음")):
        page = browser("committee", lang=lang).get(f"/ui/runs/{run_id}").text
        notice = re.search(
            r'<section class="notice" role="status" id="not-proven">(.*?)</section>', page, re.S
        )
        assert notice is not None and heading in notice.group(1) and said in notice.group(1)
        assert '<tr data-recipient="' in page  # the allocation is still shown
