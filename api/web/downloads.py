"""What each page shows, as a table to download: CSV (UTF-8 with a byte-order mark, so that
Excel opens Hangul correctly) or an Excel workbook, with headers in the reader's language and
numbers stored as numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Response

from api.exports import table_csv, table_xlsx
from api.web.matrix import MatrixView
from api.web.translations import Translator
from api.web.views import CompareView, RunView
from api.web.whatif import RobustnessView, SensitivityView, SweepView

Format = Literal["csv", "xlsx"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Sheet:
    name: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


def csv_bytes(sheet: Sheet) -> bytes:
    """The API's CSV writer (:func:`api.exports.table_csv`): a byte-order mark, whole numbers
    as exact integers."""
    return table_csv(sheet.headers, sheet.rows)


def xlsx_bytes(sheet: Sheet) -> bytes:
    """The API's workbook writer (:func:`api.exports.table_xlsx`): bold frozen headers,
    integers formatted ``#,##0``."""
    return table_xlsx(sheet.name, sheet.headers, sheet.rows)


def download(sheet: Sheet, filename: str, fmt: Format) -> Response:
    """``sheet`` as an attachment named ``filename.csv`` or ``filename.xlsx``."""
    body, media = (
        (csv_bytes(sheet), "text/csv; charset=utf-8")
        if fmt == "csv"
        else (
            xlsx_bytes(sheet),
            XLSX,
        )
    )
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}.{fmt}"',
            "Cache-Control": "no-store",
        },
    )


def run_sheet(view: RunView, t: Translator) -> Sheet:
    headers = [
        t.gettext("Recipient"),
        "id",
        t.gettext("Grade"),
        t.gettext("Score"),
        t.gettext("Quota"),
        t.gettext("Last year"),
        t.gettext("Units"),
        t.gettext("Change"),
        "%",
        t.gettext("Amount"),
        t.gettext("Share"),
        t.gettext("What held it"),
    ]
    parts: dict[str, tuple[Any, ...]] = {}
    if view.breakdown is not None and view.breakdown.kind == "components":
        headers.extend(view.breakdown.columns[:-1])  # each component (the last is the units)
        parts = {rid: values[:-1] for rid, _, values in view.breakdown.rows}
    width = len(view.breakdown.columns) - 1 if parts and view.breakdown is not None else 0
    rows = tuple(
        (
            a.name,
            a.id,
            a.grade,
            a.score,
            a.quota,
            a.previous,
            a.units,
            a.change,
            None if a.change_pct is None else round(a.change_pct, 4),
            a.amount,
            a.share,
            "; ".join(a.reasons),
            *parts.get(a.id, (None,) * width),
        )
        for a in view.allocations
    )
    return Sheet(t.gettext("Allocation"), tuple(headers), rows)


def compare_sheet(view: CompareView, t: Translator) -> Sheet:
    headers: list[str] = [t.gettext("Recipient"), "id"]
    for index, letter in enumerate(view.letters):
        run = t.gettext("Run %(run)s", run=letter)
        headers.append(f"{run} {t.gettext('Units')}")
        if index:
            headers += [f"{run} {t.gettext('Change')}", f"{run} %"]
    rows = []
    for row in view.rows:
        values: list[Any] = [row.name, row.id]
        for index, cell in enumerate(row.cells):
            values.append(cell.units)
            if index:
                values += [cell.diff, None if cell.pct is None else round(float(cell.pct), 4)]
        rows.append(tuple(values))
    return Sheet(t.gettext("Runs side by side"), tuple(headers), tuple(rows))


def sweep_sheet(view: SweepView, t: Translator) -> Sheet:
    """A row per recipient, a column per value (for a grid, per combination, headed
    ``a = 1, b = 2``)."""
    columns = (
        view.values
        if view.sweep.is_grid
        else tuple(f"{view.sweep.parameter}={v}" for v in view.values)
    )
    headers = (t.gettext("Recipient"), "id", *columns)
    rows = tuple((line.name, line.id, *line.units) for line in view.lines)
    return Sheet(t.gettext("Sweep"), headers, rows)


def sensitivity_sheet(view: SensitivityView, t: Translator) -> Sheet:
    headers = (
        t.gettext("Recipient"),
        "id",
        t.gettext("Grade"),
        t.gettext("Score"),
        t.gettext("Units"),
        t.gettext("Score up"),
        t.gettext("Score down"),
    )
    rows = tuple((r.name, r.id, r.grade, r.score, r.units, r.up, r.down) for r in view.rows)
    return Sheet(t.gettext("What would it take?"), headers, rows)


def robustness_sheet(view: RobustnessView, t: Translator) -> Sheet:
    headers = (
        t.gettext("Recipient"),
        "id",
        t.gettext("Grade"),
        t.gettext("Score"),
        t.gettext("Units"),
        t.gettext("Lowest"),
        "p5",
        t.gettext("Median"),
        "p95",
        t.gettext("Highest"),
        t.gettext("Units change"),
        t.gettext("Grade changes"),
    )
    rows: Sequence[tuple[Any, ...]] = [
        (
            r.name,
            r.id,
            r.grade,
            r.score,
            r.units,
            r.low,
            r.p5,
            r.median,
            r.p95,
            r.high,
            r.p_units_change,
            r.p_grade_change,
        )
        for r in view.rows
    ]
    return Sheet(t.gettext("How sure is it?"), headers, tuple(rows))


def matrix_sheet(view: MatrixView, t: Translator) -> Sheet:
    """The matrix as a table to download: a row per matrix row with its cells, total and
    divisor, then the column totals and divisors."""
    total, divisor = t.gettext("Total"), t.gettext("Divisor")
    headers = (view.rows_tag, *(c.label for c in view.columns), total, divisor)
    rows: list[tuple[Any, ...]] = [
        (
            row.label,
            *(c.units if c is not None else None for c in cells),
            row.total,
            row.divisor or None,
        )
        for row, cells in zip(view.rows, view.cells, strict=True)
    ]
    rows.append((total, *(c.total for c in view.columns), view.total, None))
    if any(c.divisor for c in view.columns):
        rows.append((divisor, *(c.divisor for c in view.columns), None, None))
    return Sheet(t.gettext("Matrix"), headers, tuple(rows))
