"""The Jinja environments (one per language, autoescaping on for every template, SVG
included) and the HTML responses of the web view, with headers that keep the pages private
and self-contained."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

from api.web.formatting import FILTERS, when, won_en, won_ko
from api.web.translations import (
    LANGUAGE_COOKIE,
    LANGUAGES,
    NAMES,
    Language,
    Translator,
    WebSettings,
    negotiate,
    translations,
)
from api.web.views import STATES

TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")
LANGUAGE_SECONDS = 365 * 24 * 3600

SECURITY_HEADERS = {
    # only this server's own files; no inline script; forms post back here only
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Vary": "Accept-Language, Cookie",
}


@dataclass(frozen=True)
class PageLocale:
    """The language and time zone of one request, and the links that switch its language."""

    lang: Language
    zone: dt.tzinfo
    path: str
    query: tuple[tuple[str, str], ...]
    chosen: bool
    """``?lang=`` was given: the choice is remembered in a cookie."""

    @property
    def t(self) -> Translator:
        return Translator(self.lang)

    def switch(self, lang: str) -> str:
        """This page in ``lang``."""
        kept = [(k, v) for k, v in self.query if k != "lang"]
        return f"{self.path}?{urlencode([*kept, ('lang', lang)])}"

    @property
    def others(self) -> list[tuple[str, str, str]]:
        """(code, name, link) of the other languages."""
        return [(code, NAMES[code], self.switch(code)) for code in LANGUAGES if code != self.lang]


def settings_of(request: Request) -> WebSettings:
    found = getattr(request.app.state, "web_settings", None)
    return found if isinstance(found, WebSettings) else WebSettings()


def page_locale(request: Request) -> PageLocale:
    """The request's language (``?lang``, cookie, ``Accept-Language``, default) and zone."""
    settings = settings_of(request)
    query = request.query_params.get("lang")
    lang = negotiate(
        query,
        request.cookies.get(LANGUAGE_COOKIE),
        request.headers.get("accept-language"),
        settings.language,
    )
    return PageLocale(
        lang=lang,
        zone=ZoneInfo(settings.timezone),
        path=request.url.path,
        query=tuple(parse_qsl(request.url.query, keep_blank_values=True)),
        chosen=query in LANGUAGES,
    )


@pass_context
def _when(context: Context, value: dt.datetime | None) -> str:
    return when(value, context["locale"].zone)


@pass_context
def _won(context: Context, value: Any) -> str:
    return won_ko(value) if context["locale"].lang == "ko" else won_en(value)


@cache
def environment(lang: Language = "en") -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.filters.update(FILTERS)
    env.filters["when"] = _when
    env.filters["won"] = _won
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """The page ``template`` rendered with ``context`` in the request's language."""
    locale = page_locale(request)
    html = (
        environment(locale.lang)
        .get_template(template)
        .render(
            locale=locale,
            lang=locale.lang,
            t=locale.t,
            state=lambda name: locale.t.gettext(STATES.get(str(name), str(name))),
            **context,
        )
    )
    headers = {**SECURITY_HEADERS, "Content-Language": locale.lang}
    response = HTMLResponse(html, status_code=status, headers=headers)
    if locale.chosen:
        response.set_cookie(
            LANGUAGE_COOKIE, locale.lang, max_age=LANGUAGE_SECONDS, path="/ui", samesite="lax"
        )
    return response
