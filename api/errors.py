"""The one place where errors become HTTP answers.

Every error answer has the same JSON body, the list the CLI prints line by line::

    {"detail": [{"path": "recipients[1].cap", "message": "must be >= floor (12)"}, ...]}

ServiceError                 raised by the service on purpose
├── Forbidden        403     not the caller's to change (another planner's run)
├── NotFound         404     an id that does not exist
├── Conflict         409     the resource exists but is not in a state that allows it
└── BodyTooLarge     413     the request body is over ``ALLOT_MAX_BODY_BYTES``
InputError (optimizer) 422   bad scenario, override or request (every problem at once)
StorableText           422   text no database can store (NUL, unpaired surrogates), anywhere
RequestValidationError 422   a request that does not match its schema (FastAPI)
HTTPException          4xx   401 / 403 from auth, 404 / 405 from routing; a body FastAPI
                       cannot parse (JSON nested too deeply, ...) is a 422, never a 400
OperationalError       503   the database does not answer
anything else          500   logged with a reference; the client sees no traceback
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

import yaml
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request as StarletteRequest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from optimizer.errors import AllotError, InputError, Problem
from optimizer.scenario import path_text

log = logging.getLogger("allot.api")


class ProblemOut(BaseModel):
    """One problem: where (a field path, empty for the request as a whole) and why."""

    path: str
    message: str


class ErrorBody(BaseModel):
    """The body of every error answer."""

    detail: list[ProblemOut]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in (
        (401, "Missing or invalid bearer token"),
        (403, "The token's role does not allow this"),
        (404, "Unknown id"),
        (413, "Request body too large"),
        (422, "Invalid input: every problem with its field path"),
    )
}


class ServiceError(Exception):
    """Base of the errors the service raises on purpose; ``status`` is the HTTP status."""

    status = 400

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.problems = (Problem(path, message),)


class NotFound(ServiceError):
    """An id that does not exist (or is not visible)."""

    status = 404

    def __init__(self, kind: str, ident: object, *, path: str = "id") -> None:
        super().__init__(f"{kind} {ident} not found", path=path)


class Forbidden(ServiceError):
    """The caller's role allows the action, but not on this resource (not theirs)."""

    status = 403


class Conflict(ServiceError):
    """The request is well formed but the resource's state does not allow it."""

    status = 409


class BodyTooLarge(ServiceError):
    """The body is larger than the configured limit."""

    status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body too large (more than {limit:,} bytes)")


def error_response(
    status: int, problems: Iterable[Problem], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = {"detail": [{"path": p.path, "message": p.message} for p in problems]}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def _request_problems(errors: Sequence[Any]) -> list[Problem]:
    problems = []
    for err in errors:
        loc = [p for p in err.get("loc", ()) if isinstance(p, str | int)]
        if loc and loc[0] in ("body", "query", "path", "header"):
            loc = loc[1:]
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            message = f"malformed JSON: {ctx.get('error', 'cannot be parsed')}"
            loc = []
        elif err.get("type") == "missing":
            message = "required field is missing"
        elif err.get("type") == "extra_forbidden":
            message = "unknown field"
        problems.append(Problem(path_text(loc), message[:1].lower() + message[1:]))
    return problems


def install(app: FastAPI) -> None:
    """Register every exception handler on ``app``."""

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> JSONResponse:
        return error_response(422, exc.problems or (Problem("", "invalid input"),))

    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> JSONResponse:
        return error_response(exc.status, exc.problems)

    @app.exception_handler(AllotError)
    async def _allot(request: Request, exc: AllotError) -> JSONResponse:
        return error_response(422, (Problem("", str(exc)),))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, _request_problems(exc.errors()))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, BodyTooLarge):  # FastAPI wraps errors reading a body
            return error_response(413, exc.__cause__.problems)
        if isinstance(exc.__cause__, RecursionError):  # json.loads on absurdly nested JSON
            return error_response(422, (Problem("", "request body: nested too deeply"),))
        if exc.status_code == 400 and exc.__cause__ is not None:  # any other unreadable body
            reason = f"request body: cannot be read ({type(exc.__cause__).__name__})"
            return error_response(422, (Problem("", reason),))
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return error_response(exc.status_code, (Problem("", message),), exc.headers)

    @app.exception_handler(OperationalError)
    async def _database(request: Request, exc: OperationalError) -> JSONResponse:
        reference = uuid.uuid4().hex[:12]
        log.error("database error (reference %s): %s", reference, exc.orig)
        return error_response(
            503, (Problem("", f"the database is not available (reference {reference})"),)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        reference = uuid.uuid4().hex[:12]
        log.exception(
            "unexpected error (reference %s) on %s %s", reference, request.method, request.url.path
        )
        return error_response(
            500, (Problem("", f"internal error (reference {reference}); nothing was stored"),)
        )


class BodyLimit:
    """ASGI middleware: answer 413 when a body is (or turns out to be) over ``max_bytes``.

    A declared ``Content-Length`` over the limit is refused before the body is read; a
    chunked body raises :class:`BodyTooLarge` as soon as it passes the limit."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                declared = value
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                response = error_response(400, (Problem("", "invalid Content-Length header"),))
                await response(scope, receive, send)
                return
            if size > self.max_bytes:
                error = BodyTooLarge(self.max_bytes)
                response = error_response(413, error.problems, {"Connection": "close"})
                await response(scope, receive, send)
                return
        received = 0
        limit = self.max_bytes

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)


# --------------------------------------------------------------------------- storable text

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
"""Characters no text column can hold: NUL (PostgreSQL refuses it) and unpaired surrogates
(not Unicode text, so no driver can encode them)."""
_SUSPECT = re.compile(rb"\x00|\\|%00")
"""Bytes a body must contain to decode to such a character: a NUL, a backslash escape
(JSON, YAML) or a percent-encoded NUL; bodies without any are not decoded twice."""
DOCUMENT_FIELDS = ("scenario",)
"""String fields that carry a YAML or JSON document of their own (checked inside too)."""
MAX_TEXT_PROBLEMS = 50
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def unstorable(value: Any, loc: tuple[str | int, ...] = ()) -> Iterator[Problem]:
    """Every string (and mapping key) in ``value`` that the database could not store."""
    if isinstance(value, str):
        found = UNSTORABLE.search(value)
        if found is not None:
            yield Problem(path_text(loc), _unstorable_message(found.group()))
        elif loc and loc[-1] in DOCUMENT_FIELDS and "\\" in value:
            yield from unstorable(_document(value.encode()), loc)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            text = str(key)
            shown = UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
            found = UNSTORABLE.search(text)
            if found is not None:
                message = "the key " + _unstorable_message(found.group())
                yield Problem(path_text((*loc, shown)), message)
            yield from unstorable(item, (*loc, shown))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from unstorable(item, (*loc, index))


def _unstorable_message(char: str) -> str:
    if char == "\x00":
        return "contains a NUL character (U+0000), which cannot be stored"
    return f"contains an unpaired surrogate (U+{ord(char):04X}), which is not Unicode text"


def _document(raw: bytes) -> Any:
    """A JSON or YAML body parsed, or None (its route reports why it cannot be parsed)."""
    try:
        return json.loads(raw)
    except ValueError:
        pass
    try:
        return yaml.load(raw, Loader=_YAML_LOADER)
    except yaml.YAMLError:
        return None


class StorableText:
    """ASGI middleware: 422, every problem with its field path, for text the database could
    not store, in query parameters, JSON or YAML bodies (and the YAML/JSON text of a
    ``scenario`` field), form fields and uploaded files. One rule on every database, checked
    before any route runs, so nothing is stored and no driver error becomes a 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        problems = list(_pairs(parse_qsl(query, keep_blank_values=True)))
        if UNSTORABLE.search(scope.get("path", "")):
            problems.append(Problem("", "the URL path contains a NUL character"))
        if scope.get("method") in ("POST", "PUT", "PATCH"):
            try:
                body, ended = await _read(receive)
            except BodyTooLarge as exc:
                await error_response(413, exc.problems, {"Connection": "close"})(
                    scope, receive, send
                )
                return
            if _SUSPECT.search(body):
                problems.extend(await _body_problems(scope, body))
            receive = _replay(body, ended, receive)
        if problems:
            await error_response(422, problems[:MAX_TEXT_PROBLEMS])(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _pairs(pairs: Iterable[tuple[str, str]], prefix: tuple[str, ...] = ()) -> Iterator[Problem]:
    for key, value in pairs:
        yield from unstorable({key: value}, prefix)


async def _read(receive: Receive) -> tuple[bytes, bool]:
    """The whole body, and whether the client disconnected while sending it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), True
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, ended: bool, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            if not ended:
                return {"type": "http.request", "body": body, "more_body": False}
        if ended:
            return {"type": "http.disconnect"}
        return await receive()

    return replay


async def _body_problems(scope: Scope, body: bytes) -> list[Problem]:
    headers = dict(scope.get("headers", ()))
    kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    if kind == b"application/x-www-form-urlencoded":
        return list(_pairs(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)))
    if kind == b"multipart/form-data":
        problems: list[Problem] = []
        request = StarletteRequest(scope, _replay(body, False, _no_more))
        try:
            form = await request.form()
        except Exception:  # a malformed form: the route reports it
            return []
        try:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    document = _document(await value.read())
                    problems.extend(unstorable(document, (key,)))
                else:
                    problems.extend(unstorable({key: value}))
        finally:
            await form.close()
        return problems
    return list(unstorable(_document(body)))


async def _no_more() -> Message:
    return {"type": "http.disconnect"}
