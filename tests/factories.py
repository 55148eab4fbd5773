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


# -- the worker's tenants (h5) ------------------------------------------------

import datetime as _dt  # noqa: E402

from guvscale.db.crypto import Vault as _Vault  # noqa: E402
from guvscale.db.models import Credentials as _Credentials  # noqa: E402
from guvscale.db.models import RulesVersion as _RulesVersion  # noqa: E402
from guvscale.db.scoping import unscoped as _unscoped  # noqa: E402

LOCAL_BROKER = "amqp://guest:guest@127.0.0.1:5672/%2F"


def tenant(
    session: _Session,
    vault: _Vault,
    *,
    rules: str | None,
    app: str = "acme-app",
    plan: str = "performance",
    token: str | None = "user-token",
    broker_url: str | None = LOCAL_BROKER,
    management_url: str | None = None,
    dry_run: bool = False,
) -> Tenant:
    """A provisioned resource with rules and credentials, ready for the worker (committed)."""
    _unscoped(session)
    api_token = _secrets.token_urlsafe(32)
    resource = _Resource(
        heroku_uuid=str(_uuid.uuid4()),
        name=f"{app}-guvscale",
        app_name=app,
        plan=plan,
        region="amazon-web-services::us-east-1",
        state=_ResourceState.provisioned,
        api_token_hash=_token_hash(api_token),
        dry_run=dry_run,
    )
    session.add(resource)
    session.flush()
    session.add(
        _Credentials(
            resource_id=resource.id,
            heroku_token_enc=vault.encrypt(token) if token else None,
            rabbitmq_url_enc=vault.encrypt(broker_url) if broker_url else None,
            management_url_enc=vault.encrypt(management_url) if management_url else None,
            heroku_app_name=app,
        )
    )
    if rules is not None:
        session.add(
            _RulesVersion(
                resource_id=resource.id,
                version=1,
                yaml_text=rules,
                author="api",
                created_at=_dt.datetime.now(_dt.UTC),
            )
        )
    session.commit()
    return Tenant(id=resource.id, heroku_uuid=resource.heroku_uuid, token=api_token)


def role_rules(queue: str, worker: str = "worker", **keys: object) -> str:
    """Rules YAML for one role scaling `worker` from `queue`."""
    body = {"queue": queue, "minimum": 0, "maximum": 10, "processing": 1, "deadline": 60, **keys}
    lines = [f"{worker}:"] + [f"  {k}: {v}" for k, v in body.items()]
    return "\n".join(lines) + "\n"
