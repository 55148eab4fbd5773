"""The tables. Secrets are stored only as ciphertext (`*_enc`) or a hash.

Everything a tenant owns carries `resource_id` through `TenantOwned`, which is
what `guvscale.db.scoping` filters on.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import secrets
from typing import TypeVar

from sqlalchemy import (
    Dialect,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from guvscale.db.base import Base, Timestamps

log = logging.getLogger(__name__)


# The member a stored state no release knows reads as (StateColumn).
UNKNOWN = "unknown"
S = TypeVar("S", bound=enum.StrEnum)


class ResourceState(enum.StrEnum):
    provisioning = "provisioning"
    provisioned = "provisioned"
    deprovisioned = "deprovisioned"
    # Never stored: what a stored state this release does not know reads as
    # (one a newer release wrote, or a hand edit). It is not provisioned, so
    # nothing serves it; deprovision still ends it, anything else is refused.
    unknown = "unknown"


class StateColumn(TypeDecorator[S]):
    """A state column: VARCHAR(20), read tolerantly, written strictly.

    SQLAlchemy's Enum raises LookupError on a value it does not know, which
    made every query loading such a row fail (the partner API answered 500).
    Here an unknown value reads as the enum's `unknown` member, so the row
    loads and the code decides; only known states can be written. The column
    is the same VARCHAR(20) the Enum made (no CHECK), so no migration.
    """

    impl = String(20)
    cache_ok = True

    def __init__(self, states: type[S], column: str) -> None:
        super().__init__()
        self.states = states
        self.column = column  # for the log: which table's state it was

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        state = self.states(value)  # ValueError for a name no release knows
        if state.value == UNKNOWN:
            raise ValueError(f"{self.states.__name__}.unknown is only ever read, never stored")
        return state.value

    def process_result_value(self, value: str | None, dialect: Dialect) -> S | None:
        if value is None:
            return None
        try:
            return self.states(value)
        except ValueError:
            log.warning("%s %r is no state this release knows", self.column, value[:40])
            return self.states(UNKNOWN)


class ResourceStateColumn(StateColumn[ResourceState]):
    """`resources.state`."""

    cache_ok = True  # SQLAlchemy reads it from each class, not from its bases

    def __init__(self) -> None:
        super().__init__(ResourceState, "resources.state")


def new_resource_id() -> str:
    # Our own id, never derived from Heroku's ids (the partner API forbids
    # echoing heroku_id's digits).
    return "gvs-" + secrets.token_hex(8)


class Resource(Timestamps, Base):
    """One provisioned add-on: the tenant."""

    __tablename__ = "resources"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_resource_id)
    heroku_uuid: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))  # the add-on's name
    app_name: Mapped[str | None] = mapped_column(String(100))
    plan: Mapped[str] = mapped_column(String(40))
    region: Mapped[str] = mapped_column(String(100))
    state: Mapped[ResourceState] = mapped_column(ResourceStateColumn())
    callback_url: Mapped[str | None] = mapped_column(String(500))
    # sha256 hex of GUVSCALE_TOKEN; the token itself is shown once, in config.
    api_token_hash: Mapped[str | None] = mapped_column(String(64))
    deprovisioned_at: Mapped[dt.datetime | None]
    # Decide and record, never apply (PUT /config/{id}/dry-run).
    dry_run: Mapped[bool] = mapped_column(default=False, server_default=false())

    credentials: Mapped[Credentials | None] = relationship(
        back_populates="resource", cascade="all, delete-orphan", uselist=False
    )


class TenantOwned:
    """Mixin for rows that belong to one resource; scoping filters on this."""

    @declared_attr
    def resource_id(cls) -> Mapped[str]:
        return mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), index=True)


class Credentials(TenantOwned, Timestamps, Base):
    """Every secret of a resource, encrypted; the row is deleted on deprovision."""

    __tablename__ = "credentials"
    __table_args__ = (UniqueConstraint("resource_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_access_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    partner_refresh_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    partner_token_expires_at: Mapped[dt.datetime | None]
    heroku_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # the owner's
    rabbitmq_url_enc: Mapped[bytes | None] = mapped_column(LargeBinary)  # AMQP URL in force
    # Only when the user gave one; otherwise it is derived from the AMQP URL.
    management_url_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Found with the owner's token from GET /addons/{heroku_uuid}; the id survives renames.
    heroku_app_id: Mapped[str | None] = mapped_column(String(64))
    heroku_app_name: Mapped[str | None] = mapped_column(String(100))
    # Where the AMQP URL came from: an app config var's name (CLOUDAMQP_URL, ...) or "given".
    broker_source: Mapped[str | None] = mapped_column(String(40))

    resource: Mapped[Resource] = relationship(back_populates="credentials")


class RulesVersion(TenantOwned, Base):
    """Rules YAML exactly as written; a new row per change, never updated."""

    __tablename__ = "rules_versions"
    __table_args__ = (UniqueConstraint("resource_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int]
    yaml_text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(320))  # SSO email, or "api"
    created_at: Mapped[dt.datetime]


class ProvisionJobState(enum.StrEnum):
    pending = "pending"
    done = "done"
    failed = "failed"
    # Never stored: what a stored state this release does not know reads as
    # (a newer release's, then a rollback). It is not pending, so the runner
    # never picks it; a repeated provision leaves it be; deprovision ends it.
    unknown = "unknown"


class ProvisionJob(TenantOwned, Timestamps, Base):
    """Asynchronous provisioning still to finish; survives restarts by living here."""

    __tablename__ = "provision_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[ProvisionJobState] = mapped_column(
        StateColumn(ProvisionJobState, "provision_jobs.state")
    )
    grant_code_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    grant_expires_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime]
    last_error: Mapped[str | None] = mapped_column(Text)


class SsoUse(Base):
    """A sign-in that already succeeded, kept until its token's window closes.

    Heroku's SSO tokens carry no nonce; remembering them here (not in one
    process's memory) refuses a replay whichever web dyno it reaches. The key
    is a digest of the claim, so no token is stored.
    """

    __tablename__ = "sso_uses"

    key_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)


# Model modules added later, imported here so the metadata sees their tables.
# The worker's tables live in their own module; importing it here puts them on
# Base.metadata wherever the models are loaded (Alembic, the app, tests).
from guvscale.db import worker_models  # noqa: E402, F401
from guvscale.db.session_models import WebSession as WebSession  # noqa: E402
