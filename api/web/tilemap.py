"""A tile-grid map of the 14 non-metropolitan regions: one square per region, placed roughly
where the region lies (no geographic data), coloured by a figure, for SVG drawn by the server.

Recipients are regions when their ids are the region ids (``busan``, ..., ``jeju``, as in
``tests/data/regions.csv``), or are grouped into regions by their ``region`` tag (region ×
industry programmes): a region's figures are then the sums over its programmes.

>>> m = tile_map({"busan": 96.0, "jeju": 45.0}, kind="units", lang="en")
>>> [(t.id, t.short, t.bin) for t in m.tiles if t.value is not None]
[('busan', 'Busan', 4), ('jeju', 'Jeju', 0)]
>>> len(m.tiles), len(m.legend)
(14, 5)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

MapKind = Literal["units", "share", "change"]

REGIONS: dict[str, tuple[int, int, str, str]] = {
    # id: (row, column, Korean short name, English short name)
    "gangwon": (0, 2, "강원", "Gangwon"),
    "chungnam": (1, 0, "충남", "Chungnam"),
    "sejong": (1, 1, "세종", "Sejong"),
    "chungbuk": (1, 2, "충북", "Chungbuk"),
    "gyeongbuk": (1, 3, "경북", "Gyeongbuk"),
    "jeonbuk": (2, 0, "전북", "Jeonbuk"),
    "daejeon": (2, 1, "대전", "Daejeon"),
    "daegu": (2, 2, "대구", "Daegu"),
    "ulsan": (2, 3, "울산", "Ulsan"),
    "gwangju": (3, 0, "광주", "Gwangju"),
    "jeonnam": (3, 1, "전남", "Jeonnam"),
    "gyeongnam": (3, 2, "경남", "Gyeongnam"),
    "busan": (3, 3, "부산", "Busan"),
    "jeju": (4, 0, "제주", "Jeju"),
}
"""Where each region's tile sits: Gangwon in the north-east, Jeju off the south-west coast."""

TILE = 96.0
GAP = 6.0
MARGIN = 4.0
SEQUENTIAL = ("#deebf7", "#9ecae1", "#6baed6", "#3182bd", "#08519c")
"""Light to dark blue: units and shares."""
DIVERGING = ("#b2182b", "#ef8a62", "#f7f7f7", "#67a9cf", "#2166ac")
"""Down (red) to up (blue), no change in the middle: changes."""
DARK = {"#3182bd", "#08519c", "#b2182b", "#2166ac"}
"""Fills dark enough that the tile's text is white (contrast at least 4.5:1)."""


@dataclass(frozen=True)
class Tile:
    id: str
    short: str
    x: float
    y: float
    value: float | None
    bin: int | None
    fill: str
    ink: str
    text: str
    """The figure as written on the tile."""
    label: str
    """What a screen reader says and a tooltip shows: name and figures."""


@dataclass(frozen=True)
class LegendItem:
    fill: str
    text: str


@dataclass(frozen=True)
class TileMap:
    width: float
    height: float
    kind: MapKind
    tiles: tuple[Tile, ...]
    legend: tuple[LegendItem, ...]


def region_of(recipient: Mapping[str, Any]) -> str | None:
    """The region a recipient is, or belongs to (its ``region`` tag)."""
    rid = str(recipient.get("id"))
    if rid in REGIONS:
        return rid
    region = (recipient.get("tags") or {}).get("region")
    return str(region) if region in REGIONS else None


RegionIndex = tuple[tuple[str, str], ...] | None
"""Each recipient's id and region (:func:`region_index`); None when there is no map."""


def region_index(recipients: Sequence[Mapping[str, Any]]) -> RegionIndex:
    """Each recipient's id and region, found once for the sums of :func:`by_region`; None
    when there are none or some recipient is not a region or in one (a map would then hide
    part of the allocation)."""
    if not recipients:
        return None
    out = []
    for recipient in recipients:
        region = region_of(recipient)
        if region is None:
            return None
        out.append((str(recipient.get("id")), region))
    return tuple(out)


def by_region(index: RegionIndex, values: Mapping[str, float | None]) -> dict[str, float] | None:
    """``values`` (per recipient id) summed per region; None without a region index."""
    if index is None:
        return None
    out: dict[str, float] = {}
    for rid, region in index:
        value = values.get(rid)
        if value is not None:
            out[region] = out.get(region, 0.0) + float(value)
    return out


def _edges(values: Sequence[float], kind: MapKind) -> list[float]:
    """Four cut points between five colour bins."""
    if kind == "change":
        top = max((abs(v) for v in values), default=0.0) or 1.0
        return [-0.6 * top, -0.2 * top, 0.2 * top, 0.6 * top]
    low, high = min(values, default=0.0), max(values, default=0.0)
    if high <= low:
        high = low + 1.0
    return [low + (high - low) * i / 5 for i in range(1, 5)]


def _bin(value: float, edges: Sequence[float], kind: MapKind) -> int:
    if kind == "change" and value == 0:
        return 2
    return (
        sum(value > edge for edge in edges)
        if kind == "change"
        else sum(value >= edge for edge in edges)
    )


def _figure(value: float, kind: MapKind) -> str:
    if kind == "share":
        return f"{100 * value:.1f}%"
    if kind == "change":
        text = f"{value:+.1f}%".replace("+0.0%", "0%").replace("-0.0%", "0%")
        return text
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def tile_map(
    values: Mapping[str, float | None],
    *,
    kind: MapKind,
    lang: str,
    labels: Mapping[str, str] | None = None,
    missing: str = "–",
) -> TileMap:
    """Every region's tile coloured by ``values`` (``share`` as a fraction, ``change`` in
    percent); ``labels`` gives what a region's tile says when read aloud or hovered."""
    known = [float(v) for k, v in values.items() if k in REGIONS and v is not None]
    edges = _edges(known, kind)
    palette = DIVERGING if kind == "change" else SEQUENTIAL
    tiles = []
    for rid, (row, column, short_ko, short_en) in REGIONS.items():
        short = short_ko if lang == "ko" else short_en
        value = values.get(rid)
        x = MARGIN + column * (TILE + GAP)
        y = MARGIN + row * (TILE + GAP)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            fill, ink, found_bin, text = "#ffffff", "#5d6b7a", None, missing
        else:
            found_bin = _bin(float(value), edges, kind)
            fill = palette[found_bin]
            ink = "#ffffff" if fill in DARK else "#1d2733"
            text = _figure(float(value), kind)
        label = (labels or {}).get(rid) or f"{short}: {text}"
        tiles.append(Tile(rid, short, x, y, value, found_bin, fill, ink, text, label))
    legend = _legend(edges, palette, kind)
    rows = 1 + max(r for r, _, _, _ in REGIONS.values())
    columns = 1 + max(c for _, c, _, _ in REGIONS.values())
    return TileMap(
        width=2 * MARGIN + columns * TILE + (columns - 1) * GAP,
        height=2 * MARGIN + rows * TILE + (rows - 1) * GAP,
        kind=kind,
        tiles=tuple(tiles),
        legend=legend,
    )


def _legend(
    edges: Sequence[float], palette: Sequence[str], kind: MapKind
) -> tuple[LegendItem, ...]:
    bounds = [None, *edges, None]
    items = []
    for index, fill in enumerate(palette):
        low, high = bounds[index], bounds[index + 1]
        if low is None and high is not None:
            text = f"< {_figure(high, kind)}"
        elif high is None and low is not None:
            text = f"≥ {_figure(low, kind)}" if kind != "change" else f"> {_figure(low, kind)}"
        elif low is not None and high is not None:
            text = f"{_figure(low, kind)} – {_figure(high, kind)}"
        else:
            text = ""
        items.append(LegendItem(fill, text))
    return tuple(items)
