"""Finish asynchronous provisioning: grant -> tokens -> config vars -> provisioned.

Jobs live in `provision_jobs`, so a restart loses nothing. Each job is worked
on while its row is held `FOR UPDATE SKIP LOCKED`: two web processes never
run the same job, and neither waits for the other.

Retry policy: a failed attempt waits BASE_DELAY * 2^(attempts-1) seconds,
capped at MAX_DELAY (with jitter when an rng is given; at least Heroku's
Retry-After on a 429). A job gives up only when nothing can succeed any more:
its grant expired before it was ever exchanged (a grant lives 5 minutes),
Heroku refused the grant or the refresh token (401/400: used, revoked or
unknown), its row cannot be read, or it is older than GIVE_UP_AFTER (Heroku
removes add-ons left provisioning for about 12 hours, which deprovisions and
cancels the job first). Otherwise, once we hold tokens, every failure is
retried: a refresh token outlives any outage.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Mapping
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.crypto import DecryptionError, Vault
from guvscale.db.engine import DATABASE_ERRORS, transient, unavailable
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
# Raised out of an attempt to run_once, never retried in place: the database
# is gone, the transaction is spoiled, or this job's data is bad.
DATA_OR_DATABASE: tuple[type[Exception], ...] = (*DATABASE_ERRORS, DBAPIError, LookupError)


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
    """Attempt every due job (up to `limit`), one transaction each; returns how many.

    One job's bad row (a value the driver cannot read, a resource state no
    release knows) or an unexpected error ends that job failed, with its error;
    the others go on. Only losing the database itself ends the round. A job
    whose own state no release knows reads as `ProvisionJobState.unknown` and
    is not pending, so it is never picked: the release that wrote it decides.
    """
    attempted = 0
    skipped: set[int] = set()  # for the rest of this round
    while attempted < limit:
        with sessions() as session:
            unscoped(session)
            # The id only: a row we cannot read must still be found, locked and failed.
            job_id = session.scalars(
                select(ProvisionJob.id)
                .where(
                    ProvisionJob.state == ProvisionJobState.pending,
                    ProvisionJob.next_attempt_at <= now,
                    ProvisionJob.id.not_in(skipped),
                )
                .order_by(ProvisionJob.next_attempt_at, ProvisionJob.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if job_id is None:
                break
            try:
                job = session.get_one(ProvisionJob, job_id)
                _attempt(session, sessions, job, identity, platform, vault, issuer, now, rng)
                session.commit()
            except Exception as exc:
                session.rollback()
                if unavailable(exc):
                    raise
                if transient(exc):  # a deadlock or lock timeout: next round, untouched
                    log.warning("provision job %s postponed: %s", job_id, _describe(exc))
                    skipped.add(job_id)
                elif not _fail_unprocessable(session, job_id, exc):
                    skipped.add(job_id)
        attempted += 1
    return attempted


def _fail_unprocessable(session: Session, job_id: int, exc: Exception) -> bool:
    """Mark the job failed without reading it; False if even that did not work."""
    reason = f"cannot be read or processed: {_describe(exc)}"[:300]
    log.error("provision job %s failed: %s", job_id, reason, exc_info=exc)
    try:
        session.execute(
            update(ProvisionJob)
            .where(ProvisionJob.id == job_id, ProvisionJob.state == ProvisionJobState.pending)
            .values(
                state=ProvisionJobState.failed,
                last_error=reason,
                attempts=ProvisionJob.attempts + 1,
                # The grant is spent or useless either way (see _end), and may be the bad value.
                grant_code_enc=None,
                grant_expires_at=None,
            )
        )
        session.commit()
    except Exception as exc:
        session.rollback()
        if unavailable(exc):
            raise
        log.exception("provision job %s could not be marked failed; skipped this round", job_id)
        return False
    return True


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
        if resource.state == ResourceState.unknown:
            # Failed like a row that cannot be read, before any grant is spent on it.
            raise LookupError(f"the state of add-on {resource.id} is none this release knows")
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
    except DATA_OR_DATABASE:
        raise  # the database is gone (the round ends) or this job's data is bad (it fails)
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
        try:
            tokens = identity.refresh(vault.decrypt(creds.partner_refresh_token_enc), now=now)
        except HerokuError as exc:
            if exc.retryable:
                raise
            # Revoked or unknown: no retry can work. Keep no dead token, so a
            # repeated provision's fresh grant can revive the job.
            creds.partner_access_token_enc = None
            creds.partner_refresh_token_enc = None
            creds.partner_token_expires_at = None
            raise _Stop(f"Heroku refused the refresh token: {exc}") from None
    else:
        if job.grant_code_enc is None or job.grant_expires_at is None:
            raise _Stop("no grant to exchange")
        if job.grant_expires_at <= now:
            raise _Stop("the OAuth grant expired before it could be exchanged")
        try:
            tokens = identity.exchange_grant(vault.decrypt(job.grant_code_enc), now=now)
        except HerokuError as exc:
            if exc.retryable:
                raise
            # Used, unknown or refused (401/400): a grant is single-use, no retry can work.
            raise _Stop(f"Heroku refused the OAuth grant: {exc}") from None
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
    elif isinstance(exc, DBAPIError) and exc.orig is not None:
        # The driver's own words (e.g. "timestamp too large (after year 10K): ..."):
        # statements hide their parameters (db/engine.py), so no stored secret is in them.
        text = f"{type(exc.orig).__name__}: {str(exc.orig).splitlines()[0]}"
    elif isinstance(exc, LookupError):  # e.g. a stored enum value no release knows
        text = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"
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
