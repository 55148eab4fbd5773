"""Test data, in one place: every test builds resources, rules, credentials
and observations from here rather than importing another test module."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any


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
