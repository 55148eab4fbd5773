"""Test data, in one place: every test builds resources, rules, credentials
and observations from here rather than importing another test module."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from guvscale.services import web_sessions
from guvscale.web.auth import SESSION_LIFETIME_S


def oauth_grant(**overrides: Any) -> dict[str, Any]:
    """An `oauth_grant` as Heroku sends it in a provision body, valid for five minutes."""
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    grant: dict[str, Any] = {
        "code": "grant-" + uuid.uuid4().hex,
        "expires_at": expires.isoformat(),
        "type": "authorization_code",
    }
    grant.update(overrides)
    return grant


def web_session(sessions: sessionmaker[Session], resource_id: str) -> str:
    """A live server-side session record for the resource; returns the cookie's session_id."""
    with sessions.begin() as db:
        return web_sessions.open_session(
            db, resource_id, now=dt.datetime.now(dt.UTC), lifetime_s=SESSION_LIFETIME_S
        )
