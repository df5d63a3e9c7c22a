"""Signed, expiring web sessions and the CSRF tokens tied to them.

Signing in with an API token gives a cookie that names the token's *id*, never the token::

    <token id>.<expires, unix seconds>.<nonce>.<HMAC-SHA256 of the three, hex>

The key is a random secret the service makes at its first start and keeps in the database
(table ``secrets``), so sessions survive a restart. A cookie whose signature does not match,
that has expired, or whose token has since been revoked is refused. The CSRF token of a
session is another HMAC over the same payload: a form posted from another site cannot know
it, and it changes with every sign-in.

>>> sessions = Sessions(b"k" * 32)
>>> cookie = sessions.issue(7, now=1000)
>>> sessions.read(cookie, now=1001).token_id
7
>>> sessions.read(cookie, now=1000 + SESSION_SECONDS) is None   # expired
True
>>> sessions.read(cookie.replace("7.", "8.", 1), now=1001) is None   # forged
True
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from api.auth import Principal
from api.db import Database, Role, ServiceSecret, Token

COOKIE = "allot_session"
SESSION_SECONDS = 8 * 3600
"""How long a sign-in lasts (a working day)."""
SECRET_NAME = "web-session"


@dataclass(frozen=True)
class Session:
    """A verified session cookie: whose token, until when, and the cookie itself."""

    token_id: int
    expires: int
    payload: str


class Sessions:
    """Issue and check session cookies and CSRF tokens with one secret key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the session key must have at least 16 bytes")
        self._key = key

    def _mac(self, purpose: str, payload: str) -> str:
        message = f"{purpose}|{payload}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def issue(self, token_id: int, *, now: float | None = None) -> str:
        """A new cookie value for ``token_id``, valid for :data:`SESSION_SECONDS`."""
        expires = int(now if now is not None else time.time()) + SESSION_SECONDS
        payload = f"{token_id}.{expires}.{secrets.token_urlsafe(12)}"
        return f"{payload}.{self._mac('session', payload)}"

    def read(self, cookie: str | None, *, now: float | None = None) -> Session | None:
        """The session of a cookie whose signature matches and that has not expired."""
        if not cookie or len(cookie) > 200:
            return None
        payload, _, signature = cookie.rpartition(".")
        if not hmac.compare_digest(signature.encode(), self._mac("session", payload).encode()):
            return None
        try:
            token_id, expires, _nonce = payload.split(".", 2)
            session = Session(token_id=int(token_id), expires=int(expires), payload=payload)
        except ValueError:
            return None
        current = now if now is not None else time.time()
        return session if session.expires > current else None

    def csrf_token(self, session: Session) -> str:
        """The token that the forms of this session carry."""
        return self._mac("csrf", session.payload)

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(
            (token or "").encode(), self.csrf_token(session).encode()
        )


def load_key(database: Database) -> bytes:
    """The session key stored in the database, made at the first start (safe when two
    processes start at once: the second reads what the first stored)."""
    for _ in range(3):
        try:
            with database.transaction() as session:
                row = session.get(ServiceSecret, SECRET_NAME)
                if row is None:
                    row = ServiceSecret(name=SECRET_NAME, value=secrets.token_hex(32))
                    session.add(row)
                    session.flush()
                return bytes.fromhex(row.value)
        except IntegrityError:  # another process stored it first
            continue
    raise RuntimeError("could not read or store the web session key")


def principal_of(database: Database, session: Session) -> Principal | None:
    """Who a session belongs to, if its token still exists and is not revoked."""
    with database.transaction() as db:
        row = db.get(Token, session.token_id)
        if row is None or row.revoked_at is not None:
            return None
        return Principal(token_id=row.id, name=row.name, role=Role(row.role))
