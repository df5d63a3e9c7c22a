"""Bearer tokens and roles.

A token is ``allot_`` followed by 43 random URL-safe characters; it is shown once when made
and only its sha256 is stored. Roles are ordered: ``admin`` may do everything a ``planner``
may, a planner everything a ``committee`` member may (read and compare).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
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


def create_token(session: Session, *, role: Role, name: str | None = None) -> tuple[Token, str]:
    """Store a new token (its hash) and return the row and the secret, to be shown once."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = Token(name=name or "", role=role.value, token_hash=hash_token(secret))
    session.add(row)
    session.flush()
    if not row.name:
        row.name = f"{role.value}-{row.id}"
    return row, secret


def authenticate(session: Session, secret: str) -> Principal | None:
    """The principal of a valid, unrevoked token, else None."""
    row = session.scalar(select(Token).where(Token.token_hash == hash_token(secret)))
    if row is None or row.revoked_at is not None:
        return None
    return Principal(token_id=row.id, name=row.name, role=Role(row.role))


def list_tokens(session: Session) -> list[Token]:
    return list(session.scalars(select(Token).order_by(Token.id)))


def revoke_token(session: Session, token_id: int) -> Token | None:
    """Revoke a token (idempotent); None if there is no such token."""
    row = session.get(Token, token_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
    return row
