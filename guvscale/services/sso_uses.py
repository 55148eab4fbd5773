"""Replay refusal for SSO, shared by every web process through the database."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from guvscale.db.models import SsoUse
from guvscale.services.sso import MAX_AGE_S, ReplayKey, SsoClaim


def digest(key: ReplayKey) -> str:
    return hashlib.sha256("\x1f".join(key).encode()).hexdigest()


def first_use(db: Session, claim: SsoClaim, now: float) -> bool:
    """True, and remembered, when none of the claim's check keys signed anyone in before.

    Insert-or-nothing makes two concurrent uses of one token race on the
    primary key: exactly one of them inserts its check keys and wins.
    """
    db.execute(delete(SsoUse).where(SsoUse.expires_at < dt.datetime.fromtimestamp(now, dt.UTC)))
    expires = dt.datetime.fromtimestamp(claim.timestamp + MAX_AGE_S, dt.UTC)
    rows = [{"key_digest": digest(k), "expires_at": expires} for k in claim.record_keys]
    inserted = set(
        db.scalars(
            insert(SsoUse)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["key_digest"])
            .returning(SsoUse.key_digest)
        )
    )
    return all(digest(k) in inserted for k in claim.check_keys)
