"""Test data, in one place: every test builds resources, rules, credentials
and observations from here rather than importing another test module."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from urllib.parse import urlencode

from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.models import Resource, ResourceState

# --- h6: tenants and their sign-in (dashboard, browser and CLI tests) ---------


def tenant(
    sessions: sessionmaker[Session],
    *,
    app_name: str = "acme-app",
    plan: str = "standard",
    name: str | None = None,
    api_token: str | None = None,
) -> Resource:
    """A provisioned resource; `api_token` (GUVSCALE_TOKEN) is stored as its hash."""
    with sessions.begin() as s:
        resource = Resource(
            heroku_uuid=str(uuid.uuid4()),
            name=name or f"{app_name}-guvscale-{secrets.token_hex(2)}",
            app_name=app_name,
            plan=plan,
            region="amazon-web-services::us-east-1",
            state=ResourceState.provisioned,
            api_token_hash=hashlib.sha256(api_token.encode()).hexdigest() if api_token else None,
        )
        s.add(resource)
    return resource


def sso_fields(resource: Resource, salt: str, *, email: str = "dev@example.com") -> dict[str, str]:
    """Heroku's v3 SSO fields for `resource`, as its dashboard sends them."""
    ts = str(int(time.time()))
    token = hashlib.sha1(f"{resource.heroku_uuid}:{salt}:{ts}".encode()).hexdigest()
    return {
        "resource_id": resource.heroku_uuid,
        "resource_token": token,
        "timestamp": ts,
        "email": email,
        "user_id": "7b3f0e4c-user",
        "app": resource.app_name or "",
    }


def sso_link(base_url: str, resource: Resource, salt: str) -> str:
    """A GET sign-in link (what a browser test or `guvscale dev` opens)."""
    return f"{base_url}/heroku/sso?{urlencode(sso_fields(resource, salt))}"
