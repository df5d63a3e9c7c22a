"""The run page's record (the run's audit entries) and its adopt form: committee members and
admins adopt with a note, in Korean and English; planners see no form and are refused."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.web.conftest import Browser, csrf_of


def test_the_committee_adopts_a_run_from_its_page(
    browser: Browser, api: TestClient, two_runs: list[int]
) -> None:
    run_id = two_runs[0]
    committee = browser("committee")
    page = committee.get(f"/ui/runs/{run_id}").text
    assert 'id="audit"' in page and f'action="/ui/runs/{run_id}/adopt"' in page
    assert "audit-ran" in page and "web-planner" in page  # who ran it
    csrf = csrf_of(committee, f"/ui/runs/{run_id}")
    answer = committee.post(
        f"/ui/runs/{run_id}/adopt", data={"csrf": csrf, "note": "Committee decision no. 3"}
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"/ui/runs/{run_id}"
    page = committee.get(f"/ui/runs/{run_id}").text
    assert 'id="adopted"' in page and "Committee decision no. 3" in page
    assert "audit-adopted" in page and f'action="/ui/runs/{run_id}/adopt"' not in page
    stored = api.get(f"/v1/runs/{run_id}").json()
    assert stored["adopted_by"] == "web-committee"
    assert stored["adoption_note"] == "Committee decision no. 3"
    korean = browser("committee", "ko").get(f"/ui/runs/{run_id}").text
    assert 'lang="ko"' in korean and "채택됨" in korean and "이 실행의 기록" in korean


def test_planners_cannot_adopt_and_a_note_is_required(
    browser: Browser, api: TestClient, two_runs: list[int]
) -> None:
    run_id = two_runs[0]
    planner = browser("planner")
    page = planner.get(f"/ui/runs/{run_id}").text
    assert "audit-ran" in page and f"/ui/runs/{run_id}/adopt" not in page
    csrf = csrf_of(planner, f"/ui/runs/{run_id}")
    refused = planner.post(f"/ui/runs/{run_id}/adopt", data={"csrf": csrf, "note": "mine"})
    assert refused.status_code == 403
    admin = browser("admin", "ko")
    csrf = csrf_of(admin, f"/ui/runs/{run_id}")
    blank = admin.post(f"/ui/runs/{run_id}/adopt", data={"csrf": csrf, "note": "  "})
    assert blank.status_code == 422 and 'lang="ko"' in blank.text
    forged = admin.post(f"/ui/runs/{run_id}/adopt", data={"csrf": "x", "note": "ok"})
    assert forged.status_code == 403
    assert api.get(f"/v1/runs/{run_id}").json()["adopted_at"] is None
