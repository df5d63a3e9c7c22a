"""Downloads: a run's allocations as CSV, an Excel workbook or Parquet (the same columns as
``allot solve -f csv``), and any table (a sweep's summary, a comparison) as CSV with a UTF-8
byte-order mark (so that Excel shows Hangul right) or a workbook with number formats."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from fastapi import Response

from optimizer.result import ALLOCATION_COLUMNS

COLUMNS = ALLOCATION_COLUMNS
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
BOM = "\ufeff"
_FORMATS = {
    "score": "0.0##",
    "quota": "#,##0.00",
    "entitlement": "#,##0.00",
    "units": "#,##0",
    "amount": "#,##0",
    "share": "0.00%",
}
_GRADE, _BINDING = COLUMNS.index("grade"), COLUMNS.index("binding")
_WIDTHS = {"id": 14, "name": 22, "grade": 7, "binding": 28}


def _cells(allocation: Mapping[str, Any], parts: Parts = ()) -> list[Any]:
    cells = [allocation.get(name) for name in COLUMNS]
    cells[_GRADE] = cells[_GRADE] or ""
    cells[_BINDING] = ";".join(cells[_BINDING] or ())
    return [*cells, *(split.get(str(allocation.get("id"))) for _, split in parts)]


def _text(value: Any) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    return "" if value is None else str(value)


def exact_amount(units: Any, unit_value: Any) -> int | Decimal | None:
    """units x the unit's value computed exactly (the result's float ``amount`` loses digits
    past 2**53 won); None when either is missing."""
    if isinstance(units, bool) or not isinstance(units, int):
        return None
    if isinstance(unit_value, bool) or not isinstance(unit_value, int | float):
        return None
    amount = units * Decimal(repr(unit_value))
    return int(amount) if amount == amount.to_integral_value() else amount.normalize()


Parts = Sequence[tuple[str, Mapping[str, int]]]
"""A budget's components as extra columns: (``component.<name>``, units by recipient id)
(:func:`optimizer.components.part_columns`)."""


def allocations_csv(
    allocations: Sequence[Mapping[str, Any]], *, unit_value: Any = None, parts: Parts = ()
) -> str:
    """The allocations as CSV text, starting with a byte-order mark (Excel then reads the
    UTF-8 Hangul names right); amounts exact when the unit's value is given; a column per
    budget component after the others."""
    buffer = io.StringIO(BOM)
    buffer.seek(len(BOM))
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*COLUMNS, *(name for name, _ in parts)])
    amount_at = COLUMNS.index("amount")
    for allocation in allocations:
        cells = _cells(allocation, parts)
        exact = exact_amount(allocation.get("units"), unit_value)
        if exact is not None:
            cells[amount_at] = exact
        writer.writerow([_text(c) for c in cells])
    return buffer.getvalue()


def allocations_xlsx(
    allocations: Sequence[Mapping[str, Any]],
    *,
    summary: Sequence[tuple[str, Any]] = (),
    parts: Parts = (),
) -> bytes:
    """A workbook: sheet ``allocations`` (header row frozen, number formats; a column per
    budget component after the others) and ``run`` (what was run, the metrics)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "allocations"
    columns = [*COLUMNS, *(name for name, _ in parts)]
    sheet.append(columns)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for allocation in allocations:
        sheet.append(_cells(allocation, parts))
    for index, column in enumerate(columns, start=1):
        letter = sheet.cell(row=1, column=index).column_letter
        sheet.column_dimensions[letter].width = _WIDTHS.get(column, 12)
        number_format = _FORMATS.get("units" if column in dict(parts) else column)
        if number_format:
            for row in range(2, len(allocations) + 2):
                sheet.cell(row=row, column=index).number_format = number_format
    sheet.freeze_panes = "A2"
    info = book.create_sheet("run")
    for key, value in summary:
        info.append([key, value if isinstance(value, int | float | str) else _text(value)])
    info.column_dimensions["A"].width = 24
    info.column_dimensions["B"].width = 60
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def allocations_parquet(allocations: Sequence[Mapping[str, Any]], *, parts: Parts = ()) -> bytes:
    """A Parquet file of the CSV's columns, typed as ``allot solve -f parquet`` writes them:
    ``units`` and each component whole numbers, ``grade`` null where there is none,
    ``binding`` the rule names joined by ``;``, the other numbers doubles."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [_cells(allocation, parts) for allocation in allocations]
    kinds = {"id": pa.string(), "name": pa.string(), "grade": pa.string()}
    kinds |= {"binding": pa.string(), "units": pa.int64()}
    kinds |= {name: pa.int64() for name, _ in parts}
    columns = [*COLUMNS, *(name for name, _ in parts)]
    arrays = []
    for index, name in enumerate(columns):
        values = [row[index] for row in rows]
        if name == "grade":
            values = [value or None for value in values]
        arrays.append(pa.array(values, type=kinds.get(name, pa.float64())))
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_arrays(arrays, names=columns), sink)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def attachment(body: str | bytes, filename: str, media_type: str) -> Response:
    """A download named ``filename``."""
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def table_csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    """A table as CSV: UTF-8 with a byte-order mark, whole numbers as exact integers."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_text(cell) for cell in row])
    return (BOM + buffer.getvalue()).encode("utf-8")


def table_xlsx(
    title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    about: Sequence[tuple[str, Any]] = (),
) -> bytes:
    """A workbook: the table (header row bold and frozen, integers ``#,##0``) and a sheet
    ``about`` saying what it is."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31]
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([_cell(value) for value in row])
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            if isinstance(cell.value, int):
                cell.number_format = "#,##0"
    for index in range(1, len(header) + 1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = 14
    sheet.freeze_panes = "B2"
    info = book.create_sheet("about")
    for key, value in about:
        info.append([key, _cell(value)])
    info.column_dimensions["A"].width = 24
    info.column_dimensions["B"].width = 60
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(value: Any) -> Any:
    """A value a workbook cell can hold (numbers stay numbers; anything else as text)."""
    if value is None or isinstance(value, bool):
        return _text(value) if value is not None else None
    if isinstance(value, int | float | str):
        return value
    return _text(value)
