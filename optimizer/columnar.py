"""Columnar recipient files (Parquet, Arrow IPC / Feather) in, allocation tables out.

A columnar file is read with pyarrow and checked a column at a time: blank cells, numbers,
whole numbers and finite values are found with Arrow kernels, and per-cell Python runs only
where a column's type needs it (numbers stored as text, dates, booleans) or to describe a bad
cell. The columns, the recipient dicts and every message are those of the CSV/XLSX reader
(:func:`optimizer.loading.recipient_columns`, ``recipients[812].cap: ...``); rows are counted
from 1, since a columnar file has no header row. pyarrow is imported here only, on use.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from itertools import repeat
from operator import is_not
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray

from optimizer.collector import cyclic_gc_paused
from optimizer.errors import InputError, Problem
from optimizer.loading import (
    CRITERIA_PREFIX,
    TAG_PREFIX,
    cell_number,
    cell_text,
    recipient_columns,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from optimizer.recipients import NumberCells, RecipientColumns
    from optimizer.result import Result

__all__ = [
    "COLUMNAR_SUFFIXES",
    "allocations_parquet",
    "columnar_recipients",
]

COLUMNAR_SUFFIXES: Mapping[str, str] = {
    ".parquet": "Parquet",
    ".arrow": "Arrow IPC",
    ".feather": "Feather",
}
"""Columnar recipient file types, by suffix, with the name messages use."""

MAX_DECODED_BYTES = 1024 * 1024 * 1024
"""Largest Parquet recipient data read, decompressed, in bytes (the file itself is at most
:data:`~optimizer.loading.MAX_FILE_BYTES`)."""

_NUMBER_COLUMNS = ("score", "weight", "floor", "cap", "previous")
_WHOLE_COLUMNS = ("floor", "cap")
_PANDAS_INDEX = re.compile(r"__index_level_\d+__")


def columnar_recipients(raw: bytes, shown: str, suffix: str) -> list[dict[str, Any]]:
    """Recipients (plain dicts, as the CSV reader gives them) from a Parquet or Arrow file's
    bytes; every problem raised as one :class:`InputError`."""
    values, keep, _ = _cells(raw, shown, suffix)
    return _recipient_dicts(_listed(values), keep)


def columnar_columns(
    raw: bytes, shown: str, suffix: str
) -> RecipientColumns | list[dict[str, Any]]:
    """The same recipients as :func:`columnar_recipients`, as columns not yet validated
    (no dict per recipient, numbers as arrays); as dicts when the file has
    ``criteria.<name>`` or ``hard`` columns (their scores and flags are worked out row by
    row)."""
    from optimizer.recipients import RecipientColumns

    values, keep, rows = _cells(raw, shown, suffix)
    if any(name == "hard" or name.startswith(CRITERIA_PREFIX) for name, _ in values):
        return _recipient_dicts(_listed(values), keep)
    if len(keep) != rows:
        values = [(name, _taken(cells, keep)) for name, cells in values]
    tags = {name[len(TAG_PREFIX) :]: cells for name, cells in values if "." in name}
    cells = {name: column for name, column in values if "." not in name}
    return RecipientColumns(cells, tags, len(keep))  # type: ignore[arg-type]


_Cells = list[tuple[str, "list[Any] | NumberCells"]]


def _listed(values: _Cells) -> list[tuple[str, list[Any]]]:
    """The columns as lists of cells (number columns read as arrays listed)."""
    from optimizer.recipients import NumberCells

    return [(n, c.cells() if isinstance(c, NumberCells) else c) for n, c in values]


def _taken(cells: list[Any] | NumberCells, keep: list[int]) -> list[Any] | NumberCells:
    """The cells of the rows ``keep``."""
    if isinstance(cells, list):
        return [cells[i] for i in keep]
    return cells.take(keep)


def _cells(raw: bytes, shown: str, suffix: str) -> tuple[_Cells, list[int], int]:
    """Each recipient column's cells (None where blank; a column of integers or floats as
    :class:`~optimizer.recipients.NumberCells`), the rows that are not blank, and how many
    rows the file has."""
    table = _read_table(raw, shown, suffix)
    kept = [j for j, name in enumerate(table.column_names) if not _PANDAS_INDEX.fullmatch(name)]
    if not kept:
        raise InputError(
            [Problem("recipients.file", f"{shown} is empty (expected columns: id, score)")]
        )
    names = [table.column_names[j] for j in kept]
    chunks = [
        _plain(table.column(j), tag=_is_tag(name)) for j, name in zip(kept, names, strict=True)
    ]
    blanks = [_blank_mask(column) for column in chunks]
    columns = recipient_columns(names, lambda j: not bool(blanks[j].all()), shown)
    blank_rows = np.logical_and.reduce([blanks[j] for j, _ in columns])
    keep: list[int] = np.flatnonzero(~blank_rows).tolist()
    if not keep:
        raise InputError([Problem("recipients.file", f"{shown} has columns but no recipients")])
    index_of: dict[int, int] = {}  # (filled when a cell is bad)
    found: list[tuple[int, int, Problem]] = []
    values: _Cells = []
    for j, name in columns:
        column, blank = chunks[j], blanks[j]
        cells: list[Any] | NumberCells
        if name not in _NUMBER_COLUMNS and not name.startswith(CRITERIA_PREFIX):
            cells = _text_values(column, blank, shared=name != "id")
        else:
            cells, bad = _number_cells(column, blank, whole=name in _WHOLE_COLUMNS)
            if bad and not index_of:
                index_of.update((row, index) for index, row in enumerate(keep))
            field = (
                f"criteria.{name[len(CRITERIA_PREFIX) :]}"
                if name.startswith(CRITERIA_PREFIX)
                else name
            )
            for row, message in bad:
                if row in index_of:
                    problem = Problem(
                        f"recipients[{index_of[row]}].{field}",
                        f"{message} in {shown} row {row + 1}",
                    )
                    found.append((row, j, problem))
        values.append((name, cells))
    if found:
        raise InputError([problem for _, _, problem in sorted(found, key=lambda f: f[:2])])
    return values, keep, len(table)


def allocations_parquet(result: Result, columns: Sequence[str]) -> bytes:
    """The allocations as a Parquet file with ``columns`` (names of
    :class:`~optimizer.result.Allocation` fields): numbers typed, ``grade`` null where there is
    none, ``binding`` as the rule names joined by ``;`` (as in the CSV)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with cyclic_gc_paused():  # (its passes would walk the whole result, for nothing)
        arrays = _allocation_arrays(result, columns)
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_arrays(arrays, names=list(columns)), sink)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def _allocation_arrays(result: Result, columns: Sequence[str]) -> list[pa.Array]:
    import pyarrow as pa

    from optimizer.result import Allocations

    allocations = Allocations.of(result.allocations)  # columns: no Python object per row
    arrays: list[pa.Array] = []
    for name in columns:
        if name == "binding":
            arrays.append(_text_array(_memo(allocations.column(name), ";".join), repeated=True))
        elif name in ("id", "name", "grade"):
            arrays.append(_text_array(allocations.column(name), repeated=name == "grade"))
        else:
            kind = np.int64 if name == "units" else np.float64
            numbers = np.ascontiguousarray(allocations.raw(name), dtype=kind)
            arrow_kind = pa.int64() if name == "units" else pa.float64()
            arrays.append(
                pa.Array.from_buffers(arrow_kind, len(numbers), [None, pa.py_buffer(numbers)])
            )
    return arrays


def _memo(values: Sequence[Any], write: Callable[[Any], Any]) -> list[Any]:
    """``write`` of each value, computed once per distinct value (binding rule names
    repeat: a dozen distinct tuples among 100,000 recipients)."""
    written = {value: write(value) for value in set(values)}
    return list(map(written.__getitem__, values))


def _text_array(values: Sequence[str | None], *, repeated: bool = False) -> pa.Array:
    """A string array built from its buffers (``pa.array`` would import pandas, half a
    second of a run); None is null. The texts are joined and encoded at once, each cut
    found by numpy (``repeated``: None replaced once per distinct value): no Python
    statement per row."""
    import pyarrow as pa

    n = len(values)
    nulls = values.count(None)
    bitmap = None
    texts = cast("Sequence[str]", values)
    if nulls:
        valid = np.fromiter(map(is_not, values, repeat(None)), dtype=bool, count=n)
        bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
        texts = _memo(values, _or_empty) if repeated else list(map(_or_empty, values))
    joined = _CUT.join(texts).encode("utf-8")
    offsets = np.empty(n + 1, dtype=np.int32)
    offsets[0] = 0
    if n and joined.count(_CUT_BYTE) == n - 1:  # no text holds the cut itself
        cuts = np.flatnonzero(np.frombuffer(joined, dtype=np.uint8) == ord(_CUT))
        offsets[1:n] = cuts - np.arange(n - 1)
        offsets[n] = len(joined) - (n - 1)
        data = joined.replace(_CUT_BYTE, b"")
    else:
        encoded = [text.encode("utf-8") for text in texts]
        np.cumsum(np.fromiter(map(len, encoded), dtype=np.int32, count=n), out=offsets[1:])
        data = b"".join(encoded)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data), bitmap, nulls)


_CUT, _CUT_BYTE = "\x00", b"\x00"


def _or_empty(text: str | None) -> str:
    return "" if text is None else text


# --------------------------------------------------------------------------- reading


def _read_table(raw: bytes, shown: str, suffix: str) -> pa.Table:
    import pyarrow as pa

    kind = COLUMNAR_SUFFIXES[suffix]
    try:
        if suffix == ".parquet":  # ParquetFile, not read_table: no dataset API (and no pandas)
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(pa.BufferReader(raw))
            meta = parquet.metadata
            decoded = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
            if decoded > MAX_DECODED_BYTES:  # a small file may decompress to gigabytes
                raise _TooLarge(f"{decoded:,} bytes")
            tags = [  # read as dictionaries: a few distinct texts, not one per row
                field.name
                for field in parquet.schema_arrow
                if _is_tag(field.name) and pa.types.is_string(field.type)
            ]
            if tags:
                parquet = pq.ParquetFile(pa.BufferReader(raw), metadata=meta, read_dictionary=tags)
            return parquet.read(use_threads=False)  # (threads: more CPU time, not less)
        try:  # Feather version 2 is the Arrow IPC file format
            return pa.ipc.open_file(pa.BufferReader(raw)).read_all()
        except pa.ArrowInvalid:
            try:  # the stream format has no footer
                return pa.ipc.open_stream(pa.BufferReader(raw)).read_all()
            except pa.ArrowInvalid:
                if suffix != ".feather":
                    raise
                import pyarrow.feather as feather  # Feather version 1 (deprecated, still read)

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    return feather.read_table(pa.BufferReader(raw))
    except _TooLarge as exc:
        message = f"{shown} is too large once decompressed ({exc}; at most {MAX_DECODED_BYTES:,})"
        raise InputError([Problem("recipients.file", message)]) from None
    except Exception as exc:  # pyarrow raises several error types for damaged files
        reason = " ".join(str(exc).split())
        raise InputError(
            [Problem("recipients.file", f"{shown} is not a readable {kind} file ({reason})")]
        ) from None


class _TooLarge(Exception):
    """A columnar file whose data, decompressed, would exceed :data:`MAX_DECODED_BYTES`."""


def _plain(column: pa.ChunkedArray, *, tag: bool = False) -> pa.Array:
    """One contiguous array, dictionary-encoded columns (pandas categories) decoded, except
    a tag's dictionary of texts (:func:`_dictionary_texts` reads it)."""
    import pyarrow as pa

    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if pa.types.is_dictionary(array.type) and not (tag and _is_text(array.type.value_type)):
        array = array.dictionary_decode()
    return array


def _is_tag(name: str) -> bool:
    return name.strip().startswith(TAG_PREFIX)


def _codes(indices: pa.Array) -> NDArray[np.int64]:
    """A dictionary's indices as numbers, 0 where null."""
    import pyarrow as pa

    kind = indices.type
    signed = "i" if pa.types.is_signed_integer(kind) else "u"
    data = indices.buffers()[1]
    if data is None or not len(indices):
        return np.zeros(len(indices), dtype=np.int64)
    at = np.frombuffer(data, dtype=np.dtype(f"{signed}{kind.bit_width // 8}"))
    at = at[indices.offset : indices.offset + len(indices)].astype(np.int64)
    return np.where(_valid(indices), at, 0)


def _is_text(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    )


def _blank_mask(array: pa.Array) -> NDArray[np.bool_]:
    """Per row: is the cell blank (null, NaN, or only white space), as the CSV reader says.
    Read from the array's buffers where its type allows (:func:`_numbers_of`,
    :func:`_blank_texts`): ``pyarrow.compute`` takes a tenth of a second to import."""
    import pyarrow as pa

    if pa.types.is_null(array.type):
        return np.ones(len(array), dtype=bool)
    if pa.types.is_dictionary(array.type):  # (a tag's texts: each distinct one looked at once)
        words = _blank_mask(array.dictionary)
        if not len(words):
            return np.ones(len(array), dtype=bool)
        return ~_valid(array.indices) | words[_codes(array.indices)]
    numbers = _numbers_of(array)
    if numbers is not None:
        return ~_valid(array) | np.isnan(numbers)
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return _blank_texts(array)
    import pyarrow.compute as pc

    blank = _bools(pc.is_null(array, nan_is_null=True))
    if _is_text(array.type):
        length = pc.utf8_length(pc.utf8_trim_whitespace(array))
        empty = pc.invert(pc.cast(length, pa.bool_()))
        blank |= _bools(pc.and_kleene(empty, pc.is_valid(array)))
    return blank


def _valid(array: pa.Array) -> NDArray[np.bool_]:
    """Per row: is the cell not null (from the validity bitmap)."""
    if not array.null_count:
        return np.ones(len(array), dtype=bool)
    bits = np.frombuffer(array.buffers()[0], dtype=np.uint8)
    unpacked = np.unpackbits(bits, bitorder="little")[array.offset : array.offset + len(array)]
    return unpacked.astype(bool)


def _numbers_of(array: pa.Array) -> NDArray[np.float64] | None:
    """An integer or float32/64 column's values as floats (any number in a null's slot),
    read from its data buffer; None for other types."""
    import pyarrow as pa

    kind = array.type
    if pa.types.is_integer(kind):
        dtype = np.dtype(f"{'i' if pa.types.is_signed_integer(kind) else 'u'}{kind.bit_width // 8}")
    elif pa.types.is_float32(kind) or pa.types.is_float64(kind):
        dtype = np.dtype(f"f{kind.bit_width // 8}")
    else:
        return None
    data = array.buffers()[1]
    if data is None or not len(array):
        return np.zeros(len(array))
    values = np.frombuffer(data, dtype=dtype)[array.offset : array.offset + len(array)]
    return values.astype(np.float64)


_PRINTABLE = np.zeros(256, dtype=bool)
_PRINTABLE[0x21:0x7F] = True  # (a byte of an ASCII character other than space and controls)


def _blank_texts(array: pa.Array) -> NDArray[np.bool_]:
    """:func:`_blank_mask` of a string column from its buffers: a cell is blank when null or
    empty, and not blank when it holds a printable ASCII character (white space in no one's
    sense); a cell of other characters only is blank when ``str.strip`` leaves nothing (as
    Arrow's Unicode trim: a test checks every character)."""
    import pyarrow as pa

    n = len(array)
    valid = _valid(array)
    wide = pa.types.is_large_string(array.type)  # (64-bit offsets)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64 if wide else np.int32)
    offsets = offsets[array.offset : array.offset + n + 1].astype(np.int64)
    data = array.buffers()[2]
    if data is None or not n:
        nothing: NDArray[np.bool_] = ~valid | (offsets[1:] == offsets[:-1])
        return nothing
    printable = _PRINTABLE[np.frombuffer(data, dtype=np.uint8)]
    seen = np.zeros(len(printable) + 1, dtype=np.int64)
    np.cumsum(printable, out=seen[1:])
    empty = offsets[1:] == offsets[:-1]
    holds = seen[offsets[1:]] > seen[offsets[:-1]]
    blank: NDArray[np.bool_] = ~valid | empty
    undecided = np.flatnonzero(valid & ~empty & ~holds).tolist()
    if undecided:  # (names in Korean, say: their texts are looked at, by C functions)
        from operator import not_

        texts = map(array.to_pylist().__getitem__, undecided)
        blank[undecided] = np.fromiter(map(not_, map(str.strip, texts)), bool, len(undecided))
    return blank


def _bools(mask: pa.BooleanArray) -> NDArray[np.bool_]:
    """A boolean Arrow array without nulls as a numpy array, unpacked from its bits (pyarrow
    imports pandas, half a second, on ``to_numpy`` or on any Python scalar argument)."""
    if len(mask) == 0:
        return np.zeros(0, dtype=bool)
    bits = np.frombuffer(mask.buffers()[1], dtype=np.uint8)
    unpacked = np.unpackbits(bits, bitorder="little")[mask.offset : mask.offset + len(mask)]
    return unpacked.astype(bool)


def _text_values(array: pa.Array, blank: NDArray[np.bool_], *, shared: bool = True) -> list[Any]:
    """Cells as text (None where blank): strings as they are (``shared``: each repeated
    text one object), integers in decimal, anything else as the CSV reader writes it."""
    import pyarrow as pa

    if pa.types.is_dictionary(array.type):  # (a tag's texts)
        words: list[Any] = array.dictionary.to_pylist()
        words.append(None)
        at = np.where(_valid(array.indices), _codes(array.indices), len(words) - 1)
        cells: list[Any] = list(map(words.__getitem__, at.tolist()))
    elif _is_text(array.type):
        cells = _shared_text(array) if shared else array.to_pylist()
    elif pa.types.is_integer(array.type):
        import pyarrow.compute as pc

        cells = pc.cast(array, pa.string()).to_pylist()
    else:
        cells = [None if c is None else cell_text(c) for c in array.to_pylist()]
    return _unless_blank(cells, blank)


def _shared_text(array: pa.Array) -> list[Any]:
    """A text column's cells, each distinct text one string object shared by its cells
    where the column repeats a few values (tags: a million cells, a few dozen values)."""
    cells: list[Any] = array.to_pylist()
    if len(cells) < 1000:
        return cells
    distinct: dict[Any, Any] = {}
    shared = list(map(distinct.setdefault, cells, cells))
    return cells if 2 * len(distinct) > len(cells) else shared


def _number_cells(
    array: pa.Array, blank: NDArray[np.bool_], *, whole: bool
) -> tuple[list[Any] | NumberCells, list[tuple[int, str]]]:
    """:func:`_number_values`, a column of integers or floats without a bad cell as an
    array (:class:`~optimizer.recipients.NumberCells`): its cells are listed only if a row's
    dict is wanted."""
    from optimizer.recipients import NumberCells

    values = _numbers_of(array)  # (integers and float32/64: others cell by cell)
    if values is None or (np.isinf(values) & ~blank).any():  # (infinities: a message each)
        return _number_values(array, blank, whole=whole)
    values = np.where(blank, 0.0, values)  # (a null's slot holds any number)
    return NumberCells(values, ~blank, lambda: _number_values(array, blank, whole=whole)[0]), []


def _number_values(
    array: pa.Array, blank: NDArray[np.bool_], *, whole: bool
) -> tuple[list[Any], list[tuple[int, str]]]:
    """Cells as numbers (None where blank) and the (row, message) of each bad cell; integer
    and floating columns are checked with Arrow kernels, other types cell by cell."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_decimal(kind):
        array, kind = pc.cast(array, pa.float64()), pa.float64()
    if pa.types.is_integer(kind):
        return _unless_blank(array.to_pylist(), blank), []
    if pa.types.is_floating(kind):
        array = pc.cast(array, pa.float64())
        bad_rows = _bools(pc.and_kleene(pc.is_inf(array), pc.is_valid(array))).tolist()
        cells = array.to_pylist()
        bad = [(i, f"must be a finite number (got {cells[i]!r})") for i in _true(bad_rows)]
        if whole:  # as the CSV reader: a whole float is an int there
            cells = [int(v) if v is not None and v.is_integer() else v for v in cells]
        return _unless_blank(cells, blank), bad
    cells = []
    bad = []
    for i, (cell, b) in enumerate(zip(array.to_pylist(), blank, strict=True)):
        if b:
            cells.append(None)
            continue
        try:
            cells.append(cell_number(cell, whole))
        except ValueError as exc:
            cells.append(None)
            bad.append((i, str(exc)))
    return cells, bad


def _unless_blank(cells: list[Any], blank: NDArray[np.bool_]) -> list[Any]:
    if not blank.any():
        return cells
    return [None if b else cell for cell, b in zip(cells, blank, strict=True)]


def _true(flags: list[bool]) -> list[int]:
    return [i for i, flag in enumerate(flags) if flag]


def _recipient_dicts(values: list[tuple[str, list[Any]]], keep: list[int]) -> list[dict[str, Any]]:
    """One dict per kept row, blank cells left out, ``tags.x``/``criteria.x`` nested. Full
    columns are zipped into dicts at once (``dict(zip(...))`` runs in C); a column with
    blanks is then added where it has a value."""
    if len(keep) != len(values[0][1]):
        values = [(name, [cells[i] for i in keep]) for name, cells in values]
    groups: dict[str, list[tuple[str, list[Any]]]] = {"": []}
    for name, cells in values:
        group, dot, key = name.partition(".")
        groups.setdefault(group if dot else "", []).append((key if dot else name, cells))
    recipients = _dicts(groups.pop(""), len(keep))
    for group, members in groups.items():
        for recipient, nested in zip(recipients, _dicts(members, len(keep)), strict=True):
            if nested:
                recipient[group] = nested
    return recipients


def _dicts(columns: list[tuple[str, list[Any]]], rows: int) -> list[dict[str, Any]]:
    """``rows`` dicts of the named columns, None cells left out."""
    full = [(key, cells) for key, cells in columns if None not in cells]
    keys = [key for key, _ in full]
    out = [dict(zip(keys, row, strict=True)) for row in zip(*(c for _, c in full), strict=True)]
    if not full:
        out = [{} for _ in range(rows)]
    for key, cells in columns:
        if None in cells:
            for item, cell in zip(out, cells, strict=True):
                if cell is not None:
                    item[key] = cell
    return out
