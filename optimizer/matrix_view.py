"""The matrix of a biproportional result as a table: units per row x column, each line's
total and divisor (the certificate a reader divides by)."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from optimizer.result import Result
from optimizer.scenario import Scenario

MAX_COLUMNS = 12
"""Wider matrices are not drawn (the JSON result holds them); region x kind is two."""


def matrix_table(result: Result, scenario: Scenario) -> Table | Text | None:
    """The units of each cell (summed over the recipients that share it) with the row and
    column totals and divisors; a line saying
    where to find a matrix too wide to draw; None when the result has no matrix."""
    cert = result.certificate
    if cert is not None and cert.get("kind") == "components" and result.allocations:
        return _components_table(result, cert)
    if cert is None or cert.get("kind") != "biproportional" or not result.allocations:
        return None
    rows, columns = cert["rows"], cert["columns"]
    if len(columns["names"]) > MAX_COLUMNS:
        return Text(
            f"matrix: {len(rows['names'])} {rows['tag']} x {len(columns['names'])} "
            f"{columns['tag']}, too wide to draw; the divisors are in the JSON result "
            "(certificate.rows, certificate.columns)"
        )
    units = {a.id: a.units for a in result.allocations}
    cells: dict[tuple[str, str], int] = {}
    for rec in scenario.recipients:
        key = (rec.tags[rows["tag"]], rec.tags[columns["tag"]])
        cells[key] = cells.get(key, 0) + units[rec.id]
    squared = " (sqrt of exact squares)" if cert.get("squared") else ""
    table = Table(
        title=Text(
            f"{rows['tag']} x {columns['tag']}: units = round(entitlement / (row divisor x "
            f"column divisor)), {cert['method']}{squared}",
            style="bold",
        ),
        box=box.SIMPLE_HEAVY,
        title_justify="left",
        show_footer=True,
        pad_edge=False,
    )
    table.add_column(rows["tag"], footer="total\ndivisor")
    for name, total, divisor, given in zip(
        columns["names"], columns["totals"], columns["divisors"], columns["given"], strict=True
    ):
        mark = "" if given else "*"
        table.add_column(
            name, justify="right", no_wrap=True, footer=f"{total:,}{mark}\n{_short(divisor)}"
        )
    table.add_column("total", justify="right", no_wrap=True, footer=f"{sum(rows['totals']):,}")
    table.add_column("divisor", justify="right", no_wrap=True)
    for name, total, divisor, given in zip(
        rows["names"], rows["totals"], rows["divisors"], rows["given"], strict=True
    ):
        line = [
            f"{cells[name, column]:,}" if (name, column) in cells else "·"
            for column in columns["names"]
        ]
        mark = "" if given else "*"
        table.add_row(name, *line, Text(f"{total:,}{mark}", style="bold"), _short(divisor))
    return table


def _components_table(result: Result, cert: dict[str, Any]) -> Table:
    """Each allocation split into its components (rounded jointly, then split back; or each
    part rounded on its own, by its method)."""
    parts = cert["components"]
    by_part = any("method" in part for part in parts)
    how = "each rounded on its own" if by_part else "rounded jointly, then split"
    table = Table(
        title=Text(f"units by component ({how})", style="bold"),
        box=box.SIMPLE_HEAVY,
        title_justify="left",
        show_footer=True,
        pad_edge=False,
    )
    table.add_column("recipient", footer="total")
    for part in parts:
        method = f", {part['method']}" if by_part and part.get("method") else ""
        table.add_column(
            f"{part['name']}\n{part['basis']}{method}",
            justify="right",
            no_wrap=True,
            footer=f"{sum(part['split'].values()):,}",
        )
    table.add_column(
        "units", justify="right", footer=f"{sum(a.units for a in result.allocations):,}"
    )
    for a in result.allocations:
        table.add_row(
            a.name,
            *[f"{part['split'][a.id]:,}" for part in parts],
            Text(f"{a.units:,}", style="bold"),
        )
    return table


def _short(divisor: str) -> str:
    """A divisor as printed: as exact as it is when short, else 7 significant digits (the
    JSON certificate holds the exact values)."""
    return divisor if len(divisor) <= 10 else f"{float(divisor):.7g}"


def matrix_note(result: Result) -> str | None:
    """The line under the matrix: which totals were apportioned, and any ties; for a
    two-stage result, what the first stage gave each group."""
    cert = result.certificate
    if cert is not None and cert.get("kind") == "two_stage" and result.allocations:
        first = cert["first"]
        units = " · ".join(f"{group} {n:,}" for group, n in first["units"].items())
        return f"first stage ({cert['by']}, {first['method']}): {units}"
    if cert is None or cert.get("kind") != "biproportional":
        return None
    notes = []
    if not all(cert["rows"]["given"]) or not all(cert["columns"]["given"]):
        notes.append("* total apportioned from the budget (not given)")
    for tie in cert["ties"]:
        notes.append(
            f"tie: {', '.join(tie['down'])} could each give one unit to "
            f"{', '.join(tie['up'])} (an equally good allocation)"
        )
    return "\n".join(notes) or None
