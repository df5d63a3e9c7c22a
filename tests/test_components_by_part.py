"""Components rounded part by part: a part that names its own ``method`` or ``rules`` makes
every part an apportionment of its own (its units by its basis, method and rules), and a
recipient's units the sum of its parts. Checked against the parts computed here from their
definitions; floors, caps and rules of the whole are refused at their paths; components
without a method or rules keep their content hash."""

from __future__ import annotations

import copy
import csv
import io
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from optimizer import cli
from optimizer.errors import InputError
from optimizer.loading import load_scenario
from optimizer.result import Status
from optimizer.scenario import Scenario
from optimizer.solve import solve
from tests.test_components import DATA, hamilton

WEIGHT = {"busan": Fraction(12, 10), "daegu": Fraction(1), "jeju": Fraction(1, 2)}
SCORE = {"busan": Fraction(872, 10), "daegu": Fraction(78), "jeju": Fraction(78)}
MULTIPLIER = {"busan": Fraction(11, 10), "daegu": Fraction(1), "jeju": Fraction(1)}
JOBS = {"busan": 80, "daegu": 75, "jeju": 90}


def by_part(**changes: dict[str, Any]) -> dict[str, Any]:
    """DATA with the metro tag, and ``changes`` to the parts by name."""
    data = copy.deepcopy(DATA)
    for rec in data["recipients"]:
        rec["tags"] = {"kind": "metro" if rec["id"] != "jeju" else "province"}
    for part in data["rules"][0]["parts"]:
        part.update(changes.get(part["name"], {}))
    return data


def webster(values: dict[str, Fraction], house: int) -> dict[str, int]:
    """Sainte-Laguë by hand: the largest v / (2k + 1), one unit at a time (no ties here)."""
    got = dict.fromkeys(values, 0)
    for _ in range(house):
        best = max(values, key=lambda k: values[k] / (2 * got[k] + 1))
        got[best] += 1
    return got


def quotas(units: int, values: dict[str, Fraction]) -> dict[str, Fraction]:
    whole = sum(values.values())
    return {k: units * v / whole for k, v in values.items()}


def test_each_part_is_rounded_by_its_own_method() -> None:
    data = by_part(base={"method": "hamilton"}, incentive={"method": "webster"})
    result = solve(Scenario.from_data(data))
    assert result.status == Status.OPTIMAL, result.message
    entitlement = {k: WEIGHT[k] * SCORE[k] * MULTIPLIER[k] for k in WEIGHT}
    jobs = {k: WEIGHT[k] * JOBS[k] for k in WEIGHT}
    parts = {
        "base": hamilton(quotas(600, WEIGHT), 600),
        "incentive": webster(entitlement, 300),
        "jobs": hamilton(quotas(100, jobs), 100),  # the objective's method (hamilton)
    }
    cert = result.certificate
    assert cert is not None and cert["kind"] == "components"
    assert {c["name"]: c["split"] for c in cert["components"]} == parts
    units = {a.id: a.units for a in result.allocations}
    assert units == {k: sum(p[k] for p in parts.values()) for k in WEIGHT}
    assert sum(units.values()) == 1000
    assert "each rounded on its own" in result.message
    assert "incentive 300 by entitlement (webster)" in result.message


def test_a_parts_rules_hold_within_that_part() -> None:
    rule = {"type": "group", "tag": "kind", "value": "metro", "max_units": 240}
    free = solve(Scenario.from_data(by_part(incentive={"rules": []})))
    held = solve(Scenario.from_data(by_part(incentive={"rules": [rule]})))
    assert held.status == Status.OPTIMAL, held.message

    def split(result: Any, part: str) -> dict[str, int]:
        return next(c["split"] for c in result.certificate["components"] if c["name"] == part)

    assert split(free, "incentive")["busan"] + split(free, "incentive")["daegu"] > 240
    incentive = split(held, "incentive")
    assert incentive["busan"] + incentive["daegu"] == 240 and incentive["jeju"] == 60
    assert split(held, "base") == split(free, "base")  # the other parts as they were
    assert sum(a.units for a in held.allocations) == 1000


def test_an_impossible_part_is_named() -> None:
    rules = [  # 60 + 60 of the part's 100 units
        {"type": "group", "tag": "kind", "value": value, "min_units": 60}
        for value in ("province", "metro")
    ]
    result = solve(Scenario.from_data(by_part(jobs={"rules": rules})))
    assert result.status == Status.INFEASIBLE
    assert result.message.startswith("component jobs: ")
    assert result.diagnosis is not None and result.diagnosis.summary.startswith("component jobs")


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (
            lambda d: d["recipients"][0].update(floor=100),
            "recipients[0].floor",
            "a floor or cap of the sum cannot be kept",
        ),
        (
            lambda d: d["rules"].append(
                {"type": "group", "tag": "kind", "value": "metro", "max_units": 10}
            ),
            "rules[1].type",
            "put this rule in the rules of a part (rules[0].parts[k].rules)",
        ),
        (
            lambda d: d["rules"][0]["parts"][1].update(
                rules=[{"type": "group", "tag": "kind", "value": "metro", "max_share": 2}]
            ),
            "rules[0].parts[1].rules[0].max_share",
            "",
        ),
        (
            lambda d: d["rules"][0]["parts"][1].update(
                rules=[{"type": "change_limit", "max_decrease": 0.1}], method="quota"
            ),
            "rules[0].parts[1].rules[0].type",
            "the quota method takes floors and caps only",
        ),
    ],
)
def test_what_parts_cannot_take_is_refused_at_its_path(change: Any, path: str, words: str) -> None:
    data = by_part(base={"method": "hamilton"})
    change(data)
    with pytest.raises(InputError) as caught:
        Scenario.from_data(data)
    assert any(p.path == path and words in p.message for p in caught.value.problems), (
        caught.value.problems
    )


def test_an_unknown_part_method_is_refused() -> None:
    with pytest.raises(InputError) as caught:
        Scenario.from_data(by_part(base={"method": "lottery"}))
    assert any(
        p.path.startswith("rules[0]") and "unknown method 'lottery'" in p.message
        for p in caught.value.problems
    ), caught.value.problems


def test_components_without_own_methods_keep_their_hash_and_joint_rounding() -> None:
    plain = Scenario.from_data(copy.deepcopy(DATA))
    dumped = plain.model_dump(mode="json")["rules"][0]["parts"][0]
    assert "method" not in dumped and "rules" not in dumped
    again = copy.deepcopy(DATA)
    again["rules"][0]["parts"][0]["method"] = None
    assert Scenario.from_data(again).content_hash == plain.content_hash
    assert Scenario.from_data(by_part(base={"method": "hamilton"})).content_hash != (
        Scenario.from_data(by_part()).content_hash
    )
    assert "rounded jointly" in solve(plain).message


def test_the_cli_csv_has_a_column_per_component(tmp_path: Path) -> None:
    path = tmp_path / "parts.json"
    path.write_text(json.dumps(by_part(incentive={"method": "webster"})), encoding="utf-8")
    outcome = CliRunner().invoke(cli.app, ["solve", str(path), "--format", "csv"])
    assert outcome.exit_code == 0, outcome.output
    rows = list(csv.DictReader(io.StringIO(outcome.stdout)))
    header = list(rows[0])
    assert header == [*cli.CSV_COLUMNS, "component.base", "component.incentive", "component.jobs"]
    cert = solve(Scenario.from_data(by_part(incentive={"method": "webster"}))).certificate
    assert cert is not None
    for row in rows:
        parts = [int(row[f"component.{c['name']}"]) for c in cert["components"]]
        assert parts == [c["split"][row["id"]] for c in cert["components"]]
        assert sum(parts) == int(row["units"])
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({**DATA, "rules": []}), encoding="utf-8")
    outcome = CliRunner().invoke(cli.app, ["solve", str(plain), "--format", "csv"])
    assert outcome.stdout.splitlines()[0] == ",".join(cli.CSV_COLUMNS)


def test_a_parts_own_scores_come_from_a_recipient_file_column(tmp_path: Path) -> None:
    """A need score in the recipients' CSV (``criteria.need``) with weight 0: read, kept
    out of the evaluation score, and the base component shared by it."""
    (tmp_path / "regions.csv").write_text(
        "id,criteria.perf,criteria.need\nbusan,80,10\ndaegu,60,30\njeju,70,60\n", encoding="utf-8"
    )
    (tmp_path / "plan.yaml").write_text(
        "name: need and performance\nbudget: 100\n"
        "criteria: {perf: 1, need: 0}\n"
        "recipients: {file: regions.csv}\n"
        "rules:\n"
        "  - type: components\n"
        "    parts:\n"
        "      - {name: base, units: 50, basis: criteria.need}\n"
        "      - {name: incentive, units: 50, basis: entitlement}\n",
        encoding="utf-8",
    )
    scenario = load_scenario(tmp_path / "plan.yaml")
    assert [r.score for r in scenario.recipients] == [80, 60, 70]  # need not counted
    result = solve(scenario)
    assert result.status == Status.OPTIMAL
    cert = result.certificate
    assert cert is not None
    splits = {c["name"]: c["split"] for c in cert["components"]}
    need = {"busan": Fraction(10), "daegu": Fraction(30), "jeju": Fraction(60)}
    assert sum(splits["base"].values()) == 50
    for rid, share in quotas(50, need).items():  # 5, 15, 30: whole quotas
        assert splits["base"][rid] == share


def test_the_cli_table_says_each_part_is_rounded_on_its_own(tmp_path: Path) -> None:
    path = tmp_path / "parts.json"
    path.write_text(json.dumps(by_part(base={"method": "webster"})), encoding="utf-8")
    outcome = CliRunner().invoke(cli.app, ["solve", str(path)])
    assert outcome.exit_code == 0, outcome.output
    assert "units by component (each rounded on its own)" in outcome.stdout
    assert "weight, webster" in outcome.stdout and "entitlement, hamilton" in outcome.stdout
    joint = tmp_path / "joint.json"
    joint.write_text(json.dumps(by_part()), encoding="utf-8")
    assert (
        "rounded jointly, then split" in CliRunner().invoke(cli.app, ["solve", str(joint)]).stdout
    )
