"""The JSON a publication report carries (``allot report``): the result and the scenario it
ran, each in a ``<script type="application/json">`` element with a fixed id, read back with
the standard library's HTML parser, so that ``allot verify report.html`` checks a report as
it was published.

>>> page = '<p>x</p><script type="application/json" id="allot-result">{"a": 1}</script>'
>>> json_blocks(page)
{'allot-result': '{"a": 1}'}
"""

from __future__ import annotations

import html.parser

RESULT_ID = "allot-result"
SCENARIO_ID = "allot-scenario"
"""The ids of the two JSON elements of a publication report."""


class _Blocks(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: dict[str, str] = {}
        self.current: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        json_script = tag == "script" and named.get("type") == "application/json"
        self.current = named.get("id") if json_script else None

    def handle_endtag(self, tag: str) -> None:
        self.current = None

    def handle_data(self, data: str) -> None:
        if self.current:
            self.found[self.current] = self.found.get(self.current, "") + data


def json_blocks(page: str) -> dict[str, str]:
    """The text of every ``<script type="application/json" id=...>`` element, by id."""
    parser = _Blocks()
    parser.feed(page)
    parser.close()
    return parser.found
