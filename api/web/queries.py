"""Read queries the web view needs and the API does not have (the API's are in
:mod:`api.store`)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.db import Sweep


def list_sweeps(session: Session, *, limit: int, offset: int = 0) -> tuple[list[Sweep], int]:
    """Stored sweeps, newest first, and how many there are."""
    total = session.scalar(select(func.count()).select_from(Sweep)) or 0
    rows = session.scalars(
        select(Sweep).order_by(Sweep.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), int(total)
