"""Finish asynchronous provisioning: grant -> tokens -> config vars -> provisioned.

Jobs live in `provision_jobs`, so a restart loses nothing. Each job is worked
on while its row is held `FOR UPDATE SKIP LOCKED`: two web processes never
run the same job, and neither waits for the other.

Retry policy: a failed attempt waits BASE_DELAY * 2^(attempts-1) seconds,
capped at MAX_DELAY (with jitter when an rng is given; at least Heroku's
Retry-After on a 429). A job gives up only when nothing can succeed any more:
its grant expired before it was ever exchanged (a grant lives 5 minutes), or
it is older than GIVE_UP_AFTER (Heroku removes add-ons left provisioning for
about 12 hours, which deprovisions and cancels the job first). Once we hold
tokens, every failure is retried: a refresh token outlives any outage.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Mapping
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.crypto import DecryptionError, Vault
from guvscale.db.models import (
    Credentials,
    ProvisionJob,
    ProvisionJobState,
    Resource,
    ResourceState,
)
from guvscale.db.scoping import unscoped
from guvscale.heroku.errors import HerokuError, HerokuRateLimited
from guvscale.heroku.identity import TokenSet
from guvscale.services.config_vars import ConfigIssuer
from guvscale.services.provisioning import CANCELLED

log = logging.getLogger(__name__)

BASE_DELAY = 2.0  # seconds
MAX_DELAY = 300.0
GIVE_UP_AFTER = dt.timedelta(hours=24)
# Refresh an access token this long before it runs out, not after.
REFRESH_MARGIN = dt.timedelta(minutes=5)
BATCH = 20


class Identity(Protocol):
    def exchange_grant(self, code: str, *, now: dt.datetime | None = None) -> TokenSet: ...

    def refresh(self, refresh_token: str, *, now: dt.datetime | None = None) -> TokenSet: ...


class Platform(Protocol):
    def set_addon_config(
        self, token: str, addon_id: str, config: Mapping[str, str | None]
    ) -> object: ...

    def mark_provisioned(self, token: str, addon_id: str) -> object: ...


class _Stop(Exception):
    """Nothing more to do for this job: it ends failed with this message."""


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before the next try, after `attempts` failed ones (1, 2, ...)."""
    delay: float = min(MAX_DELAY, BASE_DELAY * 2.0 ** max(0, attempts - 1))
    if rng is not None:
        # "Equal jitter": keeps at least half the delay, spreads the rest.
        delay = delay / 2 + rng.uniform(0, delay / 2)
    return delay


def run_once(
    sessions: sessionmaker[Session],
    identity: Identity,
    platform: Platform,
    vault: Vault,
    issuer: ConfigIssuer,
    now: dt.datetime,
    *,
    rng: random.Random | None = None,
    limit: int = BATCH,
) -> int:
    """Attempt every due job (up to `limit`), one transaction each; returns how many."""
    attempted = 0
    while attempted < limit:
        with sessions() as session:
            unscoped(session)
            job = session.scalars(
                select(ProvisionJob)
                .where(
                    ProvisionJob.state == ProvisionJobState.pending,
                    ProvisionJob.next_attempt_at <= now,
                )
                .order_by(ProvisionJob.next_attempt_at, ProvisionJob.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if job is None:
                break
            _attempt(session, sessions, job, identity, platform, vault, issuer, now, rng)
            session.commit()
        attempted += 1
    return attempted


def _attempt(
    session: Session,
    sessions: sessionmaker[Session],
    job: ProvisionJob,
    identity: Identity,
    platform: Platform,
    vault: Vault,
    issuer: ConfigIssuer,
    now: dt.datetime,
    rng: random.Random | None,
) -> None:
    resource = session.get(Resource, job.resource_id)
    job.attempts += 1
    try:
        if resource is None or resource.state == ResourceState.deprovisioned:
            raise _Stop(CANCELLED)
        if resource.state == ResourceState.provisioned:
            _end(job, ProvisionJobState.done, None)
            return
        if now - _aware(job.created_at) > GIVE_UP_AFTER:
            raise _Stop(f"gave up after {GIVE_UP_AFTER}: add-on still not provisioned")
        token = _access_token(session, sessions, job, resource, identity, vault, now)
        platform.set_addon_config(token, resource.heroku_uuid, issuer.config_for(resource.id))
        platform.mark_provisioned(token, resource.heroku_uuid)
    except _Stop as stop:
        _end(job, ProvisionJobState.failed, str(stop))
        log.warning("provision job %s stopped: %s", job.id, stop)
        return
    except Exception as exc:  # every failure is retried; see the module docstring
        _retry(job, exc, now, rng)
        return
    # Deprovision may have won the race while we talked to Heroku.
    locked = session.scalars(
        select(Resource)
        .where(Resource.id == resource.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if locked.state == ResourceState.deprovisioned:
        _end(job, ProvisionJobState.failed, CANCELLED)
        return
    locked.state = ResourceState.provisioned
    _end(job, ProvisionJobState.done, None)
    log.info("provision job %s done: %s provisioned", job.id, locked.id)


def _access_token(
    session: Session,
    sessions: sessionmaker[Session],
    job: ProvisionJob,
    resource: Resource,
    identity: Identity,
    vault: Vault,
    now: dt.datetime,
) -> str:
    """A usable partner access token: the stored one, a refreshed one, or the grant's."""
    creds = session.scalars(
        select(Credentials).where(Credentials.resource_id == resource.id)
    ).one_or_none()
    if creds is not None and creds.partner_refresh_token_enc is not None:
        expires = creds.partner_token_expires_at
        if (
            creds.partner_access_token_enc is not None
            and expires
            and expires - REFRESH_MARGIN > now
        ):
            return vault.decrypt(creds.partner_access_token_enc)
        tokens = identity.refresh(vault.decrypt(creds.partner_refresh_token_enc), now=now)
    else:
        if job.grant_code_enc is None or job.grant_expires_at is None:
            raise _Stop("no grant to exchange")
        if job.grant_expires_at <= now:
            raise _Stop("the OAuth grant expired before it could be exchanged")
        tokens = identity.exchange_grant(vault.decrypt(job.grant_code_enc), now=now)
    if not _save_tokens(sessions, resource.id, tokens, vault):
        raise _Stop(CANCELLED)
    return tokens.access_token


def _save_tokens(
    sessions: sessionmaker[Session], resource_id: str, tokens: TokenSet, vault: Vault
) -> bool:
    """Store tokens at once, in their own transaction: a grant is single-use, so tokens
    must survive this attempt failing or the process dying. False if deprovisioned."""
    with sessions() as session:
        unscoped(session)
        # FOR SHARE: a concurrent deprovision waits for us, then deletes what we wrote.
        state = session.scalars(
            select(Resource.state).where(Resource.id == resource_id).with_for_update(read=True)
        ).one_or_none()
        if state != ResourceState.provisioning:
            return False
        values = {
            "partner_access_token_enc": vault.encrypt(tokens.access_token),
            "partner_refresh_token_enc": vault.encrypt(tokens.refresh_token),
            "partner_token_expires_at": tokens.expires_at,
        }
        session.execute(
            insert(Credentials)
            .values(resource_id=resource_id, **values)
            .on_conflict_do_update(index_elements=[Credentials.resource_id], set_=values)
        )
        session.commit()
    return True


def _retry(job: ProvisionJob, exc: Exception, now: dt.datetime, rng: random.Random | None) -> None:
    delay = backoff(job.attempts, rng)
    if isinstance(exc, HerokuRateLimited):
        delay = max(delay, exc.retry_after)
    job.next_attempt_at = now + dt.timedelta(seconds=delay)
    job.last_error = _describe(exc)
    log.warning(
        "provision job %s attempt %s failed (%s); next in %.0f s",
        job.id,
        job.attempts,
        job.last_error,
        delay,
    )


def _describe(exc: Exception) -> str:
    """A short reason with no secret: HerokuError messages are scrubbed by the adapter;
    anything else is named by its type only."""
    if isinstance(exc, HerokuError):
        text = str(exc)
    elif isinstance(exc, DecryptionError):
        text = "stored secret cannot be decrypted with ENCRYPTION_KEYS"
    else:
        text = f"unexpected {type(exc).__name__}"
    return text[:300]


def _end(job: ProvisionJob, state: ProvisionJobState, error: str | None) -> None:
    job.state = state
    job.last_error = error
    job.grant_code_enc = None  # spent or useless either way; keep no secret


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
