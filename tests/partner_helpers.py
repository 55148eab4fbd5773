"""Small helpers for driving the partner API like Heroku does."""

from __future__ import annotations

import base64
import json
import uuid as uuid_module
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guvscale.db.models import Credentials, ProvisionJob, Resource
from guvscale.db.scoping import unscoped

HEROKU_ACCEPT = "application/vnd.heroku-addons+json; version=3"


def basic(user: str = "guvscale", password: str = "test-addon-password") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def headers(**extra: str) -> dict[str, str]:
    return {
        "Authorization": basic(),
        "Content-Type": "application/json",
        "Accept": HEROKU_ACCEPT,
        **extra,
    }


def provision_body(**overrides: Any) -> dict[str, Any]:
    addon_uuid = str(uuid_module.uuid4())
    body: dict[str, Any] = {
        "uuid": addon_uuid,
        "name": "acme-guvscale-12345",
        "callback_url": f"https://api.heroku.com/addons/{addon_uuid}",
        "plan": "basic",
        "region": "amazon-web-services::us-east-1",
        "options": {},
        "log_input_url": "https://token:t.abc@1.us.logplex.io/logs",
        "log_drain_token": "d.01234567-89ab-cdef-0123-456789abcdef",
    }
    body.update(overrides)
    return body


def dumps(body: Any) -> bytes:
    return json.dumps(body).encode()


def count(session: Session, model: type[Any]) -> int:
    unscoped(session)
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def counts(session: Session) -> tuple[int, int, int]:
    """(resources, provision jobs, credentials): what a refused request must not change."""
    return count(session, Resource), count(session, ProvisionJob), count(session, Credentials)
