"""``/v1/tokens``: token management for admins (the CLI's ``allot token`` does the same)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter

from api import auth
from api.db import Role
from api.deps import Admin, DatabaseDep
from api.errors import ERROR_RESPONSES, NotFound
from api.routes.params import TokenId
from api.schemas import TokenCreate, TokenCreated, TokenPublic, token_public

router = APIRouter(prefix="/v1/tokens", tags=["tokens"], responses=ERROR_RESPONSES)


@router.post("", status_code=201, response_model=TokenCreated)
def create_token(body: TokenCreate, principal: Admin, database: DatabaseDep) -> TokenCreated:
    """Make a token (``expires_in_days``: it stops working then); the secret is in this
    answer only (its hash is stored)."""
    expires_in = dt.timedelta(days=body.expires_in_days) if body.expires_in_days else None
    with database.transaction() as session:
        row, secret = auth.create_token(
            session, role=Role(body.role), name=body.name, expires_in=expires_in
        )
        return TokenCreated(**token_public(row).model_dump(), token=secret)


@router.get("", response_model=list[TokenPublic])
def list_tokens(principal: Admin, database: DatabaseDep) -> list[TokenPublic]:
    """Every token with its expiry and when it was last used (never the secrets)."""
    with database.transaction() as session:
        return [token_public(row) for row in auth.list_tokens(session)]


@router.delete("/{token_id}", response_model=TokenPublic)
def revoke_token(token_id: TokenId, principal: Admin, database: DatabaseDep) -> TokenPublic:
    """Revoke a token: it answers 401 from now on. Revoking twice is harmless."""
    with database.transaction() as session:
        row = auth.revoke_token(session, token_id)
        if row is None:
            raise NotFound("token", token_id)
        return token_public(row)
