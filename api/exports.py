"""A run's allocations as CSV or an Excel workbook (the same columns as ``allot solve -f csv``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

COLUMNS = ("id", "name", "grade", "score", "quota", "units", "amount", "share", "binding")
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMATS = {
    "score": "0.0##",
    "quota": "#,##0.00",
    "units": "#,##0",
    "amount": "#,##0",
    "share": "0.00%",
}
_WIDTHS = {"id": 14, "name": 22, "grade": 7, "binding": 28}


def _cells(allocation: Mapping[str, Any]) -> list[Any]:
    return [
        allocation.get("id"),
        allocation.get("name"),
        allocation.get("grade") or "",
        allocation.get("score"),
        allocation.get("quota"),
        allocation.get("units"),
        allocation.get("amount"),
        allocation.get("share"),
        ";".join(allocation.get("binding") or ()),
    ]


def _text(value: Any) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    return "" if value is None else str(value)


def allocations_csv(allocations: Sequence[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for allocation in allocations:
        writer.writerow([_text(c) for c in _cells(allocation)])
    return buffer.getvalue()


def allocations_xlsx(
    allocations: Sequence[Mapping[str, Any]], *, summary: Sequence[tuple[str, Any]] = ()
) -> bytes:
    """A workbook: sheet ``allocations`` (header row frozen, number formats) and ``run``
    (what was run, the metrics)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "allocations"
    sheet.append(list(COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for allocation in allocations:
        sheet.append(_cells(allocation))
    for index, column in enumerate(COLUMNS, start=1):
        letter = sheet.cell(row=1, column=index).column_letter
        sheet.column_dimensions[letter].width = _WIDTHS.get(column, 12)
        number_format = _FORMATS.get(column)
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
