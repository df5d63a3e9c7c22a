"""Cursor paging for the lists (scenarios, runs, sweeps): newest first by id, a page of
``limit`` items, and ``next_cursor``, an opaque token for the page after it (None on the last
page). A cursor stays right while items are added (the next page starts after the last item
seen, not at a count that new items shift), which ``offset`` paging cannot promise.

>>> token = encode("runs", 42)
>>> decode("runs", token)
42
>>> decode("sweeps", token)
Traceback (most recent call last):
...
optimizer.errors.InputError: cursor: not a cursor of this list (use the next_cursor it gave)
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from api.schemas import MAX_ID
from optimizer.errors import InputError, Problem

MAX_CURSOR = 100
"""Longest cursor accepted (characters); the ones given are much shorter."""


class _HasId(Protocol):
    id: Any


Item = TypeVar("Item", bound=_HasId)


def encode(kind: str, last_id: int) -> str:
    """The cursor of the page after the item ``last_id`` of list ``kind``."""
    return base64.urlsafe_b64encode(f"{kind}:{last_id}".encode()).decode().rstrip("=")


def decode(kind: str, cursor: str) -> int:
    """The id the page starts after; a cursor not given by this list is a 422 at ``cursor``."""
    wrong = InputError(
        [Problem("cursor", "not a cursor of this list (use the next_cursor it gave)")]
    )
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise wrong from None
    found, _, number = text.partition(":")
    if found != kind or not number.isascii() or not number.isdigit():
        raise wrong
    last_id = int(number)
    if not 1 <= last_id <= MAX_ID:
        raise wrong
    return last_id


def start(kind: str, cursor: str | None, offset: int) -> int | None:
    """The id a page starts after (None: from the newest); ``cursor`` and a non-zero
    ``offset`` together are refused."""
    if cursor is None:
        return None
    if offset:
        raise InputError([Problem("cursor", "give cursor or offset, not both")])
    return decode(kind, cursor)


def cut(kind: str, rows: Sequence[Item], limit: int) -> tuple[list[Item], str | None]:
    """A page from ``limit + 1`` rows read: the first ``limit`` and the cursor after them
    (None when nothing follows)."""
    page = list(rows[:limit])
    if len(rows) > limit and page:
        return page, encode(kind, int(page[-1].id))
    return page, None
