"""Test data, in one place: every test builds resources, rules, credentials
and observations from here rather than importing another test module."""

# -- h4: resources with a GUVSCALE_TOKEN, for the config API -------------------

import secrets as _secrets
import uuid as _uuid
from dataclasses import dataclass as _dataclass

from sqlalchemy.orm import Session as _Session
from sqlalchemy.orm import sessionmaker as _sessionmaker

from guvscale.db.models import Resource as _Resource
from guvscale.db.models import ResourceState as _ResourceState
from guvscale.services.config_vars import token_hash as _token_hash


@_dataclass(frozen=True)
class Tenant:
    """A provisioned resource and the GUVSCALE_TOKEN that opens its config API."""

    id: str
    heroku_uuid: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def add_tenant(
    sessions: _sessionmaker[_Session],
    *,
    heroku_uuid: str | None = None,
    state: _ResourceState = _ResourceState.provisioned,
    plan: str = "basic",
    app_name: str = "acme-app",
) -> Tenant:
    token = _secrets.token_urlsafe(32)
    heroku_uuid = heroku_uuid or str(_uuid.uuid4())
    with sessions() as session:
        resource = _Resource(
            heroku_uuid=heroku_uuid,
            name=f"{app_name}-guvscale",
            app_name=app_name,
            plan=plan,
            region="amazon-web-services::us-east-1",
            state=state,
            api_token_hash=_token_hash(token),
        )
        session.add(resource)
        session.commit()
        return Tenant(id=resource.id, heroku_uuid=heroku_uuid, token=token)
