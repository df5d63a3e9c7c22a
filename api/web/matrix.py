"""The matrix page of a run of the plan's structure: units per row x column (regions x kinds
of a ``biproportional`` rule; regions x a programme tag of a ``two_stage`` rule), with each
line's total and the divisors that certify it, built from the stored scenario and result.

A biproportional run's certificate gives a divisor to every row and column (each cell is
its entitlement over both, rounded); a two-stage run's gives each row the divisor range of
its second stage (the columns have none: each row is rounded on its own).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from api.web.tilemap import REGIONS
from api.web.translations import N_, Translator

HEAT_LEVELS = 5
"""Cells are coloured in this many steps of their units against the largest cell."""

MAX_COLUMNS = 200
"""A tag with more values than this is not offered as the columns of a two-stage matrix."""

MAX_DRAWN = 20_000
"""Matrices of more cells are not drawn as a page table (the CSV and Excel hold them)."""

NO_MATRIX = N_(
    "Run %(run)s has no matrix: its scenario has neither a biproportional nor a two_stage rule."
)
NO_ALLOCATION = N_("Run %(run)s has no allocation (see its diagnosis), so no matrix.")


@dataclass(frozen=True)
class Line:
    """A row or column: its key (the tag value), label, total units, the divisor that
    certifies it (exact, as the certificate writes it; "" when it has none) and whether its
    total was given (False: apportioned from the budget)."""

    key: str
    label: str
    total: int
    divisor: str = ""
    given: bool = True

    @property
    def divisor_shown(self) -> str:
        """The divisor as the page prints it (:func:`short`)."""
        return short(self.divisor) if " " not in self.divisor else self.divisor


@dataclass(frozen=True)
class Cell:
    """The units of the recipients in one row and column, how many share it, and its heat
    step (0 for none, 1..HEAT_LEVELS against the largest cell)."""

    units: int
    recipients: int
    heat: int


@dataclass(frozen=True)
class MatrixView:
    kind: Literal["biproportional", "two_stage"]
    rows_tag: str
    columns_tag: str
    method: str
    rule: str
    """The certificate's sentence (how a cell follows from its divisors), English."""
    rows: tuple[Line, ...]
    columns: tuple[Line, ...]
    cells: tuple[tuple[Cell | None, ...], ...]
    """Per row, per column: None where no recipient sits."""
    total: int
    ties: tuple[str, ...] = ()
    """The certificate's ties, in the engine's words (English)."""
    column_choices: tuple[str, ...] = ()
    """Two stages: the tags the columns may be (the page offers them)."""

    @property
    def drawn(self) -> bool:
        """Whether the page draws the table (not for a matrix of more than MAX_DRAWN cells)."""
        return len(self.rows) * len(self.columns) <= MAX_DRAWN

    @property
    def apportioned(self) -> bool:
        """Whether some line's total was apportioned from the budget (not given)."""
        return not all(line.given for line in (*self.rows, *self.columns))


def has_matrix(certificate: Any) -> bool:
    """Whether a result's certificate is one the matrix page draws."""
    return isinstance(certificate, Mapping) and certificate.get("kind") in (
        "biproportional",
        "two_stage",
    )


def matrix_view(
    body: Mapping[str, Any],
    result: Mapping[str, Any],
    t: Translator,
    *,
    columns: str | None = None,
) -> MatrixView | None:
    """The matrix of a finished run, or None when its result has none. ``columns`` picks
    the column tag of a two-stage matrix (default: the first tag with the fewest values
    above one, e.g. ``kind``)."""
    certificate = result.get("certificate")
    allocations = [a for a in result.get("allocations") or () if isinstance(a, Mapping)]
    if not has_matrix(certificate) or not allocations:
        return None
    assert isinstance(certificate, Mapping)
    units = {str(a.get("id")): int(a.get("units") or 0) for a in allocations}
    recipients = [r for r in body.get("recipients") or () if isinstance(r, Mapping)]
    if certificate["kind"] == "biproportional":
        return _biproportional(certificate, recipients, units, t)
    return _two_stage(certificate, recipients, units, t, columns)


def _biproportional(
    cert: Mapping[str, Any],
    recipients: Sequence[Mapping[str, Any]],
    units: Mapping[str, int],
    t: Translator,
) -> MatrixView:
    rows, columns = cert["rows"], cert["columns"]
    row_lines = _lines(rows, t)
    column_lines = _lines(columns, t)
    cells = _cells(recipients, units, rows["tag"], columns["tag"], row_lines, column_lines)
    return MatrixView(
        kind="biproportional",
        rows_tag=str(rows["tag"]),
        columns_tag=str(columns["tag"]),
        method=str(cert.get("method") or ""),
        rule=str(cert.get("rule") or ""),
        rows=row_lines,
        columns=column_lines,
        cells=cells,
        total=sum(line.total for line in row_lines),
        ties=tuple(
            f"{', '.join(tie.get('down') or ())} could each give one unit to "
            f"{', '.join(tie.get('up') or ())} (an equally good allocation)"
            for tie in cert.get("ties") or ()
            if isinstance(tie, Mapping)
        ),
    )


def _lines(side: Mapping[str, Any], t: Translator) -> tuple[Line, ...]:
    return tuple(
        Line(str(name), region_label(str(name), t), int(total), str(divisor), bool(given))
        for name, total, divisor, given in zip(
            side["names"], side["totals"], side["divisors"], side["given"], strict=True
        )
    )


def _two_stage(
    cert: Mapping[str, Any],
    recipients: Sequence[Mapping[str, Any]],
    units: Mapping[str, int],
    t: Translator,
    columns: str | None,
) -> MatrixView:
    by = str(cert.get("by") or "")
    first = cert.get("first") or {}
    within = cert.get("within") or {}
    values: dict[str, dict[str, None]] = {}  # each tag's values, in order of appearance
    for rec in recipients:
        for tag, value in (rec.get("tags") or {}).items():
            if tag != by:
                values.setdefault(tag, {})[str(value)] = None
    choices = tuple(tag for tag, found in values.items() if 1 < len(found) <= MAX_COLUMNS)
    if columns not in choices:
        columns = min(choices, key=lambda tag: len(values[tag])) if choices else None
    row_lines = tuple(
        Line(str(group), region_label(str(group), t), int(given), _range(within.get(group)))
        for group, given in (first.get("units") or {}).items()
    )
    names = list(values.get(columns, {})) if columns else []
    totals = dict.fromkeys(names, 0)  # one pass over the recipients, whatever the columns
    for rec in recipients:
        found = str((rec.get("tags") or {}).get(columns))
        if found in totals:
            totals[found] += units.get(str(rec.get("id")), 0)
    column_lines = tuple(Line(name, name, totals[name]) for name in names)
    if not column_lines:  # no second tag: one column of every recipient
        columns = ""
        column_lines = (Line("", t.gettext("all"), sum(units.values())),)
    cells = _cells(recipients, units, by, columns or "", row_lines, column_lines)
    return MatrixView(
        kind="two_stage",
        rows_tag=by,
        columns_tag=columns or "",
        method=str(first.get("method") or ""),
        rule=str(first.get("message") or ""),
        rows=row_lines,
        columns=column_lines,
        cells=cells,
        total=sum(line.total for line in row_lines),
        column_choices=choices,
    )


def _range(certificate: Any) -> str:
    """A second stage's divisor as ``low – high`` (7 significant digits; the JSON result
    holds them exactly), "" when its certificate is not a divisor's."""
    if not isinstance(certificate, Mapping) or certificate.get("kind") != "divisor":
        return ""
    found = certificate.get("divisor") or {}
    low, high = found.get("low"), found.get("high")
    if low is None:
        return ""
    return f"{short(str(low))} – {short(str(high))}" if high is not None else short(str(low))


def _cells(
    recipients: Sequence[Mapping[str, Any]],
    units: Mapping[str, int],
    rows_tag: str,
    columns_tag: str,
    rows: Sequence[Line],
    columns: Sequence[Line],
) -> tuple[tuple[Cell | None, ...], ...]:
    sums: dict[tuple[str, str], list[int]] = {}
    for rec in recipients:
        tags = rec.get("tags") or {}
        key = (str(tags.get(rows_tag)), str(tags.get(columns_tag)) if columns_tag else "")
        summed = sums.setdefault(key, [0, 0])
        summed[0] += units.get(str(rec.get("id")), 0)
        summed[1] += 1
    top = max((u for u, _ in sums.values()), default=0)
    return tuple(
        tuple(
            Cell(found[0], found[1], heat(found[0], top))
            if (found := sums.get((row.key, column.key))) is not None
            else None
            for column in columns
        )
        for row in rows
    )


def heat(units: int, top: int) -> int:
    """The colour step of a cell: 0 for no units, else ``ceil(HEAT_LEVELS * units / top)``.

    >>> [heat(u, 10) for u in (0, 1, 2, 3, 10)]
    [0, 1, 1, 2, 5]
    """
    if units <= 0 or top <= 0:
        return 0
    return min(HEAT_LEVELS, math.ceil(Fraction(HEAT_LEVELS * units, top)))


def short(divisor: str) -> str:
    """A divisor as shown: as written when short, else 7 significant digits.

    >>> short("1.03"), short("1.57648351648351648351648351649")
    ('1.03', '1.576484')
    """
    return divisor if len(divisor) <= 10 else f"{float(divisor):.7g}"


def region_label(key: str, t: Translator) -> str:
    """A region's short name in the reader's language; any other key as it is."""
    if key in REGIONS:
        return REGIONS[key][2] if t.lang == "ko" else REGIONS[key][3]
    return key
