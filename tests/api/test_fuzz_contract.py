"""schemathesis over the whole API, every request body media type included (YAML, JSON and
the multipart upload of ``POST /v1/scenarios``): no 500, and every response matches the
schema the OpenAPI description gives for it (status code documented, JSON body valid).
Then uploads built from the example files, cut and mixed by hypothesis, reach the upload
parser itself: a stored scenario (200/201) or a 422 listing paths, nothing else.
A few examples per operation keep this inside the test budget; ALLOT_FUZZ_EXAMPLES=N runs
more."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from api.db import Role
from api.main import create_app
from api.schemas import ScenarioDetail
from tests.api.conftest import SCENARIOS, DatabaseTarget, make_token, scenario_data

EXAMPLES = int(os.environ.get("ALLOT_FUZZ_EXAMPLES", "6"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
BODY_TYPES = ("application/json", "application/yaml", "multipart/form-data")


@pytest.fixture
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str]]:
    target = DatabaseTarget("sqlite", tmp_path_factory.mktemp("contract"))
    app = create_app(target.settings(max_sweep_values=5, sync_max_recipients=50))
    token = make_token(app.state.database, Role.ADMIN)
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        client.post("/v1/scenarios", json=scenario_data(), headers=headers)
        client.post("/v1/runs", json={"scenario_id": 1}, headers=headers)
        client.post("/v1/sweeps", json={"scenario_id": 1, "set": ["budget=1200"]}, headers=headers)
        yield app, token


def _fuzz(operation: Any, headers: dict[str, str], media_type: str | None) -> None:
    @given(case=operation.as_strategy(media_type=media_type))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: Any) -> None:
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    check()


def test_every_operation_and_body_type_answers_within_its_schema(
    service: tuple[FastAPI, str],
) -> None:
    app, token = service
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"}
    multipart = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        body = operation.definition.raw.get("requestBody", {}).get("content", {})
        types: list[str | None] = [t for t in BODY_TYPES if t in body]
        for media_type in types or [None]:
            multipart += media_type == "multipart/form-data"
            _fuzz(operation, headers, media_type)
    assert multipart >= 1  # the upload was among them


NAMES = st.sampled_from(
    [
        "regions-2025.yaml",
        "regions-2025-cut.yaml",
        "programmes-2025-baseline.yaml",
        "programmes-2025.csv",
        "s.json",
        "x.xlsx",
        "../etc/passwd.yaml",
        ".hidden.yaml",
        "noext",
        "a.parquet",
    ]
)
SOURCES = [p.read_bytes() for p in sorted(SCENARIOS.glob("*")) if p.is_file()]


@st.composite
def upload_files(draw: st.DrawFn) -> list[tuple[str, tuple[str, bytes]]]:
    """One to three files: an example file whole, cut short, or arbitrary bytes."""
    files = []
    for _ in range(draw(st.integers(1, 3))):
        source = draw(st.sampled_from(SOURCES))
        cut = draw(st.integers(0, len(source)))
        content = draw(st.sampled_from([source, source[:cut], draw(st.binary(max_size=200))]))
        files.append(("files", (draw(NAMES), content)))
    return files


def test_uploads_cut_and_mixed_are_stored_or_refused_with_paths(
    service: tuple[FastAPI, str],
) -> None:
    app, token = service
    headers = {"Authorization": f"Bearer {token}"}
    fields = st.dictionaries(
        st.sampled_from(["name", "budget", "sheet", "objective"]),
        st.sampled_from(["x", "1200", "-1", "{kind: maxmin}", "[", ""]),
        max_size=2,
    )
    with TestClient(app) as client:

        @given(files=upload_files(), data=fields)
        @settings(
            max_examples=EXAMPLES * 5,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(files: list[tuple[str, tuple[str, bytes]]], data: dict[str, str]) -> None:
            answer = client.post("/v1/scenarios", files=files, data=data, headers=headers)
            assert answer.status_code in (200, 201, 422), (answer.status_code, answer.text)
            if answer.status_code == 422:
                problems = answer.json()["detail"]
                assert problems and all(set(p) == {"path", "message"} for p in problems)
                assert all(p["message"] for p in problems)
            else:
                ScenarioDetail.model_validate(answer.json())

        check()
