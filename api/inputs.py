"""Turning what a client sent into validated scenarios: request bodies (YAML or JSON),
stored scenario ids, inline scenarios, overrides and sweep specifications.

Every problem is raised as one :class:`~optimizer.errors.InputError` with field paths, the
same list the CLI prints; nothing here touches the database except to read a stored scenario.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from api import store
from api.store import Prepared
from optimizer import solvers
from optimizer.compile import build_program
from optimizer.errors import InputError, Problem
from optimizer.loading import Format, parse_data, resolve_data, validate_data
from optimizer.overrides import apply_overrides
from optimizer.scenario import Scenario
from optimizer.solve import choose_backend
from optimizer.sweep import parse_axis

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
JSON_TYPES = ("application/json",)


def body_format(content_type: str | None) -> Format | None:
    """``yaml`` or ``json`` from a Content-Type; None (sniff) for anything else."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in YAML_TYPES:
        return "yaml"
    if kind in JSON_TYPES or kind.endswith("+json"):
        return "json"
    return None


def scenario_from_body(raw: bytes, content_type: str | None) -> Scenario:
    """A scenario posted as the whole request body."""
    data = parse_data(raw, fmt=body_format(content_type), source="request body")
    return _validated(data)


def _validated(data: Mapping[str, Any]) -> Scenario:
    scenario = validate_data(data)
    check_solver(scenario)
    return scenario


def check_solver(scenario: Scenario) -> None:
    """Raise what solving would raise for the scenario's own backend choice (a backend that
    is not installed, ``greedy`` with rules it cannot handle) before anything is stored."""
    _, _, program = build_program(scenario)
    name = choose_backend(program, scenario.solver.backend)
    if name != "greedy":
        try:
            solvers.backend(name)
        except Exception as exc:
            raise InputError([Problem("solver.backend", str(exc))]) from None


def base_data(
    session: Session, *, scenario_id: int | None, scenario: Mapping[str, Any] | str | None
) -> tuple[dict[str, Any], int | None]:
    """The scenario data a run or sweep starts from: a stored scenario or an inline one."""
    if (scenario_id is None) == (scenario is None):
        raise InputError(
            [Problem("scenario", "give either scenario_id (a stored scenario) or scenario")]
        )
    if scenario_id is not None:
        stored = store.get_scenario(session, scenario_id, path="scenario_id")
        return dict(stored.body), stored.id
    if isinstance(scenario, str):
        return parse_data(scenario, source="scenario"), None
    return resolve_data(scenario, source="scenario"), None


def prepare(
    data: Mapping[str, Any],
    *,
    scenario_id: int | None,
    overrides: Sequence[str],
    sweep_value: Any = None,
) -> Prepared:
    """Apply the overrides, validate, and check the solver choice."""
    changed = apply_overrides(data, overrides) if overrides else dict(data)
    scenario = _validated(changed)
    return Prepared(
        scenario=scenario,
        body=scenario.model_dump(mode="json"),
        scenario_id=scenario_id,
        overrides=tuple(overrides),
        sweep_value=sweep_value,
    )


# --------------------------------------------------------------------------- sweeps


def parse_sweep(spec: str, *, limit: int) -> tuple[str, list[tuple[str, Any]]]:
    """``budget=1000:2000:100`` (start:stop:step, stop included) or ``budget=900,1000,1200``
    -> the path and the (text, value) of each point (the CLI's parser, problems at ``set``)."""
    axis = parse_axis(spec, where="set", limit=limit)
    return axis.path, list(zip(axis.texts, axis.values, strict=True))


def prepare_sweep(
    data: Mapping[str, Any],
    *,
    scenario_id: int | None,
    overrides: Sequence[str],
    path: str,
    points: Sequence[tuple[str, Any]],
) -> list[Prepared]:
    """One prepared variant per point; every invalid point is reported (nothing stored)."""
    prepared: list[Prepared] = []
    problems: list[Problem] = []
    for text, value in points:
        try:
            prepared.append(
                prepare(
                    data,
                    scenario_id=scenario_id,
                    overrides=[*overrides, f"{path}={text}"],
                    sweep_value=value,
                )
            )
        except InputError as exc:
            problems.extend(
                Problem(p.path, f"with {path}={text}: {p.message}") for p in exc.problems
            )
    if problems:
        raise InputError(problems)
    return prepared
