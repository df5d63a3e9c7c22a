"""Korean and English for the web view: gettext message catalogs kept as ``.po`` files in
``api/web/locale`` (read with Babel at start-up, so nothing is compiled by hand), the choice of
language for a request, and the time zone pages write times in.

The language is ``?lang=ko|en`` when given (remembered in a cookie), else the cookie, else the
best of ``Accept-Language``, else the configured default (Korean).

>>> negotiate(None, None, "en-US,en;q=0.9,ko;q=0.8"), negotiate(None, None, "ko-KR,en;q=0.5")
('en', 'ko')
>>> negotiate("en", "ko", "ko"), negotiate(None, "en", "ko"), negotiate(None, None, "fr")
('en', 'en', 'ko')
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "messages"
LANGUAGES = ("ko", "en")
Language = Literal["ko", "en"]
LANGUAGE_COOKIE = "allot_lang"
NAMES = {"ko": "한국어", "en": "English"}
"""Each language in its own words, for the switch."""


def N_(message: str) -> str:
    """Mark ``message`` for the catalogs; it is translated where it is shown."""
    return message


class WebSettings(BaseSettings):
    """``ALLOT_WEB_TIMEZONE`` (default ``Asia/Seoul``): the zone pages write times in;
    ``ALLOT_WEB_LANGUAGE`` (default ``ko``): the language when the browser asks for neither."""

    model_config = SettingsConfigDict(env_prefix="ALLOT_WEB_", extra="ignore", frozen=True)

    timezone: str = Field(default="Asia/Seoul", max_length=100)
    language: Language = "ko"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (an IANA name, e.g. Asia/Seoul)"
            ) from None
        return value


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(lang: str) -> Catalog:
    """The ``.po`` catalog of ``lang`` as Babel reads it."""
    with po_path(lang).open("rb") as file:
        return read_po(file, locale=lang, domain=DOMAIN)


@cache
def translations(lang: str) -> Translations:
    """gettext translations for ``lang``, compiled in memory from its ``.po`` file."""
    buffer = io.BytesIO()
    write_mo(buffer, read_catalog(lang))
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


@lru_cache(maxsize=4096)
def _translated(lang: str, message: str) -> str:
    """One message in one language, looked up once: a page of 100,000 recipients asks for
    the same few reasons tens of thousands of times (babel's lookup: 30 us each)."""
    return translations(lang).gettext(message)


@dataclass(frozen=True)
class Translator:
    """What the page code translates with: ``gettext`` (with ``%(name)s`` placeholders filled
    from keywords) and ``ngettext``."""

    lang: Language

    def gettext(self, message: str, **values: object) -> str:
        text = _translated(self.lang, message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, count: int, **values: object) -> str:
        text = translations(self.lang).ngettext(singular, plural, count)
        return text % {"num": count, **values}


def _accepted(header: str) -> list[tuple[float, int, str]]:
    found = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        found.append((-quality, position, tag.strip().lower().split("-")[0]))
    return sorted(found)


def negotiate(
    query: str | None, cookie: str | None, accept: str | None, default: Language = "ko"
) -> Language:
    """The language of a request (see the module's docstring)."""
    for choice in (query, cookie):
        if choice in LANGUAGES:
            return "en" if choice == "en" else "ko"
    for minus_q, _, tag in _accepted(accept or ""):
        if minus_q < 0 and tag in LANGUAGES:
            return "en" if tag == "en" else "ko"
    return default
