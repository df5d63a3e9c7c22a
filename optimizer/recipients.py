"""Recipients as a table: one column per field, validated a column at a time.

A scenario's recipients are held as a :class:`RecipientTable` (numpy arrays for the numbers,
tuples for text and tags) rather than one pydantic model per recipient: a firm-level
programme lists 100,000 of them, and the engine reads them as columns
(:mod:`optimizer.entitlement`, the group rules, the content hash, the allocations). The table
is a ``Sequence[Recipient]``: indexing or iterating gives :class:`~optimizer.scenario.Recipient`
objects, built on demand, so code that looks at one recipient (an explanation, a table row,
a small scenario's rules) reads it as before.

:func:`recipient_table` validates a list of raw recipient mappings. Each field is checked
over its whole column (types, ranges, finiteness, ``cap >= floor``, trimmed ids); a row that
passes every check is taken as it is. A row that fails one, or uses a field the columns do
not check (``criteria``, ``hard``, tags that are not text, anything unexpected), is validated
by the pydantic model on its own, so its problems carry the same messages and field paths as
before (``recipients[812].cap: must be >= floor (12)``) and the model stays the one definition
of what a valid recipient is.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import chain, repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import numpy.typing as npt

from optimizer.exact import MAX_BUDGET

if TYPE_CHECKING:
    from optimizer.errors import Problem
    from optimizer.scenario import Recipient

__all__ = ["RecipientTable", "recipient_table"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_MAX_MAGNITUDE = 1e15  # optimizer.scenario.MAX_MAGNITUDE (a test pins that they agree)
_MAX_NAME = 500  # optimizer.scenario.MAX_NAME
_MAX_ID = 200
_MAX_TAG = 200
_COLUMNS = frozenset({"id", "name", "score", "weight", "floor", "cap", "previous", "tags"})
"""The fields a row may have and still be checked by columns (others go to the model)."""
_ABSENT: Any = object()
_NO_NUMBER: Any = float("nan")
"""What stands in a number column where a row does not give the field (told apart from a
NaN given by being this very object), so that a column of numbers with gaps is still made
an array at once."""


class RecipientTable(Sequence["Recipient"]):
    """Validated recipients, one column per field, in the scenario's order.

    ``score``, ``weight`` and ``floor`` are read-only numpy arrays; ``cap`` and ``previous``
    are tuples holding None where not given (``cap_array``/``previous_array`` as numbers);
    ``tags`` one dict per recipient; ``criteria`` and ``hard`` None when no recipient sets
    them. Build it with :func:`recipient_table` (raw data) or :meth:`of` (models).

    The tags may be given as ``tag_columns`` instead (each tag's value per recipient, None
    where it has none; the columns without a gap first, :func:`_full_first`, the order of
    each recipient's tags), as a file's tag columns hold them: ``tags`` is then built on
    first use, and :meth:`tag_column` and the content hash read the columns."""

    __slots__ = (
        "_order",
        "_tag_columns",
        "_tags",
        "cap",
        "criteria",
        "floor",
        "hard",
        "ids",
        "names",
        "previous",
        "score",
        "weight",
    )

    def __init__(
        self,
        *,
        ids: tuple[str, ...],
        names: tuple[str | None, ...],
        score: FloatArray,
        weight: FloatArray,
        floor: IntArray,
        cap: tuple[int | None, ...],
        previous: tuple[float | None, ...],
        tags: tuple[dict[str, str], ...] | None = None,
        criteria: tuple[dict[str, float] | None, ...] | None = None,
        hard: tuple[bool, ...] | None = None,
        tag_columns: Mapping[str, Sequence[str | None]] | None = None,
    ) -> None:
        if tags is None and tag_columns is None:
            raise TypeError("a RecipientTable needs tags or tag_columns")
        for array in (score, weight, floor):
            array.flags.writeable = False
        self.ids = ids
        self.names = names
        self.score = score
        self.weight = weight
        self.floor = floor
        self.cap = cap
        self.previous = previous
        self._tags = tags
        self._tag_columns = None if tag_columns is None else dict(tag_columns)
        self.criteria = criteria
        self.hard = hard
        self._order: IntArray | None = None

    @classmethod
    def of(cls, recipients: Sequence[Recipient]) -> RecipientTable:
        """``recipients`` as a table (itself when it is one already)."""
        if isinstance(recipients, RecipientTable):
            return recipients
        recs = list(recipients)
        criteria = tuple(r.criteria for r in recs)
        hard = tuple(r.hard for r in recs)
        return cls(
            ids=tuple(r.id for r in recs),
            names=tuple(r.name for r in recs),
            score=np.array([r.score for r in recs], dtype=np.float64),
            weight=np.array([r.weight for r in recs], dtype=np.float64),
            floor=np.array([r.floor for r in recs], dtype=np.int64),
            cap=tuple(r.cap for r in recs),
            previous=tuple(r.previous for r in recs),
            tags=tuple(r.tags for r in recs),
            criteria=criteria if any(c is not None for c in criteria) else None,
            hard=hard if any(hard) else None,
        )

    # ------------------------------------------------------------------ the sequence

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, index: int) -> Recipient: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Recipient, ...]: ...

    def __getitem__(self, index: int | slice) -> Recipient | tuple[Recipient, ...]:
        if isinstance(index, slice):
            return tuple(self.row(i) for i in range(len(self))[index])
        return self.row(range(len(self))[index])

    def __iter__(self) -> Iterator[Recipient]:
        return (self.row(i) for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RecipientTable):
            return self.rows() == other.rows()
        if isinstance(other, tuple | list):
            return self.rows() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"RecipientTable({len(self)} recipients)"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuilt, (self._fields(),))

    def _fields(self) -> dict[str, Any]:
        return {
            "ids": self.ids,
            "names": self.names,
            "score": self.score,
            "weight": self.weight,
            "floor": self.floor,
            "cap": self.cap,
            "previous": self.previous,
            "tags": self._tags,
            "criteria": self.criteria,
            "hard": self.hard,
            "tag_columns": self._tag_columns,
        }

    @property
    def tags(self) -> tuple[dict[str, str], ...]:
        """Each recipient's tags (built from the tag columns on first use, if given so)."""
        if self._tags is None:
            assert self._tag_columns is not None
            self._tags = tuple(_tag_dicts(self._tag_columns, len(self.ids)))
        return self._tags

    def _tags_of(self, i: int) -> dict[str, str]:
        if self._tags is not None or self._tag_columns is None:
            return self.tags[i]
        return {k: v for k, column in self._tag_columns.items() if (v := column[i]) is not None}

    def row(self, i: int) -> Recipient:
        """Recipient ``i`` as a model (built now: the table keeps no models)."""
        from optimizer.scenario import Recipient

        data: dict[str, Any] = {
            "id": self.ids[i],
            "name": self.names[i],
            "score": float(self.score[i]),
            "weight": float(self.weight[i]),
            "floor": int(self.floor[i]),
            "cap": self.cap[i],
            "previous": self.previous[i],
            "tags": self._tags_of(i),
        }
        if self.criteria is not None and self.criteria[i] is not None:
            data["criteria"] = self.criteria[i]
        if self.hard is not None and self.hard[i]:
            data["hard"] = True
        return Recipient.model_validate(data)

    def rows(self) -> tuple[Recipient, ...]:
        """Every recipient as a model, in order."""
        return tuple(self)

    def dicts(self) -> list[dict[str, Any]]:
        """Each recipient as ``Recipient.model_dump()`` gives it (keys in its field order,
        ``criteria`` and ``hard`` only when given, no ``score`` where criteria give it),
        built from the columns: what a stored scenario's body holds."""
        rows = zip(
            self.ids,
            self.names,
            self.score.tolist(),
            self.weight.tolist(),
            self.floor.tolist(),
            self.cap,
            self.previous,
            map(dict, self.tags),
            strict=True,
        )
        out = [dict(zip(_DUMPED, row, strict=True)) for row in rows]
        for i, given in enumerate(self.criteria or ()):
            if given is not None:
                del out[i]["score"]
                out[i]["criteria"] = dict(given)
        for i, hard in enumerate(self.hard or ()):
            if hard:
                out[i]["hard"] = True
        return out

    def with_scores(self, scores: Mapping[str, float]) -> RecipientTable:
        """A copy in which the recipients named in ``scores`` have that score, given directly
        (their criteria dropped); see ``Scenario.with_scores``."""
        fields = self._fields()
        score = self.score.copy()
        positions = [i for i, rid in enumerate(self.ids) if rid in scores]
        for i in positions:
            score[i] = float(scores[self.ids[i]])
        fields["score"] = score
        if self.criteria is not None:
            criteria = list(self.criteria)
            for i in positions:
                criteria[i] = None
            fields["criteria"] = tuple(criteria) if any(c is not None for c in criteria) else None
        return RecipientTable(**fields)

    # ------------------------------------------------------------------ columns

    @property
    def labels(self) -> list[str]:
        """Display names: ``name`` when given, else ``id`` (as ``Recipient.label``)."""
        if self.names.count(None) == len(self.names):  # (no names: in C)
            return list(self.ids)
        return [name or rid for rid, name in zip(self.ids, self.names, strict=True)]

    def cap_array(self, missing: int) -> IntArray:
        """Caps as integers, ``missing`` where none is given."""
        values = np.array(self.cap, dtype=np.float64)  # None is NaN; caps fit exactly
        if len(values) and np.nanmax(values, initial=0) > 2**53:  # (not after validation)
            return np.array([missing if c is None else c for c in self.cap], dtype=np.int64)
        absent = np.isnan(values)
        caps = np.where(absent, 0, values).astype(np.int64)
        caps[absent] = missing
        return caps

    def previous_array(self) -> FloatArray:
        """Previous allocations, NaN where none is given."""
        return np.array(self.previous, dtype=np.float64)  # (numpy reads None as NaN)

    def tag_column(self, tag: str) -> list[str | None]:
        """Each recipient's value of ``tag`` (None where it has none)."""
        if self._tag_columns is not None:
            column = self._tag_columns.get(tag)
            return [None] * len(self.ids) if column is None else list(column)
        return list(map(dict.get, self.tags, repeat(tag)))

    def order(self) -> IntArray:
        """Positions sorted by id (code-point order, as Python sorts ``str``): the engine's
        canonical order, computed once."""
        if self._order is None:
            ids = self.ids
            if all(map(operator.lt, ids, ids[1:])):  # listed in id order already (in C)
                order = np.arange(len(ids), dtype=np.int64)
            elif "\x00" in "".join(ids):  # NumPy strings cannot hold NUL: sort in Python
                order = np.array(sorted(range(len(ids)), key=ids.__getitem__), dtype=np.int64)
            else:  # ids are unique: no ties
                order = np.argsort(np.array(ids, dtype=str), kind="stable").astype(np.int64)
            order.flags.writeable = False
            self._order = order
        return self._order

    def canonical_rows(self) -> str:
        """The recipients of ``Scenario.canonical()`` as compact JSON with sorted keys, sorted
        by id, without the list's brackets: what the content hash reads.

        Written a column at a time: each column becomes its JSON texts (numbers by ``repr``
        as the JSON encoder writes them, strings by the encoder's own escaping, each distinct
        tag set once), then each recipient's object is put together in sorted key order
        (cap, criteria, floor, hard, id, name, previous, score, tags, weight)."""
        return "".join(self.canonical_parts())

    def canonical_parts(self, rows: int = 65_536) -> Iterator[str]:
        """:meth:`canonical_rows` in pieces of ``rows`` recipients (each after the first
        starting with its comma): the hash reads them one at a time, so a million recipients
        never stand as one text."""
        for k, part in enumerate(self._comma_parts(rows)):
            yield part[1:] if k == 0 else part

    def canonical_bytes(self) -> Iterator[bytes | memoryview]:
        """:meth:`canonical_parts` as UTF-8, what the content hash reads (no text copied to
        drop the first comma)."""
        for k, part in enumerate(self._comma_parts()):
            data = part.encode("utf-8")
            yield memoryview(data)[1:] if k == 0 else data

    def _comma_parts(self, rows: int = 65_536) -> Iterator[str]:
        """The canonical texts of ``rows`` recipients at a time, each recipient's object
        after a comma."""
        order = self.order()
        previous = self.previous_array()
        in_order = bool((order[1:] > order[:-1]).all())  # (files often list ids in order)
        for start in range(0, len(order), rows):
            at = slice(start, start + rows) if in_order else order[start : start + rows]
            yield self._canonical_part(at, previous)

    def _canonical_part(self, at: slice | IntArray, previous_array: FloatArray) -> str:
        """The canonical text of the recipients at positions ``at`` (a slice when the table
        is in id order), each after a comma (``previous_array`` computed once for all parts).

        Each column becomes its JSON texts, each distinct value written once together with
        the keys around it (``',"floor":12,"id":'``), so that a recipient's object is a few
        texts joined: ``zip`` and ``str.join`` put them together, with no Python code per
        recipient (a recipient with criteria, or hard, is written on its own)."""
        order = at
        positions = range(len(self.ids))[at] if isinstance(at, slice) else at.tolist()

        def pick(column: Sequence[Any]) -> Sequence[Any]:  # in id order, by a C function
            if isinstance(at, slice):
                return column[at]
            if len(positions) == 1:
                return [column[positions[0]]]
            return list(itemgetter(*positions)(column))

        def tags(head: str = "") -> list[str]:
            if self._tag_columns is None:
                return _tag_texts(pick(self.tags), head)
            columns = {name: pick(column) for name, column in self._tag_columns.items()}
            return _tag_column_texts(columns, len(positions), head)

        if self.criteria is None and self.hard is None:
            given = pick(self.ids)
            plain = _plain_text("".join(given))  # then an id's JSON is the id between quotes
            quote = '"' if plain else ""
            columns = [
                _memo_texts(pick(self.cap), str, ',{"cap":'),
                _memo_texts(self.floor[order].tolist(), str, ',"floor":', ',"id":' + quote),
                given if plain else list(map(_TEXT, given)),
                _memo_texts(pick(self.names), _TEXT, quote + ',"name":'),
                _number_texts(previous_array[order], ',"previous":'),
                _number_texts(self.score[order], ',"score":'),
                tags(',"tags":'),
                _number_texts(self.weight[order], ',"weight":', "}"),
            ]
            return "".join(chain.from_iterable(zip(*columns, strict=True)))
        ids = list(map(_TEXT, pick(self.ids)))
        caps = _memo_texts(pick(self.cap), str)
        floors = _memo_texts(self.floor[order].tolist(), str)
        names = _memo_texts(pick(self.names), _TEXT)
        previous = _number_texts(previous_array[order])
        scores = _number_texts(self.score[order])
        weights = _number_texts(self.weight[order])
        tag_texts = tags()
        criteria = self.criteria or (None,) * len(self.ids)
        hard = self.hard or (False,) * len(self.ids)
        out = [""]  # (the first comma)
        for k, i in enumerate(positions):
            given = criteria[i]
            if given is None:
                middle = f',"previous":{previous[k]},"score":{scores[k]}'
                scored = ""
            else:
                middle = f',"previous":{previous[k]}'
                scored = f',"criteria":{_CANONICAL_JSON(given)}'
            out.append(
                f'{{"cap":{caps[k]}{scored},"floor":{floors[k]},'
                f'{_HARD_TEXT if hard[i] else ""}"id":{ids[k]},'
                f'"name":{names[k]}{middle},"tags":{tag_texts[k]},"weight":{weights[k]}}}'
            )
        return ",".join(out)


def _plain_text(text: str) -> bool:
    """Whether ``text`` is its own JSON string's content: no quote, backslash or control
    character for the encoder to escape (``isprintable`` is stricter: never wrong)."""
    return text.isprintable() and '"' not in text and "\\" not in text


def _memo_texts(
    values: Sequence[Any], write: Callable[[Any], str], head: str = "", tail: str = ""
) -> list[str]:
    """Each value's JSON text as ``write`` gives it (None as ``null``) between ``head`` and
    ``tail``, each distinct value written once: caps, floors and names repeat across
    100,000 firms. (Not for floats: a dict takes ``-0.0`` for ``0.0``.)"""
    memo = {v: head + ("null" if v is None else write(v)) + tail for v in set(values)}
    return list(map(memo.__getitem__, values))


def _number_texts(values: FloatArray, head: str = "", tail: str = "") -> list[str]:
    """Each float as the JSON encoder writes it (``repr``; NaN, standing for None, as
    ``null``) between ``head`` and ``tail``. Scores and weights repeat (a few hundred
    distinct values among 100,000 firms): past 1,000 values each distinct one is written
    once, told apart by its bits (so ``-0.0`` is not taken for ``0.0``)."""
    if len(values) < 1000:
        return [head + ("null" if math.isnan(v) else repr(v)) + tail for v in values.tolist()]
    bits, at = np.unique(np.ascontiguousarray(values).view(np.int64), return_inverse=True)
    texts = [
        head + ("null" if math.isnan(v) else repr(v)) + tail for v in bits.view(np.float64).tolist()
    ]
    return list(map(texts.__getitem__, at.tolist()))


def _tag_texts(tags: Sequence[dict[str, str]], head: str = "") -> list[str]:
    """Each tag set as compact JSON with sorted keys, after ``head``. When every set has
    the same names (a file's tag columns give each row the same ones) their values are
    picked as tuples by a C function, and each distinct tuple is written once; otherwise
    rows are grouped by their names."""
    if not tags:
        return []
    names = sorted(tags[0])
    if len(set(map(len, tags))) == 1 and names:
        try:
            picked = list(map(itemgetter(*names), tags))
        except KeyError:  # a set with other names
            pass
        else:
            if len(names) == 1:
                picked = [(v,) for v in picked]
            memo = {held: _tag_set(head, names, held) for held in set(picked)}
            return list(map(memo.__getitem__, picked))
    keysets = list(map(tuple, tags))
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, keys in enumerate(keysets):
        groups.setdefault(keys, []).append(i)
    out = [""] * len(tags)
    for keys, rows in groups.items():
        ordered = sorted(keys)
        picked = [tuple(tags[i][k] for k in ordered) for i in rows]
        written: dict[tuple[str, ...], str] = {}
        for i, held in zip(rows, picked, strict=True):
            found = written.get(held)
            if found is None:
                found = written[held] = _tag_set(head, ordered, held)
            out[i] = found
    return out


def _tag_column_texts(
    columns: Mapping[str, Sequence[str | None]], rows: int, head: str
) -> list[str]:
    """:func:`_tag_texts` of tags given as columns (None where a row has no such tag):
    each distinct tuple of values is written once."""
    names = sorted(columns)
    if not names:
        return [head + "{}"] * rows
    held = list(zip(*(columns[name] for name in names), strict=True))
    memo = {values: _tag_set(head, names, values) for values in set(held)}
    return list(map(memo.__getitem__, held))


def _tag_set(head: str, names: list[str], values: tuple[str | None, ...]) -> str:
    """``head`` and the tag set of these names and values (None: no such tag) as compact
    JSON."""
    pairs = [_TEXT(k) + ":" + _TEXT(v) for k, v in zip(names, values, strict=True) if v is not None]
    return head + "{" + ",".join(pairs) + "}"


def _full_first(columns: Mapping[str, Sequence[str | None]]) -> dict[str, Sequence[str | None]]:
    """Tag columns, those without a gap first (each group in its order): the order of the
    keys of the tag dicts built from them (:func:`_tag_dicts`)."""
    return dict(sorted(columns.items(), key=lambda item: None in item[1]))


def _tag_dicts(columns: Mapping[str, Sequence[str | None]], rows: int) -> list[dict[str, str]]:
    """One tag dict per row from tag columns (:func:`_full_first` order), a None cell left
    out: full columns are zipped into dicts at once (``dict(zip(...))`` runs in C), a
    column with gaps then added where it has a value."""
    full = [(key, cells) for key, cells in columns.items() if None not in cells]
    keys = [key for key, _ in full]
    out = [dict(zip(keys, row, strict=True)) for row in zip(*(c for _, c in full), strict=True)]
    if not full:
        out = [{} for _ in range(rows)]
    for key, cells in columns.items():
        if None in cells:
            for item, cell in zip(out, cells, strict=True):
                if cell is not None:
                    item[key] = cell
    return out


def _rebuilt(fields: dict[str, Any]) -> RecipientTable:
    return RecipientTable(**fields)


_CANONICAL_JSON = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode
_TEXT = json.encoder.encode_basestring  # a JSON string, as ensure_ascii=False writes it
_HARD_TEXT = '"hard":true,'
_DUMPED = ("id", "name", "score", "weight", "floor", "cap", "previous", "tags")


# --------------------------------------------------------------------------- validation


def recipient_table(rows: Sequence[Any]) -> tuple[RecipientTable | None, list[Problem], list[int]]:
    """Validate raw recipients (the mappings of a scenario's ``recipients`` list).

    Returns the table (None when a row is invalid), the problems of the invalid rows (paths
    ``recipients[i]...``, worded by the model) and the rows the model validated one at a
    time: those the column checks did not take, the only ones that may hold a non-finite
    number or a container worth searching."""
    n = len(rows)
    if not n:
        return None, [], []
    if set(map(type, rows)) == {dict}:
        plain = np.ones(n, dtype=bool)
    else:
        plain = np.fromiter((type(r) is dict for r in rows), dtype=bool, count=n)
    slow = ~plain
    dicts: list[dict[str, Any]] = (
        list(rows)
        if plain.all()
        else [r if ok else {} for r, ok in zip(rows, plain.tolist(), strict=True)]
    )
    slow |= _unusual_keys(dicts)
    columns = {name: _column(dicts, name, missing) for name, missing in _MISSING.items()}
    return _table_of_columns(columns, slow, rows.__getitem__)


_MISSING = {
    "id": None,
    "name": None,
    "score": _NO_NUMBER,
    "weight": _NO_NUMBER,
    "floor": _NO_NUMBER,
    "cap": _NO_NUMBER,
    "previous": _NO_NUMBER,
    "tags": _ABSENT,
}
"""Each column field and what stands in a column where a row does not give it."""


def _table_of_columns(
    columns: Mapping[str, Any],
    slow: Mask,
    row: Callable[[int], Any],
    tag_columns: Mapping[str, list[str | None]] | None = None,
) -> tuple[RecipientTable | None, list[Problem], list[int]]:
    """:func:`recipient_table` from the columns (each a list as :data:`_MISSING` fills it,
    or a number column as :class:`NumberCells`); ``slow``: rows already given to the model;
    ``row(i)``: row ``i`` as the model reads it; ``tag_columns``: the tags as text columns
    (a file's), instead of ``columns["tags"]``."""
    n = len(slow)
    ids: list[Any] = list(columns["id"])
    slow |= _bad_text(ids, most=_MAX_ID, optional=False)
    names: list[Any] = list(columns["name"])
    slow |= _bad_text(names, most=_MAX_NAME, optional=True)
    score, given, bad = _numbers(columns["score"], absent=False)
    slow |= bad | ~given | ~(score > 0) | (score > _MAX_MAGNITUDE)
    weight, given, bad = _numbers(columns["weight"], absent=True)
    slow |= bad | (weight > _MAX_MAGNITUDE)
    weight[~given] = 1.0
    floor, given, bad = _numbers(columns["floor"], absent=True, whole=True)
    slow |= bad | (floor > MAX_BUDGET)
    cap, has_cap, bad = _numbers(columns["cap"], absent=True, none=True, whole=True)
    slow |= bad | (cap > MAX_BUDGET) | (has_cap & (cap < floor))
    previous, has_previous, bad = _numbers(columns["previous"], absent=True, none=True)
    slow |= bad | (previous > MAX_BUDGET)
    if tag_columns is None:
        tags: list[Any] = list(columns["tags"])
        slow |= _bad_tags(tags)
    else:
        slow |= _bad_tag_columns(tag_columns, n)
    slow_rows: list[int] = np.flatnonzero(slow).tolist()
    models, problems = _by_model(row, slow_rows)
    if problems:
        return None, problems, slow_rows
    cap_list = _or_none(cap.astype(np.int64), has_cap)  # (caps are whole: exact)
    previous_list = _or_none(previous, has_previous)
    if tag_columns is None:
        tags = [{} if t is _ABSENT else t for t in tags]
    whole = floor.astype(np.int64)
    criteria: list[dict[str, float] | None] | None = None
    hard: list[bool] | None = None
    for i, model in models.items():
        ids[i], names[i] = model.id, model.name
        if tag_columns is None:  # (a text column's tags are the model's: text as given)
            tags[i] = model.tags
        score[i], weight[i], whole[i] = model.score, model.weight, model.floor
        cap_list[i], previous_list[i] = model.cap, model.previous
        if model.criteria is not None:
            criteria = criteria or [None] * n
            criteria[i] = model.criteria
        if model.hard:
            hard = hard or [False] * n
            hard[i] = True
    table = RecipientTable(
        ids=tuple(ids),
        names=tuple(names),
        score=score,
        weight=weight,
        floor=whole,
        cap=tuple(cap_list),
        previous=tuple(previous_list),
        tags=None if tag_columns is not None else tuple(tags),
        criteria=None if criteria is None else tuple(criteria),
        hard=None if hard is None else tuple(hard),
        tag_columns=tag_columns,
    )
    return table, [], slow_rows


def _or_none(values: npt.NDArray[Any], given: Mask) -> list[Any]:
    """``values`` as Python numbers, None where not ``given`` (converted in C)."""
    out = values.astype(object)
    out[~given] = None
    held: list[Any] = out.tolist()
    return held


Mask = npt.NDArray[np.bool_]


class NumberCells:
    """A number column of a columnar file, read as an array: ``values`` (0 where blank),
    ``given`` (where not blank), and :meth:`cells`, the cells as the file reader gives them
    (ints and floats, None where blank), read on first use: a row's dict is wanted only for
    a message about it or for ``extends``."""

    __slots__ = ("_cells", "_read", "given", "values")

    def __init__(self, values: FloatArray, given: Mask, read: Callable[[], list[Any]]) -> None:
        self.values = values
        self.given = given
        self._read = read
        self._cells: list[Any] | None = None

    def cells(self) -> list[Any]:
        if self._cells is None:
            self._cells = self._read()
        return self._cells

    def take(self, rows: list[int]) -> NumberCells:
        """The cells of these rows."""
        at = np.array(rows, dtype=np.int64)
        return NumberCells(self.values[at], self.given[at], lambda: _taken(self.cells(), rows))


def _taken(cells: list[Any], rows: list[int]) -> list[Any]:
    return [cells[i] for i in rows]


class RecipientColumns:
    """A recipient file's columns as read, not yet validated: ``cells`` maps each column
    field (:data:`_MISSING`) to its cells, None where blank (a list, or a number column as
    :class:`NumberCells`), ``tag_columns`` each tag's text per row (None where blank). What
    ``Scenario.from_data`` validates into a :class:`RecipientTable` without a dict per
    recipient; :meth:`row` and :meth:`dicts` give the rows as the CSV reader would (blank
    cells left out), for a message about one or for ``extends``."""

    def __init__(
        self,
        cells: Mapping[str, list[Any] | NumberCells],
        tag_columns: Mapping[str, list[str | None]],
        size: int,
    ) -> None:
        self.cells = dict(cells)
        self.tag_columns: dict[str, list[str | None]] = _full_first(tag_columns)  # type: ignore[assignment]
        self.size = size

    def __len__(self) -> int:
        return self.size

    @property
    def ids(self) -> list[Any]:
        return self._list("id") or [None] * self.size

    def _list(self, name: str) -> list[Any] | None:
        cells = self.cells.get(name)
        return cells.cells() if isinstance(cells, NumberCells) else cells

    def row(self, i: int) -> dict[str, Any]:
        """Row ``i`` as a dict, blank cells left out."""
        out = {}
        for name in self.cells:
            cell = self._list(name)[i]  # type: ignore[index]
            if cell is not None:
                out[name] = cell
        tags = {k: v for k, column in self.tag_columns.items() if (v := column[i]) is not None}
        if tags:
            out["tags"] = tags
        return out

    def dicts(self) -> list[dict[str, Any]]:
        """Every row as a dict (:meth:`row`)."""
        return [self.row(i) for i in range(self.size)]

    def validated(self) -> tuple[RecipientTable | None, list[Problem], list[int]]:
        """As :func:`recipient_table` of :meth:`dicts`, from the columns."""
        columns: dict[str, Any] = {}
        nothing = NumberCells(np.zeros(self.size), np.zeros(self.size, dtype=bool), list)
        for name, missing in _MISSING.items():
            cells = self.cells.get(name)
            if name == "tags":
                continue
            if cells is None:
                columns[name] = nothing if name in _NUMBER_FIELDS else [missing] * self.size
            elif missing is None or isinstance(cells, NumberCells):
                columns[name] = cells
            else:
                columns[name] = [missing if c is None else c for c in cells]
        slow = np.zeros(self.size, dtype=bool)
        return _table_of_columns(columns, slow, self.row, self.tag_columns)


_NUMBER_FIELDS = frozenset({"score", "weight", "floor", "cap", "previous"})


def _column(rows: list[dict[str, Any]], name: str, missing: Any) -> list[Any]:
    """Each row's value of ``name`` (``missing`` where it has none)."""
    return list(map(dict.get, rows, repeat(name), repeat(missing)))


def _unusual_keys(rows: list[dict[str, Any]]) -> Mask:
    """Rows with a key the columns do not check (criteria, hard, unknown fields)."""
    if _COLUMNS.issuperset(chain.from_iterable(rows)):  # (every key of every row, in C)
        return np.zeros(len(rows), dtype=bool)
    keys = list(map(tuple, rows))
    unusual = {k for k in set(keys) if not _COLUMNS.issuperset(k)}
    if not unusual:
        return np.zeros(len(rows), dtype=bool)
    return np.fromiter((k in unusual for k in keys), dtype=bool, count=len(keys))


def _bad_text(values: list[Any], *, most: int, optional: bool) -> Mask:
    """Rows whose value is not text of 1 to ``most`` characters without spaces at the ends
    (ids), or (``optional``) neither None nor text of at most ``most`` characters (names)."""
    n = len(values)
    kinds = set(map(type, values))
    if optional:
        if kinds == {type(None)}:  # (no names)
            return np.zeros(n, dtype=bool)
        if kinds <= {str, type(None)}:
            text = [v for v in values if v is not None]
            if not text or max(map(len, text)) <= most:
                return np.zeros(n, dtype=bool)
        return np.fromiter(
            (v is not None and (type(v) is not str or len(v) > most) for v in values),
            dtype=bool,
            count=n,
        )
    if (
        kinds == {str}
        and min(map(len, values)) > 0
        and max(map(len, values)) <= most
        and list(map(str.strip, values)) == values
    ):
        return np.zeros(n, dtype=bool)
    return np.fromiter(
        (type(v) is not str or not 0 < len(v) <= most or v.strip() != v for v in values),
        dtype=bool,
        count=n,
    )


_NUMBER_TYPES = frozenset({int, float})


def _numbers(
    values: list[Any] | NumberCells, *, absent: bool, none: bool = False, whole: bool = False
) -> tuple[FloatArray, Mask, Mask]:
    """A column as floats (0 where not given), where a number is given, and the rows the
    model must see: a value that is not a number (``bool``, text; missing unless ``absent``
    allows it, None unless ``none`` does), not finite, negative, or (``whole``) not a whole
    number."""
    if isinstance(values, NumberCells):
        return _number_array(values, whole=whole)
    n = len(values)
    known = set(map(type, values)) <= _NUMBER_TYPES  # (gaps are _NO_NUMBER, a float)
    array = _floats(values) if known else np.zeros(0)
    gaps = np.isnan(array)
    if known and (not gaps.any() or values.count(_NO_NUMBER) == np.count_nonzero(gaps)):
        given = ~gaps  # (every NaN a gap: none given)
        bad = gaps & (not absent)
        array[gaps] = 0.0
    else:
        # (maps of C functions: no Python call per cell)
        gap = np.fromiter(map(operator.is_, values, repeat(_NO_NUMBER)), bool, n)
        given = np.fromiter(map(_NUMBER_TYPES.__contains__, map(type, values)), bool, n) & ~gap
        missing = gap if absent else np.zeros(n, dtype=bool)
        if none:
            missing |= np.fromiter(map(operator.is_, values, repeat(None)), bool, n)
        bad = ~given & ~missing
        numbers = list(values)
        for i in np.flatnonzero(~given).tolist():
            numbers[i] = 0.0
        array = _floats(numbers)
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(array)
        bad |= ~finite | (array < 0)
        if whole:
            bad |= finite & (np.floor(array) != array)
    array[~finite] = 0.0
    return array, given, bad


def _number_array(column: NumberCells, *, whole: bool) -> tuple[FloatArray, Mask, Mask]:
    """:func:`_numbers` of a column read as an array (a blank cell is missing, never bad)."""
    array = column.values.astype(np.float64)  # (a copy)
    given = column.given.copy()
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(array)
        bad = ~finite | (array < 0)
        if whole:
            bad |= finite & (np.floor(array) != array)
    bad &= given
    array[~finite | ~given] = 0.0
    return array, given, bad


def _bad_tag_columns(columns: Mapping[str, list[str | None]], rows: int) -> Mask:
    """:func:`_bad_tags` of tags given as text columns: the rows with a tag name or value
    longer than 200 characters (or, not from a file, not text)."""
    bad = np.zeros(rows, dtype=bool)
    for name, column in columns.items():
        values = set(column)
        values.discard(None)
        if (
            type(name) is str
            and len(name) <= _MAX_TAG
            and set(map(type, values)) <= {str}
            and max(map(len, values), default=0) <= _MAX_TAG  # type: ignore[arg-type]
        ):
            continue
        bad |= np.fromiter(
            (v is not None and _bad_tag_set({name: v}) for v in column), dtype=bool, count=rows
        )
    return bad


def _floats(values: list[Any]) -> FloatArray:
    try:
        return np.array(values, dtype=np.float64)
    except OverflowError:  # an integer beyond any float: the model words it
        return np.array([_as_float(v) for v in values], dtype=np.float64)


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _bad_tags(values: list[Any]) -> Mask:
    """Rows whose tags are not a dict of text keys and values of at most 200 characters:
    the model sees them (it turns numbers and booleans into text, and words the rest)."""
    n = len(values)
    dicts = [v for v in values if v is not _ABSENT]
    if set(map(type, dicts)) <= {dict}:
        keys = set(chain.from_iterable(dicts))
        try:
            texts = set(chain.from_iterable(map(dict.values, dicts)))  # distinct: a few hundred
        except TypeError:  # an unhashable value (a list): the model words it
            texts = {None}
        if (
            set(map(type, keys)) <= {str}
            and set(map(type, texts)) <= {str}
            and max(map(len, keys), default=0) <= _MAX_TAG
            and max(map(len, texts), default=0) <= _MAX_TAG
        ):
            return np.zeros(n, dtype=bool)
    return np.fromiter((_bad_tag_set(v) for v in values), dtype=bool, count=n)


def _bad_tag_set(tags: Any) -> bool:
    if tags is _ABSENT:
        return False
    if type(tags) is not dict:
        return True
    return not all(
        type(k) is str and type(v) is str and len(k) <= _MAX_TAG and len(v) <= _MAX_TAG
        for k, v in tags.items()
    )


def _by_model(
    row: Callable[[int], Any], slow_rows: list[int]
) -> tuple[dict[int, Recipient], list[Problem]]:
    """The given rows validated by the model: each valid one, and the problems of the rest."""
    from pydantic import ValidationError

    from optimizer.scenario import Recipient, pydantic_problems

    models: dict[int, Recipient] = {}
    problems: list[Problem] = []
    for i in slow_rows:
        try:
            models[i] = Recipient.model_validate(row(i))
        except ValidationError as exc:
            problems.extend(pydantic_problems(exc, ("recipients", i)))
    return models, problems
