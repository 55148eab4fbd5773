"""Server-side records of signed-in sessions (db.session_models). Services flush only."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from guvscale.db.session_models import WebSession


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(db: Session, resource_id: str, *, now: dt.datetime, lifetime_s: int) -> str:
    """A new live session for the resource; returns the id the cookie carries."""
    db.execute(delete(WebSession).where(WebSession.expires_at < now))
    session_id = secrets.token_urlsafe(32)
    db.add(
        WebSession(
            id_digest=_digest(session_id),
            resource_id=resource_id,
            created_at=now,
            expires_at=now + dt.timedelta(seconds=lifetime_s),
        )
    )
    db.flush()
    return session_id


def is_live(db: Session, session_id: str, resource_id: str, *, now: dt.datetime) -> bool:
    found = db.scalars(
        select(WebSession.id_digest).where(
            WebSession.id_digest == _digest(session_id),
            WebSession.resource_id == resource_id,
            WebSession.expires_at > now,
        )
    ).first()
    return found is not None


def close_session(db: Session, session_id: str) -> None:
    db.execute(delete(WebSession).where(WebSession.id_digest == _digest(session_id)))
    db.flush()


def close_all(db: Session, resource_id: str) -> None:
    db.execute(delete(WebSession).where(WebSession.resource_id == resource_id))
    db.flush()
