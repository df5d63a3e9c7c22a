"""How the web view writes numbers, times and changes (the templates' filters).

Numbers get thousands separators; a missing value is an en dash.

>>> number(1200), number(9600000000.0), number(100.1656, 2), number(None)
('1,200', '9,600,000,000', '100.17', '–')
>>> signed(3), signed(-12), signed(0), signed_percent(-8.108), percent(0.08)
('+3', '-12', '0', '-8.1%', '8.00%')
>>> score(84.5), score(78.0)
('84.5', '78')
>>> display_width("Busan"), display_width("부산광역시")
(5, 10)
>>> won_ko(9_600_000_000), won_ko(1.2e12), won_ko(1_250_000_000_000), won_ko(35_000_000)
('96억 원', '1조 2,000억 원', '1조 2,500억 원', '35백만 원')
>>> won_en(9_600_000_000), won_en(1.2e12), won_en(35_000_000)
('KRW 9.6 billion', 'KRW 1,200 billion', 'KRW 35 million')
>>> import zoneinfo
>>> when(dt.datetime(2026, 11, 28, 4, 31, tzinfo=dt.UTC), zoneinfo.ZoneInfo("Asia/Seoul"))
'2026-11-28 13:31 KST'
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

MISSING = "–"


def number(value: Any, decimals: int = 0) -> str:
    """``value`` with thousands separators and ``decimals`` places."""
    if value is None or isinstance(value, bool):
        return MISSING
    if isinstance(value, int) and decimals == 0:
        return f"{value:,}"
    try:
        return f"{float(value):,.{decimals}f}"
    except (TypeError, ValueError):
        return str(value)


def signed(value: Any, decimals: int = 0) -> str:
    """A change in units: ``+3``, ``-12``, ``0``."""
    if value is None:
        return MISSING
    text = number(value, decimals)
    return f"+{text}" if float(value) > 0 else text


def signed_percent(value: Any, decimals: int = 1) -> str:
    """A change in percent: ``+2.5%``, ``-8.1%``."""
    if value is None:
        return MISSING
    return f"{signed(value, decimals)}%"


def percent(fraction: Any, decimals: int = 2) -> str:
    """A fraction as a percentage: ``0.08`` -> ``8.00%``."""
    if fraction is None:
        return MISSING
    return f"{number(100 * float(fraction), decimals)}%"


def score(value: Any) -> str:
    """A score as given: ``84.5``, ``78`` (no trailing zeros)."""
    if value is None:
        return MISSING
    as_float = float(value)
    if as_float.is_integer():
        return number(int(as_float))
    return f"{as_float:,.6f}".rstrip("0").rstrip(".")


def metric(value: Any) -> str:
    """A metric: whole numbers as such, others to four significant decimals."""
    if value is None:
        return MISSING
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return number(int(value))
    if isinstance(value, float):
        return number(value, 4 if abs(value) < 10 else 2)
    return str(value)


def seconds(value: Any) -> str:
    """A duration: ``0.12 s``."""
    if value is None:
        return MISSING
    as_float = float(value)
    return f"{as_float:.2f} s" if as_float < 10 else f"{as_float:,.1f} s"


def when(value: dt.datetime | None, zone: dt.tzinfo = dt.UTC) -> str:
    """A timestamp in ``zone`` to the minute, with the zone's abbreviation:
    ``2026-11-28 13:31 KST``. Stored times without a zone are UTC."""
    if value is None:
        return MISSING
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _trimmed(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}".rstrip("0").rstrip(".")


def won_ko(amount: Any) -> str:
    """Won as a Korean budget paper writes them: 억 원 (10^8), 조 (10^12) above, 백만 원 below."""
    if amount is None or isinstance(amount, bool):
        return MISSING
    won = float(amount)
    if abs(won) >= 1e12:
        jo, rest = divmod(round(won / 1e8, 2), 10_000)
        rest_text = f" {_trimmed(rest, 2)}억" if rest else ""
        return f"{int(jo):,}조{rest_text} 원"
    if abs(won) >= 1e8:
        return f"{_trimmed(won / 1e8, 2)}억 원"
    return f"{_trimmed(won / 1e6, 2)}백만 원"


def won_en(amount: Any) -> str:
    """Won in English: ``KRW 9.6 billion``, ``KRW 35 million``."""
    if amount is None or isinstance(amount, bool):
        return MISSING
    won = float(amount)
    if abs(won) >= 1e9:
        return f"KRW {_trimmed(won / 1e9, 2)} billion"
    return f"KRW {_trimmed(won / 1e6, 2)} million"


def is_won(unit_label: str) -> bool:
    """Whether a scenario's unit is counted in won (``100M KRW``, ``억 원``)."""
    return "KRW" in unit_label.upper() or "원" in unit_label


def display_width(text: str) -> int:
    """Columns ``text`` takes: wide (Hangul, CJK) characters count two."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


FILTERS = {
    "number": number,
    "signed": signed,
    "signed_percent": signed_percent,
    "percent": percent,
    "score": score,
    "metric": metric,
    "seconds": seconds,
    "when": when,
}
