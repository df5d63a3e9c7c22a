"""The result document as JSON text: indented, one allocation per line.

``allot solve --format json`` writes the result contract (:meth:`Result.to_dict`) indented
by two spaces, with the allocations one compact object per line. A firm-level result has
100,000 allocations; they are encoded by orjson (chosen by measurement, README
"Performance": the standard library's encoder took 0.37 s of a 100,000-firm result's 0.48,
msgspec 0.04 s, orjson 0.03 s), the rest of the document, small, by the standard library
as before. orjson writes each number as the shortest text that reads back as the same
float (``2.5e-05`` may read ``0.000025``), as the standard library does, in other digits
where they differ; the values are the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any

import orjson

from optimizer.collector import cyclic_gc_paused

if TYPE_CHECKING:
    from optimizer.result import Allocations

__all__ = ["allocation_rows", "result_json"]

_SLOT = '\n  "allocations": "?"'
_ROW = '},{"id":'
"""Where one compact row ends and the next begins: inside a string its quote is escaped."""


def result_json(
    data: Mapping[str, Any], rows: Sequence[Mapping[str, Any]] | Allocations | None = None
) -> str:
    """The result document ``data`` as indented JSON with one allocation per line;
    ``rows``: the allocations, when ``data["allocations"]`` was left empty (the contract's
    objects, :func:`allocation_rows`, or :class:`~optimizer.result.Allocations`, written
    from their columns)."""
    allocations = list(data.get("allocations") or ()) if rows is None else rows
    if not allocations:
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    # the top-level key starts a line of its own: no string value can contain that line
    text = json.dumps({**data, "allocations": "?"}, ensure_ascii=False, indent=2)
    before, after = text.split(_SLOT, 1)  # (one copy of the lines, however long)
    slot = '\n  "allocations": [\n    '
    return "".join((before, slot, _lines(allocations), "\n  ]", after, "\n"))


def allocation_rows(
    fields: Sequence[str], allocations: Sequence[Sequence[Any]]
) -> list[dict[str, Any]]:
    """The allocations (tuples in the order of ``fields``) as the dicts of the contract."""
    with cyclic_gc_paused():  # (a dict per row: its passes would walk the whole result)
        return [dict(zip(fields, a, strict=True)) for a in allocations]


def _lines(rows: Sequence[Mapping[str, Any]] | Allocations) -> str:
    """The rows, compact, joined by a comma, a line break and four spaces (each row that
    starts with ``id`` on a line of its own; any other stays valid JSON, on the line before)."""
    from optimizer.result import Allocations

    if isinstance(rows, Allocations):
        return _column_lines(rows) or _lines(rows.dicts())
    try:
        return orjson.dumps(rows).decode()[1:-1].replace(_ROW, '},\n    {"id":')
    except TypeError:  # what orjson does not write (an integer beyond 64 bits, a set)
        return ",\n    ".join(map(json.JSONEncoder(ensure_ascii=False).encode, rows))


_ESCAPED = json.encoder.encode_basestring  # the text orjson writes for any str it writes
_CUT = "\x00"  # never in JSON text (a NUL in a string is written \u0000)
_ROW_END = "},\n    "


def _column_lines(allocations: Allocations) -> str | None:
    """What :func:`_lines` writes for the allocations' objects, put together from their
    columns: each column's texts at once, each with its key (numbers by orjson, each
    distinct grade and binding written once), then the rows by ``zip`` and ``str.join`` (no
    Python code per row). None where orjson would not write a value (a lone surrogate)."""
    from optimizer.result import Allocation

    columns: list[list[str]] = []
    last = len(Allocation._fields) - 1  # binding: each of its texts ends the row
    try:
        for k, name in enumerate(Allocation._fields):
            key = ("{" if k == 0 else ",") + json.dumps(name) + ":"
            values = allocations.column(name)
            if name in ("grade", "binding"):
                end = _ROW_END if k == last else ""
                write = _grade_text if name == "grade" else _names_text
                columns.append(_memo(values, lambda v: key + write(v) + end))  # noqa: B023
                continue
            if name in ("id", "name"):
                "".join(values).encode("utf-8")  # (a lone surrogate: orjson refuses it)
                joined = (_CUT + key).join(map(_ESCAPED, values))
            else:  # numbers: orjson's list, split at its commas
                joined = orjson.dumps(values).decode()[1:-1].replace(",", _CUT + key)
            columns.append((key + joined).split(_CUT))
    except (TypeError, UnicodeEncodeError):
        return None
    ends = columns[-1]
    ends[-1] = ends[-1].removesuffix(_ROW_END) + "}"
    return "".join(chain.from_iterable(zip(*columns, strict=True)))


def _grade_text(grade: str | None) -> str:
    return "null" if grade is None else orjson.dumps(grade).decode()


def _names_text(names: Sequence[str]) -> str:
    return orjson.dumps(list(names)).decode()


def _memo(values: Sequence[Any], write: Callable[[Any], str]) -> list[str]:
    """``write`` of each value, once per distinct value (grades and binding names repeat)."""
    written = {value: write(value) for value in set(values)}
    return list(map(written.__getitem__, values))
