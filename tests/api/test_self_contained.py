"""The project stands alone: nothing it ships (code, scenarios, docs, README, the OpenAPI
description) refers to design notes or data outside the repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = ("DESIGN" + ".md", "../" + "shared", "shared/" + "data", "/work/" + "shared")
SHIPPED = ["optimizer", "api", "scenarios", "docs", "benchmarks", "tests"]
TEXT = {
    ".py",
    ".md",
    ".yaml",
    ".yml",
    ".json",
    ".csv",
    ".html",
    ".po",
    ".toml",
    ".txt",
    ".css",
    ".js",
}


def _files() -> list[Path]:
    found = [ROOT / "README.md", ROOT / "Makefile", ROOT / "pyproject.toml"]
    for folder in SHIPPED:
        found += [
            p
            for p in (ROOT / folder).rglob("*")
            if p.is_file() and p.suffix in TEXT and "__pycache__" not in p.parts
        ]
    return found


def test_nothing_shipped_refers_outside_the_repository() -> None:
    files = _files()
    assert len(files) > 100
    found = [
        f"{path.relative_to(ROOT)}: {word}"
        for path in files
        for word in OUTSIDE
        if word in path.read_text("utf-8", errors="replace")
    ]
    assert found == []


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_openapi_description_refers_inside_the_repository(tmp_path: Path) -> None:
    from api.main import create_app
    from api.settings import Settings

    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}"))
    text = json.dumps(app.openapi())
    assert not [word for word in OUTSIDE if word in text]
    assert "docs/contract.md" in text
