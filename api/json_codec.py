"""JSON of any size for the service: orjson where it is exact, the standard library where
it is not. A stored run's result or scenario at 100,000 recipients is about 20 MB of JSON:
orjson writes it in a tenth of the standard library's time and reads it in half."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import orjson
from fastapi import Response
from pydantic import BaseModel

from optimizer.collector import cyclic_gc_paused

_DIGITS = bytes.maketrans(b"012345678", b"999999999")


def json_text(value: Any) -> str:
    """A JSON column's text: orjson (a stored run's result is up to 20 MB; the standard
    library took half a second each way), the standard library for what orjson refuses
    (integers beyond 64 bits). NaN is written as null, valid JSON on every database."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def json_value(text: str | bytes) -> Any:
    """A JSON column's value: orjson, except where the text holds a number of 20 digits or
    more (orjson reads integers beyond 64 bits as floats; those stay exact)."""
    if not isinstance(text, str | bytes):  # SQLite hands back a bare number as a number:
        raise TypeError(f"not JSON text: {type(text).__name__}")  # SQLAlchemy keeps it
    data = text.encode() if isinstance(text, str) else text
    with cyclic_gc_paused():  # its passes over a million new objects: 1-4 s at 20 MB
        if data.translate(_DIGITS).find(b"9" * 20) >= 0:  # 20 digits (a regex: 10x slower)
            return json.loads(data)
        return orjson.loads(data)


class JSONBody(Response):
    """An ``application/json`` answer written by :func:`json_text`. For answers holding a
    run's result or a scenario: FastAPI's own path (validate against the response model,
    then ``jsonable_encoder`` and ``json.dumps``) walked every recipient twice, seconds."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json_text(content).encode()


def model_body(model: BaseModel, *, raw: Collection[str], exclude_unset: bool = False) -> JSONBody:
    """``model`` as a :class:`JSONBody`, as ``model_dump(mode="json")`` gives it, except that
    the fields named in ``raw`` (a result or scenario read from a JSON column: plain JSON
    already) are written as they are instead of walked by pydantic."""
    data = model.model_dump(mode="json", exclude=set(raw), exclude_unset=exclude_unset)
    given = model.model_fields_set
    out: dict[str, Any] = {}
    for name in type(model).model_fields:
        if name in raw:
            if not exclude_unset or name in given:
                out[name] = getattr(model, name)
        elif name in data:
            out[name] = data[name]
    return JSONBody(out)
