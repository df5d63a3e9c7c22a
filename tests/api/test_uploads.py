"""Multipart ``POST /v1/scenarios``: every example scenario uploaded with the files it names
runs to the allocation ``solve`` gives on the file; a spreadsheet alone with form fields;
``extends`` naming a stored scenario; what an upload may not do."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from api.db import Database
from optimizer.loading import load_scenario, read_recipients
from optimizer.solve import solve
from tests.api.conftest import SCENARIOS, counts, wait_for_run

Auth = Callable[..., dict[str, str]]
Files = list[tuple[str, tuple[str, bytes]]]
EXAMPLES = sorted(p for p in SCENARIOS.rglob("*.yaml") if "expected" not in p.parts)


def _named(path: Path) -> list[Path]:
    """The scenario file and every file it names (extends chain, recipient files)."""
    data = yaml.safe_load(path.read_text("utf-8"))
    out = [path]
    recipients = data.get("recipients")
    if isinstance(recipients, dict):
        out.append(path.parent / recipients["file"])
    if "extends" in data:
        out.extend(_named(path.parent / data["extends"]))
    return out


def _files(paths: list[Path]) -> Files:
    return [("files", (p.name, p.read_bytes())) for p in paths]


def _units(result: dict[str, Any]) -> dict[str, int]:
    return {a["id"]: a["units"] for a in result["allocations"]}


def _run(client: TestClient, auth: Auth, scenario_id: int) -> dict[str, Any]:
    answer = client.post("/v1/runs", json={"scenario_id": scenario_id}, headers=auth())
    assert answer.status_code in (201, 202), answer.text  # 202 only on a busy machine
    run = wait_for_run(client, answer.json()["id"], auth(), timeout=120)
    assert run["status"] == "done", run
    return run


def test_the_examples_are_found() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"regions-2025-cut.yaml", "programmes-2025-baseline.yaml", "two-stage.yaml"} <= names
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_uploads_with_its_files_and_runs_as_solve_does(
    client: TestClient, auth: Auth, path: Path
) -> None:
    expected = load_scenario(path)
    answer = client.post("/v1/scenarios", files=_files(_named(path)), headers=auth())
    assert answer.status_code == 201, answer.text
    stored = answer.json()
    assert stored["name"] == expected.name
    assert stored["content_hash"] == expected.content_hash
    run = _run(client, auth, stored["id"])
    direct = json.loads(json.dumps(solve(expected).to_dict()))
    assert run["outcome"] == direct["status"]
    assert _units(run["result"]) == _units(direct)


def test_a_variant_extends_a_stored_scenario_by_name_and_version(
    client: TestClient, auth: Auth
) -> None:
    baseline = SCENARIOS / "programmes-2025-baseline.yaml"
    first = client.post("/v1/scenarios", files=_files(_named(baseline)), headers=auth()).json()
    name = first["name"]
    variant = (SCENARIOS / "programmes-2025-stability.yaml").read_text("utf-8")
    by_name = variant.replace("extends: programmes-2025-baseline.yaml", f'extends: "{name}"')
    assert by_name != variant
    answer = client.post(
        "/v1/scenarios", files=[("files", ("stability.yaml", by_name.encode()))], headers=auth()
    )
    assert answer.status_code == 201, answer.text
    expected = load_scenario(SCENARIOS / "programmes-2025-stability.yaml")
    assert answer.json()["content_hash"] == expected.content_hash
    # a later version of the baseline does not change what {name, version: 1} means
    changed = dict(first["body"], budget=2000)
    assert client.post("/v1/scenarios", json=changed, headers=auth()).json()["version"] == 2
    pinned = variant.replace(
        "extends: programmes-2025-baseline.yaml",
        f"extends: {{name: {json.dumps(name)}, version: 1}}\nname: pinned",
    ).replace("name: 2025 programmes, stricter", "# was: 2025 programmes, stricter")
    body = client.post(
        "/v1/scenarios", content=pinned.encode(), headers=auth() | {"Content-Type": "text/yaml"}
    )
    assert body.status_code == 201, body.text
    assert body.json()["body"]["budget"] == 1500
    latest = pinned.replace(", version: 1}", "}").replace("name: pinned", "name: latest")
    body = client.post(
        "/v1/scenarios", content=latest.encode(), headers=auth() | {"Content-Type": "text/yaml"}
    )
    assert body.status_code == 201, body.text
    assert body.json()["body"]["budget"] == 2000


def test_a_spreadsheet_alone_with_form_fields(client: TestClient, auth: Auth) -> None:
    csv_file = SCENARIOS / "programmes-2025.csv"
    fields = {
        "name": "프로그램 2025",
        "budget": "1500",
        "unit": '{label: "100M KRW", value: 100000000}',
        "criteria": "{performance: 0.40, jobs: 0.25, investment: 0.20, innovation: 0.15}",
    }
    answer = client.post("/v1/scenarios", files=_files([csv_file]), data=fields, headers=auth())
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["name"] == "프로그램 2025" and body["body"]["budget"] == 1500
    assert [r["id"] for r in body["body"]["recipients"]] == [
        r["id"] for r in read_recipients(csv_file)
    ]
    run = _run(client, auth, body["id"])
    assert sum(_units(run["result"]).values()) == 1500


def test_an_xlsx_sheet_alone(client: TestClient, auth: Auth) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "점수"
    sheet.append(["id", "name", "score"])
    sheet.append(["a", "가", 70])
    sheet.append(["b", "나", 30])
    out = io.BytesIO()
    book.save(out)
    files = [("files", ("scores.xlsx", out.getvalue()))]
    fields = {"name": "xlsx", "budget": "10", "sheet": "점수"}
    answer = client.post("/v1/scenarios", files=files, data=fields, headers=auth())
    assert answer.status_code == 201, answer.text
    run = _run(client, auth, answer.json()["id"])
    assert _units(run["result"]) == {"a": 7, "b": 3}


BAD_CELL = b"id,name,score\na,A,70\nb,B,high\n"


@pytest.mark.parametrize(
    ("files", "fields", "path", "words"),
    [
        pytest.param(
            [("r.csv", BAD_CELL)], {"name": "x", "budget": "10"}, "recipients", "r.csv", id="cell"
        ),
        pytest.param(
            [("s.yaml", b"name: x\nbudget: 10\nrecipients: {file: other.csv}\n")],
            {},
            "recipients.file",
            "file not found: other.csv",
            id="missing-file",
        ),
        pytest.param(
            [("s.yaml", b"name: x\nbudget: 10\nrecipients: {file: ../../etc/passwd.csv}\n")],
            {},
            "recipients.file",
            "outside",
            id="escape",
        ),
        pytest.param(
            [("s.yaml", b"name: x\nextends: base.yaml\n")],
            {},
            "extends",
            "not among the uploaded files",
            id="parent-not-uploaded",
        ),
        pytest.param(
            [("s.yaml", b"name: x\nextends: {name: nobody}\n")],
            {},
            "extends",
            "no stored scenario named 'nobody'",
            id="unknown-stored",
        ),
        pytest.param(
            [("s.yaml", b"name: x\nextends: {name: a, version: true}\n")],
            {},
            "extends.version",
            "version number",
            id="bool-version",
        ),
        pytest.param([("notes.txt", b"hi")], {}, "files[0]", "unsupported", id="txt"),
        pytest.param([(".hidden.csv", b"id\n")], {}, "files[0]", "plain file name", id="dot"),
        pytest.param([("a.csv", b"id\n"), ("a.csv", b"id\n")], {}, "files[1]", "twice", id="dup"),
        pytest.param(
            [("a.csv", b"id\n"), ("b.csv", b"id\n")], {}, "files", "one spreadsheet", id="2csv"
        ),
        pytest.param(
            [("s.yaml", b"name: x\nbudget: 1\nrecipients: [{id: a, score: 1}]\n")],
            {"budget": "5"},
            "budget",
            "form fields apply only",
            id="field-with-file",
        ),
        pytest.param(
            [("a.yaml", b"name: a\nbudget: 1\n"), ("b.yaml", b"name: b\nbudget: 1\n")],
            {},
            "files",
            "which one is the scenario",
            id="two-scenarios",
        ),
        pytest.param(
            [("r.csv", b"id,score\na,1\n")],
            {"name": "x", "budget": "true"},
            "budget",
            "",
            id="bool-budget-field",
        ),
    ],
)
def test_bad_uploads_answer_422_and_store_nothing(
    client: TestClient,
    auth: Auth,
    database: Database,
    files: list[tuple[str, bytes]],
    fields: dict[str, str],
    path: str,
    words: str,
) -> None:
    before = counts(database)
    answer = client.post(
        "/v1/scenarios",
        files=[("files", item) for item in files],
        data=fields,
        headers=auth(),
    )
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert any(p["path"].startswith(path) and words in p["message"] for p in detail), detail
    assert "allot-upload-" not in answer.text  # the server's temporary directory is not shown
    assert counts(database) == before


def test_text_in_the_files_field_is_refused(client: TestClient, auth: Auth) -> None:
    text_part = [("files", (None, b"name: x"))]  # a part without a file name is text
    answer = client.post("/v1/scenarios", files=text_part, headers=auth())
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["path"] == "files"


def test_posting_the_latest_version_again_returns_it(client: TestClient, auth: Auth) -> None:
    path = SCENARIOS / "regions-2025.yaml"
    first = client.post("/v1/scenarios", files=_files([path]), headers=auth())
    again = client.post("/v1/scenarios", files=_files([path]), headers=auth())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["version"] == 1
    listed = client.get("/v1/scenarios", headers=auth("committee")).json()
    assert listed["total"] == 1


def test_name_search_matches_substrings(client: TestClient, auth: Auth) -> None:
    for name in ("regions-2025.yaml", "regions-2025-cut.yaml"):
        client.post("/v1/scenarios", files=_files(_named(SCENARIOS / name)), headers=auth())
    found = client.get("/v1/scenarios", params={"name": "BUDGET CUT"}, headers=auth()).json()
    assert [item["name"] for item in found["items"]] == ["2025 budget cut 10% (illustrative)"]
    both = client.get("/v1/scenarios", params={"name": "2025"}, headers=auth()).json()
    assert both["total"] == 2
    none = client.get("/v1/scenarios", params={"name": "2025_"}, headers=auth()).json()
    assert none["total"] == 0  # a wildcard character is matched literally
