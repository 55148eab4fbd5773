"""A tenant's credentials: the owner's Heroku token, the app it scales, its broker.

Stored encrypted (token, AMQP URL, a given management URL) beside the plain
app id, app name and where the broker URL came from. The worker reads
`load_credentials` (or `load_many_credentials`) and, when connecting fails,
`refresh_broker_url`; changing them is `credentials_check.update_credentials`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from guvscale.db.crypto import DecryptionError, Vault
from guvscale.db.models import Credentials
from guvscale.heroku.platform import HerokuPlatform
from guvscale.rabbitmq import (
    BrokerRefused,
    check_broker_url,
    management_url_for,
    mask_url,
    with_login_of,
)
from guvscale.rabbitmq.urls import AMQP_SCHEMES

# Where add-ons put the broker URL, in the order we look (issue 8).
BROKER_VARS = ("CLOUDAMQP_URL", "RABBITMQ_URL", "RABBITMQ_BIGWIG_URL", "AMQP_URL")
GIVEN = "given"
DERIVED = "derived"
MASK = "****"


@dataclass(frozen=True)
class TenantCredentials:
    heroku_token: str | None
    app_id: str | None
    app_name: str | None
    broker_url: str | None
    # In force: given (with the broker's login when it has none of its own) or derived.
    management_url: str | None
    broker_source: str | None  # "CLOUDAMQP_URL", ..., or "given"
    # "given" or "derived"; None with no broker.
    management_source: str | None = None


NO_CREDENTIALS = TenantCredentials(None, None, None, None, None, None, None)


@dataclass(frozen=True)
class CredentialsSummary:
    """What is in force, safe to show: token as its last 4 characters, URLs without passwords."""

    heroku_token: str | None
    app_id: str | None
    app_name: str | None
    broker_url: str | None
    broker_source: str | None
    management_url: str | None
    management_source: str | None
    queues: list[str] | None = None  # seen by the check, when one ran


# -- reading and writing -------------------------------------------------


def load_credentials(session: Session, vault: Vault, resource_id: str) -> TenantCredentials:
    """The resource's credentials, decrypted; raises DecryptionError if a key is missing."""
    row = _row(session, resource_id)
    return _opened(row, vault) if row is not None else NO_CREDENTIALS


def load_many_credentials(
    session: Session, vault: Vault, resource_ids: Collection[str]
) -> dict[str, TenantCredentials | DecryptionError]:
    """Many tenants' credentials in one query, for the worker's tick.

    A row no key opens is that tenant's DecryptionError, not everyone's.
    Tenants without a row are left out.
    """
    rows = session.scalars(select(Credentials).where(Credentials.resource_id.in_(resource_ids)))
    found: dict[str, TenantCredentials | DecryptionError] = {}
    for row in rows:
        try:
            found[row.resource_id] = _opened(row, vault)
        except DecryptionError as exc:
            found[row.resource_id] = exc
    return found


def _opened(row: Credentials, vault: Vault) -> TenantCredentials:
    def opened(value: bytes | None) -> str | None:
        return vault.decrypt(value) if value is not None else None

    broker = opened(row.rabbitmq_url_enc)
    management, management_source = management_in_force(broker, opened(row.management_url_enc))
    return TenantCredentials(
        heroku_token=opened(row.heroku_token_enc),
        app_id=row.heroku_app_id,
        app_name=row.heroku_app_name,
        broker_url=broker,
        management_url=management,
        broker_source=row.broker_source,
        management_source=management_source,
    )


def save_credentials(
    session: Session, vault: Vault, resource_id: str, credentials: TenantCredentials
) -> None:
    """Store (encrypting the secrets); flushes, the caller commits."""
    row = _row(session, resource_id)
    if row is None:
        row = Credentials(resource_id=resource_id)
        session.add(row)

    def sealed(value: str | None) -> bytes | None:
        return vault.encrypt(value) if value is not None else None

    row.heroku_token_enc = sealed(credentials.heroku_token)
    row.heroku_app_id = credentials.app_id
    row.heroku_app_name = credentials.app_name
    row.rabbitmq_url_enc = sealed(credentials.broker_url)
    row.broker_source = credentials.broker_source
    # A derived management URL is not stored: it follows the AMQP URL when that rotates.
    given = given_management_url(credentials) if credentials.management_source == GIVEN else None
    row.management_url_enc = sealed(given)
    session.flush()


def summarise(
    credentials: TenantCredentials, queues: list[str] | None = None
) -> CredentialsSummary:
    return CredentialsSummary(
        heroku_token=mask_token(credentials.heroku_token),
        app_id=credentials.app_id,
        app_name=credentials.app_name,
        broker_url=_masked(credentials.broker_url),
        broker_source=credentials.broker_source,
        management_url=_masked(credentials.management_url),
        management_source=credentials.management_source,
        queues=queues,
    )


def mask_token(token: str | None) -> str | None:
    if token is None:
        return None
    # Short tokens show nothing: four characters of six would give most of it away.
    return MASK + token[-4:] if len(token) >= 16 else MASK


def _masked(url: str | None) -> str | None:
    return mask_url(url) if url is not None else None


def _row(session: Session, resource_id: str) -> Credentials | None:
    return session.scalar(select(Credentials).where(Credentials.resource_id == resource_id))


def management_in_force(broker: str | None, given: str | None) -> tuple[str | None, str | None]:
    if given:
        return (with_login_of(given, broker) if broker else given), GIVEN
    if broker:
        return management_url_for(broker), DERIVED
    return None, None


def given_management_url(current: TenantCredentials) -> str | None:
    """A given management URL as the user gave it (without a login borrowed from the broker)."""
    if current.management_url is None or current.broker_url is None:
        return current.management_url
    return _own_part(current.management_url, current.broker_url)


def _own_part(management: str, broker: str) -> str:
    """The management URL as given: without the login it borrowed from the broker URL."""
    parts, login = urlsplit(management), urlsplit(broker)
    if parts.username is None or "@" not in login.netloc:
        return management
    borrowed = login.netloc.rsplit("@", 1)[0]
    userinfo, _, hostport = parts.netloc.rpartition("@")
    if userinfo != borrowed:
        return management
    return urlunsplit(parts._replace(netloc=hostport))


def find_broker(platform: HerokuPlatform, token: str, app_id: str) -> tuple[str, str] | None:
    """(config var name, AMQP URL) of the first broker var set on the app, or None."""
    config = platform.get_config_vars(token, app_id)
    for name in BROKER_VARS:
        if value := (config.get(name) or "").strip():
            return name, value
    return None


# -- the worker: CloudAMQP rotates passwords ---------------------------------


def refresh_broker_url(
    platform: HerokuPlatform, credentials: TenantCredentials, *, allow_private: bool
) -> TenantCredentials | None:
    """After connecting to the broker failed: re-read the app's config vars.

    Returns the credentials with the new AMQP URL (and a re-derived management
    URL) when it changed, else None: a given URL, no token or app, or the same
    URL. Raises HerokuError from the read and BrokerRefused for an unsafe URL.
    Synchronous (one Heroku call); save the result with `save_credentials`.
    """
    if credentials.broker_source in (None, GIVEN):
        return None
    if credentials.heroku_token is None or credentials.app_id is None:
        return None
    found = find_broker(platform, credentials.heroku_token, credentials.app_id)
    if found is None or found[1] == credentials.broker_url:
        return None
    source, url = found
    if urlsplit(url).scheme not in AMQP_SCHEMES:
        raise BrokerRefused(f"{source} is not an amqp:// or amqps:// URL: {mask_url(url)}")
    check_broker_url(url, allow_private=allow_private)
    given = given_management_url(credentials) if credentials.management_source == GIVEN else None
    management, management_source = management_in_force(url, given)
    return replace(
        credentials,
        broker_url=url,
        broker_source=source,
        management_url=management,
        management_source=management_source,
    )
