"""Bearer tokens and roles.

A token is ``allot_`` followed by 43 random URL-safe characters; it is shown once when made
and only its sha256 is stored. Roles are ordered: ``admin`` may do everything a ``planner``
may, a planner everything a ``committee`` member may (read and compare).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.db import Role, Token, utcnow

TOKEN_PREFIX = "allot_"


@dataclass(frozen=True)
class Principal:
    """Who is asking: the token's id, name and role."""

    token_id: int
    name: str
    role: Role

    @property
    def label(self) -> str:
        """How runs and scenarios record who asked."""
        return self.name


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    session: Session,
    *,
    role: Role,
    name: str | None = None,
    expires_in: dt.timedelta | None = None,
) -> tuple[Token, str]:
    """Store a new token (its hash) and return the row and the secret, to be shown once;
    ``expires_in``: it stops working that long from now (None: never)."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = utcnow() + expires_in if expires_in is not None else None
    row = Token(
        name=name or "", role=role.value, token_hash=hash_token(secret), expires_at=expires_at
    )
    session.add(row)
    session.flush()
    if not row.name:
        row.name = f"{role.value}-{row.id}"
    return row, secret


LAST_USED_STEP = dt.timedelta(minutes=1)
"""``last_used_at`` is written at most this often per token (not a write per request)."""


def authenticate(session: Session, secret: str) -> Principal | None:
    """The principal of a valid token (not revoked, not expired), else None; records when
    it was last used."""
    row = session.scalar(select(Token).where(Token.token_hash == hash_token(secret)))
    now = utcnow()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_STEP:
        session.execute(update(Token).where(Token.id == row.id).values(last_used_at=now))
    return Principal(token_id=row.id, name=row.name, role=Role(row.role))


def list_tokens(session: Session) -> list[Token]:
    return list(session.scalars(select(Token).order_by(Token.id)))


def revoke_token(session: Session, token_id: int) -> Token | None:
    """Revoke a token (idempotent); None if there is no such token."""
    row = session.get(Token, token_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
    return row
