"""The committee's web view: server-rendered pages under ``/ui`` on the service's stored runs.

Sign in with an API token (any role); the session is a signed, expiring HttpOnly cookie that
names the token's id. Pages: the runs list, one run, runs side by side, and the stored
scenarios (where planners upload and run). Charts are SVG drawn by the server; the pages work
with JavaScript off and print cleanly. Templates autoescape everything a scenario says.

:func:`install` adds the pages, their static files and their error pages to the app.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.db import Database
from api.web.rendering import STATIC
from api.web.routes import PageError, SignInRequired, page_error, router, sign_in_required
from api.web.sessions import Sessions, load_key

__all__ = ["install"]


def install(app: FastAPI, database: Database) -> None:
    """Serve the web view from ``app``; its session key is read from (or first stored in)
    ``database``."""
    app.state.web_sessions = Sessions(load_key(database))
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(PageError, page_error)
