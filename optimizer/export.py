"""Files for other tools: comparisons as CSV, an Excel workbook or a standalone HTML page, and
sweep, robustness and sensitivity reports as CSV.

Every function takes the plain report dicts (:func:`optimizer.compare.compare`,
``SweepReport.to_dict`` ...) and returns text or bytes; writing them is the caller's job.
Numbers are written at full precision (CSV) or as numbers with a number format (xlsx), never
as rounded text, so that a spreadsheet holds the same numbers as the JSON.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

from optimizer.result import ALLOCATION_COLUMNS

__all__ = [
    "comparison_csv",
    "comparison_html",
    "comparison_xlsx",
    "robust_csv",
    "sensitivity_csv",
    "sweep_csv",
]

METRIC_ROWS: tuple[tuple[str, str], ...] = (
    ("total", "total units"),
    ("objective", "objective"),
    ("gini", "Gini (units)"),
    ("max_min_ratio", "max/min units per entitlement"),
    ("min_units_per_quota", "min units/quota"),
    ("max_units_per_quota", "max units/quota"),
    ("loosemore_hanby", "Loosemore-Hanby"),
    ("gallagher", "Gallagher"),
)


# --------------------------------------------------------------------------- comparison


def comparison_columns(out: Mapping[str, Any]) -> list[str]:
    """Column names of the comparison table: units per run, differences from the baseline
    per other run (units, %), grade per run."""
    labels = [run["label"] for run in out["runs"]]
    return [
        "id",
        "name",
        *(f"units {label}" for label in labels),
        *(f"diff units {label}" for label in labels[1:]),
        *(f"diff % {label}" for label in labels[1:]),
        *(f"grade {label}" for label in labels),
    ]


def comparison_rows(out: Mapping[str, Any]) -> list[list[Any]]:
    """One row per recipient, in the order of :func:`comparison_columns` (None: not in that
    run; ``diff %`` is in percent, as in the JSON)."""
    return [
        [
            r["id"],
            r["name"],
            *r["units"],
            *r["diff_units"][1:],
            *r["diff_pct"][1:],
            *r["grade"],
        ]
        for r in out["recipients"]
    ]


def comparison_csv(out: Mapping[str, Any]) -> str:
    """The recipient table of a comparison as CSV."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(comparison_columns(out))
    writer.writerows([[_csv_cell(cell) for cell in row] for row in comparison_rows(out)])
    return buffer.getvalue()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def metric_rows(out: Mapping[str, Any]) -> list[list[Any]]:
    """Per run: scenario, status, budget and each metric (rows), runs as columns."""
    runs = out["runs"]
    rows: list[list[Any]] = [
        ["scenario", *((run.get("scenario") or {}).get("name") for run in runs)],
        ["status", *(run.get("status") for run in runs)],
        ["budget", *(run.get("budget") for run in runs)],
    ]
    for key, label in METRIC_ROWS:
        rows.append([label, *((run.get("metrics") or {}).get(key) for run in runs)])
    rows.append(["backend", *((run.get("solver") or {}).get("backend") for run in runs)])
    return rows


def rule_rows(out: Mapping[str, Any]) -> list[list[Any]]:
    """Per rule: whether it bound (held some recipient away from its quota) in each run."""
    return [[rule["rule"], *rule["bound"]] for rule in out["rules"]]


_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_HEADER_FILL = "1F4E78"
_UNITS = "#,##0"
_DIFF = "+#,##0;-#,##0;0"
_PCT = "+0.0%;-0.0%;0.0%"
_FRACTION = "0.00%"
_DECIMAL = "#,##0.00"
_SCORE = "0.0##"
_ALLOCATION_FORMATS = {
    "score": _SCORE,
    "quota": _DECIMAL,
    "entitlement": _DECIMAL,
    "units": _UNITS,
    "amount": _UNITS,
    "share": _FRACTION,
}


def comparison_xlsx(out: Mapping[str, Any], results: Sequence[Mapping[str, Any]]) -> bytes:
    """A workbook: ``comparison`` (the recipient table), ``metrics`` (metrics and rules per
    run), ``checks`` (each run's paradox verdicts, when any run has them), then one sheet
    per run with its allocation. Header rows are styled and frozen;
    numbers are numbers with number formats (differences in % as fractions: 2.5% is 0.025)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "comparison"
    runs = len(out["runs"])
    formats = (
        [None, None] + [_UNITS] * runs + [_DIFF] * (runs - 1) + [_PCT] * (runs - 1) + [None] * runs
    )
    pct_start, grade_start = 2 + runs + (runs - 1), 2 + runs + 2 * (runs - 1)
    rows = [
        [
            *row[:pct_start],
            *(None if v is None else v / 100 for v in row[pct_start:grade_start]),
            *row[grade_start:],
        ]
        for row in comparison_rows(out)
    ]
    _fill(sheet, comparison_columns(out), rows, formats, freeze="C2")

    metrics = book.create_sheet("metrics")
    labels = [run["label"] for run in out["runs"]]
    metric_table = metric_rows(out)
    rules = rule_rows(out)
    if rules:
        metric_table.append([None] * (runs + 1))
        metric_table.append(["rule bound", *labels])
        metric_table.extend([[r[0], *("yes" if b else "no" for b in r[1:])] for r in rules])
    _fill(metrics, ["", *labels], metric_table, [None] + [_SCORE] * runs, freeze="B2")
    for row in metrics.iter_rows(min_row=2):
        label = row[0].value
        for cell in row[1:]:
            if label in ("budget", "total units"):
                cell.number_format = _UNITS
            elif label == "rule bound":
                _style_header(cell)
        if label == "rule bound":
            _style_header(row[0])

    names = {"comparison", "metrics"}
    verdicts = [
        [run["label"], c.get("check"), c.get("verdict"), c.get("detail")]
        for run in out["runs"]
        for c in run.get("checks") or ()
    ]
    if verdicts:
        names.add("checks")
        checks = book.create_sheet("checks")
        _fill(checks, ["run", "check", "verdict", "detail"], verdicts, [None] * 4, freeze="A2")
    for label, result in zip(labels, results, strict=True):
        run_sheet = book.create_sheet(_sheet_name(label, names))
        alloc_rows = [
            [", ".join(a.get(c) or ()) if c == "binding" else a.get(c) for c in ALLOCATION_COLUMNS]
            for a in result.get("allocations") or ()
        ]
        _fill(
            run_sheet,
            list(ALLOCATION_COLUMNS),
            alloc_rows,
            [_ALLOCATION_FORMATS.get(c) for c in ALLOCATION_COLUMNS],
            freeze="C2",
        )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _sheet_name(label: str, taken: set[str]) -> str:
    """An Excel sheet name (at most 31 characters, none of []:*?/\\), unique in ``taken``."""
    base = _SHEET_CHARS.sub("_", label).strip("'") or "run"
    name, number = base[:31], 1
    while name.lower() in {t.lower() for t in taken}:
        number += 1
        suffix = f" ~{number}"
        name = base[: 31 - len(suffix)] + suffix
    taken.add(name)
    return name


def _style_header(cell: Any) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill

    cell.font = Font(bold=True, color="FFFFFF")
    cell.fill = PatternFill("solid", start_color=_HEADER_FILL, end_color=_HEADER_FILL)
    cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _fill(
    sheet: Any,
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    formats: Sequence[str | None],
    *,
    freeze: str,
) -> None:
    from openpyxl.utils import get_column_letter

    sheet.append(list(header))
    for cell in sheet[1]:
        _style_header(cell)
    for row in rows:
        sheet.append(list(row))
    for index, number_format in enumerate(formats, 1):
        letter = get_column_letter(index)
        if number_format is not None:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                if isinstance(cell.value, int | float) and not isinstance(cell.value, bool):
                    cell.number_format = number_format
        longest = max(
            [len(str(header[index - 1])) if index <= len(header) else 0]
            + [len(str(row[index - 1])) for row in rows if index <= len(row)]
        )
        sheet.column_dimensions[letter].width = min(48, max(9, longest + 2))
    sheet.freeze_panes = freeze


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #1b1b1b; }
table { border-collapse: collapse; margin: 0.5em 0 2em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; }
td { white-space: nowrap; }
th { background: #1f4e78; color: #fff; position: sticky; top: 0; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.up { color: #116611; } td.down { color: #aa1111; }
caption { text-align: left; font-weight: bold; padding: 0.3em 0; }
"""


def comparison_html(out: Mapping[str, Any], *, title: str = "Allot comparison") -> str:
    """A standalone HTML page (no scripts, no external files; all text escaped): the
    recipient table, the metrics of each run and which rules bound where."""
    labels = [run["label"] for run in out["runs"]]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f"<p>Baseline: {_e(out['baseline'])}. Differences are against the baseline.</p>",
        "<table><caption>Units per recipient</caption><thead><tr>",
    ]
    parts.extend(f"<th>{_e(c)}</th>" for c in comparison_columns(out))
    parts.append("</tr></thead><tbody>")
    runs = len(labels)
    for row in comparison_rows(out):
        cells = []
        for index, value in enumerate(row):
            if index < 2 or index >= 2 + runs + 2 * (runs - 1):
                cells.append(f"<td>{_e('' if value is None else value)}</td>")
                continue
            is_diff = index >= 2 + runs
            is_pct = index >= 2 + runs + (runs - 1)
            trend = "" if not is_diff or not value else (" up" if value > 0 else " down")
            shown = _html_number(value, pct=is_pct, signed=is_diff)
            cells.append(f'<td class="n{trend}">{_e(shown)}</td>')
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")

    parts.append("<table><caption>Metrics</caption><thead><tr><th></th>")
    parts.extend(f"<th>{_e(label)}</th>" for label in labels)
    parts.append("</tr></thead><tbody>")
    for row in metric_rows(out):
        cells = [f"<th>{_e(row[0])}</th>"]
        cells.extend(
            f'<td class="n">{_e(_html_number(v))}</td>'
            if isinstance(v, int | float) and not isinstance(v, bool)
            else f"<td>{_e('' if v is None else v)}</td>"
            for v in row[1:]
        )
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")

    if out["rules"]:
        parts.append("<table><caption>Rules that bound</caption><thead><tr><th>rule</th>")
        parts.extend(f"<th>{_e(label)}</th>" for label in labels)
        parts.append("</tr></thead><tbody>")
        for row in rule_rows(out):
            cells = [f"<td>{_e(row[0])}</td>"]
            cells.extend(f"<td>{'bound' if b else '-'}</td>" for b in row[1:])
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _html_number(value: Any, *, pct: bool = False, signed: bool = False) -> str:
    if value is None:
        return ""
    if signed and not value:
        return "0"
    if pct:
        return f"{value:+.1f}%"
    if isinstance(value, int):
        return f"{value:+,}" if signed else f"{value:,}"
    return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"


# --------------------------------------------------------------------------- what-if reports


def _write(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[_csv_cell(cell) for cell in row] for row in rows])
    return buffer.getvalue()


def sweep_csv(report: Mapping[str, Any]) -> str:
    """A sweep as a long table: one row per variant and recipient (the parameters' values,
    the variant's status, the recipient's id, name, grade and units)."""
    parameters = report["parameters"]
    rows = []
    for index, variant in enumerate(report["variants"]):
        for rec in report["recipients"]:
            rows.append(
                [
                    *(variant["values"][p] for p in parameters),
                    variant["status"],
                    rec["id"],
                    rec["name"],
                    rec["grade"][index],
                    rec["units"][index],
                ]
            )
    return _write([*parameters, "status", "id", "name", "grade", "units"], rows)


ROBUST_COLUMNS = (
    "id",
    "name",
    "score",
    "grade",
    "units",
    "min",
    "p5",
    "median",
    "p95",
    "max",
    "mean",
    "p_units_change",
    "p_grade_change",
)


def robust_csv(report: Mapping[str, Any]) -> str:
    """One row per recipient: baseline score, grade and units, then the spread over the
    samples and the probabilities of a change."""
    return _write(ROBUST_COLUMNS, [[r[c] for c in ROBUST_COLUMNS] for r in report["recipients"]])


def sensitivity_csv(report: Mapping[str, Any]) -> str:
    """One row per recipient: now, and the change up and down with the units it gives."""
    header = ["id", "name", "score", "grade", "units"]
    for side in ("up", "down"):
        header += [f"{side}_delta", f"{side}_score", f"{side}_units", f"{side}_grade"]
    rows = []
    for r in report["recipients"]:
        row = [r["id"], r["name"], r["score"], r["grade"], r["units"]]
        for side in ("up", "down"):
            change = r[side] or {}
            row += [change.get(key) for key in ("delta", "score", "units", "grade")]
        rows.append(row)
    return _write(header, rows)
