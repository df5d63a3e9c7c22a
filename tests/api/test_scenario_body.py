"""The stored scenario body (:func:`api.store.scenario_body`) is pydantic's
``model_dump(mode="json")`` exactly, key order included, while skipping its second walk
over a recipient table's rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.store import scenario_body
from benchmarks.instances import InstanceSpec, generate
from optimizer.loading import load_scenario, validate_data

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
FILES = sorted(p for p in SCENARIOS.rglob("*.yaml") if "expected" not in p.parts)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SCENARIOS)))
def test_the_body_of_every_example_is_its_model_dump(path: Path) -> None:
    scenario = load_scenario(path)
    assert json.dumps(scenario_body(scenario)) == json.dumps(scenario.model_dump(mode="json"))


@pytest.mark.parametrize("rules", ["bounds", "groups", "all"])
def test_the_body_of_a_generated_instance_is_its_model_dump(rules: str) -> None:
    data = generate(InstanceSpec(840, "hamilton", rules))
    data["recipients"][3]["name"] = "부산 123"  # a row unlike the others
    data["recipients"][4].pop("weight", None)
    scenario = validate_data(data)
    body = scenario_body(scenario)
    assert json.dumps(body) == json.dumps(scenario.model_dump(mode="json"))
    assert validate_data(body).content_hash == scenario.content_hash
