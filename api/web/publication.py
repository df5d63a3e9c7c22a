"""A run as one self-contained HTML file for publication: the scenario as run, the result
and its certificate as readable tables, and both as the raw JSON in
``<script type="application/json">`` blocks, with the instructions to check them with
``allot verify``. Inline CSS, inline SVG charts; no script, no external asset, no URL to
fetch: the file reads the same offline, years later, wherever it is copied.

The web view (``/ui/runs/{id}/publication.html``) and the CLI (``allot report``) both call
:func:`publication_html`, in Korean or English from the web view's catalogs.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optimizer
from api.routes.scenarios import scenario_yaml
from api.web.charts import BarItem, Chart, bar_chart
from api.web.formatting import metric, number, percent, score
from api.web.rendering import environment
from api.web.translations import Language, Translator
from optimizer.report_blocks import RESULT_ID, SCENARIO_ID


@dataclass(frozen=True)
class Table:
    """A certificate part as a table: a header and rows of cells already as text."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    more: int = 0
    """Rows left out (a page shows at most ``limit``; the report and the JSON have all)."""


def embedded_json(data: Any) -> str:
    """``data`` as JSON that is safe inside a ``<script>`` element: every ``<``, ``>`` and
    ``&`` written as a ``\\u`` escape, so no text in it can close the element, and
    ``json.loads`` of the element's text gives ``data`` back exactly.

    >>> text = embedded_json({"a": "</script><!--"})
    >>> "<" in text, json.loads(text)
    (False, {'a': '</script><!--'})
    """
    text = json.dumps(data, ensure_ascii=False, indent=1)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_cell(v)}" for k, v in value.items())
    return str(value)


def certificate_tables(
    certificate: Mapping[str, Any] | None, *, limit: int | None = None
) -> tuple[Table, ...]:
    """The certificate as tables, whatever its kind: its single values first (kind, rule,
    the interval), then each list of records (quotas and remainders, divisors, the solver's
    proof per stage) as a table of its own with the union of their fields as columns, at
    most ``limit`` rows each (None: all).

    >>> facts, quotas = certificate_tables(
    ...     {"kind": "divisor", "quotas": [{"id": "a", "units": 3}, {"id": "b", "q": 1}]},
    ...     limit=1,
    ... )
    >>> facts.rows, quotas.header, quotas.rows, quotas.more
    ((('kind', 'divisor'),), ('id', 'units', 'q'), (('a', '3', '–'),), 1)
    """
    if not certificate:
        return ()
    facts = [(key, _cell(value)) for key, value in certificate.items() if not _records(value)]
    tables = [Table("", ("", ""), tuple(facts))] if facts else []
    for key, value in certificate.items():
        if _records(value):
            shown = value if limit is None else value[:limit]
            header: list[str] = []
            for record in value:
                header.extend(k for k in record if k not in header)
            rows = tuple(tuple(_cell(record.get(k)) for k in header) for record in shown)
            tables.append(Table(str(key), tuple(header), rows, len(value) - len(shown)))
    return tuple(tables)


def _records(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _chart(allocations: Sequence[Mapping[str, Any]], t: Translator) -> Chart | None:
    items = [
        BarItem(
            str(a["id"]),
            str(a.get("name") or a["id"]),
            int(a["units"]),
            marker=float(a["quota"]) if isinstance(a.get("quota"), int | float) else None,
        )
        for a in allocations
        if isinstance(a.get("units"), int)
    ]
    if not items:
        return None
    return bar_chart(items, series=(t.gettext("units"),), quota_text=t.gettext("quota"))


def publication_html(
    result: Mapping[str, Any],
    scenario: Mapping[str, Any] | None,
    *,
    lang: Language = "ko",
    about: Sequence[tuple[str, str]] = (),
    generated_at: dt.datetime | None = None,
) -> str:
    """The report as one HTML document. ``result``: the result contract
    (``Result.to_dict``, or a stored run's ``result``); ``scenario``: the normalised
    scenario it ran (None: not embedded, and ``allot verify`` then checks less); ``about``:
    extra (label, value) lines for the header, e.g. the run id and who adopted it."""
    t = Translator(lang)
    allocations = list(result.get("allocations") or ())
    recipients = {str(r.get("id")): r for r in (scenario or {}).get("recipients") or ()}
    generated = (generated_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return (
        environment(lang)
        .get_template("publication.html")
        .render(
            lang=lang,
            result=result,
            scenario=scenario,
            recipients=recipients,
            allocations=allocations,
            chart=_chart(allocations, t),
            certificate=certificate_tables(result.get("certificate")),
            about=list(about),
            result_json=embedded_json(dict(result)),
            scenario_json=embedded_json(dict(scenario)) if scenario is not None else None,
            scenario_text=scenario_yaml(dict(scenario)) if scenario is not None else "",
            result_id=RESULT_ID,
            scenario_id=SCENARIO_ID,
            generated=f"{generated:%Y-%m-%d %H:%M} UTC",
            version=optimizer.__version__,
            fmt_number=number,
            fmt_percent=percent,
            fmt_score=score,
            fmt_metric=metric,
        )
    )
