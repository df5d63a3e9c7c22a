"""Turning what a client sent into validated scenarios: request bodies (YAML or JSON),
stored scenario ids, inline scenarios, overrides and sweep specifications.

Every problem is raised as one :class:`~optimizer.errors.InputError` with field paths, the
same list the CLI prints; nothing here touches the database except to read a stored scenario.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from api import store
from api.db import StoredScenario
from api.schemas import MAX_ID
from api.store import Prepared
from optimizer import solvers
from optimizer.compile import build_program
from optimizer.errors import InputError, Problem
from optimizer.loading import (
    RECIPIENT_SUFFIXES,
    SCENARIO_SUFFIXES,
    Format,
    parse_text,
    parse_value,
    resolve_data,
    validate_data,
)
from optimizer.overrides import apply_overrides
from optimizer.scenario import Scenario
from optimizer.solve import AUTO_MILP, choose_backend
from optimizer.sweep import Axis, parse_axis, variants

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


def scenario_from_body(session: Session, raw: bytes, content_type: str | None) -> Scenario:
    """A scenario posted as the whole request body (``extends`` may name a stored one)."""
    data = parse_text(raw, fmt=body_format(content_type), source="request body")
    return _validated(_resolved(session, data, uploads={}, source="request body"))


@dataclass(frozen=True)
class Upload:
    """One file of a multipart upload: the name the client gave and its bytes."""

    filename: str | None
    content: bytes


def scenario_from_upload(
    session: Session, files: Sequence[Upload], fields: Mapping[str, str]
) -> Scenario:
    """A scenario from uploaded files: one YAML/JSON scenario plus the files it names
    (``extends``, ``recipients: {file: ...}``), or one spreadsheet alone with the scenario's
    fields as form fields (``sheet`` picks an .xlsx sheet). Names resolve among the uploads
    only, in a private temporary directory, with the CLI's loader and messages."""
    uploads = _upload_names(files)
    scenarios = [n for n in uploads if Path(n).suffix.lower() in SCENARIO_SUFFIXES]
    sheets = [n for n in uploads if Path(n).suffix.lower() in RECIPIENT_SUFFIXES]
    if not scenarios:
        if len(sheets) != 1:
            raise InputError(
                [
                    Problem(
                        "files",
                        "upload a YAML/JSON scenario, or one spreadsheet (CSV, XLSX, ...) with the "
                        "scenario's fields as form fields",
                    )
                ]
            )
        return _validated(
            _resolved(session, _fields_scenario(fields, sheets[0]), uploads=uploads, source="form")
        )
    if fields:
        raise InputError(
            [
                Problem(
                    key,
                    "form fields apply only to a spreadsheet uploaded alone; put the "
                    "field in the scenario file",
                )
                for key in fields
            ]
        )
    main = _main_scenario(scenarios, uploads)
    data = parse_text(uploads[main], fmt=SCENARIO_SUFFIXES[Path(main).suffix.lower()], source=main)
    return _validated(_resolved(session, data, uploads=uploads, source=main))


MAX_FILENAME_BYTES = 255
_UPLOAD_SUFFIXES = (*SCENARIO_SUFFIXES, *RECIPIENT_SUFFIXES)


def _upload_names(files: Sequence[Upload]) -> dict[str, bytes]:
    """File name -> bytes; names are reduced to their last part and must be plain, distinct
    file names (they are only ever looked up among the uploads)."""
    out: dict[str, bytes] = {}
    problems: list[Problem] = []
    if not files:
        problems.append(Problem("files", "no file uploaded"))
    for index, upload in enumerate(files):
        where = f"files[{index}]"
        name = re.split(r"[/\\]", upload.filename or "")[-1].strip()
        if not name or name.startswith(".") or "\x00" in name:
            problems.append(Problem(where, f"needs a plain file name (got {upload.filename!r})"))
        elif len(name.encode()) > MAX_FILENAME_BYTES:
            problems.append(Problem(where, f"file name longer than {MAX_FILENAME_BYTES} bytes"))
        elif Path(name).suffix.lower() not in _UPLOAD_SUFFIXES:
            problems.append(
                Problem(where, f"{name}: unsupported file type (use {', '.join(_UPLOAD_SUFFIXES)})")
            )
        elif name in out:
            problems.append(Problem(where, f"{name}: uploaded twice"))
        else:
            out[name] = upload.content
    if problems:
        raise InputError(problems)
    return out


def _main_scenario(names: Sequence[str], uploads: Mapping[str, bytes]) -> str:
    """Of several uploaded scenario files, the one no other extends."""
    if len(names) == 1:
        return names[0]
    extended = set()
    for name in names:
        parent = parse_text(
            uploads[name], fmt=SCENARIO_SUFFIXES[Path(name).suffix.lower()], source=name
        ).get("extends")
        if isinstance(parent, str):
            extended.add(os.path.normpath(parent))
    tops = [name for name in names if name not in extended]
    if len(tops) != 1:
        raise InputError(
            [
                Problem(
                    "files",
                    "upload one scenario with the files it names: "
                    f"{', '.join(tops) or 'every scenario'} not extended by another (which one is "
                    "the scenario?)",
                )
            ]
        )
    return tops[0]


def _fields_scenario(fields: Mapping[str, str], sheet_file: str) -> dict[str, Any]:
    """Scenario data from form fields (each value read as YAML, ``1200`` a number) and the
    uploaded spreadsheet as its recipients."""
    problems: list[Problem] = []
    data: dict[str, Any] = {}
    spec: dict[str, Any] = {"file": sheet_file}
    for key, text in fields.items():
        try:
            value = parse_value(text, where=key)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        if key == "sheet":
            spec["sheet"] = value
        elif key == "recipients":
            problems.append(Problem(key, "the recipients are the uploaded spreadsheet"))
        else:
            data[key] = value
    if problems:
        raise InputError(problems)
    data["recipients"] = spec
    return data


def _resolved(
    session: Session, data: Mapping[str, Any], *, uploads: Mapping[str, bytes], source: str
) -> dict[str, Any]:
    """``extends`` and recipient files resolved: file names among the uploads (written to a
    private temporary directory, the only place the loader may read), and a stored scenario
    for ``extends: <name>`` or ``extends: {name: ..., version: ...}``."""
    out = dict(data)
    parent = _stored_parent(session, out.get("extends"), uploads)
    if parent is None and not uploads:
        return resolve_data(out, source=source)
    with tempfile.TemporaryDirectory(prefix="allot-upload-") as folder:
        base = Path(folder)
        for name, content in uploads.items():
            (base / name).write_bytes(content)
        if parent is not None:
            stored = f".stored-{parent.id}.json"
            (base / stored).write_text(json.dumps(parent.body, ensure_ascii=False), "utf-8")
            out["extends"] = stored
        return resolve_data(out, base_dir=base, source=source)


def _stored_parent(
    session: Session, reference: Any, uploads: Mapping[str, bytes]
) -> StoredScenario | None:
    """The stored scenario ``extends`` names, or None when it names a file (or nothing)."""
    if reference is None:
        return None
    if isinstance(reference, str):
        if Path(reference).suffix.lower() in SCENARIO_SUFFIXES:
            if uploads and os.path.normpath(reference) not in uploads:
                raise InputError(
                    [
                        Problem(
                            "extends",
                            f"{reference}: not among the uploaded files (upload "
                            "it too, or name a stored scenario: "
                            "extends: {name: ..., version: ...})",
                        )
                    ]
                )
            return None
        name, version = reference, None
    elif isinstance(reference, Mapping):
        problems = [
            Problem(f"extends.{key}", "unknown field (allowed: name, version)")
            for key in reference
            if key not in ("name", "version")
        ]
        found, version = reference.get("name"), reference.get("version")
        if not isinstance(found, str) or not found:
            problems.append(Problem("extends.name", "a stored scenario's name is required"))
        if version is not None and (
            isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= MAX_ID
        ):
            problems.append(
                Problem("extends.version", f"must be a version number (got {version!r})")
            )
        if problems:
            raise InputError(problems)
        assert isinstance(found, str)
        name = found
    else:
        raise InputError(
            [
                Problem(
                    "extends",
                    "must be a stored scenario's name, {name: ..., version: ...} or "
                    f"an uploaded file's name (got {type(reference).__name__})",
                )
            ]
        )
    row = store.latest_scenario(session, name, version=version)
    if row is None:
        which = f"{name!r}" if version is None else f"{name!r} version {version}"
        raise InputError([Problem("extends", f"no stored scenario named {which}")])
    return row


def _validated(data: Mapping[str, Any]) -> Scenario:
    scenario = validate_data(data)
    check_solver(scenario)
    return scenario


def hashes_to(body: Mapping[str, Any], content_hash: str) -> bool:
    """Whether a stored scenario body still validates to ``content_hash``."""
    try:
        return validate_data(body).content_hash == content_hash
    except InputError:
        return False


def check_solver(scenario: Scenario) -> None:
    """Raise what solving would raise for the scenario's own backend choice (a backend that
    is not installed, ``greedy`` with rules it cannot handle) before anything is stored.
    The program is built only where the answer depends on it (``greedy``, or ``auto`` when
    its MILP backend is missing): at 100,000 recipients that takes a second."""
    requested = scenario.solver.backend
    if requested == "greedy":
        choose_backend(build_program(scenario)[2], requested)  # raises if it cannot
        return
    try:
        solvers.backend(AUTO_MILP if requested == "auto" else requested)
    except Exception as exc:
        if requested == "auto" and choose_backend(build_program(scenario)[2], "auto") == "greedy":
            return  # the MILP backend is missing, but auto will not need it
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
    data = parse_text(scenario, source="scenario") if isinstance(scenario, str) else scenario
    if not isinstance(data, Mapping):
        return resolve_data(data, source="scenario"), None  # reports what it is instead
    return _resolved(session, data, uploads={}, source="scenario"), None


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
        body=store.scenario_body(scenario),
        scenario_id=scenario_id,
        overrides=tuple(overrides),
        sweep_value=sweep_value,
    )


# --------------------------------------------------------------------------- sweeps


def sweep_axes(sets: str | Sequence[str], *, limit: int) -> list[Axis]:
    """The swept parameters of ``set``: one ``path=start:stop:step`` or ``path=v1,v2,...``,
    or a list of them for a grid (the CLI's ``--set`` parser; problems at ``set`` or
    ``set[i]``, a parameter swept twice refused)."""
    specs = [sets] if isinstance(sets, str) else list(sets)
    axes: list[Axis] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for index, spec in enumerate(specs):
        where = "set" if isinstance(sets, str) else f"set[{index}]"
        try:
            axis = parse_axis(spec, where=where, limit=limit)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        if axis.path in seen:
            problems.append(
                Problem(where, f"{axis.path} is already swept by set[{seen[axis.path]}]")
            )
        seen.setdefault(axis.path, index)
        axes.append(axis)
    if not specs:
        problems.append(Problem("set", "give at least one path=values to sweep"))
    if problems:
        raise InputError(problems)
    return axes


def prepare_sweep(
    data: Mapping[str, Any],
    *,
    scenario_id: int | None,
    overrides: Sequence[str],
    axes: Sequence[Axis],
    limit: int,
) -> list[Prepared]:
    """One prepared variant per point of the grid, first axis varying slowest (the CLI's
    :func:`optimizer.sweep.variants`); every invalid point is reported (nothing stored). A
    run's ``sweep_value`` is the point's value, or for a grid its values in axis order."""
    chosen = variants(data, axes, overrides=overrides, where="set", limit=limit)
    value_of = {(a.path, t): v for a in axes for t, v in zip(a.texts, a.values, strict=True)}
    prepared: list[Prepared] = []
    problems: list[Problem] = []
    for variant in chosen:
        try:
            check_solver(variant.scenario)
        except InputError as exc:
            problems.extend(
                Problem(p.path, f"with {variant.label}: {p.message}") for p in exc.problems
            )
            continue
        values = [value_of[pair] for pair in variant.point]
        prepared.append(
            Prepared(
                scenario=variant.scenario,
                body=store.scenario_body(variant.scenario),
                scenario_id=scenario_id,
                overrides=(*overrides, *(f"{path}={text}" for path, text in variant.point)),
                sweep_value=values[0] if len(axes) == 1 else values,
            )
        )
    if problems:
        raise InputError(problems)
    return prepared
