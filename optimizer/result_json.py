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
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from optimizer.collector import cyclic_gc_paused

__all__ = ["allocation_rows", "result_json"]

_SLOT = '\n  "allocations": "?"'
_ROW = '},{"id":'
"""Where one compact row ends and the next begins: inside a string its quote is escaped."""


def result_json(data: Mapping[str, Any], rows: Sequence[Mapping[str, Any]] | None = None) -> str:
    """The result document ``data`` as indented JSON with one allocation per line;
    ``rows``: the allocations, when ``data["allocations"]`` was left empty
    (:func:`allocation_rows`)."""
    allocations = list(data.get("allocations") or ()) if rows is None else rows
    if not allocations:
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    # the top-level key starts a line of its own: no string value can contain that line
    text = json.dumps({**data, "allocations": "?"}, ensure_ascii=False, indent=2)
    return (
        text.replace(_SLOT, '\n  "allocations": [\n    ' + _lines(allocations) + "\n  ]", 1) + "\n"
    )


def allocation_rows(
    fields: Sequence[str], allocations: Sequence[Sequence[Any]]
) -> list[dict[str, Any]]:
    """The allocations (tuples in the order of ``fields``) as the dicts of the contract."""
    with cyclic_gc_paused():  # (a dict per row: its passes would walk the whole result)
        return [dict(zip(fields, a, strict=True)) for a in allocations]


def _lines(rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows, compact, joined by a comma, a line break and four spaces (each row that
    starts with ``id`` on a line of its own; any other stays valid JSON, on the line before)."""
    try:
        return orjson.dumps(rows).decode()[1:-1].replace(_ROW, '},\n    {"id":')
    except TypeError:  # what orjson does not write (an integer beyond 64 bits, a set)
        return ",\n    ".join(map(json.JSONEncoder(ensure_ascii=False).encode, rows))
