"""Provision, deprovision and change plan: the partner API's use cases.

Heroku delivers each call at least once, so every function here is idempotent:
a repeated provision (same `uuid`) finds the row the first one made, a
repeated deprovision finds the tombstone. Rows are never deleted, only marked
deprovisioned, which is what lets a late repeat be told apart from an id we
never saw.

Services flush; the caller commits (web.deps.TxDep or DbDep).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Annotated, Any, cast

from pydantic import BaseModel, ConfigDict, WithJsonSchema
from sqlalchemy import Table, delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from guvscale.db.crypto import Vault
from guvscale.db.models import (
    Credentials,
    ProvisionJob,
    ProvisionJobState,
    Resource,
    ResourceState,
    new_resource_id,
)
from guvscale.db.scoping import unscoped
from guvscale.errors import NotFound, Unprocessable
from guvscale.plans import PLANS, Plan, get_plan, normalise_region, region_pattern
from guvscale.services import web_sessions
from guvscale.services.config_vars import ConfigIssuer, token_hash
from guvscale.services.fields import (
    Code,
    HerokuUuid,
    Instant,
    Long,
    Short,
    Url,
    heroku_uuid_of,
    is_our_id,
)

log = logging.getLogger(__name__)

CANCELLED = "cancelled: add-on deprovisioned"
# The table itself: a Core insert skips the ORM's bulk-insert machinery, which
# was a visible share of a provision's CPU (bench/provision.py).
RESOURCES = cast(Table, Resource.__table__)


# The schema gives what is accepted; the service still checks, so an unknown
# value gets its own message listing the accepted ones.
PlanName = Annotated[Short, WithJsonSchema({"type": "string", "enum": list(PLANS)})]
RegionName = Annotated[
    Long, WithJsonSchema({"type": "string", "maxLength": 200, "pattern": region_pattern()})
]


class OAuthGrant(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: Code
    expires_at: Instant
    type: Short = "authorization_code"


class ProvisionRequest(BaseModel):
    """The v3 body; unknown fields (kensa's heroku_id, logplex_token, ...) are ignored."""

    model_config = ConfigDict(extra="ignore")

    uuid: HerokuUuid
    plan: PlanName
    region: RegionName
    name: Long | None = None
    callback_url: Url | None = None
    options: dict[str, Any] | None = None
    oauth_grant: OAuthGrant | None = None


class PlanChangeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    plan: PlanName


@dataclass(frozen=True)
class Provisioned:
    resource_id: str
    created: bool  # False for a repeat of an earlier provision
    asynchronous: bool  # True: no config now, a job finishes it (202)
    config: dict[str, str] | None
    message: str


@dataclass(frozen=True)
class PlanChanged:
    config: dict[str, str]
    message: str


def describe(plan: Plan) -> str:
    types = "process type" if plan.max_process_types == 1 else "process types"
    return (
        f"{plan.name} plan: scales up to {plan.max_process_types} {types}, "
        f"polls every {plan.poll_interval_s} s"
    )


def find_resource(session: Session, ident: str, *, for_update: bool = False) -> Resource | None:
    """The resource whose id or Heroku uuid is `ident` (Heroku may use either).

    The two shapes never overlap, so the shape alone says which column to look
    in and at most one row can match.
    """
    uuid = heroku_uuid_of(ident)
    if uuid is not None:
        stmt = select(Resource).where(Resource.heroku_uuid == uuid)
    elif is_our_id(ident):
        stmt = select(Resource).where(Resource.id == ident)
    else:
        return None
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def setup_state(session: Session, resource_id: str) -> ProvisionJobState | None:
    """The state of the resource's latest provision job; None when it never had one.

    The column only: a job whose other values cannot be read still answers.
    """
    return session.scalars(
        select(ProvisionJob.state)
        .where(ProvisionJob.resource_id == resource_id)
        .order_by(ProvisionJob.id.desc())
        .limit(1)
    ).first()


def _require_resource(session: Session, ident: str) -> Resource:
    """`find_resource` under lock, or 404 naming the id."""
    resource = find_resource(session, ident, for_update=True)
    if resource is None:
        raise NotFound(f"no add-on with id {ident[:100]!r}", where="id")
    return resource


def _unknown_state(which: str, refused: str) -> str:
    # 422 like every other refusal Heroku sends us (shared/heroku-addon-api.md).
    return (
        f"add-on {which} is in a state this release does not know, so it cannot be "
        f"{refused}; it can still be deprovisioned"
    )


def _issue_config(resource: Resource, issuer: ConfigIssuer) -> dict[str, str]:
    """The resource's config, its token re-derived; the stored hash follows the token.

    They differ only after SECRET_KEY changed: the config we answer with is
    what Heroku will set, so the hash must match it.
    """
    config = issuer.config_for(resource.id)
    digest = token_hash(config["GUVSCALE_TOKEN"])
    if resource.api_token_hash != digest:
        resource.api_token_hash = digest
    return config


def provision(
    session: Session,
    request: ProvisionRequest,
    *,
    issuer: ConfigIssuer,
    vault: Vault,
    now: dt.datetime,
) -> Provisioned:
    unscoped(session)
    plan = get_plan(request.plan)
    region = normalise_region(request.region)
    grant = request.oauth_grant
    resource_id = new_resource_id()
    config = issuer.config_for(resource_id)
    # One statement that is both the insert and the idempotency check: a
    # concurrent twin waits on the unique index, then finds the row taken.
    inserted = session.execute(
        insert(RESOURCES)
        .values(
            id=resource_id,
            heroku_uuid=request.uuid,
            name=request.name,
            plan=plan.name,
            region=region,
            state=ResourceState.provisioning if grant else ResourceState.provisioned,
            callback_url=request.callback_url,
            api_token_hash=token_hash(config["GUVSCALE_TOKEN"]),
        )
        .on_conflict_do_nothing(index_elements=[RESOURCES.c.heroku_uuid])
        .returning(RESOURCES.c.id)
    ).scalar_one_or_none()

    if inserted is None:
        return _repeat(session, request, issuer=issuer, vault=vault, now=now)

    if grant is not None:
        session.add(
            ProvisionJob(
                resource_id=resource_id,
                state=ProvisionJobState.pending,
                grant_code_enc=vault.encrypt(grant.code),
                grant_expires_at=grant.expires_at,
                attempts=0,
                next_attempt_at=now,
            )
        )
        session.flush()
        return Provisioned(
            resource_id, True, True, None, f"provisioning the {describe(plan)}; ready shortly"
        )
    return Provisioned(resource_id, True, False, config, f"provisioned the {describe(plan)}")


def _repeat(
    session: Session,
    request: ProvisionRequest,
    *,
    issuer: ConfigIssuer,
    vault: Vault,
    now: dt.datetime,
) -> Provisioned:
    """The answer the first provision of this uuid gave, from what it stored.

    One read, no lock: nothing here changes unless the token hash or the
    grant needs updating, and both updates are safe to repeat.
    """
    latest_job = (
        select(ProvisionJob.id)
        .where(ProvisionJob.resource_id == Resource.id)
        .order_by(ProvisionJob.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    resource, job_id = session.execute(
        select(Resource, latest_job).where(Resource.heroku_uuid == request.uuid)
    ).one()
    if resource.state == ResourceState.deprovisioned:
        raise Unprocessable(
            f"add-on {request.uuid} was deprovisioned and cannot be provisioned again",
            where="uuid",
        )
    if resource.state == ResourceState.unknown:
        raise Unprocessable(_unknown_state(request.uuid, "provisioned again"), where="uuid")
    plan = get_plan(resource.plan)
    if job_id is None:
        return Provisioned(
            resource.id,
            False,
            False,
            _issue_config(resource, issuer),
            f"provisioned the {describe(plan)}",
        )
    if request.oauth_grant is not None and resource.state == ResourceState.provisioning:
        _rearm(session, job_id, resource, request.oauth_grant, vault=vault, now=now)
    return Provisioned(
        resource.id, False, True, None, f"provisioning the {describe(plan)}; ready shortly"
    )


def _rearm(
    session: Session,
    job_id: int,
    resource: Resource,
    grant: OAuthGrant,
    *,
    vault: Vault,
    now: dt.datetime,
) -> None:
    """A retried provision brings a fresh grant: use it if ours was never exchanged.

    Only when the job is not being worked on (SKIP LOCKED) and holds no tokens:
    a grant is single-use and tokens, once we have them, outlive it.
    """
    if grant.expires_at <= now:
        return
    has_tokens = session.scalars(
        select(Credentials.id).where(
            Credentials.resource_id == resource.id,
            Credentials.partner_refresh_token_enc.is_not(None),
        )
    ).first()
    if has_tokens is not None:
        return
    # Columns, not the row: a job whose other values cannot be read is revived too.
    free = session.scalars(
        select(ProvisionJob.state)
        .where(ProvisionJob.id == job_id)
        .with_for_update(skip_locked=True)
    ).first()
    if free is None or free == ProvisionJobState.done:
        return
    if free == ProvisionJobState.unknown:
        # A newer release's state: what it means (in progress? finished?) is not ours
        # to guess, so the job is left as it is; deprovision still ends it.
        log.warning("provision job %s is in a state this release does not know; left as is", job_id)
        return
    session.execute(
        update(ProvisionJob)
        .where(ProvisionJob.id == job_id)
        .values(
            grant_code_enc=vault.encrypt(grant.code),
            grant_expires_at=grant.expires_at,
            state=ProvisionJobState.pending,
            next_attempt_at=now,
            last_error=None,
        )
    )


def deprovision(session: Session, ident: str, *, now: dt.datetime) -> Resource:
    """Stop everything for the resource and keep none of its secrets; repeats are fine.

    A resource in a state this release does not know is deprovisioned too:
    ending it is always safe, and refusing would leave its secrets stored."""
    unscoped(session)
    resource = _require_resource(session, ident)
    if resource.state != ResourceState.deprovisioned:
        resource.state = ResourceState.deprovisioned
        resource.deprovisioned_at = now
    resource.api_token_hash = None
    session.execute(delete(Credentials).where(Credentials.resource_id == resource.id))
    web_sessions.close_all(session, resource.id)
    # A job the runner holds right now is skipped here; the runner re-reads the
    # resource under lock before it stores anything, and cancels itself.
    # Ids, not rows: a job whose values cannot be read must not block deprovision.
    # Not ended yet means pending, or a state a newer release wrote (which may
    # still hold its grant): both are cancelled.
    pending = session.scalars(
        select(ProvisionJob.id)
        .where(
            ProvisionJob.resource_id == resource.id,
            ProvisionJob.state.not_in([ProvisionJobState.done, ProvisionJobState.failed]),
        )
        .with_for_update(skip_locked=True)
    ).all()
    if pending:
        session.execute(
            update(ProvisionJob)
            .where(ProvisionJob.id.in_(pending))
            .values(state=ProvisionJobState.failed, grant_code_enc=None, last_error=CANCELLED)
        )
    session.flush()
    return resource


def change_plan(
    session: Session, ident: str, request: PlanChangeRequest, *, issuer: ConfigIssuer
) -> PlanChanged:
    unscoped(session)
    plan = get_plan(request.plan)
    resource = _require_resource(session, ident)
    if resource.state == ResourceState.deprovisioned:
        raise Unprocessable(f"add-on {ident[:100]!r} is deprovisioned; its plan cannot change")
    if resource.state == ResourceState.unknown:
        raise Unprocessable(_unknown_state(repr(ident[:100]), "changed to another plan"))
    resource.plan = plan.name
    config = _issue_config(resource, issuer)
    session.flush()
    return PlanChanged(config, f"changed to the {describe(plan)}")
