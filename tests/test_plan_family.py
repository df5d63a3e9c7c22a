"""The 2023 example family (``scenarios/plan-2023/``): the 60 industries of the 2023
restructuring as 68 region x industry programmes, with sources, and every variant solves."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from optimizer.loading import load_scenario
from optimizer.result import Status
from optimizer.solve import solve

FAMILY = Path(__file__).resolve().parent.parent / "scenarios" / "plan-2023"


def industries() -> list[dict[str, str]]:
    with (FAMILY / "industries-2023.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_structure_is_41_main_and_19_future_industries_in_27_pairs() -> None:
    rows = industries()
    main = [r for r in rows if r["kind"] == "main"]
    future = [r for r in rows if r["kind"] == "future"]
    assert len(main) == 41 and len(future) == 27
    shared = Counter(r["industry_ko"] for r in future)
    assert len(shared) == 19
    assert sum(1 for n in shared.values() if n > 1) == 5
    assert len({r["region"] for r in rows}) == 14
    for r in rows:  # verified rows cite their sources; placeholders say they are
        if r["verified"] == "yes":
            assert r["source"].startswith("http") and r["confidence"] in ("high", "medium")
        else:
            assert r["source"] == "" and "not verified" in r["industry_en"]


def test_the_programme_file_has_one_programme_per_pair() -> None:
    with (FAMILY / "programmes-2023.csv").open(encoding="utf-8") as handle:
        programmes = list(csv.DictReader(handle))
    pairs = [(r["region"], r["kind"], r["industry_en"]) for r in industries()]
    assert [(p["tags.region"], p["tags.kind"], p["tags.industry"]) for p in programmes] == pairs


@pytest.mark.parametrize("path", sorted(FAMILY.glob("*.yaml")), ids=lambda p: p.name)
def test_every_variant_solves_and_says_its_numbers_are_illustrative(path: Path) -> None:
    assert "ILLUSTRATIVE NUMBERS ONLY" in path.read_text(encoding="utf-8")
    result = solve(load_scenario(path))
    assert result.status == Status.OPTIMAL, result.message
    assert sum(a.units for a in result.allocations) == result.budget


def test_sweep_and_compare_take_the_plan_rules() -> None:
    """A sweep over a rule's field and a comparison of two variants, through the CLI."""
    import json

    from typer.testing import CliRunner

    from optimizer import cli

    runner = CliRunner()
    swept = runner.invoke(
        cli.app,
        [
            "sweep",
            str(FAMILY / "at-most-two-s.yaml"),
            "--set",
            "rules[1].max_count=1,3",
            "-j",
            "1",
            "-f",
            "json",
        ],
    )
    assert swept.exit_code == 0, swept.output
    variants = json.loads(swept.stdout)["variants"]
    assert [v["status"] for v in variants] == ["optimal", "optimal"]
    assert "at most 1 S by rank: busan (91.5), daejeon (90.4) fall to A" in variants[0]["message"]
    compared = runner.invoke(
        cli.app,
        [
            "compare",
            str(FAMILY / "region-kind-matrix.yaml"),
            str(FAMILY / "two-stage.yaml"),
            "-f",
            "json",
        ],
    )
    assert compared.exit_code == 0, compared.output
    runs = json.loads(compared.stdout)["runs"]
    assert [r["status"] for r in runs] == ["optimal", "optimal"]


def test_components_and_grades_by_rank_compare_through_the_cli() -> None:
    """The components and the grade-quota variants side by side: each run's units as it
    solves alone, its message (how it was allocated) kept."""
    import json

    from typer.testing import CliRunner

    from optimizer import cli

    names = ("base-and-incentive.yaml", "at-most-two-s.yaml")
    compared = CliRunner().invoke(
        cli.app, ["compare", *(str(FAMILY / n) for n in names), "-f", "json"]
    )
    assert compared.exit_code == 0, compared.output
    out = json.loads(compared.stdout)
    assert [r["status"] for r in out["runs"]] == ["optimal", "optimal"]
    for k, name in enumerate(names):
        alone = {a.id: a.units for a in solve(load_scenario(FAMILY / name)).allocations}
        assert {r["id"]: r["units"][k] for r in out["recipients"]} == alone
