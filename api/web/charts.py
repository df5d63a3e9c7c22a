"""Bar charts as geometry for SVG: the server draws them, the page needs no JavaScript.

Each function returns a :class:`Chart` in a fixed coordinate system (``viewBox``); the
template ``_charts.html`` writes it out as SVG (autoescaped, so labels are always text).
Bars run horizontally, one row per recipient, so long and Korean names stay readable.

>>> chart = bar_chart([BarItem("a", "Busan", 96, marker=100.2), BarItem("b", "Jeju", 45)])
>>> [(bar.key, bar.value) for bar in chart.bars]
[('a', 96), ('b', 45)]
>>> chart.bars[0].width > chart.bars[1].width > 0
True
>>> grouped = grouped_bar_chart([GroupItem("a", "Busan", (96, 101))], series=("A", "B"))
>>> [(bar.key, bar.series, bar.value) for bar in grouped.bars]
[('a', 0, 96), ('a', 1, 101)]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from api.web.formatting import display_width, number

WIDTH = 960.0
VALUE_SPACE = 72.0
"""Room right of the longest bar for its value."""
CHAR_WIDTH = 7.0
"""Width of one narrow character of a label at the chart's font size."""
TOP = 24.0
"""Room above the first row for the axis labels."""


@dataclass(frozen=True)
class BarItem:
    """One recipient in a single-series chart; ``marker`` (e.g. its quota) is drawn as a tick."""

    key: str
    label: str
    value: int
    marker: float | None = None


@dataclass(frozen=True)
class GroupItem:
    """One recipient in a grouped chart: a value per series (None: not in that run)."""

    key: str
    label: str
    values: tuple[int | None, ...]


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    y: float
    """The baseline of the row's label."""


@dataclass(frozen=True)
class Bar:
    key: str
    series: int
    value: int
    x: float
    y: float
    width: float
    height: float
    value_text: str
    title: str
    marker_x: float | None = None

    @property
    def text_x(self) -> float:
        """Where the value is written: right of the bar and of its marker."""
        return max(self.x + self.width, self.marker_x or 0.0) + 4


@dataclass(frozen=True)
class Tick:
    x: float
    text: str


@dataclass(frozen=True)
class Chart:
    width: float
    height: float
    label_width: float
    plot_right: float
    rows: tuple[Row, ...]
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    series: tuple[str, ...]


def nice_ticks(top: float, *, count: int = 6) -> list[float]:
    """Round tick values from 0 to at least ``top``: whole steps of 1, 2 or 5 times a power
    of 10 (or 2.5 from 25 on).

    >>> nice_ticks(120), nice_ticks(123)
    ([0.0, 20.0, 40.0, 60.0, 80.0, 100.0, 120.0], [0.0, 25.0, 50.0, 75.0, 100.0, 125.0])
    """
    if top <= 0:
        return [0.0, 1.0]
    raw = max(top / count, 1.0)  # units are whole: never a step below one
    power = 10 ** math.floor(math.log10(raw))
    multiples = (1, 2, 2.5, 5, 10) if power >= 10 else (1, 2, 5, 10)
    step = next(m * power for m in multiples if m * power >= raw)
    steps = math.ceil(top / step - 1e-9)
    return [float(i * step) for i in range(steps + 1)]


def _label_width(labels: Sequence[str]) -> float:
    widest = max((display_width(label) for label in labels), default=4)
    return min(max(widest * CHAR_WIDTH + 16, 80.0), 300.0)


def _axis(top: float, label_width: float) -> tuple[float, float, list[Tick]]:
    ticks = nice_ticks(top)
    plot_right = WIDTH - VALUE_SPACE
    scale = (plot_right - label_width) / ticks[-1]
    return scale, plot_right, [Tick(label_width + t * scale, number(int(t))) for t in ticks]


def bar_chart(
    items: Sequence[BarItem],
    *,
    row_height: float = 22.0,
    series: Sequence[str] = ("units",),
    quota_text: str = "quota",
) -> Chart:
    """One bar per item, largest first (ties by label)."""
    ordered = sorted(items, key=lambda item: (-item.value, item.label, item.key))
    label_width = _label_width([item.label for item in ordered])
    top = max([float(i.value) for i in ordered] + [i.marker or 0.0 for i in ordered], default=0.0)
    scale, plot_right, ticks = _axis(top, label_width)
    rows, bars = [], []
    bar_height = row_height * 0.66
    for index, item in enumerate(ordered):
        y = TOP + index * row_height
        rows.append(Row(item.key, item.label, y + row_height * 0.62))
        title = f"{item.label}: {number(item.value)}"
        if item.marker is not None:
            title += f" ({quota_text} {number(item.marker, 2)})"
        bars.append(
            Bar(
                key=item.key,
                series=0,
                value=item.value,
                x=label_width,
                y=y + (row_height - bar_height) / 2,
                width=max(item.value, 0) * scale,
                height=bar_height,
                value_text=number(item.value),
                title=title,
                marker_x=None if item.marker is None else label_width + item.marker * scale,
            )
        )
    return Chart(
        width=WIDTH,
        height=TOP + len(ordered) * row_height + 8,
        label_width=label_width,
        plot_right=plot_right,
        rows=tuple(rows),
        bars=tuple(bars),
        ticks=tuple(ticks),
        series=tuple(series),
    )


def grouped_bar_chart(
    groups: Sequence[GroupItem], *, series: Sequence[str], bar_height: float = 11.0
) -> Chart:
    """A row per group (in the order given) with one bar per series that has a value."""
    label_width = _label_width([group.label for group in groups])
    top = max((float(v) for group in groups for v in group.values if v is not None), default=0.0)
    scale, plot_right, ticks = _axis(top, label_width)
    gap = 8.0
    group_height = bar_height * len(series) + gap
    rows, bars = [], []
    for index, group in enumerate(groups):
        y = TOP + index * group_height
        rows.append(Row(group.key, group.label, y + (group_height - gap) / 2 + 4))
        for position, value in enumerate(group.values):
            if value is None:
                continue
            bars.append(
                Bar(
                    key=group.key,
                    series=position,
                    value=value,
                    x=label_width,
                    y=y + position * bar_height,
                    width=max(value, 0) * scale,
                    height=bar_height - 1,
                    value_text=number(value),
                    title=f"{group.label}, {series[position]}: {number(value)}",
                )
            )
    return Chart(
        width=WIDTH,
        height=TOP + len(groups) * group_height + 8,
        label_width=label_width,
        plot_right=plot_right,
        rows=tuple(rows),
        bars=tuple(bars),
        ticks=tuple(ticks),
        series=tuple(series),
    )


# --------------------------------------------------------------------------- what-if charts


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    title: str
    changed: bool
    """The units differ from the previous value of the parameter."""


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    series: int
    points: tuple[Point, ...]
    label_y: float = 0.0
    """Where the name is written at the end of the line, apart from the other names."""

    @property
    def path(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True)
class LineChart:
    width: float
    height: float
    left: float
    right: float
    top: float
    bottom: float
    lines: tuple[Line, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    """For the y axis, ``Tick.x`` holds the y coordinate."""
    x_label: str


def line_chart(
    xs: Sequence[str],
    lines: Sequence[tuple[str, str, Sequence[int | None]]],
    *,
    x_label: str,
    title_of: Callable[[str, str, int], str] | None = None,
    positions: Sequence[float] | None = None,
) -> LineChart:
    """One line per ``(key, label, values)`` over ``xs``: placed at ``positions`` (numbers,
    e.g. budgets, increasing) when given, else evenly in the order given; a point where the
    value differs from the one before is marked.

    >>> chart = line_chart(["900", "1,000", "1,200"], [("a", "A", [9, 10, 12])], x_label="b",
    ...                    positions=[900, 1000, 1200])
    >>> [round(t.x) for t in chart.x_ticks]
    [56, 301, 790]
    """
    width, height = WIDTH, 420.0 + 12.0 * max(len(lines) - 14, 0)
    left, right, top, bottom = 56.0, WIDTH - 170.0, 16.0, height - 40.0
    values = [v for _, _, vs in lines for v in vs if v is not None]
    ticks = nice_ticks(max(values, default=1))
    y_scale = (bottom - top) / ticks[-1]
    step = (right - left) / max(len(xs) - 1, 1)

    spread = None
    if positions is not None and len(positions) == len(xs) and len(xs) > 1:
        low, high = min(positions), max(positions)
        ordered = all(a < b for a, b in pairwise(positions))
        spread = (low, high) if high > low and ordered else None

    def x_at(index: int) -> float:
        if spread is not None and positions is not None:
            return left + (positions[index] - spread[0]) / (spread[1] - spread[0]) * (right - left)
        return left + index * step if len(xs) > 1 else (left + right) / 2

    drawn = []
    for series, (key, label, vs) in enumerate(lines):
        points = []
        before: int | None = None
        for index, value in enumerate(vs):
            if value is None:
                before = None
                continue
            title = title_of(label, xs[index], value) if title_of else f"{label}: {value}"
            changed = before is not None and value != before
            points.append(Point(x_at(index), bottom - value * y_scale, title, changed))
            before = value
        drawn.append(Line(key, label, series, tuple(points)))
    drawn = _apart(drawn, gap=12.0)
    return LineChart(
        width=width,
        height=height,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        lines=tuple(drawn),
        x_ticks=tuple(Tick(x_at(i), text) for i, text in enumerate(xs)),
        y_ticks=tuple(Tick(bottom - t * y_scale, number(int(t))) for t in ticks),
        x_label=x_label,
    )


def _apart(lines: Sequence[Line], *, gap: float) -> list[Line]:
    """The lines with their end labels moved down just enough not to overlap."""
    ends = sorted(
        (line.points[-1].y + 4 if line.points else 0.0, index) for index, line in enumerate(lines)
    )
    placed: dict[int, float] = {}
    last = -math.inf
    for y, index in ends:
        y = max(y, last + gap)
        placed[index] = y
        last = y
    return [
        Line(line.key, line.label, line.series, line.points, placed[index])
        for index, line in enumerate(lines)
    ]


@dataclass(frozen=True)
class Span:
    """One recipient's row in a range chart: the whole range, the middle 90%, a middle mark
    and the current value."""

    key: str
    label: str
    y: float
    low_x: float
    high_x: float
    inner_low_x: float
    inner_high_x: float
    middle_x: float
    current_x: float
    title: str


@dataclass(frozen=True)
class RangeChart:
    width: float
    height: float
    label_width: float
    plot_right: float
    spans: tuple[Span, ...]
    ticks: tuple[Tick, ...]


def range_chart(
    rows: Sequence[tuple[str, str, tuple[int, int, int, int, int], int, str]],
    *,
    row_height: float = 24.0,
) -> RangeChart:
    """A row per ``(key, label, (min, p5, median, p95, max), current, title)``."""
    label_width = _label_width([label for _, label, _, _, _ in rows])
    top = max((float(q[4]) for _, _, q, _, _ in rows), default=1.0)
    scale, plot_right, ticks = _axis(top, label_width)
    spans = []
    for index, (key, label, (low, p5, median, p95, high), current, title) in enumerate(rows):
        y = TOP + index * row_height + row_height / 2
        spans.append(
            Span(
                key=key,
                label=label,
                y=y,
                low_x=label_width + low * scale,
                high_x=label_width + high * scale,
                inner_low_x=label_width + p5 * scale,
                inner_high_x=label_width + p95 * scale,
                middle_x=label_width + median * scale,
                current_x=label_width + current * scale,
                title=title,
            )
        )
    return RangeChart(
        width=WIDTH,
        height=TOP + len(rows) * row_height + 8,
        label_width=label_width,
        plot_right=plot_right,
        spans=tuple(spans),
        ticks=tuple(ticks),
    )


@dataclass(frozen=True)
class Reach:
    """One recipient in a sensitivity chart: how far its score must move down (left) and up
    (right) before its units change; None: not within the searched range."""

    key: str
    label: str
    y: float
    down_width: float | None
    up_width: float | None
    down_text: str
    up_text: str
    title: str


@dataclass(frozen=True)
class ReachChart:
    width: float
    height: float
    label_width: float
    middle: float
    reaches: tuple[Reach, ...]
    ticks: tuple[Tick, ...]


def reach_chart(
    rows: Sequence[tuple[str, str, float | None, float | None, str, str, str]],
    *,
    row_height: float = 24.0,
) -> ReachChart:
    """A row per ``(key, label, down, up, down_text, up_text, title)``: score points down
    drawn left of the middle, up drawn right."""
    label_width = _label_width([row[1] for row in rows])
    top = max((abs(v) for row in rows for v in row[2:4] if v is not None), default=1.0)
    ticks = nice_ticks(top)
    half = (WIDTH - VALUE_SPACE - label_width - VALUE_SPACE) / 2
    middle = label_width + VALUE_SPACE + half
    scale = half / ticks[-1]
    reaches = []
    for index, (key, label, down, up, down_text, up_text, title) in enumerate(rows):
        reaches.append(
            Reach(
                key=key,
                label=label,
                y=TOP + index * row_height,
                down_width=None if down is None else abs(down) * scale,
                up_width=None if up is None else abs(up) * scale,
                down_text=down_text,
                up_text=up_text,
                title=title,
            )
        )
    shown = [Tick(middle - t * scale, f"-{number(t, 1)}") for t in reversed(ticks[1:])]
    shown += [Tick(middle, "0")] + [Tick(middle + t * scale, f"+{number(t, 1)}") for t in ticks[1:]]
    return ReachChart(
        width=WIDTH,
        height=TOP + len(rows) * row_height + 8,
        label_width=label_width,
        middle=middle,
        reaches=tuple(reaches),
        ticks=tuple(shown),
    )
