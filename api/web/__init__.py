"""The committee's web view: server-rendered pages under ``/ui`` on the service's stored runs,
in Korean and English.

Sign in with an API token (any role); the session is a signed, expiring HttpOnly cookie that
names the token's id. Pages: the runs list, one run (with a map of the regions and last
year's units), runs side by side, sweeps, sensitivity and robustness, printable reports, and
the stored scenarios (where planners upload and run). Charts and the map are SVG drawn by the
server; the pages work with JavaScript off and print on A4. Templates autoescape everything a
scenario says.

:func:`install` adds the pages, their static files and their error pages to the app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.db import Database
from api.web.rendering import STATIC
from api.web.routes import (
    PageError,
    SignInRequired,
    internal_error,
    not_found,
    page_error,
    request_error,
    router,
    sign_in_required,
)
from api.web.sessions import Sessions, load_key
from api.web.translations import WebSettings

__all__ = ["install"]

Handler = Callable[[Request, Exception], Awaitable[Response]]


def _pages_first(page: Handler, other: Handler | None) -> Handler:
    """``page`` for ``/ui`` addresses (static files aside), ``other`` (the API's) elsewhere."""

    async def handle(request: Request, exc: Exception) -> Response:
        path = request.url.path
        if (path == "/ui" or path.startswith("/ui/")) and not path.startswith("/ui/static/"):
            return await page(request, exc)
        if other is None:
            raise exc
        return await other(request, exc)

    return handle


def install(app: FastAPI, database: Database) -> None:
    """Serve the web view from ``app``; its session key is read from (or first stored in)
    ``database``; its language default and time zone from ``ALLOT_WEB_*``."""
    app.state.web_sessions = Sessions(load_key(database))
    app.state.web_settings = WebSettings()
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(PageError, page_error)
    pages: list[tuple[type[Exception], Handler]] = [
        (RequestValidationError, request_error),
        (StarletteHTTPException, not_found),
        (Exception, internal_error),
    ]
    for kind, page in pages:
        existing = app.exception_handlers.get(kind)
        app.add_exception_handler(kind, _pages_first(page, existing))  # type: ignore[arg-type]
