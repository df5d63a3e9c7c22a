"""Read scenario files (YAML or JSON), resolve ``extends`` and recipient files, validate.

Loading is split in two steps so that callers can change the raw data in between (the CLI
applies ``--set`` overrides there):

* :func:`load_data`, :func:`parse_data` and :func:`resolve_data` read and merge into one plain
  ``dict``: ``extends`` chains are merged (child wins, ``recipients`` merged by ``id``) and
  ``recipients: {file: regions.csv}`` is read into a list;
* :func:`validate_data` turns that dict into a :class:`~optimizer.scenario.Scenario`.

:func:`load_scenario` (a file) and :func:`parse_scenario_text` (a request body) do both. Every
problem with the input is raised as one :class:`~optimizer.errors.InputError` carrying
:class:`~optimizer.errors.Problem` entries (field path + reason); nothing else escapes.

YAML is read by :mod:`optimizer.yaml_text` (YAML 1.2 core-schema scalars, so ``no``/``yes``
stay text and ``011`` is eleven; duplicate keys are errors, alias expansion is bounded).

Relative file names (``extends``, ``recipients.file``) are resolved against the directory of
the file that names them. Text bodies have no directory: there, such references are errors,
unless a ``base_dir`` is given, in which case they must stay inside it.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import io
import json
import math
import numbers
import os
import re
import stat
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, NamedTuple

from optimizer.collector import cyclic_gc_paused
from optimizer.errors import InputError, Problem
from optimizer.scenario import Scenario

__all__ = [
    "MAX_FILE_BYTES",
    "RECIPIENT_COLUMNS",
    "Format",
    "load_data",
    "load_scenario",
    "parse_data",
    "parse_scenario_text",
    "parse_text",
    "parse_value",
    "read_recipients",
    "resolve_data",
    "validate_data",
]

Format = Literal["yaml", "json"]
SCENARIO_SUFFIXES: Mapping[str, Format] = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}
RECIPIENT_SUFFIXES = (".csv", ".xlsx", ".parquet", ".arrow", ".feather")
RECIPIENT_COLUMNS = ("id", "name", "score", "weight", "floor", "cap", "previous", "hard")
TAG_PREFIX = "tags."
CRITERIA_PREFIX = "criteria."
MAX_FILE_BYTES = 50 * 1024 * 1024
"""Largest scenario or recipient file (or text body) read, in bytes."""

_ALLOWED_COLUMNS = ", ".join((*RECIPIENT_COLUMNS, "tags.<tag>", "criteria.<name>"))
_NUMBER_COLUMNS = ("score", "weight", "floor", "cap", "previous")
_WHOLE_COLUMNS = ("floor", "cap")
_RECIPIENT_FILE_KEYS = ("file", "sheet")
_RECIPIENT_TYPES = ".csv, .xlsx, .parquet, .arrow or .feather"
_INT_TEXT = re.compile(r"[-+]?[0-9]{1,30}")


# --------------------------------------------------------------------------- public API


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read, resolve and validate a scenario file (``.yaml``, ``.yml`` or ``.json``).

    A Parquet or Arrow recipient file goes to validation as columns (no dict per
    recipient: :class:`~optimizer.recipients.RecipientColumns`); the data nobody else sees."""
    token = _AS_COLUMNS.set(True)
    try:
        data = load_data(path)
    finally:
        _AS_COLUMNS.reset(token)
    return validate_data(data)


_AS_COLUMNS: contextvars.ContextVar[bool] = contextvars.ContextVar("as_columns", default=False)
"""Whether columnar recipient files are read as columns (inside :func:`load_scenario`)."""


def parse_scenario_text(
    text: str | bytes,
    *,
    fmt: Format | None = None,
    base_dir: Path | None = None,
    source: str = "<text>",
) -> Scenario:
    """Parse, resolve and validate a scenario body (see :func:`parse_data`)."""
    return validate_data(parse_data(text, fmt=fmt, base_dir=base_dir, source=source))


def load_data(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a scenario file into a plain dict with ``extends`` merged and recipient files read,
    before validation. Raises :class:`InputError`."""
    file = Path(path)
    shown = os.fspath(path)
    with _guard_depth(""), cyclic_gc_paused():
        return _load_file(file, shown, where="", chain=(), root=None)


def parse_data(
    text: str | bytes,
    *,
    fmt: Format | None = None,
    base_dir: Path | None = None,
    source: str = "<text>",
) -> dict[str, Any]:
    """Parse a scenario body (YAML or JSON; sniffed when ``fmt`` is None) into a resolved dict.

    With ``base_dir=None``, ``extends`` and ``recipients: {file: ...}`` are errors; with a
    ``base_dir`` they are resolved against it and must not leave it. ``source`` names the text
    in messages."""
    data = _parse(text, fmt, source, where="")
    root = _real(base_dir) if base_dir is not None else None
    here = _Here(base_dir, "")
    with _guard_depth(""):
        return _resolve(_as_scenario_mapping(data, source, ""), here, (), root)


def parse_text(text: str | bytes, *, fmt: Format | None = None, source: str = "<text>") -> Any:
    """Parse a scenario body into a mapping without resolving ``extends`` or recipient files
    (the service resolves a stored parent itself before :func:`resolve_data`)."""
    with _guard_depth(""):
        return _as_scenario_mapping(_parse(text, fmt, source, where=""), source, "")


def resolve_data(
    data: Any, *, base_dir: Path | None = None, source: str = "<data>"
) -> dict[str, Any]:
    """Resolve ``extends`` and recipient files of already-parsed data (e.g. a JSON body), with
    the same rules as :func:`parse_data`."""
    root = _real(base_dir) if base_dir is not None else None
    here = _Here(base_dir, "")
    with _guard_depth(""):
        return _fresh_dict(_resolve(_as_scenario_mapping(data, source, ""), here, (), root))


def parse_value(text: str, *, where: str) -> Any:
    """Parse one value written in YAML (``1000``, ``0.3``, ``hamilton``, ``{type: grade_order}``)
    with the same core-schema rules as scenario files; an empty text is ``None``. Problems are
    reported at ``where`` (e.g. the field path an override sets)."""
    if not text.strip():
        return None
    if len(text) > MAX_FILE_BYTES:
        raise _error(where, f"value is too large (more than {MAX_FILE_BYTES} bytes)")
    with _guard_depth(where):
        return _parse_yaml(text, f"value {text!r}", where)


def validate_data(data: Any) -> Scenario:
    """Validate resolved data into a :class:`Scenario`, reporting every problem at once."""
    with _guard_depth(""):
        return Scenario.from_data(data)


def read_recipients(
    path: str | os.PathLike[str], *, sheet: str | int | None = None
) -> list[dict[str, Any]]:
    """Read recipients from a ``.csv`` (UTF-8), ``.xlsx``, Parquet or Arrow IPC (``.arrow``,
    ``.feather``) file into a list of dicts (columnar files: :mod:`optimizer.columnar`).

    Columns: ``id, name, score, weight, floor, cap, previous``, ``tags.<tag>`` and
    ``criteria.<name>`` (per-criterion scores, :mod:`optimizer.criteria`); empty cells are left
    out; ids stay text (leading zeros kept). Problems are reported at
    ``recipients.file`` or at the cell's field path (``recipients[3].score``)."""
    file = Path(path)
    shown = os.fspath(path)
    suffix = file.suffix.lower()
    if suffix not in RECIPIENT_SUFFIXES:
        raise _error(
            "recipients.file",
            f"{shown}: unsupported file type {file.suffix!r} (use {_RECIPIENT_TYPES})",
        )
    if sheet is not None and suffix != ".xlsx":
        raise _error("recipients.sheet", f"only applies to .xlsx files ({shown} is not one)")
    return _recipient_file(file, shown, suffix, sheet)


# --------------------------------------------------------------------------- errors


def _error(path: str, message: str) -> InputError:
    return InputError([Problem(path, message)])


@contextmanager
def _guard_depth(path: str) -> Iterator[None]:
    """Turn a RecursionError (absurdly nested input) into an InputError."""
    try:
        yield
    except RecursionError:
        raise _error(path, "the scenario is nested too deeply") from None


def _problem_order(problem: Problem) -> tuple[Any, ...]:
    parts: list[tuple[int, int, str]] = []
    for token in problem.path.replace("[", ".[").split("."):
        if token.startswith("[") and token[1:-1].isdigit():
            parts.append((0, int(token[1:-1]), ""))
        else:
            parts.append((1, 0, token))
    return (parts, problem.message)


# --------------------------------------------------------------------------- files and text


class _Here(NamedTuple):
    """Where relative references of one scenario resolve: a real directory (None for text)
    and how to show it in messages."""

    base_dir: Path | None
    shown_dir: str


class _Link(NamedTuple):
    real: Path
    shown: str


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError):
        return path.absolute()


def _read_bytes(path: Path, shown: str, where: str, note: str = "") -> bytes:
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise _error(where, f"file not found: {shown}{note}") from None
    except PermissionError:
        raise _error(where, f"cannot read {shown}: permission denied") from None
    except (OSError, ValueError) as exc:
        raise _error(where, f"cannot read {shown}: {_os_reason(exc)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise _error(where, f"{shown} is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise _error(where, f"{shown} is not a regular file")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except PermissionError:
        raise _error(where, f"cannot read {shown}: permission denied") from None
    except OSError as exc:
        raise _error(where, f"cannot read {shown}: {_os_reason(exc)}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise _error(where, f"{shown} is too large (more than {MAX_FILE_BYTES} bytes)")
    return raw


def _os_reason(exc: BaseException) -> str:
    reason = getattr(exc, "strerror", None)
    return str(reason or exc)


def _decode(raw: bytes, shown: str, where: str, hint: str = "") -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _error(where, f"{shown}: file is not UTF-8 text (it looks like UTF-16){hint}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _error(
            where, f"{shown}: file is not UTF-8 text (invalid byte at offset {exc.start}){hint}"
        ) from None
    if "\x00" in text:
        raise _error(where, f"{shown}: file is not UTF-8 text (it contains NUL bytes){hint}")
    return text


def _load_file(
    path: Path,
    shown: str,
    where: str,
    chain: tuple[_Link, ...],
    root: Path | None,
    note: str = "",
) -> dict[str, Any]:
    fmt = SCENARIO_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise _error(
            where, f"{shown}: unsupported file type {path.suffix!r} (use .yaml, .yml or .json)"
        )
    raw = _read_bytes(path, shown, where, note)
    data = _as_scenario_mapping(_parse(raw, fmt, shown, where), shown, where)
    here = _Here(path.parent, os.path.dirname(shown))
    return _resolve(data, here, (*chain, _Link(_real(path), shown)), root)


def _as_scenario_mapping(data: Any, shown: str, where: str) -> Mapping[Any, Any]:
    if not isinstance(data, Mapping):
        raise _error(
            where,
            f"{shown}: a scenario must be a mapping of fields (got {type(data).__name__})",
        )
    return data


def _parse(raw: str | bytes, fmt: Format | None, shown: str, where: str) -> Any:
    if len(raw) > MAX_FILE_BYTES:
        raise _error(where, f"{shown} is too large (more than {MAX_FILE_BYTES} bytes)")
    if isinstance(raw, bytes):
        text = _decode(raw, shown, where)
    else:
        text = raw.removeprefix("\ufeff")
        if "\x00" in text:
            raise _error(where, f"{shown}: text contains NUL characters")
    if not text.strip():
        raise _error(where, f"{shown}: file is empty")
    if fmt == "json":
        return _parse_json(text, shown, where)
    if fmt == "yaml":
        return _parse_yaml(text, shown, where)
    if text.lstrip().startswith(("{", "[")):
        try:
            return _parse_json(text, shown, where)
        except InputError as json_error:
            try:
                return _parse_yaml(text, shown, where)
            except InputError:
                raise json_error from None
    return _parse_yaml(text, shown, where)


class _DuplicateJsonKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateJsonKey(key)
        out[key] = value
    return out


def _parse_json(text: str, shown: str, where: str) -> Any:
    fast = _parse_json_fast(text)
    if fast is not _SLOW:
        return fast
    try:
        return json.loads(text, object_pairs_hook=_json_object)
    except json.JSONDecodeError as exc:
        raise _error(
            where, f"{shown}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except _DuplicateJsonKey as exc:
        raise _error(where, f"{shown}: duplicate key {exc.key!r} in a JSON object") from None
    except RecursionError:
        raise _error(where, f"{shown}: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        reason = str(exc).split(";")[0]
        raise _error(where, f"{shown}: malformed JSON: {reason}") from None


def _parse_json_fast(text: str) -> Any:
    """``text`` parsed by orjson (a 17 MB scenario: 0.14 s, against 0.37 s for the standard
    library with the duplicate-key hook), or :data:`_SLOW` where the standard library must
    parse it, for its value or its message: orjson refuses the text (malformed, ``NaN``, a
    lone surrogate, ``1e400``, nested too deeply), an object may repeat a key, or an integer
    beyond 64 bits became a float.

    A repeated key is found by counting colons: each key has one outside strings, in the
    text and in the parsed value written back by orjson (which escapes no colon). Unless the
    text writes a colon as an escape (``\\u003a``), a key lost to a repeat (with its value)
    leaves fewer colons in the value than in the text, and none lost leaves as many. A float
    of 2**63 or more is written back with an exponent (``e+18``): then, or for any ``e+``,
    the value is not trusted."""
    import orjson

    if "\\u003" in text:  # (also other escapes of digits and signs: the slow path is right)
        return _SLOW
    try:
        value = orjson.loads(text)
        written = orjson.dumps(value)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return _SLOW
    if written.count(b":") != text.count(":") or b"e+" in written:
        return _SLOW
    return value


_SLOW: Any = object()
"""What :func:`_parse_json_fast` gives for a text the standard library must parse."""


# --------------------------------------------------------------------------- YAML


def _parse_yaml(text: str, shown: str, where: str) -> Any:
    from optimizer.yaml_text import YamlProblem, read_yaml  # PyYAML loads only for YAML

    try:
        # anchors and aliases share containers: copy them apart (JSON never shares any)
        return _fresh(read_yaml(text))
    except YamlProblem as exc:
        raise _error(where, f"{shown}: {exc}") from None


# --------------------------------------------------------------------------- resolving


def _resolve(
    data: Mapping[Any, Any], here: _Here, chain: tuple[_Link, ...], root: Path | None
) -> dict[str, Any]:
    out: dict[str, Any] = dict(data)
    problems: list[Problem] = []
    recipients = out.get("recipients")
    if isinstance(recipients, Mapping):
        try:
            out["recipients"] = _recipients_from_spec(recipients, here, root)
        except InputError as exc:
            problems.extend(exc.problems)
    parent: dict[str, Any] | None = None
    reference = out.pop("extends", None)
    if reference is not None:
        try:
            parent = _load_parent(reference, here, chain, root)
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return out if parent is None else _merge_scenarios(parent, out)


def _reference(
    value: Any, field: str, here: _Here, root: Path | None, what: str
) -> tuple[Path, str]:
    """Check a file reference and return (path to open, how to show it)."""
    if not isinstance(value, str) or not value.strip():
        raise _error(field, f"must be one file name (got {value!r})")
    if here.base_dir is None:
        raise _error(
            field,
            f"not allowed here: a scenario given as text cannot refer to files ({what})",
        )
    path = here.base_dir / value
    shown = os.path.normpath(os.path.join(here.shown_dir, value))
    if root is not None and not _real(path).is_relative_to(root):
        raise _error(field, f"{shown}: refers outside the allowed directory")
    return path, shown


def _load_parent(
    value: Any, here: _Here, chain: tuple[_Link, ...], root: Path | None
) -> dict[str, Any]:
    if isinstance(value, list):
        raise _error("extends", "must be a single file name, not a list")
    path, shown = _reference(value, "extends", here, root, "inline the parent's fields instead")
    real = _real(path)
    for index, link in enumerate(chain):
        if link.real == real:
            names = [item.shown for item in chain[index:]] + [shown]
            raise _error("extends", "extends cycle: " + " -> ".join(names))
    note = f" (extended by {chain[-1].shown})" if chain else ""
    return _load_file(path, shown, "extends", chain, root, note)


def _merge_scenarios(parent: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge, child wins, lists replaced -- except ``recipients``, merged by ``id``."""
    out = _as_rows(parent)
    for key, value in _as_rows(child).items():
        old = out.get(key)
        if key == "recipients" and isinstance(old, list) and isinstance(value, list):
            out[key] = _merge_recipients(old, value)
        elif isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = _deep_merge(old, value)
        else:
            out[key] = value
    return out


def _as_rows(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with recipients read as columns turned into rows (``extends`` merges rows)."""
    from optimizer.recipients import RecipientColumns

    out = dict(data)
    if isinstance(out.get("recipients"), RecipientColumns):
        out["recipients"] = out["recipients"].dicts()
    return out


def _deep_merge(base: Mapping[Any, Any], over: Mapping[Any, Any]) -> dict[Any, Any]:
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = _deep_merge(old, value)
        else:
            out[key] = value
    return out


def _merge_recipients(parent: list[Any], child: list[Any]) -> list[Any]:
    """A child recipient with a known id is merged onto it; new ids are appended in order."""
    out = list(parent)
    position: dict[str, int] = {}
    for index, recipient in enumerate(out):
        rid = recipient.get("id") if isinstance(recipient, Mapping) else None
        if isinstance(rid, str):
            position.setdefault(rid, index)
    for recipient in child:
        rid = recipient.get("id") if isinstance(recipient, Mapping) else None
        if isinstance(rid, str) and rid in position:
            index = position[rid]
            out[index] = _deep_merge(out[index], recipient)
        else:
            # not indexed: a repeated new id stays a duplicate, which validation reports
            out.append(recipient)
    return out


def _fresh_dict(data: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _fresh(item) for key, item in data.items()}


_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})


def _fresh(value: Any) -> Any:
    """A copy that shares no containers (YAML aliases would otherwise make one override
    change several places). Scalars are not passed down: a firm-level file has millions."""
    scalar = _SCALAR_TYPES
    if isinstance(value, Mapping):
        return {k: v if type(v) in scalar else _fresh(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [v if type(v) in scalar else _fresh(v) for v in value]
    return value


# --------------------------------------------------------------------------- recipient files


def _recipients_from_spec(
    spec: Mapping[Any, Any], here: _Here, root: Path | None
) -> list[dict[str, Any]]:
    problems = [
        Problem(f"recipients.{key}", "unknown field (allowed: file, sheet)")
        for key in spec
        if key not in _RECIPIENT_FILE_KEYS
    ]
    if "file" not in spec:
        problems.append(
            Problem(
                "recipients.file",
                "required field is missing (recipients must be a list or "
                "{file: path.csv|path.xlsx})",
            )
        )
    sheet = spec.get("sheet")
    if sheet is not None and (isinstance(sheet, bool) or not isinstance(sheet, str | int)):
        problems.append(
            Problem("recipients.sheet", f"must be a sheet name or number (got {sheet!r})")
        )
    if problems:
        raise InputError(problems)
    path, shown = _reference(
        spec["file"], "recipients.file", here, root, "list the recipients inline"
    )
    suffix = path.suffix.lower()
    if suffix not in RECIPIENT_SUFFIXES:
        raise _error(
            "recipients.file",
            f"{shown}: unsupported file type {path.suffix!r} (use {_RECIPIENT_TYPES})",
        )
    if sheet is not None and suffix != ".xlsx":
        raise _error("recipients.sheet", f"only applies to .xlsx files ({shown} is not one)")
    return _recipient_file(path, shown, suffix, sheet)


def _recipient_file(
    path: Path, shown: str, suffix: str, sheet: str | int | None
) -> list[dict[str, Any]]:
    raw = _read_bytes(path, shown, "recipients.file")
    if suffix in (".csv", ".xlsx"):
        rows = _xlsx_rows(raw, shown, sheet) if suffix == ".xlsx" else _csv_rows(raw, shown)
        return _rows_to_recipients(rows, shown)
    from optimizer.columnar import columnar_columns, columnar_recipients  # pyarrow: on use

    if _AS_COLUMNS.get():
        return columnar_columns(raw, shown, suffix)  # type: ignore[return-value]
    return columnar_recipients(raw, shown, suffix)


def _csv_rows(raw: bytes, shown: str) -> list[list[Any]]:
    text = _decode(raw, shown, "recipients.file", hint="; save it as 'CSV UTF-8'")
    if not text.strip():
        raise _error("recipients.file", f"{shown} is empty (expected a header row: id, score)")
    import pandas as pd  # imported on use: it costs more start-up time than a solve

    try:
        frame = pd.read_csv(
            io.StringIO(text),
            header=None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
        )
    except Exception as exc:  # pandas raises several error types for malformed CSV
        reason = " ".join(str(exc).split()).removeprefix("Error tokenizing data. ")
        raise _error("recipients.file", f"{shown}: malformed CSV: {reason}") from None
    rows: list[list[Any]] = frame.to_numpy(dtype=object).tolist()
    return rows


def _xlsx_rows(raw: bytes, shown: str, sheet: str | int | None) -> list[list[Any]]:
    import pandas as pd

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sheets = pd.read_excel(
                io.BytesIO(raw),
                sheet_name=None,
                engine="openpyxl",
                header=None,
                dtype=object,
                keep_default_na=False,
                na_filter=False,
            )
    except Exception as exc:  # openpyxl raises many error types for damaged workbooks
        raise _error(
            "recipients.file", f"{shown} is not a readable .xlsx workbook ({exc})"
        ) from None
    names = list(sheets)
    if sheet is None:
        if not names:
            raise _error("recipients.file", f"{shown} has no sheets")
        chosen = names[0]
    elif isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise _error(
                "recipients.sheet",
                f"{shown} has no sheet number {sheet} (it has {len(names)}, numbered from 0)",
            )
        chosen = names[sheet]
    elif sheet in sheets:
        chosen = sheet
    else:
        raise _error(
            "recipients.sheet", f"{shown} has no sheet {sheet!r} (sheets: {', '.join(names)})"
        )
    rows: list[list[Any]] = sheets[chosen].to_numpy(dtype=object).tolist()
    return rows


def _is_blank(cell: Any) -> bool:
    if cell is None or type(cell).__name__ in ("NAType", "NaTType"):
        return True
    if isinstance(cell, float) and math.isnan(cell):
        return True
    return isinstance(cell, str) and not cell.strip()


def _is_blank_row(row: Sequence[Any]) -> bool:
    return all(_is_blank(cell) for cell in row)


def cell_text(cell: Any) -> str:
    if isinstance(cell, str):
        return cell
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, numbers.Integral):
        return str(int(cell))
    if isinstance(cell, numbers.Real):
        value = float(cell)
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(cell, dt.date | dt.time):
        return cell.isoformat()
    return str(cell)


def cell_number(cell: Any, whole: bool) -> int | float:
    """A number from a cell; ValueError with the message to report otherwise."""
    if isinstance(cell, bool) or not isinstance(cell, numbers.Real | str):
        raise ValueError(f"must be a number (got {cell!r})")
    if isinstance(cell, numbers.Integral):
        return int(cell)
    if isinstance(cell, str):
        text = cell.strip()
        if _INT_TEXT.fullmatch(text):
            return int(text)
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"must be a number (got {cell!r})") from None
    else:
        value = float(cell)
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number (got {cell!r})")
    if whole and value.is_integer():
        return int(value)
    return value


def recipient_columns(
    header: Sequence[Any], has_values: Callable[[int], bool], shown: str
) -> list[tuple[int, str]]:
    """The (position, name) of each recipient column of a file's header; every problem with
    the names (unknown, repeated, unnamed with values, id or score missing) raised at once.
    ``has_values(j)`` says whether column ``j`` holds any value (an unnamed one must not)."""
    problems: list[Problem] = []
    columns: list[tuple[int, str]] = []
    seen: set[str] = set()
    for j, cell in enumerate(header):
        name = "" if _is_blank(cell) else cell_text(cell).strip()
        if not name:
            if has_values(j):
                problems.append(
                    Problem("recipients.file", f"column {j + 1} of {shown} has values but no name")
                )
            continue
        if name in seen:
            problems.append(Problem("recipients.file", f"column {name!r} appears twice in {shown}"))
        elif name in RECIPIENT_COLUMNS or any(
            name.startswith(prefix) and len(name) > len(prefix)
            for prefix in (TAG_PREFIX, CRITERIA_PREFIX)
        ):
            columns.append((j, name))
        else:
            problems.append(
                Problem(
                    "recipients.file",
                    f"unknown column {name!r} in {shown} (allowed: {_ALLOWED_COLUMNS})"
                    + ("; separate columns with commas" if ";" in name or "\t" in name else ""),
                )
            )
        seen.add(name)
    if "id" not in seen:
        problems.append(Problem("recipients.file", f"{shown} has no 'id' column"))
    if "score" not in seen and not any(name.startswith(CRITERIA_PREFIX) for name in seen):
        problems.append(
            Problem("recipients.file", f"{shown} has no 'score' (or 'criteria.<name>') column")
        )
    if problems:
        raise InputError(problems)
    return columns


def _rows_to_recipients(rows: list[list[Any]], shown: str) -> list[dict[str, Any]]:
    start = next((i for i, row in enumerate(rows) if not _is_blank_row(row)), None)
    if start is None:
        raise _error("recipients.file", f"{shown} is empty (expected a header row: id, score)")
    body = rows[start + 1 :]
    columns = recipient_columns(
        rows[start],
        lambda j: any(j < len(row) and not _is_blank(row[j]) for row in body),
        shown,
    )
    problems: list[Problem] = []
    recipients: list[dict[str, Any]] = []
    for offset, row in enumerate(body):
        if _is_blank_row(row):
            continue
        index = len(recipients)
        row_number = start + offset + 2
        recipient: dict[str, Any] = {}
        for j, name in columns:
            cell = row[j] if j < len(row) else None
            if _is_blank(cell):
                continue
            if name.startswith(TAG_PREFIX):
                recipient.setdefault("tags", {})[name[len(TAG_PREFIX) :]] = cell_text(cell)
            elif name.startswith(CRITERIA_PREFIX):
                criterion = name[len(CRITERIA_PREFIX) :]
                try:
                    recipient.setdefault("criteria", {})[criterion] = cell_number(cell, whole=False)
                except ValueError as exc:
                    problems.append(
                        Problem(
                            f"recipients[{index}].criteria.{criterion}",
                            f"{exc} in {shown} row {row_number}",
                        )
                    )
            elif name in _NUMBER_COLUMNS:
                try:
                    recipient[name] = cell_number(cell, whole=name in _WHOLE_COLUMNS)
                except ValueError as exc:
                    problems.append(
                        Problem(f"recipients[{index}].{name}", f"{exc} in {shown} row {row_number}")
                    )
            else:
                recipient[name] = cell_text(cell)
        recipients.append(recipient)
    if problems:
        raise InputError(problems)
    if not recipients:
        raise _error("recipients.file", f"{shown} has a header row but no recipients")
    return recipients


# --------------------------------------------------------------------------- validation help


_PATH_TOKEN = re.compile(r"\[(\d+)\]|([^.\[\]]+)")
_MISSING = object()


def _value_at(data: Any, path: str) -> Any:
    value = data
    for index, key in _PATH_TOKEN.findall(path):
        if index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        elif key and isinstance(value, Mapping) and key in value:
            value = value[key]
        else:
            return _MISSING
    return value
